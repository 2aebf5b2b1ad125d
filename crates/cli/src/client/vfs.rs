//! The VFS methods, and blob transfer: `blob/has_many` over JSON-RPC, contents over
//! the raw `PUT/GET /blobs/{ref}` routes (any size up to the gateway's limit, no
//! base64).

use api::ErrorData;
use api::types::blob::{BlobHasManyParams, BlobHasManyResult};
use api::types::vfs::*;
use serde::Deserialize;

use super::{Client, ClientError};

/// Refs per `blob/has_many` call (the contract's maximum).
pub const HAS_MANY_REFS_MAX: usize = 1_000;

/// The error body of the raw blob routes.
#[derive(Deserialize)]
struct RouteError {
    error: RouteErrorObject,
}

#[derive(Deserialize)]
struct RouteErrorObject {
    code: i32,
    message: String,
    #[serde(default)]
    data: Option<ErrorData>,
}

impl Client {
    pub async fn blob_has_many(&self, refs: &[String]) -> Result<BlobHasManyResult, ClientError> {
        let params = BlobHasManyParams {
            blob_refs: refs.to_vec(),
        };
        self.call("blob/has_many", &params).await
    }

    /// `PUT /blobs/{ref}`: `bytes` must hash to `blob_ref`.
    pub async fn blob_upload(&self, blob_ref: &str, bytes: Vec<u8>) -> Result<(), ClientError> {
        let method = "PUT /blobs";
        let request = self.raw.put(self.endpoint.blob_url(blob_ref)).body(bytes);
        self.raw_send(method, request).await.map(|_| ())
    }

    /// `GET /blobs/{ref}`.
    pub async fn blob_download(&self, blob_ref: &str) -> Result<Vec<u8>, ClientError> {
        let method = "GET /blobs";
        let request = self.raw.get(self.endpoint.blob_url(blob_ref));
        let response = self.raw_send(method, request).await?;
        let bytes = response.bytes().await.map_err(|err| self.raw_error(err))?;
        Ok(bytes.to_vec())
    }

    async fn raw_send(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let request = match self.headers.get("authorization") {
            Some(value) => request.header("authorization", value.as_bytes()),
            None => request,
        };
        let response = request.send().await.map_err(|err| self.raw_error(err))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<RouteError>(&body) {
            Ok(RouteError { error }) => ClientError::Api {
                method: method.to_owned(),
                code: error.code,
                message: error.message,
                data: error.data,
            },
            Err(_) => ClientError::Decode {
                method: method.to_owned(),
                message: format!("HTTP {status}"),
            },
        })
    }

    fn raw_error(&self, err: reqwest::Error) -> ClientError {
        ClientError::Connection {
            url: self.endpoint.http_url.clone(),
            message: with_sources(&err.without_url()),
        }
    }

    pub async fn vfs_snapshot_commit(
        &self,
        params: &VfsSnapshotCommitParams,
    ) -> Result<VfsSnapshotView, ClientError> {
        self.call("vfs/snapshot/commit", params).await
    }

    pub async fn vfs_snapshot_read(
        &self,
        params: &VfsSnapshotReadParams,
    ) -> Result<VfsSnapshotReadResult, ClientError> {
        self.call("vfs/snapshot/read", params).await
    }

    pub async fn vfs_workspace_create(
        &self,
        params: &VfsWorkspaceCreateParams,
    ) -> Result<VfsWorkspaceView, ClientError> {
        self.call("vfs/workspace/create", params).await
    }

    pub async fn vfs_workspace_read(
        &self,
        workspace_id: &str,
    ) -> Result<VfsWorkspaceView, ClientError> {
        let params = VfsWorkspaceRef {
            workspace_id: workspace_id.to_owned(),
        };
        self.call("vfs/workspace/read", &params).await
    }

    pub async fn vfs_workspace_update(
        &self,
        params: &VfsWorkspaceUpdateParams,
    ) -> Result<VfsWorkspaceView, ClientError> {
        self.call("vfs/workspace/update", params).await
    }

    pub async fn vfs_workspace_delete(
        &self,
        params: &VfsWorkspaceDeleteParams,
    ) -> Result<VfsWorkspaceDeleteResult, ClientError> {
        self.call("vfs/workspace/delete", params).await
    }

    pub async fn vfs_mount_put(
        &self,
        params: &VfsMountPutParams,
    ) -> Result<VfsMountView, ClientError> {
        self.call("vfs/mount/put", params).await
    }

    pub async fn vfs_mount_delete(
        &self,
        params: &VfsMountDeleteParams,
    ) -> Result<VfsMountDeleteResult, ClientError> {
        self.call("vfs/mount/delete", params).await
    }

    pub async fn vfs_mount_list(
        &self,
        session_id: &str,
    ) -> Result<VfsMountListResult, ClientError> {
        let params = VfsMountListParams {
            session_id: session_id.to_owned(),
        };
        self.call("vfs/mount/list", &params).await
    }
}

/// An error and its causes, `: `-joined (reqwest's own message omits them).
fn with_sources(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

//! `operator/universes/*`: universes are known from the operator's catalog (created
//! or deleted on purpose) and from the keys minted for them. Reading one adds what
//! the universe holds (`universe/usage`) and its dispatch, read as the universe and
//! through `operator/runs/list`; deleting one revokes its keys and deletes what it
//! holds through the universe's own methods, so every backend removes its data the
//! way the universe itself would.

use std::collections::BTreeMap;

use api::types::auth::{AuthSecretDeleteParams, AuthSecretListParams};
use api::types::env::{EnvironmentListParams, EnvironmentRef};
use api::types::mcp::{McpServerListParams, McpServerRef};
use api::types::memory::{MemoryBlockDeleteParams, MemoryBlockListParams};
use api::types::operator::{
    OperatorRunsListParams, UniverseCreateParams, UniverseDeleteParams, UniverseDeleteResult,
    UniverseListParams, UniverseListResult, UniverseReadParams, UniverseView,
};
use api::types::schedule::{ScheduleListParams, ScheduleRef};
use api::types::session::{SessionDeleteParams, SessionListParams};
use api::{ApiError, Caller, ErrorKind, LightspeedApi};
use serde_json::Value;

use crate::keys::{KeyRecord, UniverseRecord};
use crate::operator::{
    KeyAdmin, answer, check_name, check_universe_id, now_ms, parse, store_failed,
};

/// Pages of sessions a deletion works through before it gives up (100 a page).
const DELETE_SESSION_PAGES_MAX: usize = 10_000;

/// Every universe, from the catalog and the keys (operator keys aside), in id order.
fn universes_of(
    catalog: &[UniverseRecord],
    records: &[KeyRecord],
) -> BTreeMap<String, UniverseView> {
    let mut universes: BTreeMap<String, UniverseView> = BTreeMap::new();
    let blank = |universe_id: &str, created_at_ms| UniverseView {
        universe_id: universe_id.to_owned(),
        name: String::new(),
        created_at_ms,
        active_keys: 0,
        revoked_keys: 0,
        deleted_at_ms: None,
        usage: None,
        dispatch: None,
    };
    for record in records.iter().filter(|record| !record.operator) {
        let view = universes
            .entry(record.universe_id.clone())
            .or_insert_with(|| blank(&record.universe_id, record.created_at_ms));
        if record.revoked_at_ms.is_some() {
            view.revoked_keys += 1;
        } else {
            view.active_keys += 1;
        }
        view.created_at_ms = view.created_at_ms.min(record.created_at_ms);
    }
    for universe in catalog {
        let view = universes
            .entry(universe.universe_id.clone())
            .or_insert_with(|| {
                blank(
                    &universe.universe_id,
                    universe.created_at_ms.unwrap_or_default(),
                )
            });
        view.name.clone_from(&universe.name);
        if let Some(created_at_ms) = universe.created_at_ms {
            view.created_at_ms = created_at_ms;
        }
        view.deleted_at_ms = universe.deleted_at_ms;
    }
    universes
}

fn not_found(universe_id: &str) -> ApiError {
    ApiError::not_found(format!("no universe {universe_id:?}")).with_reason("universeNotFound")
}

/// The operator acting as the universe (for its own methods), never with its data
/// on the operator's key otherwise.
fn as_universe(caller: &Caller, universe_id: &str) -> Caller {
    Caller {
        universe_id: universe_id.to_owned(),
        key_id: caller.key_id.clone(),
        operator: false,
    }
}

pub(crate) async fn serve<A: LightspeedApi>(
    api: &A,
    keys: &dyn KeyAdmin,
    caller: &Caller,
    method: &str,
    params: Value,
) -> Result<Value, ApiError> {
    match method {
        "operator/universes/create" => {
            let params: UniverseCreateParams = parse(method, params)?;
            check_universe_id(&params.universe_id)?;
            check_name(&params.name)?;
            let record = UniverseRecord {
                universe_id: params.universe_id.clone(),
                name: params.name,
                created_at_ms: Some(now_ms()),
                deleted_at_ms: None,
            };
            keys.create_universe(record)
                .await
                .map_err(|err| match store_failed(err) {
                    err if err.data.kind == ErrorKind::Conflict => {
                        ApiError::conflict(format!("universe {:?} exists", params.universe_id))
                            .with_reason("universeExists")
                    }
                    err => err,
                })?;
            let view = read(api, keys, caller, &params.universe_id, false).await?;
            answer(view)
        }
        "operator/universes/list" => {
            let _: UniverseListParams = parse(method, params)?;
            let catalog = keys.list_universes().await.map_err(store_failed)?;
            let records = keys.list(None, true).await.map_err(store_failed)?;
            answer(UniverseListResult {
                universes: universes_of(&catalog, &records).into_values().collect(),
            })
        }
        "operator/universes/read" => {
            let params: UniverseReadParams = parse(method, params)?;
            answer(read(api, keys, caller, &params.universe_id, true).await?)
        }
        "operator/universes/delete" => {
            let params: UniverseDeleteParams = parse(method, params)?;
            if params.confirm != params.universe_id {
                return Err(ApiError::invalid_params(
                    "confirm must repeat universeId: deleting a universe cannot be undone",
                )
                .with_reason("confirmationRequired"));
            }
            // Known, or there is nothing to delete.
            read(api, keys, caller, &params.universe_id, false).await?;
            answer(delete(api, keys, caller, &params.universe_id).await?)
        }
        other => {
            Err(ApiError::not_found(format!("unknown method {other:?}"))
                .with_reason("methodNotFound"))
        }
    }
}

/// One universe's view; with what it holds and its dispatch when `full`.
async fn read<A: LightspeedApi>(
    api: &A,
    keys: &dyn KeyAdmin,
    caller: &Caller,
    universe_id: &str,
    full: bool,
) -> Result<UniverseView, ApiError> {
    let catalog = keys.list_universes().await.map_err(store_failed)?;
    let records = keys
        .list(Some(universe_id), true)
        .await
        .map_err(store_failed)?;
    let Some(mut view) = universes_of(&catalog, &records).remove(universe_id) else {
        return Err(not_found(universe_id));
    };
    if full && view.deleted_at_ms.is_none() {
        let usage = api
            .universe_usage(&as_universe(caller, universe_id), Default::default())
            .await?;
        view.usage = Some(usage);
        let runs = api
            .operator_runs_list(
                caller,
                OperatorRunsListParams {
                    universe_id: universe_id.to_owned(),
                    limit: Some(1_000),
                },
            )
            .await?;
        view.dispatch = Some(runs.dispatch);
    }
    Ok(view)
}

/// A list the backend may not serve (a deployment without the auth catalog's
/// keyring, say): nothing of that kind to delete.
fn absent(err: &ApiError) -> bool {
    matches!(err.data.kind, ErrorKind::NotFound | ErrorKind::Rejected)
}

async fn delete<A: LightspeedApi>(
    api: &A,
    keys: &dyn KeyAdmin,
    caller: &Caller,
    universe_id: &str,
) -> Result<UniverseDeleteResult, ApiError> {
    let at_ms = now_ms();
    // Keys first: nothing acts in the universe while it is emptied.
    let mut revoked_keys = 0u32;
    for record in keys
        .list(Some(universe_id), false)
        .await
        .map_err(store_failed)?
    {
        keys.revoke(&record.key_id, at_ms)
            .await
            .map_err(store_failed)?;
        revoked_keys += 1;
    }
    let universe = as_universe(caller, universe_id);
    let mut deleted_sessions = 0u32;
    for _ in 0..DELETE_SESSION_PAGES_MAX {
        let page = api
            .session_list(
                &universe,
                SessionListParams {
                    cursor: None,
                    limit: Some(100),
                },
            )
            .await?;
        if page.sessions.is_empty() {
            break;
        }
        for session in page.sessions {
            let params = SessionDeleteParams {
                session_id: session.session_id,
                force: true,
            };
            api.session_delete(&universe, params).await?;
            deleted_sessions += 1;
        }
    }
    let mut deleted_records = 0u32;
    match api
        .schedule_list(&universe, ScheduleListParams::default())
        .await
    {
        Ok(list) => {
            for schedule in list.schedules {
                let params = ScheduleRef {
                    schedule_id: schedule.schedule_id,
                };
                api.schedule_delete(&universe, params).await?;
                deleted_records += 1;
            }
        }
        Err(err) if absent(&err) => {}
        Err(err) => return Err(err),
    }
    match api
        .environments_list(&universe, EnvironmentListParams::default())
        .await
    {
        Ok(list) => {
            for environment in list.environments {
                let params = EnvironmentRef {
                    name: environment.name,
                };
                api.environments_delete(&universe, params).await?;
                deleted_records += 1;
            }
        }
        Err(err) if absent(&err) => {}
        Err(err) => return Err(err),
    }
    match api
        .mcp_servers_list(&universe, McpServerListParams::default())
        .await
    {
        Ok(list) => {
            for server in list.servers {
                let params = McpServerRef { name: server.name };
                api.mcp_servers_delete(&universe, params).await?;
                deleted_records += 1;
            }
        }
        Err(err) if absent(&err) => {}
        Err(err) => return Err(err),
    }
    match api
        .memory_blocks_list(&universe, MemoryBlockListParams::default())
        .await
    {
        Ok(list) => {
            for block in list.blocks {
                let params = MemoryBlockDeleteParams {
                    label: block.label,
                    force: true,
                };
                api.memory_blocks_delete(&universe, params).await?;
                deleted_records += 1;
            }
        }
        Err(err) if absent(&err) => {}
        Err(err) => return Err(err),
    }
    match api
        .auth_secrets_list(&universe, AuthSecretListParams::default())
        .await
    {
        Ok(list) => {
            for secret in list.secrets {
                let params = AuthSecretDeleteParams { name: secret.name };
                api.auth_secrets_delete(&universe, params).await?;
                deleted_records += 1;
            }
        }
        Err(err) if absent(&err) => {}
        Err(err) => return Err(err),
    }
    keys.delete_universe(universe_id, at_ms)
        .await
        .map_err(store_failed)?;
    Ok(UniverseDeleteResult {
        universe_id: universe_id.to_owned(),
        revoked_keys,
        deleted_sessions,
        deleted_records,
    })
}

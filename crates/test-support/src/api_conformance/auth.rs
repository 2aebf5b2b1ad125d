//! API conformance cases, the auth registry: secrets sealed, listed without values and
//! kept per universe; an OAuth authorization (discovery, dynamic registration, PKCE)
//! completed through the gateway's `/auth/callback`, its grant used by a session's
//! MCP tool against a real protected server, then revoked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::client::Harness;
use super::fixtures::{finished_status, tool_results};
use super::{Case, case};
use crate::mcp_servers::OAuthServer;

pub(super) const CASES: [Case; 2] = [
    case!(
        secrets_are_sealed_listed_without_values_and_kept_apart,
        [
            "auth/secrets/put",
            "auth/secrets/list",
            "auth/secrets/delete"
        ]
    ),
    case!(
        oauth_grants_authorize_a_protected_mcp_server,
        [
            "auth/flows/start",
            "auth/flows/read",
            "auth/grants/list",
            "auth/grants/revoke",
            "mcp/servers/put",
            "session/start",
            "session/mcp/link",
            "run/start",
            "session/events/read"
        ]
    ),
];

const VALUE: &str = "sk-live-conformance-0123456789";

pub(super) async fn secrets_are_sealed_listed_without_values_and_kept_apart(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let (a, b) = (ctx.a(), ctx.b());
    let put = a
        .call(
            "auth/secrets/put",
            json!({"name": "docs-token", "value": VALUE}),
        )
        .await;
    assert_eq!(put["name"], "docs-token");
    assert!(!put.to_string().contains(VALUE), "{put}");
    assert!(put["keyId"].as_str().is_some_and(|id| !id.is_empty()));
    let again = a
        .call(
            "auth/secrets/put",
            json!({"name": "docs-token", "value": "rotated-value"}),
        )
        .await;
    assert_eq!(again["createdAtMs"], put["createdAtMs"]);
    let listed = a.call("auth/secrets/list", json!({})).await;
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(VALUE));
    assert!(!listed.to_string().contains("rotated-value"));
    a.invalid(
        "auth/secrets/put",
        json!({"name": "../etc", "value": "x"}),
        "name",
        None,
    )
    .await;
    a.invalid(
        "auth/secrets/put",
        json!({"name": "big", "value": "x".repeat(64 * 1024 + 1)}),
        "larger",
        Some("auth.valueTooLarge"),
    )
    .await;
    assert_eq!(
        b.call("auth/secrets/list", json!({})).await,
        json!({"secrets": []})
    );
    assert_eq!(
        b.call("auth/secrets/delete", json!({"name": "docs-token"}))
            .await,
        json!({"deleted": false})
    );
    assert_eq!(
        a.call("auth/secrets/delete", json!({"name": "docs-token"}))
            .await,
        json!({"deleted": true})
    );
    Ok(())
}

pub(super) async fn oauth_grants_authorize_a_protected_mcp_server(
    h: Harness,
) -> anyhow::Result<()> {
    let oauth = OAuthServer::start().await?;
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [{"name": "protected__whoami", "arguments": {}}]},
            {"text": "Authorized."},
            {"tool_calls": [{"name": "protected__whoami", "arguments": {}}]},
            {"text": "Refused."}
        ]}))
        .await?;
    let a = ctx.a();
    // Discovery from the resource, dynamic registration, PKCE: an authorization URL.
    let flow = a
        .call(
            "auth/flows/start",
            json!({"resourceUrl": oauth.mcp_url(), "grantName": "protected"}),
        )
        .await;
    assert_eq!(flow["status"], "pending");
    let authorization_url = flow["authorizationUrl"].as_str().unwrap();
    assert!(authorization_url.contains("code_challenge_method=S256"));
    // The browser: approved, redirected back with a code, delivered to the gateway.
    let query = oauth.authorize(authorization_url).await?;
    let callback = reqwest::get(format!("{}/auth/callback?{query}", ctx.stack().base_url)).await?;
    assert_eq!(callback.status(), 200);
    let page = callback.text().await?;
    assert!(page.starts_with("Authorized"), "{page}");
    // A replayed callback is refused: the flow is single use.
    let replay = reqwest::get(format!("{}/auth/callback?{query}", ctx.stack().base_url)).await?;
    assert!(replay.status().is_client_error(), "{}", replay.status());
    let flow = a
        .call("auth/flows/read", json!({"flowId": flow["flowId"]}))
        .await;
    assert_eq!(flow["status"], "completed");
    let grant_id = flow["grantId"].as_str().unwrap().to_owned();
    let grants = a.call("auth/grants/list", json!({})).await;
    assert_eq!(grants["grants"][0]["grantId"], grant_id.as_str());
    assert_eq!(grants["grants"][0]["status"], "active");
    assert_eq!(grants["grants"][0]["kind"], "oauth");
    // Universe B cannot see or use A's grant.
    assert_eq!(
        ctx.b().call("auth/grants/list", json!({})).await,
        json!({"grants": []})
    );

    // The protected MCP server, authenticated by the grant: linked and called.
    a.call(
        "mcp/servers/put",
        json!({"name": "protected",
               "transport": {"type": "streamableHttp", "url": oauth.mcp_url()},
               "auth": {"type": "grant", "grantId": grant_id}}),
    )
    .await;
    a.start_session("oauth-session").await;
    let link = a
        .call(
            "session/mcp/link",
            json!({"sessionId": "oauth-session", "server": "protected"}),
        )
        .await;
    assert_eq!(link["tools"][0]["name"], "protected__whoami");
    let run_id = a.start_run("oauth-session", "sub-1", "Who am I?").await;
    let events = a.follow("oauth-session", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let results = tool_results(&events);
    assert_eq!(results[0].1, "ok", "{results:?}");
    assert!(results[0].2.contains("authorized by the OAuth server"));

    // Revoked: the grant reads revoked and the next call is an error result.
    let revoked = a
        .call("auth/grants/revoke", json!({"grantId": grant_id}))
        .await;
    assert_eq!(revoked["status"], "revoked");
    let run_id = a.start_run("oauth-session", "sub-2", "Again?").await;
    let events = a.follow("oauth-session", &run_id).await;
    let results = tool_results(&events);
    let last = results.last().unwrap();
    assert_eq!(last.1, "error", "{results:?}");
    assert!(last.2.contains("revoked"), "{last:?}");
    Ok(())
}

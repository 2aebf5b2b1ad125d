//! API conformance cases, the MCP catalog and session links: servers validated (no
//! credential in plain headers or URLs, stdio only from the deployment's allow-list),
//! created, replaced by revision, listed, read, deleted; universes apart; a session's
//! links listed and unlinked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::client::Harness;
use super::fixtures::{finished_status, tool_results};
use super::{Case, case};
use crate::mcp_servers::EverythingHttp;

pub(super) const CASES: [Case; 4] = [
    case!(
        mcp_servers_are_validated_stored_and_kept_apart,
        [
            "mcp/servers/put",
            "mcp/servers/read",
            "mcp/servers/list",
            "mcp/servers/delete"
        ]
    ),
    case!(
        session_links_list_and_unlink,
        ["session/start", "session/mcp/list", "session/mcp/unlink"]
    ),
    case!(
        linked_mcp_tools_are_called_by_the_model,
        [
            "mcp/servers/put",
            "session/start",
            "session/mcp/link",
            "session/mcp/list",
            "session/mcp/unlink",
            "session/read",
            "run/start",
            "session/events/read"
        ]
    ),
    case!(
        hosted_links_give_the_provider_the_server,
        [
            "mcp/servers/put",
            "session/start",
            "session/mcp/link",
            "session/mcp/list",
            "run/start",
            "session/events/read"
        ]
    ),
];

pub(super) async fn mcp_servers_are_validated_stored_and_kept_apart(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let (a, b) = (ctx.a(), ctx.b());
    let server = json!({
        "name": "docs",
        "transport": {"type": "streamableHttp", "url": "https://mcp.example.com/mcp",
                      "headers": {"X-Tenant": "acme"}},
        "auth": {"type": "secretHeader", "secret": "docs-token"},
        "tools": {"deny": ["delete_everything"]},
        "expectedRevision": 0
    });
    let created = a.call("mcp/servers/put", server.clone()).await;
    assert_eq!(created["revision"], 1);
    assert_eq!(created["auth"]["header"], "Authorization");
    assert_eq!(created["auth"]["prefix"], "Bearer ");
    assert_eq!(
        created["timeouts"],
        json!({"connectMs": 10_000, "callMs": 120_000})
    );
    // Create-only again: the current revision comes back with the conflict.
    let data = a
        .refused(
            "mcp/servers/put",
            server.clone(),
            -32009,
            "revisionConflict",
        )
        .await;
    assert_eq!(data["currentRevision"], 1);
    let mut replace = server.clone();
    replace["expectedRevision"] = json!(1);
    replace["timeouts"] = json!({"callMs": 5_000});
    let replaced = a.call("mcp/servers/put", replace).await;
    assert_eq!(
        (
            replaced["revision"].as_u64(),
            replaced["timeouts"]["callMs"].as_u64()
        ),
        (Some(2), Some(5_000))
    );
    assert_eq!(replaced["createdAtMs"], created["createdAtMs"]);
    assert_eq!(
        a.call("mcp/servers/read", json!({"name": "docs"})).await,
        replaced
    );

    // Credentials never go into a record in the clear, and only allowed commands run.
    let mut bad = server.clone();
    bad["name"] = json!("bad");
    bad["transport"]["headers"] = json!({"Authorization": "Bearer sk-live-123"});
    a.invalid(
        "mcp/servers/put",
        bad.clone(),
        "Authorization",
        Some("invalidMcpServer"),
    )
    .await;
    bad["transport"] = json!({"type": "streamableHttp", "url": "https://u:pw@host/mcp"});
    a.invalid(
        "mcp/servers/put",
        bad.clone(),
        "transport.url",
        Some("invalidMcpServer"),
    )
    .await;
    bad["transport"] = json!({"type": "stdio", "command": "/bin/sh", "args": ["-c", "id"]});
    bad["auth"] = json!({"type": "none"});
    a.invalid(
        "mcp/servers/put",
        bad.clone(),
        "allow-list",
        Some("invalidMcpServer"),
    )
    .await;
    bad["name"] = json!("Not_A_Name");
    a.invalid("mcp/servers/put", bad, "name", Some("invalidMcpServer"))
        .await;
    let listed = a.call("mcp/servers/list", json!({})).await;
    assert_eq!(listed["servers"], json!([replaced]));

    // Universe B sees none of A's servers and cannot touch them.
    assert_eq!(
        b.call("mcp/servers/list", json!({})).await["servers"],
        json!([])
    );
    b.refused(
        "mcp/servers/read",
        json!({"name": "docs"}),
        -32004,
        "mcpServerNotFound",
    )
    .await;
    assert_eq!(
        b.call("mcp/servers/delete", json!({"name": "docs"})).await,
        json!({"deleted": false})
    );
    assert_eq!(
        a.call("mcp/servers/delete", json!({"name": "docs"})).await,
        json!({"deleted": true})
    );
    assert_eq!(
        a.call("mcp/servers/list", json!({})).await["servers"],
        json!([])
    );
    Ok(())
}

pub(super) async fn session_links_list_and_unlink(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    a.start_session("linked").await;
    let listed = a
        .call("session/mcp/list", json!({"sessionId": "linked"}))
        .await;
    assert_eq!(listed, json!({"links": []}));
    let unlinked = a
        .call(
            "session/mcp/unlink",
            json!({"sessionId": "linked", "server": "docs"}),
        )
        .await;
    assert_eq!(unlinked, json!({"unlinked": false}));
    a.refused(
        "session/mcp/list",
        json!({"sessionId": "nobody"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    ctx.b()
        .refused(
            "session/mcp/list",
            json!({"sessionId": "linked"}),
            -32004,
            "sessionNotFound",
        )
        .await;
    Ok(())
}

/// A real MCP server (server-everything over Streamable HTTP) linked to a session:
/// its tools registered as `everything__*` (filtered), a run whose model calls two of
/// them, their results in the transcript, then unlinking removes the tools.
pub(super) async fn linked_mcp_tools_are_called_by_the_model(h: Harness) -> anyhow::Result<()> {
    let everything = EverythingHttp::start().await?;
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "everything__echo", "arguments": {"message": "hello over MCP"}},
                {"name": "everything__get-sum", "arguments": {"a": 2, "b": 40}}
            ]},
            {"tool_calls": [
                {"name": "everything__echo", "arguments": {"no_message": true}}
            ]},
            {"text": "Done."}
        ]}))
        .await?;
    let a = ctx.a();
    a.call(
        "mcp/servers/put",
        json!({"name": "everything",
               "transport": {"type": "streamableHttp", "url": everything.url},
               "tools": {"deny": ["get-env"]}}),
    )
    .await;
    a.start_session("mcp-session").await;
    let link = a
        .call(
            "session/mcp/link",
            json!({"sessionId": "mcp-session", "server": "everything"}),
        )
        .await;
    let names: Vec<&str> = link["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"everything__echo"), "{names:?}");
    assert!(names.contains(&"everything__get-sum"), "{names:?}");
    assert!(!names.contains(&"everything__get-env"));
    assert!(
        link["skipped"]
            .as_array()
            .unwrap()
            .contains(&json!("get-env"))
    );
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "ordered");
    let listed = a
        .call("session/mcp/list", json!({"sessionId": "mcp-session"}))
        .await;
    assert_eq!(listed["links"], json!([link]));
    // Linking again lists again and changes nothing that did not change.
    let view = a
        .call("session/read", json!({"sessionId": "mcp-session"}))
        .await;
    let relinked = a
        .call(
            "session/mcp/link",
            json!({"sessionId": "mcp-session", "server": "everything"}),
        )
        .await;
    assert_eq!(relinked["tools"], link["tools"]);
    let again = a
        .call("session/read", json!({"sessionId": "mcp-session"}))
        .await;
    assert_eq!(again["revision"], view["revision"]);

    let run_id = a.start_run("mcp-session", "sub-1", "Use the tools.").await;
    let events = a.follow("mcp-session", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let results = tool_results(&events);
    assert_eq!(results.len(), 3, "{results:?}");
    let echo = results
        .iter()
        .find(|(name, status, _)| name == "everything__echo" && status == "ok")
        .unwrap_or_else(|| panic!("{results:?}"));
    assert!(echo.2.contains("hello over MCP"), "{echo:?}");
    let sum = results
        .iter()
        .find(|(name, _, _)| name == "everything__get-sum")
        .unwrap();
    assert_eq!(sum.1, "ok");
    assert!(sum.2.contains("42"), "{sum:?}");
    // Arguments the server refuses come back as an error result the model sees.
    let refused = results
        .iter()
        .find(|(name, status, _)| name == "everything__echo" && status == "error")
        .unwrap_or_else(|| panic!("{results:?}"));
    assert!(!refused.2.is_empty());

    let unlinked = a
        .call(
            "session/mcp/unlink",
            json!({"sessionId": "mcp-session", "server": "everything"}),
        )
        .await;
    assert_eq!(unlinked, json!({"unlinked": true}));
    assert_eq!(
        a.call("session/mcp/list", json!({"sessionId": "mcp-session"}))
            .await,
        json!({"links": []})
    );
    Ok(())
}

/// A provider-hosted link: one session tool naming the server for the provider,
/// replacing a client link's tools; a run goes through with it.
pub(super) async fn hosted_links_give_the_provider_the_server(h: Harness) -> anyhow::Result<()> {
    let everything = EverythingHttp::start().await?;
    let ctx = h.start(json!({"turns": [{"text": "Hosted."}]})).await?;
    let a = ctx.a();
    a.call(
        "mcp/servers/put",
        json!({"name": "docs",
               "transport": {"type": "streamableHttp", "url": everything.url}}),
    )
    .await;
    a.start_session("hosted").await;
    let client = a
        .call(
            "session/mcp/link",
            json!({"sessionId": "hosted", "server": "docs"}),
        )
        .await;
    assert!(client["tools"].as_array().unwrap().len() > 3);
    let hosted = a
        .call(
            "session/mcp/link",
            json!({"sessionId": "hosted", "server": "docs", "mode": "hosted"}),
        )
        .await;
    assert_eq!(hosted["mode"], "hosted");
    assert_eq!(hosted["tools"].as_array().unwrap().len(), 1);
    assert_eq!(hosted["tools"][0]["name"], "docs__mcp");
    let listed = a
        .call("session/mcp/list", json!({"sessionId": "hosted"}))
        .await;
    assert_eq!(listed["links"], json!([hosted]));
    let run_id = a.start_run("hosted", "sub-1", "Ask the docs.").await;
    let events = a.follow("hosted", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    Ok(())
}

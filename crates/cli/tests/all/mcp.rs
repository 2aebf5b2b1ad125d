//! `lightspeed mcp ...` through the binary, against the in-process stack and a real
//! MCP server (server-everything over Streamable HTTP).

use serde_json::{Value, json};
use test_support::mcp_servers::EverythingHttp;

use super::stack::{connected_session, stack};

#[tokio::test(flavor = "multi_thread")]
async fn mcp_servers_are_added_linked_used_and_removed() {
    let everything = EverythingHttp::start().await.unwrap();
    let stack = stack(json!({"turns": [
        {"text": "Hello."},
        {"tool_calls": [{"name": "everything__echo", "arguments": {"message": "via the CLI"}}]},
        {"text": "Echoed."}
    ]}))
    .await;
    let added = stack
        .lightspeed(&[
            "mcp",
            "add",
            "everything",
            "--url",
            &everything.url,
            "--deny",
            "get-env",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    assert_eq!(added.stdout, "everything at revision 1\n");
    let refused = stack
        .lightspeed(&[
            "mcp",
            "add",
            "leaky",
            "--url",
            &everything.url,
            "--header",
            "Authorization=Bearer sk-live-0123",
        ])
        .await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("credential"), "{refused:?}");
    assert!(!refused.stderr.contains("sk-live-0123"), "{refused:?}");

    let list = stack.lightspeed(&["mcp", "list"]).await;
    assert!(list.stdout.starts_with("everything"), "{list:?}");
    assert!(list.stdout.contains(&everything.url), "{list:?}");

    let chat = stack.lightspeed(&["chat", "hi"]).await;
    let session = connected_session(&chat.stdout);
    let linked = stack
        .lightspeed(&["mcp", "link", &session, "everything"])
        .await;
    assert_eq!(linked.code, Some(0), "{linked:?}");
    assert!(linked.stdout.contains("  everything__echo\n"), "{linked:?}");
    assert!(linked.stdout.contains("skipped: get-env"), "{linked:?}");

    let again = stack
        .lightspeed(&["chat", "--session", &session, "echo please"])
        .await;
    assert_eq!(again.code, Some(0), "{again:?}");
    let read = stack.lightspeed(&["sessions", "read", &session]).await;
    assert!(read.stdout.contains("[tool] everything__echo"), "{read:?}");
    assert!(read.stdout.contains("via the CLI"), "{read:?}");

    let tools = stack
        .lightspeed(&["mcp", "tools", &session, "--json"])
        .await;
    let tools: Value = serde_json::from_str(&tools.stdout).unwrap();
    assert_eq!(tools["links"][0]["server"], "everything");
    let unlinked = stack
        .lightspeed(&["mcp", "unlink", &session, "everything"])
        .await;
    assert_eq!(unlinked.stdout, "unlinked everything\n");
    let removed = stack.lightspeed(&["mcp", "remove", "everything"]).await;
    assert_eq!(removed.stdout, "removed everything\n");
    let empty = stack.lightspeed(&["mcp", "list"]).await;
    assert_eq!(empty.stdout, "no MCP servers\n");
}

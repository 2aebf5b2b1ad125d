//! `lightspeed schedule ...` through the binary, against the in-process stack.

use serde_json::{Value, json};

use super::stack::{connected_session, stack};

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_created_listed_paused_resumed_and_deleted() {
    let stack = stack(json!({"turns": [{"text": "Hello."}]})).await;
    let chat = stack.lightspeed(&["chat", "hi"]).await;
    let session = connected_session(&chat.stdout);

    let created = stack
        .lightspeed(&[
            "schedule",
            "create",
            "--id",
            "hourly",
            "--every",
            "3600",
            "--session",
            &session,
            "--input",
            "Check in.",
            "--paused",
        ])
        .await;
    assert_eq!(created.code, Some(0), "{created:?}");
    assert!(created.stdout.starts_with("hourly"), "{created:?}");
    assert!(created.stdout.contains("paused"), "{created:?}");
    let refused = stack
        .lightspeed(&[
            "schedule",
            "create",
            "--cron",
            "0 0 L * *",
            "--session",
            &session,
            "--input",
            "x",
        ])
        .await;
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("expression"), "{refused:?}");

    let list = stack.lightspeed(&["schedule", "list"]).await;
    assert!(list.stdout.contains("every 3600s"), "{list:?}");
    let resumed = stack.lightspeed(&["schedule", "resume", "hourly"]).await;
    assert!(resumed.stdout.contains("next firing at"), "{resumed:?}");
    let updated = stack
        .lightspeed(&[
            "schedule",
            "update",
            "hourly",
            "--cron",
            "0 9 * * MON-FRI",
            "--timezone",
            "Europe/Paris",
        ])
        .await;
    assert!(updated.stdout.contains("Europe/Paris"), "{updated:?}");
    let paused = stack.lightspeed(&["schedule", "pause", "hourly"]).await;
    assert!(!paused.stdout.contains("next firing"), "{paused:?}");
    let read = stack
        .lightspeed(&["schedule", "read", "hourly", "--json"])
        .await;
    let read: Value = serde_json::from_str(&read.stdout).unwrap();
    assert_eq!(read["revision"], 4);
    assert_eq!(read["paused"], true);
    let deleted = stack.lightspeed(&["schedule", "delete", "hourly"]).await;
    assert_eq!(deleted.stdout, "deleted hourly\n");
}

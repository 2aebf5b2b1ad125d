//! LISTEN/NOTIFY between two connections.

use std::time::Duration;

use store_pg::{NOTIFY_PAYLOAD_BYTES_MAX, PgStoreError};
use uuid::Uuid;

use crate::support::Services;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn notifications_arrive_in_order_on_their_channel_only() {
    let Some(services) = Services::from_env("notifications_arrive_in_order_on_their_channel_only")
    else {
        return;
    };
    let db = services.database().await;
    // Fresh channels, so concurrent runs of this test never see each other.
    let channel = format!("t_{}", Uuid::new_v4().simple());
    let other = format!("t_{}", Uuid::new_v4().simple());
    let mut listening = db.listen(&channel).await.unwrap();

    db.notify(&other, &["elsewhere".into()]).await.unwrap();
    let sent: Vec<String> = (0..5).map(|n| format!("payload {n}")).collect();
    db.notify(&channel, &sent).await.unwrap();
    db.notify(&channel, &["last".into()]).await.unwrap();

    let mut received = Vec::new();
    for _ in 0..6 {
        received.push(
            tokio::time::timeout(WAIT, listening.next())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let mut expected = sent.clone();
    expected.push("last".into());
    assert_eq!(received, expected);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), listening.next())
            .await
            .is_err(),
        "nothing else arrives"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_channels_and_oversized_payloads_are_refused() {
    let Some(services) = Services::from_env("bad_channels_and_oversized_payloads_are_refused")
    else {
        return;
    };
    let db = services.database().await;
    let err = db.notify("Bad-Channel", &["x".into()]).await.unwrap_err();
    assert!(matches!(err, PgStoreError::Config(_)), "{err}");
    let err = db.listen("1bad").await.unwrap_err();
    assert!(matches!(err, PgStoreError::Config(_)), "{err}");
    let large = "x".repeat(NOTIFY_PAYLOAD_BYTES_MAX + 1);
    let err = db
        .notify("t_large", &["fine".into(), large])
        .await
        .unwrap_err();
    assert!(matches!(err, PgStoreError::Config(_)), "{err}");
}

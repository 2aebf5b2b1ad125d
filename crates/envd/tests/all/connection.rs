//! Dialling, authentication, reconnection.

use env_protocol::PROTOCOL_VERSION;
use envd::{Event, Limits};

use crate::support::{TOKEN, WITHIN, shell, spawn, start, start_with};

#[tokio::test]
async fn hello_describes_the_host() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let hello = gateway.hello.clone();
    assert_eq!(hello.protocol, PROTOCOL_VERSION);
    assert_eq!(hello.name, "test-env");
    assert_eq!(hello.host.sandbox.kind, "none");
    assert!(hello.host.sandbox.network);
    assert_eq!(
        std::path::Path::new(&hello.host.dir),
        daemon.dir.path().canonicalize()?
    );
    assert!(hello.known_calls.is_empty());
    gateway.ping(7).await?;
    gateway.call("c", shell("true"), WITHIN).await?;
    assert_eq!(gateway.pongs(), &[7]);
    assert!(matches!(
        daemon.events().first(),
        Some(Event::Connected { .. })
    ));
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn after_the_gateway_drops_the_socket_the_daemon_dials_again() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    gateway.call("before", shell("echo one"), WITHIN).await?;
    gateway.drop_socket();
    let mut gateway = daemon.gateway.accept(WITHIN).await?;
    assert_eq!(gateway.hello.known_calls, vec!["before".to_owned()]);
    let again = gateway.call("before", shell("echo two"), WITHIN).await?;
    assert_eq!(again.output, "one\n", "answered from memory, not run again");
    let events = daemon.events();
    assert!(
        events
            .iter()
            .any(|event| matches!(event, Event::Disconnected { .. })),
        "{events:?}"
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn silence_for_three_ping_intervals_makes_the_daemon_reconnect() -> anyhow::Result<()> {
    let (daemon, _gateway) = start_with(TOKEN, Limits::default(), 200).await?;
    // The first connection stays open but silent; a second one comes.
    let started = std::time::Instant::now();
    let _second = daemon.gateway.accept(WITHIN).await?;
    assert!(started.elapsed() >= std::time::Duration::from_millis(500));
    let events = daemon.events();
    assert!(
        events
            .iter()
            .any(|event| event.to_string().contains("nothing heard")),
        "{events:?}"
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_retried_without_being_shown() -> anyhow::Result<()> {
    let wrong = "wrong-token-secret-xyz";
    let (daemon, connection) = spawn(wrong, Limits::default(), 30_000).await?;
    assert!(connection.is_none());
    let gateway = &daemon.gateway;
    // Every attempt is refused: accepting only times out, counting them.
    assert!(
        gateway
            .accept(std::time::Duration::from_secs(5))
            .await
            .is_err()
    );
    assert!(gateway.refused() >= 2, "{}", gateway.refused());
    let events = daemon.events();
    assert!(events.len() >= 2, "{events:?}");
    for event in &events {
        let text = event.to_string();
        assert!(matches!(event, Event::ConnectFailed { .. }), "{text}");
        assert!(text.contains("401"), "{text}");
        assert!(!text.contains(wrong), "{text}");
    }
    daemon.stop().await;
    Ok(())
}

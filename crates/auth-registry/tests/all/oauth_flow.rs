//! Discovery → registration → authorize → callback → grant → broker → refresh under
//! concurrency → server-side revocation → needsReauth, against a real server.

use std::sync::Arc;

use auth_registry::registry::{CallbackOutcome, StartOAuthRequest};
use auth_registry::{
    AuthCatalog, AuthError, AuthLimits, AuthRegistry, BrokerError, FlowStatus, GrantKind,
    GrantStatus, Keyring, MemoryAuthCatalog,
};
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};

use crate::oauth_server::OAuthServer;

pub(crate) fn keyring() -> Arc<Keyring> {
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    Arc::new(Keyring::parse(&format!("test1:{key}")).unwrap())
}

/// Follows the authorization URL one hop (the mock approves at once) and returns the
/// callback's `code` and `state`.
async fn authorize(url: &str) -> (String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let location = reqwest::Url::parse(&location).unwrap();
    assert_eq!(location.path(), "/callback");
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in the redirect"))
    };
    (param("code"), param("state"))
}

async fn expire_now(catalog: &MemoryAuthCatalog, id: &auth_registry::GrantId) {
    let mut grant = catalog.grant_get(id).await.unwrap().unwrap();
    let GrantKind::Oauth { expires_at_ms, .. } = &mut grant.kind else {
        panic!("not an OAuth grant");
    };
    *expires_at_ms = Some(0);
    let revision = grant.revision;
    catalog.grant_update(&grant, revision).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_flow_end_to_end_against_oauth2_mock_server() {
    let Some(server) = OAuthServer::start("oauth_flow_end_to_end_against_oauth2_mock_server").await
    else {
        return;
    };
    let catalog = Arc::new(MemoryAuthCatalog::new());
    let registry = AuthRegistry::new(
        "universe-1",
        catalog.clone(),
        keyring(),
        "http://127.0.0.1:9/callback",
        AuthLimits::default(),
    )
    .unwrap();

    // Discovery (401 hint → RFC 9728 → RFC 8414) and dynamic registration.
    let resource = format!("{}/mcp", server.issuer);
    let started = registry
        .start_oauth(StartOAuthRequest {
            grant_name: "mock".into(),
            resource: resource.clone(),
            scopes: vec!["read".into()],
            client_id: None,
            client_secret_name: None,
        })
        .await
        .unwrap();
    assert_eq!(started.status, FlowStatus::Pending);
    assert_eq!(server.stats().await["registrations"], 1);
    let url = reqwest::Url::parse(&started.authorization_url).unwrap();
    let query: std::collections::BTreeMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["resource"], resource);
    assert_eq!(query["scope"], "read");
    let (universe, flow) = auth_registry::oauth::parse_state(&query["state"]).unwrap();
    assert_eq!((universe.as_str(), &flow), ("universe-1", &started.flow_id));

    // The person approves; the callback completes the flow into an active grant.
    let (code, state) = authorize(&started.authorization_url).await;
    let state = SecretString::from(state);
    let grant = registry
        .complete_flow(
            &state,
            CallbackOutcome::Code(SecretString::from(code.clone())),
        )
        .await
        .unwrap();
    assert_eq!(grant.status, GrantStatus::Active);
    let flow = registry.read_flow(started.flow_id.as_str()).await.unwrap();
    assert_eq!(flow.status, FlowStatus::Completed);
    assert_eq!(flow.grant_id.as_ref(), Some(&grant.id));
    // Single use: the same callback again is refused.
    let replay = registry
        .complete_flow(&state, CallbackOutcome::Code(SecretString::from(code)))
        .await
        .unwrap_err();
    assert_eq!(replay.code(), "auth.flowNotPending");
    // Listing shows no token (the access token is a JWT: no "eyJ" anywhere).
    let listed = serde_json::to_string(&registry.list_grants().await.unwrap()).unwrap();
    assert!(!listed.contains("eyJ"), "{listed}");

    // The broker hands out the access token.
    let broker = registry.broker();
    let first = broker.credential(&grant.id).await.unwrap();
    assert_eq!(first.header_name, "Authorization");
    assert!(first.header_value.expose_secret().starts_with("Bearer eyJ"));
    assert!(!format!("{first:?}").contains("eyJ"));
    assert_eq!(server.stats().await["refreshes"], 0);

    // Expired: eight concurrent callers, one refresh.
    expire_now(&catalog, &grant.id).await;
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (broker, id) = (broker.clone(), grant.id.clone());
            tokio::spawn(async move { broker.credential(&id).await })
        })
        .collect();
    let mut values = Vec::new();
    for caller in callers {
        values.push(
            caller
                .await
                .unwrap()
                .unwrap()
                .header_value
                .expose_secret()
                .to_owned(),
        );
    }
    assert!(values.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(server.stats().await["refreshes"], 1);
    let refreshed = catalog.grant_get(&grant.id).await.unwrap().unwrap();
    let GrantKind::Oauth { expires_at_ms, .. } = &refreshed.kind else {
        panic!("not OAuth");
    };
    assert!(expires_at_ms.unwrap() > 60_000);

    // invalidate() forces one refresh even though the token is fresh.
    broker.invalidate(&grant.id);
    broker.credential(&grant.id).await.unwrap();
    broker.credential(&grant.id).await.unwrap();
    assert_eq!(server.stats().await["refreshes"], 2);

    // The server revokes refresh tokens: the grant needs a person again.
    server.revoke_refresh_tokens().await;
    expire_now(&catalog, &grant.id).await;
    match broker.credential(&grant.id).await {
        Err(BrokerError::NeedsReauth(id)) => assert_eq!(id, grant.id),
        other => panic!("expected NeedsReauth, got {other:?}"),
    }
    let read = registry.read_grant(grant.id.as_str()).await.unwrap();
    assert_eq!(read.status, GrantStatus::NeedsReauth);
    assert_eq!(
        broker.credential(&grant.id).await.unwrap_err().code(),
        "broker.needsReauth"
    );
    assert_eq!(server.stats().await["refreshes"], 3);

    // Revoking ends it for good and drops the sealed tokens.
    let revoked = registry.revoke_grant(grant.id.as_str()).await.unwrap();
    assert_eq!(revoked.status, GrantStatus::Revoked);
    let stored = catalog.grant_get(&grant.id).await.unwrap().unwrap();
    assert!(stored.sealed.access_token.is_none() && stored.sealed.refresh_token.is_none());
    assert!(matches!(
        broker.credential(&grant.id).await,
        Err(BrokerError::Revoked(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_error_or_a_forged_state_completes_nothing() {
    let Some(server) =
        OAuthServer::start("a_callback_error_or_a_forged_state_completes_nothing").await
    else {
        return;
    };
    let catalog = Arc::new(MemoryAuthCatalog::new());
    let registry = AuthRegistry::new(
        "u2",
        catalog,
        keyring(),
        "http://127.0.0.1:9/callback",
        AuthLimits::default(),
    )
    .unwrap();
    let request = || StartOAuthRequest {
        grant_name: "mock".into(),
        resource: format!("{}/mcp", server.issuer),
        scopes: vec![],
        client_id: Some("preset-client".into()),
        client_secret_name: None,
    };
    let started = registry.start_oauth(request()).await.unwrap();
    assert_eq!(
        server.stats().await["registrations"],
        0,
        "a preset client is not registered"
    );
    let (_, state) = authorize(&started.authorization_url).await;
    // Same universe and flow, another random part.
    let forged = format!("u2.{}.AAAAAAAA", started.flow_id);
    let err = registry
        .complete_flow(
            &SecretString::from(forged),
            CallbackOutcome::Code("x".to_owned().into()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidState));
    let err = registry
        .complete_flow(
            &SecretString::from(state),
            CallbackOutcome::Error {
                code: "access_denied".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "auth.authorizationDenied");
    let flow = registry.read_flow(started.flow_id.as_str()).await.unwrap();
    assert_eq!(flow.status, FlowStatus::failed("access_denied"));
}

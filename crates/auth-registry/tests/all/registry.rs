//! The registry over the in-memory catalog: secrets, static grants, refusals.

use std::sync::Arc;

use auth_registry::registry::SecretGrantRequest;
use auth_registry::{AuthLimits, AuthRegistry, GrantStatus, MemoryAuthCatalog, SecretPurpose};
use secrecy::{ExposeSecret as _, SecretString};

use crate::oauth_flow::keyring;

fn registry(limits: AuthLimits) -> AuthRegistry<MemoryAuthCatalog> {
    AuthRegistry::new(
        "u1",
        Arc::new(MemoryAuthCatalog::new()),
        keyring(),
        "https://lightspeed.example/auth/callback",
        limits,
    )
    .unwrap()
}

#[tokio::test]
async fn a_secret_grant_sends_the_secret_as_a_header_and_lists_show_no_value() {
    let registry = registry(AuthLimits::default());
    let meta = registry
        .put_secret(
            "gh-token",
            SecretPurpose::Header,
            SecretString::from("ghp_value123"),
        )
        .await
        .unwrap();
    assert_eq!(meta.key_id, "test1");
    let listed = format!(
        "{:?} {}",
        registry.list_secrets().await.unwrap(),
        serde_json::to_string(&registry.list_secrets().await.unwrap()).unwrap()
    );
    assert!(!listed.contains("ghp_value123"), "{listed}");
    let grant = registry
        .create_secret_grant(SecretGrantRequest {
            name: "github".into(),
            secret_name: "gh-token".into(),
            header_name: "Authorization".into(),
            prefix: Some("Bearer ".into()),
        })
        .await
        .unwrap();
    assert_eq!(grant.status, GrantStatus::Active);
    let credential = registry.broker().credential(&grant.id).await.unwrap();
    assert_eq!(
        credential.header_value.expose_secret(),
        "Bearer ghp_value123"
    );
    let grants = serde_json::to_string(&registry.list_grants().await.unwrap()).unwrap();
    assert!(!grants.contains("ghp_value123"));
    // The secret gone, the grant has nothing to send.
    assert!(registry.delete_secret("gh-token").await.unwrap());
    let err = registry.broker().credential(&grant.id).await.unwrap_err();
    assert_eq!(err.code(), "broker.secretMissing");
}

#[tokio::test]
async fn refusals_are_typed_and_come_before_work() {
    let limits = AuthLimits {
        secrets_max: 1,
        ..AuthLimits::default()
    };
    let registry = registry(limits);
    let put = |name: &'static str, value: String| {
        let registry = &registry;
        async move {
            registry
                .put_secret(name, SecretPurpose::Header, SecretString::from(value))
                .await
        }
    };
    assert_eq!(
        put("../etc", "v".into()).await.unwrap_err().code(),
        "auth.invalidName"
    );
    assert_eq!(
        put("", "v".into()).await.unwrap_err().code(),
        "auth.invalidName"
    );
    assert_eq!(
        put("big", "x".repeat(64 * 1024 + 1))
            .await
            .unwrap_err()
            .code(),
        "auth.valueTooLarge"
    );
    put("one", "v".into()).await.unwrap();
    assert_eq!(
        put("two", "v".into()).await.unwrap_err().code(),
        "auth.tooMany"
    );
    put("one", "replaced".into()).await.unwrap();
    let err = registry
        .create_secret_grant(SecretGrantRequest {
            name: "g".into(),
            secret_name: "one".into(),
            header_name: "Bad Header".into(),
            prefix: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "auth.invalidInput");
    // Plain http to a non-loopback redirect is refused at construction.
    let err = AuthRegistry::new(
        "u1",
        Arc::new(MemoryAuthCatalog::new()),
        keyring(),
        "http://lightspeed.example/cb",
        AuthLimits::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "oauth.insecureUrl");
}

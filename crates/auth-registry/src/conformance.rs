//! The [`AuthCatalog`] conformance suite: every backend runs these cases (memory in
//! this crate's tests, store-fs and store-pg in theirs). Each case uses fresh names
//! and ids, so the suite can run twice against one catalog. Cases return
//! `Err(description)` rather than panic, so callers see which case failed.

use crate::catalog::{AuthCatalog, CatalogError};
use crate::keyring::{NONCE_BYTES, Sealed};
use crate::records::{
    Flow, FlowId, FlowSpec, FlowStatus, Grant, GrantId, GrantKind, GrantName, GrantSealed,
    GrantStatus, REVISION_INITIAL, SecretMeta, SecretName, SecretPurpose, StoredSecret,
};

pub type CaseResult = Result<(), String>;

fn fail(what: impl std::fmt::Display) -> String {
    what.to_string()
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

fn sealed(byte: u8) -> Sealed {
    Sealed {
        key_id: "k1".into(),
        nonce: [byte; NONCE_BYTES],
        ciphertext: vec![byte; 24],
    }
}

/// A secret named `name` (which must be a valid name) with a made-up sealed value.
pub fn sample_secret(name: &str) -> StoredSecret {
    let name = SecretName::new(name).unwrap_or_else(|_| unreachable!("sample names are valid"));
    secret(&name, 1, 1)
}

fn secret(name: &SecretName, byte: u8, at_ms: u64) -> StoredSecret {
    StoredSecret {
        meta: SecretMeta {
            name: name.clone(),
            purpose: SecretPurpose::Header,
            created_at_ms: at_ms,
            updated_at_ms: at_ms,
            key_id: "k1".into(),
        },
        value: sealed(byte),
    }
}

/// A grant with OAuth tokens, every sealed part present.
pub fn sample_grant(id: GrantId) -> Grant {
    Grant {
        id,
        name: GrantName::new("sample").unwrap_or_else(|_| unreachable!()),
        status: GrantStatus::Active,
        revision: REVISION_INITIAL,
        created_at_ms: 1_000,
        updated_at_ms: 1_000,
        kind: GrantKind::Oauth {
            expires_at_ms: Some(5_000),
            token_endpoint: "https://as.example/token".into(),
            revocation_endpoint: None,
            client_id: "client-1".into(),
            scopes: vec!["read".into(), "write".into()],
            resource: "https://mcp.example/mcp".into(),
        },
        sealed: GrantSealed {
            access_token: Some(sealed(1)),
            refresh_token: Some(sealed(2)),
            client_secret: Some(sealed(3)),
        },
    }
}

fn sample_flow(id: FlowId, expires_at_ms: u64) -> Flow {
    Flow {
        id,
        revision: REVISION_INITIAL,
        status: FlowStatus::Pending,
        grant_id: None,
        created_at_ms: 1_000,
        expires_at_ms,
        spec: FlowSpec {
            state_digest: "00".repeat(32),
            redirect_uri: "http://127.0.0.1/callback".into(),
            resource: "https://mcp.example/mcp".into(),
            token_endpoint: "https://as.example/token".into(),
            revocation_endpoint: Some("https://as.example/revoke".into()),
            client_id: "client-1".into(),
            client_registered: true,
            scopes: vec![],
            grant_name: GrantName::new("g").unwrap_or_else(|_| unreachable!()),
        },
        verifier: sealed(9),
        client_secret: None,
    }
}

fn name(tag: &str) -> Result<SecretName, String> {
    SecretName::new(unique(tag)).map_err(fail)
}

/// Every case, in order.
pub async fn auth_catalog_suite(catalog: &impl AuthCatalog) -> CaseResult {
    secrets_put_get_list_delete(catalog).await?;
    secret_put_replaces_and_keeps_created(catalog).await?;
    secret_count_is_bounded(catalog).await?;
    grants_round_trip_and_compare_and_set(catalog).await?;
    grant_ids_are_unique_and_bounded(catalog).await?;
    flows_round_trip_compare_and_set_and_prune(catalog).await?;
    Ok(())
}

pub async fn secrets_put_get_list_delete(catalog: &impl AuthCatalog) -> CaseResult {
    let a = name("a")?;
    let stored = catalog
        .secret_put(&secret(&a, 1, 10), 1_000)
        .await
        .map_err(fail)?;
    if stored != secret(&a, 1, 10) {
        return Err(format!("put returned {stored:?}"));
    }
    let got = catalog.secret_get(&a).await.map_err(fail)?;
    if got.as_ref() != Some(&stored) {
        return Err(format!("get returned {got:?}"));
    }
    let listed = catalog.secret_list().await.map_err(fail)?;
    if !listed.contains(&stored.meta) {
        return Err("list lacks the secret".into());
    }
    if !listed.windows(2).all(|w| w[0].name < w[1].name) {
        return Err("list is not ordered by name".into());
    }
    if !catalog.secret_delete(&a).await.map_err(fail)? {
        return Err("delete of a stored secret said there was none".into());
    }
    if catalog.secret_delete(&a).await.map_err(fail)? {
        return Err("second delete said there was a secret".into());
    }
    if catalog.secret_get(&a).await.map_err(fail)?.is_some() {
        return Err("a deleted secret is still read".into());
    }
    Ok(())
}

pub async fn secret_put_replaces_and_keeps_created(catalog: &impl AuthCatalog) -> CaseResult {
    let a = name("replace")?;
    catalog
        .secret_put(&secret(&a, 1, 10), 1_000)
        .await
        .map_err(fail)?;
    let stored = catalog
        .secret_put(&secret(&a, 2, 20), 1_000)
        .await
        .map_err(fail)?;
    let read = catalog
        .secret_get(&a)
        .await
        .map_err(fail)?
        .ok_or("replaced secret missing")?;
    if read != stored
        || read.value != sealed(2)
        || read.meta.created_at_ms != 10
        || read.meta.updated_at_ms != 20
    {
        return Err(format!("replacement stored {read:?}"));
    }
    catalog.secret_delete(&a).await.map_err(fail)?;
    Ok(())
}

pub async fn secret_count_is_bounded(catalog: &impl AuthCatalog) -> CaseResult {
    let present = catalog.secret_list().await.map_err(fail)?.len();
    let max = present + 2;
    let names = [name("n1")?, name("n2")?, name("n3")?];
    for n in &names[..2] {
        catalog
            .secret_put(&secret(n, 1, 1), max)
            .await
            .map_err(fail)?;
    }
    match catalog.secret_put(&secret(&names[2], 1, 1), max).await {
        Err(CatalogError::TooMany { max: m, .. }) if m == max => {}
        other => return Err(format!("a secret beyond the bound: {other:?}")),
    }
    // Replacing an existing name at the bound is not a new secret.
    catalog
        .secret_put(&secret(&names[0], 3, 2), max)
        .await
        .map_err(fail)?;
    for n in &names {
        catalog.secret_delete(n).await.map_err(fail)?;
    }
    Ok(())
}

pub async fn grants_round_trip_and_compare_and_set(catalog: &impl AuthCatalog) -> CaseResult {
    let grant = sample_grant(GrantId::generate());
    catalog.grant_create(&grant, 1_000).await.map_err(fail)?;
    let read = catalog.grant_get(&grant.id).await.map_err(fail)?;
    if read.as_ref() != Some(&grant) {
        return Err(format!("grant read back as {read:?}"));
    }
    if !catalog
        .grant_list()
        .await
        .map_err(fail)?
        .iter()
        .any(|g| g == &grant)
    {
        return Err("grant list lacks the grant".into());
    }
    let mut next = grant.clone();
    next.status = GrantStatus::NeedsReauth;
    next.sealed.access_token = Some(sealed(7));
    next.sealed.client_secret = None;
    let moved = catalog
        .grant_update(&next, REVISION_INITIAL)
        .await
        .map_err(fail)?;
    if moved.revision != REVISION_INITIAL + 1 || moved.status != GrantStatus::NeedsReauth {
        return Err(format!("update stored {moved:?}"));
    }
    let read = catalog.grant_get(&grant.id).await.map_err(fail)?;
    if read.as_ref() != Some(&moved) {
        return Err(format!("updated grant read back as {read:?}"));
    }
    // A writer that read revision 1 loses, and learns revision 2.
    match catalog.grant_update(&next, REVISION_INITIAL).await {
        Err(CatalogError::Conflict {
            expected, actual, ..
        }) if expected == REVISION_INITIAL && actual == REVISION_INITIAL + 1 => {}
        other => return Err(format!("a stale update: {other:?}")),
    }
    let missing = sample_grant(GrantId::generate());
    match catalog.grant_update(&missing, REVISION_INITIAL).await {
        Err(CatalogError::NotFound { .. }) => {}
        other => return Err(format!("an update of no grant: {other:?}")),
    }
    if !catalog.grant_delete(&grant.id).await.map_err(fail)? {
        return Err("grant delete found nothing".into());
    }
    if catalog.grant_get(&grant.id).await.map_err(fail)?.is_some() {
        return Err("deleted grant still read".into());
    }
    Ok(())
}

pub async fn grant_ids_are_unique_and_bounded(catalog: &impl AuthCatalog) -> CaseResult {
    let grant = sample_grant(GrantId::generate());
    catalog.grant_create(&grant, 1_000).await.map_err(fail)?;
    match catalog.grant_create(&grant, 1_000).await {
        Err(CatalogError::Exists { .. }) => {}
        other => return Err(format!("a second create of one id: {other:?}")),
    }
    let present = catalog.grant_list().await.map_err(fail)?.len();
    match catalog
        .grant_create(&sample_grant(GrantId::generate()), present)
        .await
    {
        Err(CatalogError::TooMany { .. }) => {}
        other => return Err(format!("a grant beyond the bound: {other:?}")),
    }
    catalog.grant_delete(&grant.id).await.map_err(fail)?;
    Ok(())
}

pub async fn flows_round_trip_compare_and_set_and_prune(catalog: &impl AuthCatalog) -> CaseResult {
    // Far in the future of every other flow a previous run left, far in the past of none.
    let live = sample_flow(FlowId::generate(), u64::MAX / 2);
    let old = sample_flow(FlowId::generate(), 2_000);
    catalog.flow_create(&live, 1_000).await.map_err(fail)?;
    catalog.flow_create(&old, 1_000).await.map_err(fail)?;
    match catalog.flow_create(&live, 1_000).await {
        Err(CatalogError::Exists { .. }) => {}
        other => return Err(format!("a second create of one flow: {other:?}")),
    }
    let read = catalog.flow_get(&live.id).await.map_err(fail)?;
    if read.as_ref() != Some(&live) {
        return Err(format!("flow read back as {read:?}"));
    }
    let mut done = live.clone();
    done.status = FlowStatus::Completed;
    done.grant_id = Some(GrantId::generate());
    let moved = catalog
        .flow_update(&done, REVISION_INITIAL)
        .await
        .map_err(fail)?;
    if moved.revision != REVISION_INITIAL + 1 || moved.status != FlowStatus::Completed {
        return Err(format!("flow update stored {moved:?}"));
    }
    match catalog.flow_update(&done, REVISION_INITIAL).await {
        Err(CatalogError::Conflict { actual, .. }) if actual == REVISION_INITIAL + 1 => {}
        other => return Err(format!("a stale flow update: {other:?}")),
    }
    let pruned = catalog.flow_prune(3_000).await.map_err(fail)?;
    if pruned < 1 {
        return Err("prune removed nothing".into());
    }
    if catalog.flow_get(&old.id).await.map_err(fail)?.is_some() {
        return Err("an expired flow survived pruning".into());
    }
    if catalog.flow_get(&live.id).await.map_err(fail)?.as_ref() != Some(&moved) {
        return Err("pruning removed a live flow".into());
    }
    Ok(())
}

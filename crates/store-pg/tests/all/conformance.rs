//! The shared store conformance suite against Postgres (+ S3 for large blobs).

use store_pg::PgStoreLimits;
use test_support::conformance;

use crate::support::{Services, store_with_s3};

#[tokio::test(flavor = "multi_thread")]
async fn every_suite_passes_with_the_object_store() {
    let Some((services, s3)) =
        Services::with_object_store("every_suite_passes_with_the_object_store")
    else {
        return;
    };
    let store = store_with_s3(&services, &s3).await;
    conformance::store_suite(&store).await.unwrap();
    // Again on the same universe: the suites use fresh sessions and repeat puts.
    conformance::store_suite(&store).await.unwrap();
}

/// `engine::fork` on Postgres with S3: a fork shares its source's items by ref
/// and rehydrates from its checkpoint or, pruned, its first entry.
#[tokio::test(flavor = "multi_thread")]
async fn forks_conform_with_the_object_store() {
    let Some((services, s3)) = Services::with_object_store("forks_conform_with_the_object_store")
    else {
        return;
    };
    let store = store_with_s3(&services, &s3).await;
    test_support::fork_conformance::fork_suite(std::sync::Arc::new(store))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_suite_passes_with_every_blob_in_the_object_store() {
    let Some((services, s3)) =
        Services::with_object_store("blob_suite_passes_with_every_blob_in_the_object_store")
    else {
        return;
    };
    let store = store_with_s3(&services, &s3)
        .await
        .with_limits(PgStoreLimits {
            blob_inline_bytes_max: 0,
            ..PgStoreLimits::default()
        });
    // The empty blob still fits inline (0 bytes); everything else goes to S3.
    conformance::blob_store_suite(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn log_and_checkpoint_suites_pass_without_an_object_store() {
    let Some(services) =
        Services::from_env("log_and_checkpoint_suites_pass_without_an_object_store")
    else {
        return;
    };
    let (_db, store) = services.store().await;
    assert!(store.object_store().is_none());
    conformance::session_log_suite(&store).await.unwrap();
    conformance::checkpoint_suite(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_counts_conform_inline_and_in_the_object_store() {
    let Some((services, s3)) =
        Services::with_object_store("quota_counts_conform_inline_and_in_the_object_store")
    else {
        return;
    };
    // A fresh universe each: nothing else writes to it meanwhile.
    let store = store_with_s3(&services, &s3).await;
    conformance::usage_suite(&store).await.unwrap();
    let large_only = store_with_s3(&services, &s3)
        .await
        .with_limits(PgStoreLimits {
            blob_inline_bytes_max: 0,
            ..PgStoreLimits::default()
        });
    conformance::usage_suite(&large_only).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_and_collection_conform_inline_and_in_the_object_store() {
    let Some((services, s3)) = Services::with_object_store(
        "deletion_and_collection_conform_inline_and_in_the_object_store",
    ) else {
        return;
    };
    // A fresh universe each: collection deletes whatever in it is unreferenced.
    let store = store_with_s3(&services, &s3).await;
    conformance::retention_suite(&store).await.unwrap();
    let large_only = store_with_s3(&services, &s3)
        .await
        .with_limits(PgStoreLimits {
            blob_inline_bytes_max: 0,
            ..PgStoreLimits::default()
        });
    conformance::retention_suite(&large_only).await.unwrap();
}

/// Every table of the schema is either scanned for blob refs by collection or
/// listed as naming none: a new catalog table that could hold the only reference
/// to a blob fails here until collection reads it.
#[tokio::test(flavor = "multi_thread")]
async fn collection_knows_every_table() {
    let Some(services) = Services::from_env("collection_knows_every_table") else {
        return;
    };
    let (db, schema) = services.schema_database("gc_tables").await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(db.pool())
    .await
    .unwrap();
    let known: std::collections::BTreeSet<&str> = store_pg::TABLES_WITH_REFS
        .iter()
        .map(|(table, _)| *table)
        .chain(store_pg::TABLES_WITHOUT_REFS)
        .collect();
    let unknown: Vec<&String> = tables
        .iter()
        .filter(|table| !known.contains(table.as_str()))
        .collect();
    assert!(tables.len() > 10, "the schema was migrated: {tables:?}");
    assert!(
        unknown.is_empty(),
        "tables collection does not know (add them to TABLES_WITH_REFS or TABLES_WITHOUT_REFS in store-pg/src/retention.rs): {unknown:?}"
    );
    crate::support::drop_schema(db, &schema).await;
}

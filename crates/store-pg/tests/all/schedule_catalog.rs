//! The schedule catalog in Postgres: the shared conformance suite, every case in a
//! fresh universe of one pool (two of them for isolation), in a schema of its own
//! dropped at the end.

use uuid::Uuid;

use crate::support::{Services, drop_schema};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schedule_catalog_suite_passes() {
    let Some(services) = Services::from_env("schedule_catalog_suite_passes") else {
        return;
    };
    let (db, schema) = services.schema_database("schedules").await;
    test_support::schedule_conformance::schedule_catalog_suite(|| async {
        Ok(db.store(Uuid::new_v4(), None).await?)
    })
    .await
    .unwrap();
    drop_schema(db, &schema).await;
}

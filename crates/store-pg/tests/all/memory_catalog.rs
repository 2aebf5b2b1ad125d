//! The memory catalog in Postgres: the shared conformance suite (every case in a
//! fresh universe of one pool, two of them for isolation), the bounds under
//! concurrent writers, and full-text search (stemmed) over archival passages.
//!
//! Each test migrates a schema of its own and drops it at the end, so it never
//! changes the shared schema the local stack's servers (other checkouts included)
//! use.

use futures::future::join_all;
use memory_registry::{
    ArchivalQuery, Block, BlockLabel, MemoryCatalog, MemoryError, NewPassage, passage_id,
};
use uuid::Uuid;

use crate::support::{Services, drop_schema};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_catalog_suite_passes() {
    let Some(services) = Services::from_env("memory_catalog_suite_passes") else {
        return;
    };
    let (db, schema) = services.schema_database("memory").await;
    test_support::memory_conformance::memory_catalog_suite(|| async {
        Ok(db.store(Uuid::new_v4(), None).await?)
    })
    .await
    .unwrap();
    drop_schema(db, &schema).await;
}

fn block(label: &str) -> Block {
    Block::new(
        BlockLabel::new(label).unwrap(),
        String::new(),
        String::new(),
        None,
        false,
        1,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bounds_hold_under_concurrent_writers_and_search_stems() {
    let Some(services) = Services::from_env("memory_bounds_and_search") else {
        return;
    };
    let (db, schema) = services.schema_database("memory_bounds").await;
    let store = db.store(Uuid::new_v4(), None).await.unwrap();

    let outcomes = join_all((0..12).map(|n| {
        let store = &store;
        async move { store.memory_block_create(&block(&format!("b{n}")), 5).await }
    }))
    .await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        5,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(MemoryError::TooMany { max: 5, .. })))
    );

    let passages: Vec<NewPassage> = (0..8)
        .map(|n| {
            let text = format!("note {n}: the user was running every morning");
            NewPassage::new(passage_id(&[&n.to_string()]), text, vec![], n).unwrap()
        })
        .collect();
    let outcomes = join_all(passages.iter().map(|p| store.memory_passage_insert(p, 3))).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        3,
        "{outcomes:?}"
    );
    // Stemmed: "runs" finds "running"; newest first among equal ranks.
    let query = ArchivalQuery::new("runs".into(), vec![], Some(50)).unwrap();
    let found = store.memory_passage_search(&query).await.unwrap();
    assert_eq!(found.len(), 3);
    assert!(found.windows(2).all(|pair| pair[0].seq > pair[1].seq));
    drop(store);
    drop_schema(db, &schema).await;
}

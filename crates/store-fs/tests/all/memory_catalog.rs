//! The memory catalog on disk: the shared conformance suite (each case in a root of
//! its own, one universe each), records and the archival index another instance on
//! the same root reads, and the bound on blocks across instances (as across
//! processes: each instance takes its own lock files).

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use memory_registry::{
    ArchivalQuery, Block, BlockLabel, MemoryCatalog, MemoryError, NewPassage, passage_id,
};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn memory_catalog_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    test_support::memory_conformance::memory_catalog_suite(|| async {
        let universe = next.fetch_add(1, Ordering::Relaxed);
        Ok(FsStore::open(
            dir.path().join(format!("universe-{universe}")),
        )?)
    })
    .await
    .unwrap();
}

fn block(label: &str) -> Block {
    Block::new(
        BlockLabel::new(label).unwrap(),
        String::new(),
        "v".into(),
        None,
        false,
        1,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn another_instance_reads_blocks_links_and_the_archival_index() {
    let (dir, store) = store();
    let persona = block("persona");
    store.memory_block_create(&persona, 10).await.unwrap();
    store
        .memory_link_put(&sid("s1"), &persona.label, 16)
        .await
        .unwrap();
    let passage = NewPassage::new(passage_id(&["p"]), "Lisbon in spring".into(), vec![], 5);
    let stored = store
        .memory_passage_insert(&passage.unwrap(), 10)
        .await
        .unwrap();

    let reopened = FsStore::open(dir.path()).unwrap();
    assert_eq!(
        reopened.memory_block_list().await.unwrap(),
        std::slice::from_ref(&persona)
    );
    assert_eq!(
        reopened.memory_link_list(&sid("s1")).await.unwrap(),
        std::slice::from_ref(&persona.label)
    );
    let query = ArchivalQuery::new("lisbon".into(), vec![], None).unwrap();
    assert_eq!(
        reopened.memory_passage_search(&query).await.unwrap(),
        [stored]
    );
    // Only records and lock files under memory/: no stray temporary file.
    let names: Vec<String> = fs::read_dir(dir.path().join("memory/blocks"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["persona.json", "persona.lock"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_block_bound_holds_across_instances() {
    let (dir, first) = store();
    let second = FsStore::open(dir.path()).unwrap();
    let creates = (0..12).map(|n| {
        let store = if n % 2 == 0 { &first } else { &second };
        async move { store.memory_block_create(&block(&format!("b{n}")), 5).await }
    });
    let outcomes = join_all(creates).await;
    let created = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(created, 5, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Ok(()) | Err(MemoryError::TooMany { max: 5, .. })))
    );
    assert_eq!(second.memory_block_list().await.unwrap().len(), 5);
}

//! The memory catalog conformance suite: what every [`MemoryCatalog`] (in memory, on
//! disk, in Postgres) must do, written once against the trait.
//!
//! Every case runs on a fresh catalog from the caller's factory (a new universe of
//! the backend under test), so counts are exact; the isolation case takes two and
//! checks that neither sees, counts or changes the other's blocks, links or
//! passages.
//!
//! Search is checked on ordinary words only, which exact terms (memory, store-fs)
//! and Postgres full-text search (stemmed, stop words dropped) rank alike.
//!
//! What this module must not do: depend on a backend or check its layout.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail, ensure};
use engine::SessionId;
use futures::future::join_all;
use memory_registry::block::LIMIT_BYTES_MAX;
use memory_registry::{
    ARCHIVAL_PASSAGES_MAX, ArchivalQuery, BLOCKS_MAX, Block, BlockDelete, BlockLabel, BlockPatch,
    MemoryCatalog, MemoryError, NewPassage, SESSION_BLOCKS_MAX, linked_blocks, passage_id,
};

/// Runs every case, each on a catalog `fresh` makes (a new universe; the isolation
/// case takes two of the same backend).
pub async fn memory_catalog_suite<C, F, Fut>(fresh: F) -> anyhow::Result<()>
where
    C: MemoryCatalog,
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<C>>,
{
    blocks(&fresh().await?).await.context("blocks")?;
    block_limits(&fresh().await?)
        .await
        .context("block limits")?;
    links(&fresh().await?).await.context("links")?;
    update_race(&fresh().await?).await.context("update race")?;
    passages(&fresh().await?).await.context("passages")?;
    universes_apart(&fresh().await?, &fresh().await?)
        .await
        .context("universes apart")?;
    Ok(())
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn label(raw: &str) -> anyhow::Result<BlockLabel> {
    Ok(BlockLabel::new(raw)?)
}

fn block(raw: &str, value: &str, limit_bytes: Option<u64>) -> anyhow::Result<Block> {
    Ok(Block::new(
        label(raw)?,
        format!("what {raw} is for"),
        value.to_owned(),
        limit_bytes,
        false,
        10,
    )?)
}

fn passage(text: &str, tags: &[&str], at_ms: u64) -> anyhow::Result<NewPassage> {
    Ok(NewPassage::new(
        passage_id(&[&unique("passage")]),
        text.to_owned(),
        tags.iter().map(|tag| (*tag).to_owned()).collect(),
        at_ms,
    )?)
}

fn search(text: &str, tags: &[&str], limit: usize) -> anyhow::Result<ArchivalQuery> {
    Ok(ArchivalQuery::new(
        text.to_owned(),
        tags.iter().map(|tag| (*tag).to_owned()).collect(),
        Some(limit),
    )?)
}

fn labels(blocks: &[Block]) -> Vec<&str> {
    blocks.iter().map(|block| block.label.as_str()).collect()
}

/// Create, read, list in label order, the label's uniqueness, updates at a revision,
/// delete.
pub async fn blocks<C: MemoryCatalog>(catalog: &C) -> anyhow::Result<()> {
    ensure!(
        catalog.memory_block_list().await?.is_empty(),
        "a fresh catalog"
    );
    let (persona, user, user_notes) = (
        block("persona", "I am terse.", None)?,
        block("user", "", Some(100))?,
        block("user_notes", "likes tea", None)?,
    );
    for created in [&user_notes, &persona, &user] {
        catalog.memory_block_create(created, BLOCKS_MAX).await?;
    }
    ensure!(catalog.memory_block_read(&persona.label).await? == Some(persona.clone()));
    let listed = catalog.memory_block_list().await?;
    ensure!(
        labels(&listed) == ["persona", "user", "user_notes"],
        "{:?}",
        labels(&listed)
    );
    match catalog
        .memory_block_create(&block("user", "x", None)?, BLOCKS_MAX)
        .await
    {
        Err(MemoryError::BlockExists(taken)) if taken == "user" => {}
        other => bail!("creating a taken label: {other:?}"),
    }
    ensure!(catalog.memory_block_read(&user.label).await? == Some(user.clone()));

    let patch = BlockPatch::value("likes green tea".into());
    let updated = catalog
        .memory_block_update(&user_notes.label, Some(1), &patch, 20)
        .await?;
    ensure!(updated.revision == 2 && updated.value == "likes green tea");
    ensure!(updated.updated_at_ms == 20 && updated.created_at_ms == 10);
    ensure!(catalog.memory_block_read(&user_notes.label).await? == Some(updated.clone()));
    // A writer that read revision 1 loses, and changes nothing.
    match catalog
        .memory_block_update(
            &user_notes.label,
            Some(1),
            &BlockPatch::value("x".into()),
            30,
        )
        .await
    {
        Err(MemoryError::Conflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => bail!("a stale revision: {other:?}"),
    }
    // A patch changing nothing keeps the revision.
    let same = catalog
        .memory_block_update(&user_notes.label, Some(2), &patch, 40)
        .await?;
    ensure!(same == updated, "{same:?}");
    let described = BlockPatch {
        description: Some("tastes".into()),
        read_only: Some(true),
        ..BlockPatch::default()
    };
    let described = catalog
        .memory_block_update(&user_notes.label, None, &described, 50)
        .await?;
    ensure!(described.revision == 3 && described.read_only && described.value == updated.value);
    match catalog
        .memory_block_update(&label("nobody")?, None, &patch, 50)
        .await
    {
        Err(MemoryError::BlockNotFound(_)) => {}
        other => bail!("updating a missing block: {other:?}"),
    }

    let deleted = catalog.memory_block_delete(&persona.label, false).await?;
    ensure!(
        deleted
            == BlockDelete {
                deleted: true,
                detached: 0
            }
    );
    ensure!(
        !catalog
            .memory_block_delete(&persona.label, false)
            .await?
            .deleted
    );
    ensure!(catalog.memory_block_read(&persona.label).await?.is_none());
    // Its label can be taken again, from revision 1.
    catalog.memory_block_create(&persona, BLOCKS_MAX).await?;
    ensure!(catalog.memory_block_read(&persona.label).await? == Some(persona));
    Ok(())
}

/// A value never passes its block's limit, by any change; the bound on blocks.
pub async fn block_limits<C: MemoryCatalog>(catalog: &C) -> anyhow::Result<()> {
    let small = block("small", "12345", Some(8))?;
    catalog.memory_block_create(&small, 2).await?;
    let too_long = BlockPatch::value("123456789".into());
    match catalog
        .memory_block_update(&small.label, Some(1), &too_long, 20)
        .await
    {
        Err(
            err @ MemoryError::TooLarge {
                bytes: 9,
                limit_bytes: 8,
                ..
            },
        ) => {
            ensure!(err.code() == "memoryBlockTooLarge");
        }
        other => bail!("a value over the limit: {other:?}"),
    }
    // Lowering the limit below the value is refused too; raising it lets it grow.
    let lower = BlockPatch {
        limit_bytes: Some(4),
        ..BlockPatch::default()
    };
    ensure!(matches!(
        catalog
            .memory_block_update(&small.label, None, &lower, 20)
            .await,
        Err(MemoryError::TooLarge { .. })
    ));
    let over_max = BlockPatch {
        limit_bytes: Some(LIMIT_BYTES_MAX + 1),
        ..BlockPatch::default()
    };
    ensure!(matches!(
        catalog
            .memory_block_update(&small.label, None, &over_max, 20)
            .await,
        Err(MemoryError::Invalid { .. })
    ));
    ensure!(catalog.memory_block_read(&small.label).await? == Some(small.clone()));
    let grow = BlockPatch {
        value: Some("123456789".into()),
        limit_bytes: Some(9),
        ..BlockPatch::default()
    };
    let grown = catalog
        .memory_block_update(&small.label, Some(1), &grow, 30)
        .await?;
    ensure!(grown.value.len() == 9 && grown.limit_bytes == 9 && grown.revision == 2);

    // A block created over its limit is refused by the catalog as well.
    let mut over = block("over", "", Some(3))?;
    over.value = "four".into();
    ensure!(matches!(
        catalog.memory_block_create(&over, 2).await,
        Err(MemoryError::TooLarge { .. })
    ));
    catalog
        .memory_block_create(&block("second", "", None)?, 2)
        .await?;
    match catalog
        .memory_block_create(&block("third", "", None)?, 2)
        .await
    {
        Err(err @ MemoryError::TooMany { max: 2, .. }) => ensure!(err.code() == "quotaExceeded"),
        other => bail!("beyond blocks_max: {other:?}"),
    }
    ensure!(catalog.memory_block_read(&label("third")?).await?.is_none());
    ensure!(catalog.memory_block_list().await?.len() == 2);
    Ok(())
}

/// Attach (only existing blocks), list in label order, the per-session bound, a
/// block shared by sessions, detach, and deletes of linked blocks.
pub async fn links<C: MemoryCatalog>(catalog: &C) -> anyhow::Result<()> {
    let (one, two) = (SessionId::new(unique("s"))?, SessionId::new(unique("s"))?);
    for raw in ["b", "a", "c"] {
        catalog
            .memory_block_create(&block(raw, raw, None)?, BLOCKS_MAX)
            .await?;
    }
    match catalog
        .memory_link_put(&one, &label("nobody")?, SESSION_BLOCKS_MAX)
        .await
    {
        Err(MemoryError::BlockNotFound(_)) => {}
        other => bail!("attaching a missing block: {other:?}"),
    }
    ensure!(catalog.memory_link_put(&one, &label("b")?, 2).await?);
    ensure!(catalog.memory_link_put(&one, &label("a")?, 2).await?);
    // Attaching again is no new link, even at the bound; a new one is refused there.
    ensure!(!catalog.memory_link_put(&one, &label("a")?, 2).await?);
    match catalog.memory_link_put(&one, &label("c")?, 2).await {
        Err(MemoryError::TooMany { max: 2, .. }) => {}
        other => bail!("beyond links_max: {other:?}"),
    }
    ensure!(catalog.memory_link_list(&one).await? == [label("a")?, label("b")?]);
    ensure!(catalog.memory_link_list(&two).await?.is_empty());
    catalog
        .memory_link_put(&two, &label("a")?, SESSION_BLOCKS_MAX)
        .await?;
    // Both sessions see one block: an edit through either is the other's too.
    catalog
        .memory_block_update(
            &label("a")?,
            Some(1),
            &BlockPatch::value("shared".into()),
            20,
        )
        .await?;
    let seen = linked_blocks(catalog, &two).await?;
    ensure!(seen.len() == 1 && seen[0].value == "shared", "{seen:?}");

    match catalog.memory_block_delete(&label("a")?, false).await {
        Err(err @ MemoryError::Linked { sessions: 2, .. }) => {
            ensure!(err.code() == "memoryBlockLinked");
        }
        other => bail!("deleting a linked block: {other:?}"),
    }
    ensure!(catalog.memory_block_read(&label("a")?).await?.is_some());
    ensure!(catalog.memory_link_delete(&one, &label("b")?).await?);
    ensure!(!catalog.memory_link_delete(&one, &label("b")?).await?);
    ensure!(
        catalog
            .memory_block_delete(&label("b")?, false)
            .await?
            .deleted
    );
    let forced = catalog.memory_block_delete(&label("a")?, true).await?;
    ensure!(
        forced
            == BlockDelete {
                deleted: true,
                detached: 2
            },
        "{forced:?}"
    );
    ensure!(catalog.memory_link_list(&one).await?.is_empty());
    ensure!(catalog.memory_link_list(&two).await?.is_empty());
    // A block made again under the label is not attached anywhere.
    catalog
        .memory_block_create(&block("a", "", None)?, BLOCKS_MAX)
        .await?;
    ensure!(linked_blocks(catalog, &two).await?.is_empty());
    Ok(())
}

/// Writers at one revision: exactly one wins, the others get a conflict.
pub async fn update_race<C: MemoryCatalog>(catalog: &C) -> anyhow::Result<()> {
    let raced = block("raced", "", None)?;
    catalog.memory_block_create(&raced, BLOCKS_MAX).await?;
    let patches: Vec<BlockPatch> = (0..8)
        .map(|n| BlockPatch::value(format!("writer {n}")))
        .collect();
    let outcomes = join_all(
        patches
            .iter()
            .map(|patch| catalog.memory_block_update(&raced.label, Some(1), patch, 20)),
    )
    .await;
    let won: Vec<&Block> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().ok())
        .collect();
    ensure!(won.len() == 1, "{outcomes:?}");
    ensure!(outcomes.iter().all(|outcome| matches!(
        outcome,
        Ok(_)
            | Err(MemoryError::Conflict {
                expected: 1,
                actual: 2,
                ..
            })
    )));
    ensure!(catalog.memory_block_read(&raced.label).await?.as_ref() == Some(won[0]));
    Ok(())
}

/// Insert (once per id), search by terms and tags, best first, bounded, delete, and
/// the bound on passages.
pub async fn passages<C: MemoryCatalog>(catalog: &C) -> anyhow::Result<()> {
    let tea = passage("The user drinks green tea every morning.", &["habits"], 1)?;
    let garden = passage("The garden has tomatoes and green beans.", &[], 2)?;
    let trip = passage("Trip to Lisbon planned for spring.", &["travel"], 3)?;
    let mut stored = Vec::new();
    for new in [&tea, &garden, &trip] {
        stored.push(
            catalog
                .memory_passage_insert(new, ARCHIVAL_PASSAGES_MAX)
                .await?,
        );
    }
    ensure!(
        stored.windows(2).all(|pair| pair[0].seq < pair[1].seq),
        "created order"
    );
    ensure!(stored[0].text == tea.text && stored[0].tags == tea.tags && stored[0].id == tea.id);
    // An id inserted again finds its passage: nothing new, whatever the text.
    let retried = NewPassage {
        text: "something else".into(),
        ..tea.clone()
    };
    ensure!(
        catalog
            .memory_passage_insert(&retried, ARCHIVAL_PASSAGES_MAX)
            .await?
            == stored[0]
    );

    let found = catalog
        .memory_passage_search(&search("green tea", &[], 10)?)
        .await?;
    let ids: Vec<&str> = found.iter().map(|p| p.id.as_str()).collect();
    ensure!(
        ids == [tea.id.as_str(), garden.id.as_str()],
        "best first: {ids:?}"
    );
    let found = catalog
        .memory_passage_search(&search("lisbon", &[], 10)?)
        .await?;
    ensure!(found == [stored[2].clone()], "{found:?}");
    let found = catalog
        .memory_passage_search(&search("green", &[], 1)?)
        .await?;
    ensure!(found.len() == 1, "the limit: {found:?}");
    let found = catalog
        .memory_passage_search(&search("green", &["habits"], 10)?)
        .await?;
    ensure!(found == [stored[0].clone()], "tags filter: {found:?}");
    ensure!(
        catalog
            .memory_passage_search(&search("volcano", &[], 10)?)
            .await?
            .is_empty()
    );

    ensure!(catalog.memory_passage_delete(&tea.id).await?);
    ensure!(!catalog.memory_passage_delete(&tea.id).await?);
    let found = catalog
        .memory_passage_search(&search("tea", &[], 10)?)
        .await?;
    ensure!(
        found.is_empty(),
        "a deleted passage is not found: {found:?}"
    );

    // Two are stored now: a third is refused at a bound of 2, a known id is not.
    match catalog
        .memory_passage_insert(&passage("more", &[], 4)?, 2)
        .await
    {
        Err(err @ MemoryError::TooMany { max: 2, .. }) => ensure!(err.code() == "quotaExceeded"),
        other => bail!("beyond passages_max: {other:?}"),
    }
    ensure!(catalog.memory_passage_insert(&garden, 2).await? == stored[1]);
    Ok(())
}

/// Two universes of one backend: labels, links and passages of one are invisible to
/// and unchanged by the other, and bounds count each alone.
pub async fn universes_apart<C: MemoryCatalog>(a: &C, b: &C) -> anyhow::Result<()> {
    let session = SessionId::new(unique("s"))?;
    a.memory_block_create(&block("persona", "in a", None)?, 1)
        .await?;
    ensure!(b.memory_block_read(&label("persona")?).await?.is_none());
    // The same label in b, at b's bound of one: a's block does not count.
    b.memory_block_create(&block("persona", "in b", None)?, 1)
        .await?;
    a.memory_block_update(
        &label("persona")?,
        Some(1),
        &BlockPatch::value("a2".into()),
        5,
    )
    .await?;
    let in_b = b
        .memory_block_read(&label("persona")?)
        .await?
        .context("b's block")?;
    ensure!(in_b.value == "in b" && in_b.revision == 1);
    a.memory_link_put(&session, &label("persona")?, SESSION_BLOCKS_MAX)
        .await?;
    ensure!(b.memory_link_list(&session).await?.is_empty());
    // b's block is not linked, so b deletes it without force; a's stays.
    ensure!(
        b.memory_block_delete(&label("persona")?, false)
            .await?
            .deleted
    );
    ensure!(a.memory_block_read(&label("persona")?).await?.is_some());
    ensure!(a.memory_link_list(&session).await? == [label("persona")?]);

    let secret = passage("quarterly revenue projections", &[], 1)?;
    a.memory_passage_insert(&secret, 1).await?;
    ensure!(
        b.memory_passage_search(&search("revenue", &[], 10)?)
            .await?
            .is_empty()
    );
    ensure!(!b.memory_passage_delete(&secret.id).await?);
    b.memory_passage_insert(&passage("revenue in b", &[], 2)?, 1)
        .await?;
    let found = a
        .memory_passage_search(&search("revenue", &[], 10)?)
        .await?;
    ensure!(found.len() == 1 && found[0].id == secret.id, "{found:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use memory_registry::MemoryMemoryCatalog;

    #[tokio::test]
    async fn the_memory_catalog_conforms() {
        super::memory_catalog_suite(|| async { Ok(MemoryMemoryCatalog::default()) })
            .await
            .unwrap();
    }
}

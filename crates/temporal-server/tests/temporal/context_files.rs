//! A workspace with `AGENTS.md` and two skills, on real Temporal: the instructions
//! and the skill catalog are in the first request, after the session's own
//! instructions and in a stable order; the model reads a skill and follows it
//! (scripted); editing `AGENTS.md` replaces its item in place instead of growing the
//! transcript.

use engine::core::command::CoreCommand;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use engine::core::tools::ToolSpec;
use engine::store::BlobStore;
use serde_json::json;
use store_fs::FsStore;
use vfs::{FileEntry, Limits, Mount, MountMode, MountSource, Snapshot, VfsPath, WorkspaceId};

use crate::harness::{Env, events, fast_settings};

const SKILL: &str = "---\nname: release-notes\ndescription: Writes release notes from the \
changelog.\n---\nRead CHANGELOG.md and write one line per change, starting with NOTE:.\n";
const OTHER_SKILL: &str =
    "---\nname: triage\ndescription: Sorts new issues by area.\n---\nLabel each issue.\n";

async fn tree(store: &FsStore, files: &[(&str, &str)]) -> Snapshot {
    let mut entries = Vec::new();
    for (path, text) in files {
        let blob = store.put(text.as_bytes().to_vec()).await.unwrap();
        let entry = FileEntry {
            blob,
            size_bytes: text.len() as u64,
            executable: false,
        };
        entries.push((VfsPath::parse(path).unwrap(), entry));
    }
    Snapshot::from_files(entries).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_md_and_skills_enter_the_context_and_a_changed_file_replaces_its_item() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "read_file",
            "arguments": {"path": "/repo/.agents/skills/release-notes/SKILL.md"}}]},
        {"text": "NOTE: fixed the build."},
        {"text": "Second answer."}
    ]});
    let Some(env) = Env::start("context-files", script, fast_settings()).await else {
        return;
    };
    let store = &env.store;
    let limits = Limits::default();
    let files = [
        ("AGENTS.md", "Always run the tests first."),
        (".agents/skills/release-notes/SKILL.md", SKILL),
        (".claude/skills/triage/SKILL.md", OTHER_SKILL),
        ("CHANGELOG.md", "- fixed the build\n"),
    ];
    let snapshot = tree(store, &files)
        .await
        .store(store, &limits)
        .await
        .unwrap();
    let workspace = WorkspaceId::new("repo").unwrap();
    vfs::workspace::create(store, store, &limits, &workspace, Some(&snapshot))
        .await
        .unwrap();
    let session = env.open("s-files").await;
    let mount = Mount {
        path: vfs::SessionPath::parse("/repo").unwrap(),
        source: MountSource::Workspace {
            workspace: workspace.clone(),
        },
        mode: MountMode::ReadWrite,
    };
    vfs::mount::put(store, store, &limits, &session, &mount)
        .await
        .unwrap();
    let mut tools = Vec::new();
    for definition in tools::definitions_for("openai:responses", tools::Mode::ReadOnly) {
        tools.push(ToolSpec {
            definition_ref: store.put(definition.to_bytes()).await.unwrap(),
            name: definition.name,
            class: None,
        });
    }
    env.admit(
        &session,
        CoreCommand::ReplaceTools {
            expected_revision: 1,
            tools,
        },
    )
    .await;

    let run = env
        .request_run(&session, "sub-1", "Write the release notes.")
        .await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let requests = env.provider.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0].body;
    let instructions = first["instructions"].as_str().unwrap();
    let own = instructions.find("You are a test.").unwrap();
    let agents = instructions.find("Always run the tests first.").unwrap();
    assert!(
        own < agents,
        "the session's instructions, then AGENTS.md: {instructions}"
    );
    assert!(instructions.contains("/repo/AGENTS.md"));
    let catalog = first["input"][0]["content"][0]["text"].as_str().unwrap();
    assert!(
        catalog.starts_with("<skills>"),
        "the catalog opens the input: {first:#}"
    );
    for expected in [
        "release-notes: Writes release notes from the changelog. (/repo/.agents/skills/release-notes/SKILL.md)",
        "triage: Sorts new issues by area. (/repo/.claude/skills/triage/SKILL.md)",
    ] {
        assert!(catalog.contains(expected), "{catalog}");
    }
    // The second request of the run has the same prefix (nothing changed) and the
    // skill's body the model read.
    let second = &requests[1].body;
    assert_eq!(second["instructions"], first["instructions"]);
    assert_eq!(second["input"][0], first["input"][0]);
    assert!(
        requests[1]
            .raw_body
            .contains("one line per change, starting with NOTE:")
    );

    // AGENTS.md changes: its item is replaced where it was.
    let log = events(&env.log(&session).await);
    let agents_item = |log: &[CoreEvent]| {
        log.iter()
            .filter_map(|event| match event {
                CoreEvent::ContextItemUpserted(e)
                    if e.item.key.as_deref() == Some("source:agents:/repo/AGENTS.md") =>
                {
                    Some(e.item.clone())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let before = agents_item(&log);
    assert_eq!(before.len(), 1, "refreshed once, not on every turn");
    let head = vfs::workspace::read(store, &workspace).await.unwrap();
    let edited = [
        ("AGENTS.md", "Never push on Fridays."),
        files[1],
        files[2],
        files[3],
    ];
    let tree = tree(store, &edited).await;
    vfs::workspace::commit(store, store, &limits, &head, &tree)
        .await
        .unwrap();
    let run = env.request_run(&session, "sub-2", "Anything else?").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let after = agents_item(&events(&env.log(&session).await));
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[1].ordinal, before[0].ordinal,
        "same place in the prompt"
    );
    let third = &env.provider.requests()[2].body;
    let instructions = third["instructions"].as_str().unwrap();
    assert!(instructions.contains("Never push on Fridays."));
    assert!(!instructions.contains("Always run the tests first."));
    assert_eq!(
        third["input"][0], first["input"][0],
        "the catalog is unchanged"
    );
    env.shutdown().await;
}

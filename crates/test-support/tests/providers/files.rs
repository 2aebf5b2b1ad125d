//! The file tools in whole sessions over HTTP: the fake provider scripts a model
//! that reads, edits, patches, greps and writes files in a mounted workspace, with
//! the canonical names on OpenAI kinds and the Claude-style ones on Anthropic.

use engine::core::run::ToolStatus;
use test_support::vfs_tools::VfsToolAdapter;
use tools::{Mode, Surface, ToolKind};
use vfs::memory::MemoryCatalog;
use vfs::{Mount, MountMode, MountSource, SessionPath, Snapshot, VfsCatalog, WorkspaceId};

use super::*;

const LIB_RS: &str = "pub fn greet() -> &'static str {\n    \"hello\"\n}\n";
const PATCH: &str = "*** Begin Patch\n*** Update File: README.md\n@@\n-# Repo\n+# Repo\n+\n+Greets the world.\n\
    *** Delete File: old.txt\n*** Add File: src/main.rs\n+fn main() {\n+    println!(\"{}\", repo::greet());\n+}\n*** End Patch";

type FileRunner = SessionRunner<MemoryStore, RuntimeLlm, VfsToolAdapter<MemoryCatalog>>;

/// A tool call as the script gives it, named and spelled for `surface`.
fn call(surface: Surface, kind: ToolKind, arguments: Value) -> Value {
    let mut arguments = arguments;
    if surface == Surface::Anthropic
        && matches!(
            kind,
            ToolKind::ReadFile | ToolKind::WriteFile | ToolKind::EditFile
        )
    {
        let path = arguments.as_object_mut().unwrap().remove("path").unwrap();
        arguments["file_path"] = path;
    }
    json!({"name": kind.name_for(surface), "arguments": arguments})
}

fn script(surface: Surface) -> Value {
    let call = |kind, arguments| call(surface, kind, arguments);
    json!({"turns": [
        {"text": "Reading the library.", "tool_calls": [call(ToolKind::ReadFile, json!({"path": "/repo/src/lib.rs"}))]},
        {"tool_calls": [call(ToolKind::EditFile, json!({"path": "/repo/src/lib.rs", "old_string": "\"hello\"", "new_string": "\"hello, world\""}))]},
        {"tool_calls": [call(ToolKind::ApplyPatch, json!({"input": PATCH}))]},
        {"tool_calls": [
            call(ToolKind::WriteFile, json!({"path": "NOTES.md", "content": "done\n"})),
            call(ToolKind::Grep, json!({"pattern": "greet", "include": "*.rs"})),
        ]},
        {"text": "All done."}
    ]})
}

/// A workspace at `/repo` for the session, and a runner whose tools work on it.
async fn file_session(
    kind: ApiKind,
    provider: &RunningFakeProvider,
) -> (FileRunner, Arc<MemoryCatalog>) {
    let store = Arc::new(MemoryStore::new());
    let catalog = Arc::new(MemoryCatalog::new());
    let session_id = SessionId::new("files-session").unwrap();
    let mut tree = Snapshot::new();
    for (path, text) in [
        ("src/lib.rs", LIB_RS),
        ("README.md", "# Repo\n"),
        ("old.txt", "obsolete\n"),
    ] {
        let entry = vfs::FileEntry {
            blob: store.put(text.as_bytes().to_vec()).await.unwrap(),
            size_bytes: text.len() as u64,
            executable: false,
        };
        tree.insert(vfs::VfsPath::parse(path).unwrap(), entry)
            .unwrap();
    }
    let limits = vfs::Limits::default();
    let workspace = WorkspaceId::new("repo").unwrap();
    let snapshot = tree.store(&*store, &limits).await.unwrap();
    catalog
        .workspace_create(&workspace, &snapshot)
        .await
        .unwrap();
    let mount = Mount {
        path: SessionPath::parse("/repo").unwrap(),
        source: MountSource::Workspace { workspace },
        mode: MountMode::ReadWrite,
    };
    vfs::mount::put(&*catalog, &*store, &limits, &session_id, &mount)
        .await
        .unwrap();

    let llm = RuntimeLlm::new(
        LlmRuntime::new([client_for(kind, provider)]),
        Transport::Streaming,
    );
    let tools = VfsToolAdapter::new(catalog.clone(), session_id.clone(), Mode::Edit);
    let mut runner = SessionRunner::new(store, session_id.clone(), llm, tools)
        .await
        .unwrap();
    let config = SessionConfig {
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: kind.as_str().into(),
            model: "fake-model".into(),
        },
        generation: engine::core::config::GenerationConfig {
            provider_params: ProviderParams(params_for(kind)),
            ..Default::default()
        },
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    runner
        .admit(CoreCommand::OpenSession {
            session_id,
            config,
            instructions: None,
            parent: Default::default(),
        })
        .await
        .unwrap();
    let mut specs = Vec::new();
    for definition in tools::definitions_for(kind.as_str(), Mode::Edit) {
        let definition_ref = runner.store().put(definition.to_bytes()).await.unwrap();
        specs.push(ToolSpec {
            name: definition.name,
            definition_ref,
            class: None,
        });
    }
    runner
        .admit(CoreCommand::ReplaceTools {
            expected_revision: 0,
            tools: specs,
        })
        .await
        .unwrap();
    (runner, catalog)
}

/// The workspace's files, by path.
async fn workspace_files(runner: &FileRunner, catalog: &MemoryCatalog) -> Vec<(String, String)> {
    let head = vfs::workspace::read(catalog, &WorkspaceId::new("repo").unwrap())
        .await
        .unwrap();
    let tree = Snapshot::load(runner.store(), &head.snapshot)
        .await
        .unwrap();
    let mut files = Vec::new();
    for (path, entry) in tree.files() {
        let bytes = runner.store().get(&entry.blob).await.unwrap();
        files.push((path.to_string(), String::from_utf8(bytes).unwrap()));
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_edits_a_mounted_workspace_for_every_api_kind() {
    for kind in ALL_KINDS {
        let surface = Surface::for_api_kind(kind.as_str());
        let provider = start_provider(script(surface)).await;
        let (mut runner, catalog) = file_session(kind, &provider).await;
        let input = vec![
            runner
                .user_text("Make the greeting say hello, world.")
                .await
                .unwrap(),
        ];
        let command = CoreCommand::RequestRun {
            submission_id: SubmissionId::new("sub-1").unwrap(),
            input,
            overrides: Default::default(),
        };
        let Admitted::Run { run_id, .. } = runner.admit(command).await.unwrap() else {
            panic!("not a run")
        };
        runner.run_until_idle().await.unwrap();
        let log = runner.log().await.unwrap();
        assert_eq!(outcome(&log, &run_id), RunOutcome::Completed, "{kind}");

        let results: Vec<_> = events(&log)
            .into_iter()
            .filter_map(|event| match event {
                CoreEvent::ToolResultRecorded(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(results.len(), 5, "{kind}");
        let mut outputs = Vec::new();
        for result in &results {
            let bytes = runner.store().get(&result.item.content_ref).await.unwrap();
            let output = String::from_utf8(bytes).unwrap();
            assert_eq!(result.status, ToolStatus::Ok, "{kind}: {output}");
            outputs.push(output);
        }
        assert!(
            outputs[0].starts_with("     1\tpub fn greet()"),
            "{kind}: {}",
            outputs[0]
        );
        assert_eq!(
            outputs[1], "Edited /repo/src/lib.rs: replaced 1 occurrence.",
            "{kind}"
        );
        assert_eq!(
            outputs[2],
            "Success. Updated the following files:\nM /repo/README.md\nD /repo/old.txt\nA /repo/src/main.rs\n",
            "{kind}"
        );
        assert_eq!(outputs[3], "Created /repo/NOTES.md (5 bytes).", "{kind}");
        assert_eq!(
            outputs[4],
            "/repo/src/lib.rs:1:pub fn greet() -> &'static str {\n/repo/src/main.rs:2:    println!(\"{}\", repo::greet());\n",
            "{kind}"
        );

        let expected = [
            ("NOTES.md", "done\n"),
            ("README.md", "# Repo\n\nGreets the world.\n"),
            (
                "src/lib.rs",
                "pub fn greet() -> &'static str {\n    \"hello, world\"\n}\n",
            ),
            (
                "src/main.rs",
                "fn main() {\n    println!(\"{}\", repo::greet());\n}\n",
            ),
        ]
        .map(|(path, text)| (path.to_owned(), text.to_owned()));
        assert_eq!(workspace_files(&runner, &catalog).await, expected, "{kind}");

        // The model was offered the tools under its surface's names, and the tool
        // output reached it in the provider's own shape.
        let requests = provider.requests();
        let read_name = ToolKind::ReadFile.name_for(surface);
        assert!(
            requests[0]
                .raw_body
                .contains(&format!("\"name\":\"{read_name}\"")),
            "{kind}"
        );
        assert!(requests[1].raw_body.contains("pub fn greet()"), "{kind}");
        provider.shutdown().await;
    }
}

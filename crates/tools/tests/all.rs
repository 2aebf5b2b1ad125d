#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The file tools over an in-memory VFS: a semantics table per tool (errors
//! included), apply_patch conformance, path rules, concurrent writers, and the
//! crate's invariants.

use std::collections::BTreeMap;

use engine::BlobRef;
use engine::core::run::ToolStatus;
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use serde_json::{Value, json};
use tools::{Limits, Mode, Toolbox};
use vfs::memory::MemoryCatalog;
use vfs::{
    FileEntry, Mount, MountMode, MountSource, MountTable, SessionPath, Snapshot, VfsCatalog,
    VfsPath, WorkspaceId,
};

#[path = "all/concurrency.rs"]
mod concurrency;
#[path = "all/fuzz.rs"]
mod fuzz;
#[path = "all/invariants.rs"]
mod invariants;
#[path = "all/patch.rs"]
mod patch;
#[path = "all/paths.rs"]
mod paths;
#[path = "all/read_write.rs"]
mod read_write;
#[path = "all/search.rs"]
mod search;

/// The workspace every fixture mounts read-write at `/work`.
pub(crate) const WORK: &[(&str, &[u8])] = &[
    ("README.md", b"# Demo\nhello world\n"),
    (
        "src/lib.rs",
        b"pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    a - b\n}\n",
    ),
    ("src/util/mod.rs", b"// util\npub const X: u8 = 1;\npub const Y: u8 = 1;\n"),
    ("notes.txt", b"alpha\nBeta\ngamma\n"),
    ("bin/data.bin", b"\x00\x01\x02binary"),
];

/// The snapshot every fixture mounts read-only at `/ref`.
pub(crate) const REF: &[(&str, &[u8])] = &[("docs.md", b"reference docs\nhello\n")];

pub(crate) struct Fixture {
    pub(crate) blobs: MemoryStore,
    pub(crate) catalog: MemoryCatalog,
    pub(crate) mounts: MountTable,
    pub(crate) limits: Limits,
    pub(crate) mode: Mode,
}

pub(crate) fn sp(raw: &str) -> SessionPath {
    SessionPath::parse(raw).unwrap()
}

pub(crate) fn ws() -> WorkspaceId {
    WorkspaceId::new("ws").unwrap()
}

pub(crate) async fn snapshot_of(blobs: &MemoryStore, files: &[(&str, &[u8])]) -> BlobRef {
    let mut tree = Snapshot::new();
    for (path, bytes) in files {
        let blob = blobs.put(bytes.to_vec()).await.unwrap();
        let entry = FileEntry {
            blob,
            size_bytes: bytes.len() as u64,
            executable: path.starts_with("bin/"),
        };
        tree.insert(VfsPath::parse(path).unwrap(), entry).unwrap();
    }
    tree.store(blobs, &vfs::Limits::default()).await.unwrap()
}

pub(crate) async fn fixture() -> Fixture {
    fixture_with(WORK).await
}

pub(crate) async fn fixture_with(files: &[(&str, &[u8])]) -> Fixture {
    let blobs = MemoryStore::new();
    let catalog = MemoryCatalog::new();
    let work = snapshot_of(&blobs, files).await;
    catalog.workspace_create(&ws(), &work).await.unwrap();
    let reference = snapshot_of(&blobs, REF).await;
    let mounts = MountTable::new(vec![
        Mount {
            path: sp("/work"),
            source: MountSource::Workspace { workspace: ws() },
            mode: MountMode::ReadWrite,
        },
        Mount {
            path: sp("/ref"),
            source: MountSource::Snapshot {
                snapshot: reference,
            },
            mode: MountMode::ReadOnly,
        },
    ]);
    Fixture {
        blobs,
        catalog,
        mounts,
        limits: Limits::default(),
        mode: Mode::Edit,
    }
}

impl Fixture {
    pub(crate) fn toolbox(&self) -> Toolbox<'_, MemoryCatalog, MemoryStore> {
        Toolbox {
            mounts: &self.mounts,
            catalog: &self.catalog,
            blobs: &self.blobs,
            mode: self.mode,
            limits: &self.limits,
        }
    }

    /// Calls `tool` with `args`; the status and the output text.
    pub(crate) async fn call(&self, tool: &str, args: Value) -> (ToolStatus, String) {
        let arguments = serde_json::to_vec(&args).unwrap();
        let outcome = self.toolbox().invoke(tool, &arguments).await.unwrap();
        (outcome.status, String::from_utf8(outcome.output).unwrap())
    }

    pub(crate) async fn ok(&self, tool: &str, args: Value) -> String {
        let (status, output) = self.call(tool, args.clone()).await;
        assert_eq!(status, ToolStatus::Ok, "{tool} {args}: {output}");
        output
    }

    pub(crate) async fn err(&self, tool: &str, args: Value) -> String {
        let (status, output) = self.call(tool, args.clone()).await;
        assert_eq!(status, ToolStatus::Error, "{tool} {args}: {output}");
        assert!(output.starts_with("Error: "), "{output}");
        output
    }

    /// The workspace's files as text (lossy), and its revision.
    pub(crate) async fn tree(&self) -> (BTreeMap<String, String>, u64) {
        let head = self.catalog.workspace_read(&ws()).await.unwrap().unwrap();
        let tree = Snapshot::load(&self.blobs, &head.snapshot).await.unwrap();
        let mut files = BTreeMap::new();
        for (path, entry) in tree.files() {
            let bytes = self.blobs.get(&entry.blob).await.unwrap();
            files.insert(
                path.to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
        (files, head.revision)
    }

    pub(crate) async fn text(&self, path: &str) -> Option<String> {
        self.tree().await.0.get(path).cloned()
    }
}

/// A table row: a call and what it must answer (`Ok` or `Error` output containing
/// each of `contains`).
pub(crate) struct Case {
    pub(crate) tool: &'static str,
    pub(crate) args: Value,
    pub(crate) ok: bool,
    pub(crate) contains: &'static [&'static str],
}

pub(crate) fn ok(tool: &'static str, args: Value, contains: &'static [&'static str]) -> Case {
    Case {
        tool,
        args,
        ok: true,
        contains,
    }
}

pub(crate) fn fails(tool: &'static str, args: Value, contains: &'static [&'static str]) -> Case {
    Case {
        tool,
        args,
        ok: false,
        contains,
    }
}

/// Runs each case on a fresh fixture.
pub(crate) async fn run_table(cases: Vec<Case>) {
    for case in cases {
        let fixture = fixture().await;
        let (status, output) = fixture.call(case.tool, case.args.clone()).await;
        let want = if case.ok {
            ToolStatus::Ok
        } else {
            ToolStatus::Error
        };
        assert_eq!(status, want, "{} {}: {output}", case.tool, case.args);
        for needle in case.contains {
            assert!(
                output.contains(needle),
                "{} {}: {output:?} lacks {needle:?}",
                case.tool,
                case.args
            );
        }
    }
}

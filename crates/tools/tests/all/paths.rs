//! Path rules: traversal attempts of every kind are refused by every tool, and
//! nested mounts route by longest prefix.

use super::*;

/// Attempts to leave the mounts, and why each is refused.
const ESCAPES: &[(&str, &str)] = &[
    ("../../etc/passwd", "climbs above the root"),
    ("/work/../../etc/passwd", "climbs above the root"),
    ("/work/../etc/passwd", "outside every mount"),
    ("/etc/passwd", "outside every mount"),
    ("//etc/passwd", "outside every mount"),
    ("/proc/self/root/etc/passwd", "outside every mount"),
    ("/workshop/secret", "outside every mount"),
    ("..\\..\\etc\\passwd", "backslash"),
    ("C:\\Windows\\win.ini", "backslash"),
    ("\\\\?\\C:\\secret", "backslash"),
    ("/work/a\u{0}b", "NUL byte"),
    ("/work/a\nb", "control character"),
    ("/work/\u{1b}[2J", "control character"),
];

#[tokio::test]
async fn traversal_attempts_are_refused_by_every_tool() {
    let fixture = fixture().await;
    let before = fixture.tree().await;
    for (path, reason) in ESCAPES {
        let calls = [
            ("read_file", json!({"path": path})),
            ("Read", json!({"file_path": path})),
            ("write_file", json!({"path": path, "content": "pwned"})),
            (
                "edit_file",
                json!({"path": path, "old_string": "root", "new_string": "x"}),
            ),
            ("grep", json!({"pattern": "root", "path": path})),
            ("glob", json!({"pattern": "*", "path": path})),
            ("list_dir", json!({"path": path})),
            (
                "apply_patch",
                json!({"input": format!("*** Begin Patch\n*** Add File: {path}\n+pwned\n*** End Patch")}),
            ),
        ];
        for (tool, args) in calls {
            let output = fixture.err(tool, args).await;
            // A NUL or newline inside a patch line is refused by the patch grammar
            // or the path rules; either way nothing is written.
            if tool != "apply_patch" || !path.contains(['\n', '\u{0}']) {
                assert!(output.contains(reason), "{tool} {path:?}: {output}");
            }
        }
    }
    assert_eq!(fixture.tree().await, before, "no attempt wrote anything");
}

#[tokio::test]
async fn dot_dot_inside_a_mount_is_resolved_lexically() {
    let fixture = fixture().await;
    let out = fixture
        .ok(
            "read_file",
            json!({"path": "/work/src/util/../../README.md"}),
        )
        .await;
    assert!(out.contains("# Demo"), "{out}");
    // Climbing out of one mount into another is only as good as the target mount.
    let out = fixture
        .err(
            "write_file",
            json!({"path": "/work/../ref/new.md", "content": "x"}),
        )
        .await;
    assert!(
        out.contains("/ref/new.md is on the read-only mount /ref"),
        "{out}"
    );
    // Names that look like links are names: they stay inside the mount.
    fixture
        .ok(
            "write_file",
            json!({"path": "link -> /etc/passwd", "content": "plain"}),
        )
        .await;
    fixture
        .ok(
            "write_file",
            json!({"path": "~/.ssh/config", "content": "plain"}),
        )
        .await;
    let (tree, _) = fixture.tree().await;
    assert_eq!(tree["link -> /etc/passwd"], "plain");
    // Above every mount, only the mount points show.
    let out = fixture.ok("list_dir", json!({"path": "/work/.."})).await;
    assert_eq!(out, "/:\n  ref/\n  work/\n");
    let out = fixture.err("read_file", json!({"path": "/work/.."})).await;
    assert!(out.contains("/ is outside every mount"), "{out}");
    assert_eq!(tree["~/.ssh/config"], "plain");
}

#[tokio::test]
async fn path_limits_are_enforced() {
    let mut fixture = fixture().await;
    fixture.limits.vfs.path_depth_max = 4;
    let out = fixture
        .err(
            "write_file",
            json!({"path": "/work/a/b/c/d", "content": "x"}),
        )
        .await;
    assert!(out.contains("path_depth_max exceeded: 5 > 4"), "{out}");
    let long = "n".repeat(300);
    let out = fixture.err("read_file", json!({"path": long})).await;
    // Refused while the path is parsed, before any name is copied.
    assert!(out.contains("a name is 300 bytes, more than 255"), "{out}");
}

#[tokio::test]
async fn nested_mounts_route_by_longest_prefix() {
    let files: &[(&str, &[u8])] = &[
        ("main.rs", b"fn main() {}\n"),
        ("vendor/hidden.txt", b"shadowed\n"),
    ];
    let mut fixture = fixture_with(files).await;
    let vendor = snapshot_of(&fixture.blobs, &[("lib.rs", b"pub fn vendored() {}\n")]).await;
    let mut mounts = fixture.mounts.mounts().to_vec();
    mounts.push(Mount {
        path: sp("/work/vendor"),
        source: MountSource::Snapshot { snapshot: vendor },
        mode: MountMode::ReadOnly,
    });
    fixture.mounts = MountTable::new(mounts);
    let out = fixture
        .ok("read_file", json!({"path": "/work/vendor/lib.rs"}))
        .await;
    assert!(out.contains("vendored"), "{out}");
    fixture
        .err("read_file", json!({"path": "/work/vendor/hidden.txt"}))
        .await;
    let out = fixture
        .err(
            "write_file",
            json!({"path": "/work/vendor/x.rs", "content": "x"}),
        )
        .await;
    assert!(out.contains("read-only mount /work/vendor"), "{out}");
    let out = fixture
        .ok("list_dir", json!({"path": "/work", "depth": 2}))
        .await;
    assert_eq!(
        out,
        "/work:\n  main.rs (13 bytes)\n  vendor/\n  vendor/lib.rs (21 bytes)\n"
    );
    let out = fixture.ok("grep", json!({"pattern": "fn"})).await;
    assert_eq!(
        out,
        "/work/main.rs:1:fn main() {}\n/work/vendor/lib.rs:1:pub fn vendored() {}\n"
    );
    let out = fixture
        .ok("grep", json!({"pattern": "shadowed", "path": "/"}))
        .await;
    assert_eq!(out, "No matches found.");
}

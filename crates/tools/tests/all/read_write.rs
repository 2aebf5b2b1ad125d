//! Semantics tables of read_file, write_file and edit_file.

use super::*;

#[tokio::test]
async fn read_file_semantics() {
    run_table(vec![
        ok(
            "read_file",
            json!({"path": "/work/README.md"}),
            &["     1\t# Demo\n     2\thello world\n"],
        ),
        ok(
            "Read",
            json!({"file_path": "/work/README.md"}),
            &["     2\thello world"],
        ),
        // Relative paths start at the first writable mount.
        ok(
            "read_file",
            json!({"path": "src/../README.md"}),
            &["# Demo"],
        ),
        ok(
            "read_file",
            json!({"path": "/work/src/lib.rs", "offset": 2, "limit": 2}),
            &["     2\t    a + b\n     3\t}\n[4 more lines; continue with offset=4]"],
        ),
        ok(
            "read_file",
            json!({"path": "/work/notes.txt", "offset": 0}),
            &["     1\talpha"],
        ),
        ok(
            "read_file",
            json!({"path": "/ref/docs.md"}),
            &["     1\treference docs"],
        ),
        fails(
            "read_file",
            json!({"path": "/work/notes.txt", "offset": 9}),
            &["offset 9 is past the end", "(3 lines)"],
        ),
        fails(
            "read_file",
            json!({"path": "/work/bin/data.bin"}),
            &["binary file (9 bytes)"],
        ),
        fails(
            "read_file",
            json!({"path": "/work/src"}),
            &["/work/src is a directory"],
        ),
        fails(
            "read_file",
            json!({"path": "/work/missing.txt"}),
            &["/work/missing.txt: no such file"],
        ),
        fails(
            "read_file",
            json!({"path": "/elsewhere/x"}),
            &["outside every mount (mounts: /ref, /work)"],
        ),
        fails(
            "read_file",
            json!({}),
            &["invalid arguments", "missing field `path`"],
        ),
        fails("read_file", json!({"path": 7}), &["invalid arguments"]),
        fails(
            "read",
            json!({"path": "/work/README.md"}),
            &["unknown tool \"read\""],
        ),
    ])
    .await;
}

#[tokio::test]
async fn read_file_marks_every_cut() {
    let long = format!("{}\n", "x".repeat(50));
    let many: String = (1..=40).map(|n| format!("line {n}\n")).collect();
    let files: &[(&str, &[u8])] = &[
        ("long.txt", long.as_bytes()),
        ("many.txt", many.as_bytes()),
        ("empty.txt", b""),
    ];
    let mut fixture = fixture_with(files).await;
    fixture.limits.line_chars_max = 10;
    fixture.limits.read_lines_max = 5;
    let out = fixture.ok("read_file", json!({"path": "long.txt"})).await;
    assert_eq!(out, "     1\txxxxxxxxxx… [line truncated: 50 characters]\n");
    let out = fixture
        .ok("read_file", json!({"path": "many.txt", "limit": 99}))
        .await;
    assert!(
        out.ends_with("     5\tline 5\n[35 more lines; continue with offset=6]\n"),
        "{out}"
    );
    fixture.limits.read_lines_max = 100;
    fixture.limits.output_bytes_max = 300;
    let out = fixture.ok("read_file", json!({"path": "many.txt"})).await;
    assert!(out.len() <= 300, "{}", out.len());
    assert!(
        out.contains("[output truncated at 300 bytes (output_bytes_max); continue with offset="),
        "{out}"
    );
    let out = fixture.ok("read_file", json!({"path": "empty.txt"})).await;
    assert_eq!(out, "[/work/empty.txt is empty]");
}

#[tokio::test]
async fn write_file_semantics() {
    run_table(vec![
        ok(
            "write_file",
            json!({"path": "/work/new/dir/f.txt", "content": "x"}),
            &["Created /work/new/dir/f.txt (1 bytes)."],
        ),
        ok(
            "Write",
            json!({"file_path": "/work/README.md", "content": ""}),
            &["Overwrote /work/README.md (0 bytes)."],
        ),
        fails(
            "write_file",
            json!({"path": "/work/src", "content": "x"}),
            &["/work/src is a directory"],
        ),
        fails(
            "write_file",
            json!({"path": "/work/README.md/x", "content": "x"}),
            &["/work/README.md is a file, not a directory"],
        ),
        fails(
            "write_file",
            json!({"path": "/ref/new.md", "content": "x"}),
            &["/ref/new.md is on the read-only mount /ref"],
        ),
        fails(
            "write_file",
            json!({"path": "/tmp/x", "content": "x"}),
            &["outside every mount"],
        ),
        fails(
            "write_file",
            json!({"path": "/work/x"}),
            &["missing field `content`"],
        ),
    ])
    .await;

    let fixture = fixture().await;
    fixture
        .ok(
            "write_file",
            json!({"path": "src/new.rs", "content": "fn f() {}\n"}),
        )
        .await;
    fixture
        .ok(
            "write_file",
            json!({"path": "/work/bin/data.bin", "content": "text now"}),
        )
        .await;
    let (tree, revision) = fixture.tree().await;
    assert_eq!(revision, 3, "one commit per write");
    assert_eq!(tree["src/new.rs"], "fn f() {}\n");
    assert_eq!(tree["bin/data.bin"], "text now");
    // Overwriting keeps the executable bit.
    let head = fixture
        .catalog
        .workspace_read(&ws())
        .await
        .unwrap()
        .unwrap();
    let snapshot = Snapshot::load(&fixture.blobs, &head.snapshot)
        .await
        .unwrap();
    let bin = VfsPath::parse("bin/data.bin").unwrap();
    assert!(snapshot.get(&bin).unwrap().executable);
}

#[tokio::test]
async fn write_limits_and_read_only_mode() {
    let mut fixture = fixture().await;
    fixture.limits.vfs.file_bytes_max = 4;
    let out = fixture
        .err("write_file", json!({"path": "big.txt", "content": "12345"}))
        .await;
    assert!(out.contains("file_bytes_max exceeded: 5 > 4"), "{out}");
    fixture.limits = Limits::default();
    fixture.limits.vfs.snapshot_files_max = 5;
    let out = fixture
        .err("write_file", json!({"path": "sixth.txt", "content": "1"}))
        .await;
    assert!(out.contains("snapshot_files_max exceeded: 6 > 5"), "{out}");
    fixture.limits = Limits::default();
    fixture.mode = Mode::ReadOnly;
    for tool in ["write_file", "Edit", "apply_patch"] {
        let out = fixture
            .err(tool, json!({"path": "a", "content": "b"}))
            .await;
        assert!(
            out.contains("this session's file tools are read-only"),
            "{out}"
        );
    }
    fixture.ok("read_file", json!({"path": "README.md"})).await;
    assert_eq!(fixture.tree().await.1, 1, "nothing was written");
}

#[tokio::test]
async fn edit_file_semantics() {
    run_table(vec![
        ok("edit_file", json!({"path": "/work/README.md", "old_string": "hello world", "new_string": "hi"}), &["Edited /work/README.md: replaced 1 occurrence."]),
        ok("Edit", json!({"file_path": "/work/src/util/mod.rs", "old_string": "= 1;", "new_string": "= 2;", "replace_all": true}), &["replaced 2 occurrences"]),
        fails("edit_file", json!({"path": "/work/src/util/mod.rs", "old_string": "= 1;", "new_string": "= 2;"}), &["occurs 2 times in /work/src/util/mod.rs", "replace_all"]),
        fails("edit_file", json!({"path": "/work/README.md", "old_string": "absent", "new_string": "x"}), &["old_string was not found in /work/README.md"]),
        fails("edit_file", json!({"path": "/work/README.md", "old_string": "", "new_string": "x"}), &["old_string must not be empty"]),
        fails("edit_file", json!({"path": "/work/README.md", "old_string": "a", "new_string": "a"}), &["nothing to change"]),
        fails("edit_file", json!({"path": "/work/bin/data.bin", "old_string": "binary", "new_string": "x"}), &["binary file"]),
        fails("edit_file", json!({"path": "/work/src", "old_string": "a", "new_string": "b"}), &["is a directory"]),
        fails("edit_file", json!({"path": "/work/nope", "old_string": "a", "new_string": "b"}), &["no such file"]),
        fails("edit_file", json!({"path": "/ref/docs.md", "old_string": "docs", "new_string": "x"}), &["read-only mount /ref"]),
    ])
    .await;

    let fixture = fixture().await;
    fixture
        .ok(
            "edit_file",
            json!({"path": "src/lib.rs", "old_string": "a - b", "new_string": "a.wrapping_sub(b)"}),
        )
        .await;
    assert!(
        fixture
            .text("src/lib.rs")
            .await
            .unwrap()
            .contains("    a.wrapping_sub(b)\n")
    );
    let before = fixture.tree().await;
    fixture
        .err(
            "edit_file",
            json!({"path": "src/lib.rs", "old_string": "nope", "new_string": "x"}),
        )
        .await;
    assert_eq!(
        fixture.tree().await,
        before,
        "a failed edit changes nothing"
    );
}

#[tokio::test]
async fn every_output_stays_within_output_bytes_max() {
    let many: String = (1..=500).map(|n| format!("line {n}\n")).collect();
    let mut fixture = fixture_with(&[("many.txt", many.as_bytes())]).await;
    fixture.limits.output_bytes_max = 400;
    for (tool, args) in [
        ("read_file", json!({"path": "many.txt"})),
        ("grep", json!({"pattern": "line"})),
    ] {
        let out = fixture.ok(tool, args).await;
        assert!(out.len() <= 400, "{tool}: {} bytes", out.len());
        assert!(out.contains("truncated"), "{tool}: {out}");
    }
}

//! Semantics tables of grep, glob and list_dir.

use super::*;

#[tokio::test]
async fn grep_semantics() {
    run_table(vec![
        ok("grep", json!({"pattern": "fn \\w+"}), &[
            "/work/src/lib.rs:1:pub fn add(a: i32, b: i32) -> i32 {\n/work/src/lib.rs:5:pub fn sub",
        ]),
        // The default path is the working directory; `/` searches every mount.
        ok("grep", json!({"pattern": "hello"}), &["/work/README.md:2:hello world\n"]),
        ok("grep", json!({"pattern": "hello", "path": "/"}), &["/ref/docs.md:2:hello\n/work/README.md:2:hello world\n"]),
        ok("grep", json!({"pattern": "beta"}), &["No matches found."]),
        ok("grep", json!({"pattern": "beta", "ignore_case": true}), &["/work/notes.txt:2:Beta"]),
        ok("Grep", json!({"pattern": "beta", "-i": true, "glob": "*.txt"}), &["/work/notes.txt:2:Beta"]),
        ok("grep", json!({"pattern": "^gamma$"}), &["/work/notes.txt:3:gamma"]),
        ok("grep", json!({"pattern": "const", "include": "*.rs"}), &["/work/src/util/mod.rs:2:pub const X"]),
        ok("grep", json!({"pattern": "pub", "include": ["src/*.rs", "*.md"]}), &["/work/src/lib.rs:1:"]),
        ok("grep", json!({"pattern": "pub", "output_mode": "files_with_matches"}), &["/work/src/lib.rs\n/work/src/util/mod.rs\n"]),
        ok("grep", json!({"pattern": "pub", "output_mode": "count"}), &["/work/src/lib.rs:2\n/work/src/util/mod.rs:2\n"]),
        ok("grep", json!({"pattern": "e", "max_results": 2}), &["[results truncated at 2 (max_results)"]),
        ok("Grep", json!({"pattern": "e", "head_limit": 1}), &["[results truncated at 1"]),
        ok("grep", json!({"pattern": "binary"}), &["No matches found."]),
        ok("grep", json!({"pattern": "a", "path": "/work/notes.txt"}), &["/work/notes.txt:1:alpha\n"]),
        fails("grep", json!({"pattern": "("}), &["invalid regex"]),
        fails("grep", json!({"pattern": "x", "include": "a[b"}), &["invalid glob"]),
        fails("grep", json!({"pattern": "x", "path": "/work/nope"}), &["/work/nope: no such file"]),
        fails("grep", json!({"pattern": "x", "path": "/nowhere"}), &["outside every mount"]),
        fails("grep", json!({"path": "/work"}), &["missing field `pattern`"]),
    ])
    .await;

    let fixture = fixture().await;
    let out = fixture
        .ok("grep", json!({"pattern": "pub", "include": "src/*.rs"}))
        .await;
    assert!(!out.contains("mod.rs"), "`*` stays within a name: {out}");
    let out = fixture
        .ok("grep", json!({"pattern": "pub", "max_depth": 2}))
        .await;
    assert!(out.contains("lib.rs") && !out.contains("mod.rs"), "{out}");
}

#[tokio::test]
async fn grep_bounds_its_work() {
    let mut fixture = fixture().await;
    fixture.limits.regex_bytes_max = 1_000;
    let out = fixture.err("grep", json!({"pattern": "\\w{50}"})).await;
    assert!(out.contains("invalid regex"), "{out}");
    fixture.limits = Limits::default();
    fixture.limits.grep_scan_bytes_max = 30;
    let out = fixture.ok("grep", json!({"pattern": "zzz"})).await;
    assert!(
        out.contains("[search stopped after 28 bytes (grep_scan_bytes_max)"),
        "{out}"
    );
    fixture.limits = Limits::default();
    fixture.limits.grep_line_chars_max = 5;
    let out = fixture.ok("grep", json!({"pattern": "hello"})).await;
    assert_eq!(out, "/work/README.md:2:hello… [line truncated]\n");
}

#[tokio::test]
async fn glob_semantics() {
    run_table(vec![
        ok(
            "glob",
            json!({"pattern": "*.rs"}),
            &["/work/src/lib.rs\n/work/src/util/mod.rs\n"],
        ),
        ok(
            "glob",
            json!({"pattern": "**/*.rs"}),
            &["/work/src/lib.rs\n/work/src/util/mod.rs\n"],
        ),
        ok(
            "Glob",
            json!({"pattern": "*.{md,txt}"}),
            &["/work/README.md\n/work/notes.txt\n"],
        ),
        ok(
            "glob",
            json!({"pattern": "*.md", "path": "/"}),
            &["/ref/docs.md\n/work/README.md\n"],
        ),
        ok(
            "glob",
            json!({"pattern": "/work/src/**"}),
            &["/work/src/lib.rs\n/work/src/util/mod.rs\n"],
        ),
        ok(
            "glob",
            json!({"pattern": "util/*", "path": "/work/src"}),
            &["/work/src/util/mod.rs\n"],
        ),
        ok("glob", json!({"pattern": "*.py"}), &["No files matched."]),
        ok(
            "glob",
            json!({"pattern": "*", "max_results": 1}),
            &["/work/README.md\n[results truncated at 1"],
        ),
        fails(
            "glob",
            json!({"pattern": "*", "path": "/work/README.md"}),
            &["/work/README.md is a file, not a directory"],
        ),
        fails("glob", json!({"pattern": "a[b"}), &["invalid glob"]),
    ])
    .await;
    let fixture = fixture().await;
    let out = fixture.ok("glob", json!({"pattern": "src/*.rs"})).await;
    assert_eq!(out, "/work/src/lib.rs\n");
}

#[tokio::test]
async fn list_dir_semantics() {
    run_table(vec![
        ok(
            "list_dir",
            json!({}),
            &["/work:\n  README.md (19 bytes)\n  bin/\n  notes.txt (17 bytes)\n  src/\n"],
        ),
        ok(
            "list_dir",
            json!({"path": "/work", "depth": 2}),
            &[
                "  bin/\n  bin/data.bin (9 bytes, executable)\n",
                "  src/lib.rs (",
                "  src/util/\n",
            ],
        ),
        ok(
            "list_dir",
            json!({"dir_path": "/"}),
            &["/:\n  ref/\n  work/\n"],
        ),
        ok(
            "list_dir",
            json!({"path": "/", "depth": 2}),
            &["  ref/docs.md (", "  work/src/\n"],
        ),
        fails(
            "list_dir",
            json!({"path": "/work/README.md"}),
            &["is a file, not a directory"],
        ),
        fails("list_dir", json!({"path": "/work/nope"}), &["no such file"]),
        fails(
            "list_dir",
            json!({"path": "/nowhere"}),
            &["outside every mount"],
        ),
    ])
    .await;
    let mut fixture = fixture().await;
    fixture.limits.list_entries_max = 2;
    let out = fixture.ok("list_dir", json!({"path": "/work"})).await;
    assert!(
        out.ends_with("[listing truncated at 2 entries (list_entries_max) of 4]\n"),
        "{out}"
    );
}

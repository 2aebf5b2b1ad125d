//! apply_patch conformance: every operation, context mismatches, and all-or-nothing
//! across files.

use super::*;

/// Applies `patch` to a fresh fixture; the status, output and resulting tree.
async fn apply(patch: &str) -> (ToolStatus, String, BTreeMap<String, String>, u64) {
    let fixture = fixture().await;
    let (status, output) = fixture.call("apply_patch", json!({"input": patch})).await;
    let (tree, revision) = fixture.tree().await;
    (status, output, tree, revision)
}

async fn applies(patch: &str) -> (String, BTreeMap<String, String>) {
    let (status, output, tree, revision) = apply(patch).await;
    assert_eq!(status, ToolStatus::Ok, "{output}");
    assert_eq!(revision, 2, "one commit for the whole patch");
    (output, tree)
}

async fn refused(patch: &str, reason: &str) {
    let (status, output, tree, revision) = apply(patch).await;
    assert_eq!(status, ToolStatus::Error, "{output}");
    assert!(output.contains(reason), "{output:?} lacks {reason:?}");
    assert_eq!(revision, 1, "nothing committed");
    assert_eq!(tree.len(), WORK.len());
}

#[tokio::test]
async fn add_file() {
    let (output, tree) =
        applies("*** Begin Patch\n*** Add File: docs/new.md\n+# New\n+\n+body\n*** End Patch")
            .await;
    assert_eq!(
        output,
        "Success. Updated the following files:\nA /work/docs/new.md\n"
    );
    assert_eq!(tree["docs/new.md"], "# New\n\nbody\n");
    refused(
        "*** Begin Patch\n*** Add File: README.md\n+x\n*** End Patch",
        "/work/README.md already exists",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Add File: README.md/x\n+x\n*** End Patch",
        "/work/README.md is a file",
    )
    .await;
}

#[tokio::test]
async fn delete_file() {
    let (output, tree) =
        applies("*** Begin Patch\n*** Delete File: notes.txt\n*** End Patch").await;
    assert_eq!(
        output,
        "Success. Updated the following files:\nD /work/notes.txt\n"
    );
    assert!(!tree.contains_key("notes.txt"));
    refused(
        "*** Begin Patch\n*** Delete File: nope.txt\n*** End Patch",
        "no such file",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Delete File: src\n*** End Patch",
        "is a directory",
    )
    .await;
}

#[tokio::test]
async fn update_file_with_context_hunks() {
    let patch = "*** Begin Patch\n*** Update File: src/lib.rs\n@@ pub fn sub(a: i32, b: i32) -> i32 {\n-    a - b\n+    a.wrapping_sub(b)\n }\n*** End Patch";
    let (output, tree) = applies(patch).await;
    assert_eq!(
        output,
        "Success. Updated the following files:\nM /work/src/lib.rs\n"
    );
    assert_eq!(
        tree["src/lib.rs"],
        "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    a.wrapping_sub(b)\n}\n"
    );
    // Two hunks in order, the first without `@@`, the second anchored at the end.
    let patch = "*** Begin Patch\n*** Update File: notes.txt\n alpha\n-Beta\n+beta\n@@\n-gamma\n+delta\n*** End of File\n*** End Patch";
    let (_, tree) = applies(patch).await;
    assert_eq!(tree["notes.txt"], "alpha\nbeta\ndelta\n");
}

#[tokio::test]
async fn move_file() {
    let patch = "*** Begin Patch\n*** Update File: notes.txt\n*** Move to: docs/notes.md\n@@\n-alpha\n+ALPHA\n*** End Patch";
    let (output, tree) = applies(patch).await;
    assert_eq!(
        output,
        "Success. Updated the following files:\nM /work/docs/notes.md (moved from /work/notes.txt)\n"
    );
    assert!(!tree.contains_key("notes.txt"));
    assert_eq!(tree["docs/notes.md"], "ALPHA\nBeta\ngamma\n");
    // A pure rename keeps the bytes.
    let (_, tree) =
        applies("*** Begin Patch\n*** Update File: README.md\n*** Move to: README\n*** End Patch")
            .await;
    assert_eq!(tree["README"], "# Demo\nhello world\n");
    refused(
        "*** Begin Patch\n*** Update File: notes.txt\n*** Move to: README.md\n*** End Patch",
        "/work/README.md already exists",
    )
    .await;
}

#[tokio::test]
async fn context_mismatch_is_refused() {
    refused(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-omega\n+x\n*** End Patch",
        "patch does not apply to /work/notes.txt: hunk 1: cannot find these lines:\nomega",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Update File: notes.txt\n@@ no such anchor\n-alpha\n+x\n*** End Patch",
        "cannot find the line \"no such anchor\"",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-alpha\n+x\n*** End of File\n*** End Patch",
        "at the end of the file",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch",
        "no such file",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Update File: bin/data.bin\n@@\n-a\n+b\n*** End Patch",
        "binary file",
    )
    .await;
}

#[tokio::test]
async fn all_files_change_or_none() {
    let good_then_bad = "*** Begin Patch\n*** Add File: added.txt\n+new\n*** Delete File: README.md\n\
        *** Update File: notes.txt\n@@\n-alpha\n+ALPHA\n*** Update File: src/lib.rs\n@@\n-    a * b\n+    b\n*** End Patch";
    refused(good_then_bad, "patch does not apply to /work/src/lib.rs").await;
    let across_mounts = "*** Begin Patch\n*** Add File: /work/a.txt\n+a\n*** Add File: /ref/b.txt\n+b\n*** End Patch";
    refused(
        across_mounts,
        "one mount at a time; it touches /work and /ref",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Add File: /ref/b.txt\n+b\n*** End Patch",
        "read-only mount /ref",
    )
    .await;

    let several = "*** Begin Patch\n*** Add File: added.txt\n+new\n*** Delete File: README.md\n\
        *** Update File: notes.txt\n@@\n-alpha\n+ALPHA\n*** End Patch";
    let (output, tree) = applies(several).await;
    assert_eq!(
        output,
        "Success. Updated the following files:\nA /work/added.txt\nD /work/README.md\nM /work/notes.txt\n"
    );
    assert_eq!(tree["added.txt"], "new\n");
    assert!(!tree.contains_key("README.md"));
    assert_eq!(tree["notes.txt"], "ALPHA\nBeta\ngamma\n");
}

#[tokio::test]
async fn envelope_errors_and_argument_shapes() {
    refused(
        "*** Update File: notes.txt\n@@\n-alpha\n+x\n*** End Patch",
        "must start with `*** Begin Patch`",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Delete File: notes.txt\n",
        "must end with `*** End Patch`",
    )
    .await;
    refused(
        "*** Begin Patch\n*** Rename File: notes.txt\n*** End Patch",
        "invalid patch, line 2",
    )
    .await;
    let fixture = fixture().await;
    let patch = "*** Begin Patch\n*** Delete File: notes.txt\n*** End Patch";
    // A bare JSON string and the `patch` spelling are accepted too.
    fixture.ok("apply_patch", json!(patch)).await;
    let out = fixture.err("apply_patch", json!({"diff": patch})).await;
    assert!(out.contains("apply_patch takes {\"input\""), "{out}");
    let mut tight = super::fixture().await;
    tight.limits.patch_bytes_max = 10;
    let out = tight.err("apply_patch", json!({"patch": patch})).await;
    assert!(out.contains("patch_bytes_max exceeded"), "{out}");
    tight.limits = Limits::default();
    tight.limits.patch_files_max = 1;
    let two =
        "*** Begin Patch\n*** Delete File: notes.txt\n*** Delete File: README.md\n*** End Patch";
    let out = tight.err("apply_patch", json!({"input": two})).await;
    assert!(out.contains("patch_files_max exceeded: 2 > 1"), "{out}");
}

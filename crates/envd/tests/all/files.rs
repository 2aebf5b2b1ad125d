//! File operations: paths beneath the directory, compare-and-set, bounds.

use std::os::unix::fs::symlink;

use env_protocol::{CallResult, EntryKind, FailureCode, Op};
use sha2::{Digest, Sha256};

use crate::support::{WITHIN, shell, start};

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn write(path: &str, content: &str, expected: Option<&str>) -> Op {
    Op::Write {
        path: path.into(),
        content: content.into(),
        expected_sha256: expected.map(str::to_owned),
    }
}

fn read(path: &str) -> Op {
    Op::Read {
        path: path.into(),
        offset: 0,
        limit: 1 << 20,
    }
}

fn failure(result: &CallResult) -> Option<FailureCode> {
    match result {
        CallResult::Failed { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test]
async fn write_read_and_compare_and_set() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let mut n = 0;
    let mut call = async |gateway: &mut envd::testing::GatewayConnection, op: Op| {
        n += 1;
        gateway
            .call(&format!("f{n}"), op, WITHIN)
            .await
            .map(|answer| answer.result)
    };
    let written = call(
        &mut gateway,
        write("/sub/dir/a.txt", "hello\n", Some("absent")),
    )
    .await?;
    assert_eq!(
        written,
        CallResult::Written {
            size: 6,
            sha256: sha("hello\n")
        }
    );
    assert_eq!(
        std::fs::read_to_string(daemon.path("sub/dir/a.txt"))?,
        "hello\n"
    );
    let CallResult::Read {
        content,
        binary,
        size,
        sha256,
    } = call(&mut gateway, read("sub/dir/a.txt")).await?
    else {
        panic!("not read");
    };
    assert_eq!((content.as_str(), binary, size), ("hello\n", false, 6));
    assert_eq!(sha256, sha("hello\n"));
    // A ranged read still reports the whole file's digest.
    let ranged = Op::Read {
        path: "sub/dir/a.txt".into(),
        offset: 1,
        limit: 3,
    };
    let CallResult::Read {
        content, sha256, ..
    } = call(&mut gateway, ranged).await?
    else {
        panic!("not read");
    };
    assert_eq!((content.as_str(), sha256), ("ell", sha("hello\n")));
    // Compare-and-set: a stale digest, or "absent" for an existing file, conflicts.
    let stale = call(
        &mut gateway,
        write("sub/dir/a.txt", "x", Some(&sha("other"))),
    )
    .await?;
    assert_eq!(failure(&stale), Some(FailureCode::Conflict));
    let exists = call(&mut gateway, write("sub/dir/a.txt", "x", Some("absent"))).await?;
    assert_eq!(failure(&exists), Some(FailureCode::Conflict));
    let current = call(
        &mut gateway,
        write("sub/dir/a.txt", "bye\n", Some(&sha("hello\n"))),
    )
    .await?;
    assert!(
        matches!(current, CallResult::Written { size: 4, .. }),
        "{current:?}"
    );
    assert_eq!(
        std::fs::read_to_string(daemon.path("sub/dir/a.txt"))?,
        "bye\n"
    );
    // Stat, and a directory is not a file.
    let CallResult::Stat { entry } = call(&mut gateway, Op::Stat { path: "sub".into() }).await?
    else {
        panic!("not stat");
    };
    assert_eq!((entry.path.as_str(), entry.kind), ("sub", EntryKind::Dir));
    let dir_read = call(&mut gateway, read("sub")).await?;
    assert_eq!(failure(&dir_read), Some(FailureCode::NotAFile));
    let missing = call(&mut gateway, read("nope.txt")).await?;
    assert_eq!(failure(&missing), Some(FailureCode::NotFound));
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn list_glob_and_search_skip_git_and_report_binary() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    gateway
        .call(
            "setup",
            shell(
                "mkdir -p src/deep .git/objects && echo 'fn main() {}' > src/main.rs \
                 && echo 'fn helper() {}' > src/deep/lib.rs && echo 'fn hidden() {}' > .git/objects/x.rs \
                 && printf 'fn\\000bin' > src/blob.rs && echo notes > README.md",
            ),
            WITHIN,
        )
        .await?;
    let listed = gateway
        .call(
            "l",
            Op::List {
                path: "/".into(),
                depth: 2,
                limit: 100,
            },
            WITHIN,
        )
        .await?
        .result;
    let CallResult::Listed { entries, truncated } = listed else {
        panic!("{listed:?}");
    };
    let paths: Vec<&str> = entries.iter().map(|entry| entry.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".git",
            "README.md",
            "src",
            "src/blob.rs",
            "src/deep",
            "src/main.rs"
        ],
        "breadth first, by name, .git not descended"
    );
    assert!(!truncated);
    let limited = gateway
        .call(
            "l2",
            Op::List {
                path: "/".into(),
                depth: 5,
                limit: 2,
            },
            WITHIN,
        )
        .await?
        .result;
    assert!(
        matches!(limited, CallResult::Listed { truncated: true, ref entries } if entries.len() == 2)
    );
    let globbed = gateway
        .call(
            "g",
            Op::Glob {
                path: "/".into(),
                glob: "**/*.rs".into(),
                limit: 100,
            },
            WITHIN,
        )
        .await?
        .result;
    assert_eq!(
        globbed,
        CallResult::Globbed {
            paths: vec![
                "src/blob.rs".into(),
                "src/main.rs".into(),
                "src/deep/lib.rs".into()
            ],
            truncated: false
        }
    );
    let searched = gateway
        .call(
            "s",
            Op::Search {
                path: "/".into(),
                pattern: r"fn \w+\(".into(),
                glob: Some("*.rs".into()),
                limit: 100,
            },
            WITHIN,
        )
        .await?
        .result;
    let CallResult::Searched { matches, truncated } = searched else {
        panic!("{searched:?}");
    };
    let found: Vec<(&str, u64)> = matches.iter().map(|m| (m.path.as_str(), m.line)).collect();
    assert_eq!(
        found,
        [("src/main.rs", 1), ("src/deep/lib.rs", 1)],
        "no .git, no binary"
    );
    assert!(!truncated);
    let bad = gateway
        .call(
            "s2",
            Op::Search {
                path: "/".into(),
                pattern: "(".into(),
                glob: None,
                limit: 1,
            },
            WITHIN,
        )
        .await?
        .result;
    assert_eq!(failure(&bad), Some(FailureCode::InvalidArguments));
    let binary = gateway.call("b", read("src/blob.rs"), WITHIN).await?.result;
    assert!(
        matches!(
            binary,
            CallResult::Read {
                binary: true,
                size: 6,
                ..
            }
        ),
        "{binary:?}"
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn nothing_outside_the_directory_is_read_or_written() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let outside = tempfile::tempdir()?;
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "secret\n")?;
    symlink("/etc/passwd", daemon.path("passwd"))?;
    symlink(&secret, daemon.path("secret"))?;
    symlink(outside.path(), daemon.path("outdir"))?;
    std::fs::create_dir(daemon.path("inner"))?;
    symlink("../../", daemon.path("inner/up"))?;
    std::fs::write(daemon.path("inside.txt"), "in\n")?;
    symlink("inside.txt", daemon.path("ok-link"))?;

    let refused: Vec<(&str, Op)> = vec![
        ("r1", read("../x")),
        ("r2", read("/../../etc/passwd")),
        ("r3", read("passwd")),
        ("r4", read("secret")),
        ("r5", read("outdir/secret.txt")),
        ("r6", read("inner/up/etc/passwd")),
        ("w1", write("../x.txt", "x", None)),
        ("w2", write("secret", "overwritten", None)),
        ("w3", write("outdir/new.txt", "x", None)),
        ("w4", write("inner/up/escaped.txt", "x", None)),
        (
            "s1",
            Op::Stat {
                path: "outdir".into(),
            },
        ),
        (
            "l1",
            Op::List {
                path: "outdir".into(),
                depth: 1,
                limit: 10,
            },
        ),
        (
            "g1",
            Op::Glob {
                path: "outdir".into(),
                glob: "*".into(),
                limit: 10,
            },
        ),
    ];
    for (id, op) in refused {
        let answer = gateway.call(id, op, WITHIN).await?;
        assert_eq!(
            failure(&answer.result),
            Some(FailureCode::OutsideRoot),
            "{id}: {:?}",
            answer.result
        );
    }
    assert_eq!(std::fs::read_to_string(&secret)?, "secret\n");
    assert!(!outside.path().join("new.txt").exists());
    assert!(!daemon.dir.path().parent().unwrap().join("x.txt").exists());
    // A symlink that stays inside is followed.
    let ok = gateway.call("ok", read("ok-link"), WITHIN).await?;
    assert!(matches!(ok.result, CallResult::Read { ref content, .. } if content == "in\n"));
    // A listing shows symlinks as such and never follows them.
    let listed = gateway
        .call(
            "l2",
            Op::List {
                path: "/".into(),
                depth: 3,
                limit: 100,
            },
            WITHIN,
        )
        .await?
        .result;
    let CallResult::Listed { entries, .. } = listed else {
        panic!("{listed:?}");
    };
    assert!(
        entries
            .iter()
            .all(|entry| !entry.path.contains("secret.txt")),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|entry| entry.path == "outdir" && entry.kind == EntryKind::Symlink)
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn reads_and_writes_are_bounded() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let big = "x".repeat(4 * 1024 * 1024 + 1);
    let answer = gateway
        .call("w", write("big.txt", &big, None), WITHIN)
        .await?;
    assert_eq!(failure(&answer.result), Some(FailureCode::TooLarge));
    std::fs::write(daemon.path("large.txt"), "y".repeat(3 * 1024 * 1024))?;
    let answer = gateway
        .call(
            "r",
            Op::Read {
                path: "large.txt".into(),
                offset: 0,
                limit: u64::MAX,
            },
            WITHIN,
        )
        .await?;
    let CallResult::Read { content, size, .. } = answer.result else {
        panic!("{:?}", answer.result);
    };
    assert_eq!((content.len(), size), (1024 * 1024, 3 * 1024 * 1024));
    daemon.stop().await;
    Ok(())
}

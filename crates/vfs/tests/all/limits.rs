//! Regressions: every limit is checked before work proportional to the input.

use std::time::{Duration, Instant};

use engine::BlobRef;
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use vfs::limits::{MANIFEST_BYTES_MAX, NAME_BYTES_MAX, PATH_BYTES_MAX, PATH_DEPTH_MAX};
use vfs::{FileEntry, PathError, SessionPath, Snapshot, VfsError, VfsPath};

/// `a/a/…/a`, `bytes` long: the shape that made every prefix a copy.
fn deep_path(bytes: usize) -> String {
    let mut raw = "a/".repeat(bytes / 2);
    raw.push('a');
    raw
}

/// A 1 MiB path of half a million names used to be accepted by `parse` and then
/// copied prefix by prefix on insert (~10^11 bytes); it is now refused at once.
#[test]
fn a_one_mib_path_is_refused_before_any_work() {
    let raw = deep_path(1 << 20);
    let started = Instant::now();
    assert!(matches!(
        VfsPath::parse(&raw),
        Err(PathError::TooLong { .. })
    ));
    assert!(matches!(
        SessionPath::parse(&format!("/{raw}")),
        Err(PathError::TooLong { .. })
    ));
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[test]
fn path_shape_limits_hold_at_their_edges() {
    // 64 names of "a" (127 bytes) pass; a 65th is refused.
    let deepest = deep_path(2 * PATH_DEPTH_MAX - 2);
    assert_eq!(VfsPath::parse(&deepest).unwrap().depth(), PATH_DEPTH_MAX);
    assert!(matches!(
        VfsPath::parse(&format!("{deepest}/a")),
        Err(PathError::TooDeep { .. })
    ));
    let name = "n".repeat(NAME_BYTES_MAX);
    assert!(VfsPath::parse(&name).is_ok());
    assert!(matches!(
        VfsPath::parse(&format!("{name}n")),
        Err(PathError::NameTooLong { .. })
    ));
    // 4 095 bytes, counted with a leading `/`, is the longest path.
    let longest = vec![name.as_str(); 16].join("/");
    let longest = &longest[..PATH_BYTES_MAX - 1];
    assert!(VfsPath::parse(longest.trim_end_matches('/')).is_ok());
    assert!(matches!(
        VfsPath::parse(&"x/".repeat(PATH_BYTES_MAX / 2)),
        Err(PathError::TooLong { .. })
    ));
    // Resolving against a deep working directory cannot build a deeper path.
    let cwd = SessionPath::parse(&format!("/{deepest}")).unwrap();
    assert!(matches!(
        SessionPath::resolve("b", &cwd),
        Err(PathError::TooDeep { .. })
    ));
}

/// A tenant can upload any blob and name it as a snapshot. One larger than any
/// manifest is refused by its stored length, before it is fetched or parsed; this
/// used to decode (and freeze a runtime thread) whatever was there.
#[tokio::test]
async fn an_oversized_manifest_is_refused_before_it_is_read() {
    let store = MemoryStore::new();
    let huge = vec![b' '; MANIFEST_BYTES_MAX as usize + 1];
    let blob = store.put(huge.clone()).await.unwrap();
    assert!(matches!(
        Snapshot::load(&store, &blob).await,
        Err(VfsError::ManifestTooLarge { .. })
    ));
    assert!(matches!(
        Snapshot::decode(&blob, &huge),
        Err(VfsError::ManifestTooLarge { .. })
    ));
    let missing = BlobRef::of_bytes(b"absent");
    assert!(matches!(
        Snapshot::load(&store, &missing).await,
        Err(VfsError::SnapshotNotFound(_))
    ));
}

/// A canonical manifest whose one path is far over the limits is refused while it
/// is parsed: a typed error, quickly, never a panic.
#[test]
fn a_manifest_with_an_over_long_path_is_refused() {
    let content = BlobRef::of_bytes(b"x");
    let path = deep_path(4 << 20);
    let manifest = format!(
        "{{\"entries\":[{{\"blob\":\"{content}\",\"path\":\"{path}\",\"size_bytes\":1}}],\
         \"file_count\":1,\"format\":\"lightspeed.vfs.snapshot.v1\",\"total_bytes\":1}}"
    );
    let blob = BlobRef::of_bytes(manifest.as_bytes());
    let started = Instant::now();
    assert!(matches!(
        Snapshot::decode(&blob, manifest.as_bytes()),
        Err(VfsError::CorruptSnapshot { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A manifest the store would accept from a commit stays within what a load
/// accepts: commit and decode share the limits.
#[tokio::test]
async fn commits_refuse_what_loads_would_refuse() {
    let store = MemoryStore::new();
    let entry = FileEntry {
        blob: BlobRef::of_bytes(b""),
        size_bytes: 0,
        executable: false,
    };
    let tree = Snapshot::from_files([(VfsPath::parse("a/b").unwrap(), entry)]).unwrap();
    let blob = tree.store(&store, &vfs::Limits::default()).await.unwrap();
    assert_eq!(Snapshot::load(&store, &blob).await.unwrap(), tree);
    let tight = vfs::Limits {
        manifest_bytes_max: 10,
        ..vfs::Limits::default()
    };
    assert!(matches!(
        tree.store(&store, &tight).await,
        Err(VfsError::LimitExceeded {
            limit: "manifest_bytes_max",
            ..
        })
    ));
}

//! State checkpoints at `sessions/<session>/checkpoints/<seq:020>.json`.
//!
//! Zero-padded names sort like their sequence numbers. Files are created atomically
//! and the first checkpoint stored for a sequence wins; later puts for it are no-ops.
//!
//! File format: a one-line JSON header `{"seq":N}` and a newline, then the state
//! bytes verbatim (they are canonical JSON already; wrapping them in JSON again
//! would store each byte as a number and triple the size).

use std::fs;
use std::io;
use std::path::Path;

use engine::log::Seq;
use engine::store::{Checkpoint, StoreError};

use crate::fsio::{self, Existing, io_err};

const CHECKPOINTS_DIR: &str = "checkpoints";
const SUFFIX: &str = ".json";
const SEQ_DIGITS: usize = 20;

pub(crate) fn put(session_dir: &Path, checkpoint: &Checkpoint) -> Result<(), StoreError> {
    let path = session_dir.join(CHECKPOINTS_DIR).join(format!(
        "{:0width$}{SUFFIX}",
        checkpoint.seq,
        width = SEQ_DIGITS
    ));
    if path.exists() {
        return Ok(());
    }
    let mut bytes = format!("{{\"seq\":{}}}\n", checkpoint.seq).into_bytes();
    bytes.extend_from_slice(&checkpoint.state);
    fsio::write_atomic(&path, &bytes, Existing::Keep)?;
    Ok(())
}

/// The checkpoint with the highest seq not above `through`.
pub(crate) fn at_or_before(
    session_dir: &Path,
    through: Seq,
) -> Result<Option<Checkpoint>, StoreError> {
    let dir = session_dir.join(CHECKPOINTS_DIR);
    let listing = match fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_err("list checkpoints in", &dir)(err)),
    };
    let mut latest_seq: Option<Seq> = None;
    for item in listing {
        let item = item.map_err(io_err("list checkpoints in", &dir))?;
        let name = item.file_name();
        // Temporary files and anything else not named like a checkpoint are skipped.
        if let Some(seq) = name.to_str().and_then(parse_name)
            && seq <= through
        {
            latest_seq = latest_seq.max(Some(seq));
        }
    }
    let Some(seq) = latest_seq else {
        return Ok(None);
    };
    let path = dir.join(format!("{seq:0width$}{SUFFIX}", width = SEQ_DIGITS));
    let bytes = fs::read(&path).map_err(io_err("read checkpoint", &path))?;
    let corrupt = |reason: String| StoreError::Corrupt {
        location: path.display().to_string(),
        reason,
    };
    let Some(split) = bytes.iter().position(|b| *b == b'\n') else {
        return Err(corrupt("checkpoint header has no end".into()));
    };
    let header: Header = serde_json::from_slice(&bytes[..split])
        .map_err(|err| corrupt(format!("checkpoint header does not decode: {err}")))?;
    if header.seq != seq {
        return Err(corrupt(format!(
            "file is named for seq {seq} but holds seq {}",
            header.seq
        )));
    }
    Ok(Some(Checkpoint {
        seq,
        state: bytes[split + 1..].to_vec(),
    }))
}

/// Deletes the checkpoint files with a seq below `below`. One already gone (another
/// process pruned it) is fine.
pub(crate) fn prune(session_dir: &Path, below: Seq) -> Result<(), StoreError> {
    let dir = session_dir.join(CHECKPOINTS_DIR);
    let listing = match fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_err("list checkpoints in", &dir)(err)),
    };
    for item in listing {
        let item = item.map_err(io_err("list checkpoints in", &dir))?;
        let name = item.file_name();
        let Some(seq) = name.to_str().and_then(parse_name) else {
            continue;
        };
        if seq < below {
            let path = item.path();
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_err("delete checkpoint", &path)(err)),
            }
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct Header {
    seq: Seq,
}

/// The sequence number in a checkpoint file name, if `name` is one.
fn parse_name(name: &str) -> Option<Seq> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_others() {
        assert_eq!(parse_name("00000000000000000042.json"), Some(42));
        assert_eq!(
            parse_name(&format!("{:020}.json", u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_name("42.json"), None);
        assert_eq!(parse_name(".tmp-abc"), None);
        assert_eq!(parse_name("0000000000000000004x.json"), None);
    }
}

//! The per-session JSONL log: `log.jsonl`, one `LogEntry::to_canonical_bytes()` per
//! line, guarded by `log.lock`.
//!
//! Concurrency: appends hold an exclusive lock on `log.lock`, reads and head lookups a
//! shared one, so a reader never sees an append in progress and two processes cannot
//! both commit at the same head. (`File::lock` is `flock(2)` on Linux: it is per open
//! file, so separate `FsStore` instances in one process exclude each other too.)
//!
//! Index: each process keeps, per session, the byte offset where every entry's line
//! ends. It covers exactly the valid prefix of the file; when the file has grown past
//! it (another process appended) only the new bytes are scanned, and if the file is
//! shorter than the prefix it is rebuilt. Reads seek straight to the entries asked for.
//!
//! Line format: `{"batch_end":N,"entry":<LogEntry canonical JSON>}`. `batch_end` is
//! the seq of the last entry of the append that wrote the line, so a batch counts as
//! committed only once its last line is on disk: appends are all-or-nothing.
//!
//! Recovery: bytes after the last newline, a final line that does not decode, and
//! the lines of a batch whose last line is missing are a torn write that was never
//! acknowledged. Readers ignore them; the next append truncates them under the
//! exclusive lock. Any other undecodable line, and any sequence gap, is
//! [`StoreError::Corrupt`].

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use engine::core::event::{WakeUpsMove, runs_in_flight_delta};
use engine::core::run::recorded_cost_nanos;
use engine::log::{LogEntry, Seq};
use engine::store::{AppendOutcome, StoreError};

use crate::fsio::{self, io_err, open_lock_file};
use crate::lock_recovering;
use crate::usage::Markers;

pub(crate) const LOG_FILE: &str = "log.jsonl";
pub(crate) const LOCK_FILE: &str = "log.lock";
/// Read buffer for scanning the log when building or extending an index.
const SCAN_BUFFER_BYTES: usize = 256 * 1024;

/// One line of `log.jsonl`.
#[derive(serde::Deserialize)]
struct Line {
    batch_end: Seq,
    entry: LogEntry,
}

impl Line {
    fn encode(batch_end: Seq, entry: &LogEntry) -> Vec<u8> {
        // Spliced by hand so the entry keeps its canonical bytes.
        let mut line = format!("{{\"batch_end\":{batch_end},\"entry\":").into_bytes();
        line.extend_from_slice(&entry.to_canonical_bytes());
        line.extend_from_slice(b"}\n");
        line
    }

    fn decode(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|err| err.to_string())
    }
}

/// Where each entry of a session log ends, for the valid prefix of `log.jsonl`.
#[derive(Debug, Default)]
pub(crate) struct LogIndex {
    /// `line_ends[i]` is the byte offset just past the newline of the entry with
    /// seq `i + 1`. The last one is the length of the valid prefix.
    line_ends: Vec<u64>,
    /// Runs requested and not yet finished in the valid prefix, counted by event
    /// kind as entries are indexed (`engine::core::event::runs_in_flight_delta`).
    runs_in_flight: i64,
    /// Wake-ups that can still fire in the valid prefix, counted by event kind
    /// (`engine::core::event::WakeUpsMove`).
    wake_ups_pending: i64,
    /// What the valid prefix's turns recorded as their cost, in nano-USD
    /// (`engine::core::run::recorded_cost_nanos`): the session's share of the
    /// universe's cost, read when that count must be rebuilt.
    cost_nanos: u64,
    /// The newest `observed_at_ms` in the valid prefix: the session's last activity,
    /// by the same rule as the control state's `last_observed_at_ms` (the maximum,
    /// since hosts' clocks need not be monotonic), so `session/list` orders by it
    /// without replaying anything.
    last_observed_at_ms: u64,
}

impl LogIndex {
    /// Forgets everything: the next refresh indexes the file from its start.
    pub(crate) fn clear(&mut self) {
        self.line_ends.clear();
        self.runs_in_flight = 0;
        self.wake_ups_pending = 0;
        self.cost_nanos = 0;
        self.last_observed_at_ms = 0;
    }

    fn head(&self) -> Seq {
        self.line_ends.len() as Seq
    }

    fn valid_len(&self) -> u64 {
        self.line_ends.last().copied().unwrap_or(0)
    }

    /// The byte range of `count` entries starting at zero-based position `first`;
    /// the caller keeps `first + count <= head`.
    fn span(&self, first: usize, count: usize) -> Span {
        let start = match first {
            0 => 0,
            _ => self.line_ends[first - 1],
        };
        Span {
            start,
            end: self.line_ends[first + count - 1],
            first_seq: first as Seq + 1,
            count,
        }
    }
}

/// Consecutive committed entries, located in the file.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    first_seq: Seq,
    count: usize,
}

/// Bytes past the valid prefix that are not committed entries.
#[derive(Debug)]
struct TornTail {
    offset: u64,
}

pub(crate) fn head(dir: &Path, index: &Mutex<LogIndex>) -> Result<Seq, StoreError> {
    indexed(dir, index, LogIndex::head)
}

/// Runs requested and not yet finished in the session's log.
pub(crate) fn runs_in_flight(dir: &Path, index: &Mutex<LogIndex>) -> Result<u64, StoreError> {
    indexed(dir, index, |index| {
        u64::try_from(index.runs_in_flight).unwrap_or(0)
    })
}

/// Runs in flight and wake-ups pending in the session's log, from one refresh.
pub(crate) fn counts(dir: &Path, index: &Mutex<LogIndex>) -> Result<(u64, u64), StoreError> {
    indexed(dir, index, |index| {
        (
            u64::try_from(index.runs_in_flight).unwrap_or(0),
            u64::try_from(index.wake_ups_pending).unwrap_or(0),
        )
    })
}

/// Wake-ups the session holds that can still fire.
pub(crate) fn wake_ups_pending(dir: &Path, index: &Mutex<LogIndex>) -> Result<u64, StoreError> {
    indexed(dir, index, |index| {
        u64::try_from(index.wake_ups_pending).unwrap_or(0)
    })
}

/// What the session's turns cost, in nano-USD.
pub(crate) fn cost_nanos(dir: &Path, index: &Mutex<LogIndex>) -> Result<u64, StoreError> {
    indexed(dir, index, |index| index.cost_nanos)
}

/// The newest `observed_at_ms` of the session's log (`None` without entries).
pub(crate) fn last_activity(
    dir: &Path,
    index: &Mutex<LogIndex>,
) -> Result<Option<u64>, StoreError> {
    indexed(dir, index, |index| {
        (index.head() > 0).then_some(index.last_observed_at_ms)
    })
}

/// `value` of the session's index brought up to date with its log; of an empty
/// index when the session has no log.
fn indexed<T>(
    dir: &Path,
    index: &Mutex<LogIndex>,
    value: impl FnOnce(&LogIndex) -> T,
) -> Result<T, StoreError> {
    let mut index = lock_index(index);
    if let Some(files) = open_shared(dir, &mut index)? {
        refresh(&mut index, &files.log, &files.log_path)?;
    }
    Ok(value(&index))
}

pub(crate) fn read(
    dir: &Path,
    index: &Mutex<LogIndex>,
    from_seq: Seq,
    limit_entries: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let (files, span) = {
        let mut index = lock_index(index);
        let Some(files) = open_shared(dir, &mut index)? else {
            return Ok(Vec::new());
        };
        refresh(&mut index, &files.log, &files.log_path)?;
        let first = usize::try_from(from_seq.saturating_sub(1)).unwrap_or(usize::MAX);
        let count = limit_entries.min(index.line_ends.len().saturating_sub(first));
        if count == 0 {
            return Ok(Vec::new());
        }
        (files, index.span(first, count))
    };
    // Committed lines never change, so the locks are not needed to read them.
    let SharedFiles {
        log,
        log_path,
        lock,
    } = files;
    drop(lock);
    read_span(&log, &log_path, span)
}

/// Appends `entries` at `expected_head`. `markers` flag the session as one with
/// runs in flight (or wake-ups pending): a marker is set before a batch that
/// requests a run (schedules a wake-up) is written and cleared after a batch that
/// leaves none, both under the exclusive lock, so a session with runs in flight
/// (wake-ups pending) always has it (a crash can only leave a stale one).
pub(crate) fn append(
    dir: &Path,
    index: &Mutex<LogIndex>,
    markers: &Markers,
    expected_head: Seq,
    entries: &[LogEntry],
) -> Result<AppendOutcome, StoreError> {
    let mut index = lock_index(index);
    fsio::ensure_dir(dir)?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = open_lock_file(&lock_path)?;
    lock.lock().map_err(io_err("lock", &lock_path))?;

    let log_path = dir.join(LOG_FILE);
    let created = !log_path.exists();
    let mut log = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&log_path)
        .map_err(io_err("open", &log_path))?;
    if created {
        index.clear();
        fsio::sync_dir(dir)?;
    }
    if let Some(torn) = refresh(&mut index, &log, &log_path)? {
        log.set_len(torn.offset)
            .and_then(|()| log.sync_data())
            .map_err(io_err("truncate the torn tail of", &log_path))?;
    }

    let head = index.head();
    if head == expected_head {
        let runs = batch_runs(entries);
        let wake_ups = batch_wake_ups(entries);
        if runs > 0 {
            markers.runs.set()?;
        }
        if wake_ups.delta > 0 {
            markers.wake_ups.set()?;
        }
        write_batch(&mut index, &mut log, &log_path, entries)?;
        if runs < 0 && index.runs_in_flight <= 0 {
            markers.runs.clear()?;
        }
        if (wake_ups.reset || wake_ups.delta < 0) && index.wake_ups_pending <= 0 {
            markers.wake_ups.clear()?;
        }
        return Ok(AppendOutcome::Appended { head: index.head() });
    }
    let retry_fits = head > expected_head && head - expected_head >= entries.len() as Seq;
    if retry_fits {
        let first = usize::try_from(expected_head).map_err(StoreError::permanent)?;
        let stored = read_span(&log, &log_path, index.span(first, entries.len()))?;
        if stored == entries {
            return Ok(AppendOutcome::AlreadyCommitted { head });
        }
    }
    Err(StoreError::HeadConflict {
        expected: expected_head,
        actual: head,
    })
}

/// Appends `entries` after the valid prefix, fsyncs, and extends the index. The
/// caller holds the exclusive lock and has removed any torn tail.
fn write_batch(
    index: &mut LogIndex,
    log: &mut File,
    path: &Path,
    entries: &[LogEntry],
) -> Result<(), StoreError> {
    let base = index.valid_len();
    let batch_end = entries.last().map_or(0, |entry| entry.seq);
    let mut bytes = Vec::new();
    let mut line_ends = Vec::with_capacity(entries.len());
    for entry in entries {
        let line = Line::encode(batch_end, entry);
        assert!(
            !line[..line.len() - 1].contains(&b'\n'),
            "canonical JSON never contains a raw newline"
        );
        bytes.extend_from_slice(&line);
        line_ends.push(base + bytes.len() as u64);
    }
    if let Err(err) = log.write_all(&bytes).and_then(|()| log.sync_data()) {
        // Not acknowledged, so try not to leave it behind: a complete but unsynced
        // batch would otherwise read as committed after this error. If the cut fails
        // too, recovery treats what remains like any torn or committed tail.
        let _ = log.set_len(base).and_then(|()| log.sync_data());
        return Err(io_err("append to", path)(err));
    }
    index.line_ends.extend(line_ends);
    index.runs_in_flight += batch_runs(entries);
    index.wake_ups_pending = batch_wake_ups(entries).apply(index.wake_ups_pending);
    index.cost_nanos = index.cost_nanos.saturating_add(batch_cost_nanos(entries));
    index.last_observed_at_ms = entries
        .iter()
        .map(|entry| entry.observed_at_ms)
        .fold(index.last_observed_at_ms, u64::max);
    Ok(())
}

/// What a batch's turns cost, in nano-USD.
pub(crate) fn batch_cost_nanos(entries: &[LogEntry]) -> u64 {
    entries
        .iter()
        .map(|entry| recorded_cost_nanos(&entry.event))
        .fold(0, u64::saturating_add)
}

/// How a batch moves its session's runs in flight.
fn batch_runs(entries: &[LogEntry]) -> i64 {
    entries
        .iter()
        .map(|entry| runs_in_flight_delta(&entry.event.kind))
        .sum()
}

/// How a batch moves its session's pending wake-ups.
fn batch_wake_ups(entries: &[LogEntry]) -> WakeUpsMove {
    let mut moved = WakeUpsMove::default();
    for entry in entries {
        moved.record(&entry.event.kind);
    }
    moved
}

pub(crate) fn lock_index(index: &Mutex<LogIndex>) -> MutexGuard<'_, LogIndex> {
    lock_recovering(index, |index| *index = LogIndex::default())
}

/// The log opened for reading, with a shared lock held on the lock file.
struct SharedFiles {
    log: File,
    log_path: PathBuf,
    lock: File,
}

/// Opens the log for reading under a shared lock; `None` (and an emptied index) when
/// the session has no log yet. Creates nothing but the lock file of an existing log.
fn open_shared(dir: &Path, index: &mut LogIndex) -> Result<Option<SharedFiles>, StoreError> {
    let log_path = dir.join(LOG_FILE);
    let log = match File::open(&log_path) {
        Ok(log) => log,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            index.clear();
            return Ok(None);
        }
        Err(err) => return Err(io_err("open", &log_path)(err)),
    };
    let lock_path = dir.join(LOCK_FILE);
    // A shared lock needs only read access, which keeps read-only roots readable.
    let lock = match File::open(&lock_path) {
        Ok(lock) => lock,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => open_lock_file(&lock_path)?,
        Err(err) => return Err(io_err("open", &lock_path)(err)),
    };
    lock.lock_shared().map_err(io_err("lock", &lock_path))?;
    Ok(Some(SharedFiles {
        log,
        log_path,
        lock,
    }))
}

/// Brings `index` up to date with the file (the caller holds the lock file) and
/// reports a torn tail past the valid prefix, if any.
fn refresh(index: &mut LogIndex, log: &File, path: &Path) -> Result<Option<TornTail>, StoreError> {
    let file_len = log.metadata().map_err(io_err("inspect", path))?.len();
    if file_len < index.valid_len() {
        // Committed bytes vanished (the file was replaced or cut by hand): start over
        // and report what is there now.
        index.clear();
    }
    let start = index.valid_len();
    if file_len == start {
        return Ok(None);
    }
    let mut handle = log;
    handle
        .seek(SeekFrom::Start(start))
        .map_err(io_err("seek in", path))?;
    let mut reader = BufReader::with_capacity(SCAN_BUFFER_BYTES, handle.take(file_len - start));
    let mut line = Vec::new();
    let mut offset = start;
    // A line that did not decode; only allowed as the last one (a torn write).
    let mut undecodable: Option<(u64, String)> = None;
    // Line ends of the batch being read, and where it starts; indexed once its last
    // line has been seen.
    let mut open_batch: Vec<u64> = Vec::new();
    let mut open_batch_start = start;
    let mut open_batch_runs: i64 = 0;
    let mut open_batch_wake_ups = WakeUpsMove::default();
    let mut open_batch_cost: u64 = 0;
    let mut open_batch_observed: u64 = 0;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(io_err("read", path))?;
        if read == 0 {
            break;
        }
        let line_start = offset;
        offset += read as u64;
        let Some(body) = line.strip_suffix(b"\n") else {
            // No newline: an append that never finished.
            break;
        };
        if let Some((at, reason)) = undecodable.take() {
            return Err(corrupt(path, index.head() + 1, at, reason));
        }
        let want = index.head() + open_batch.len() as Seq + 1;
        match Line::decode(body) {
            Ok(Line { batch_end, entry }) if entry.seq == want && batch_end >= want => {
                if open_batch.is_empty() {
                    open_batch_start = line_start;
                    open_batch_runs = 0;
                    open_batch_wake_ups = WakeUpsMove::default();
                    open_batch_cost = 0;
                    open_batch_observed = 0;
                }
                open_batch.push(offset);
                open_batch_runs += runs_in_flight_delta(&entry.event.kind);
                open_batch_wake_ups.record(&entry.event.kind);
                open_batch_cost = open_batch_cost.saturating_add(recorded_cost_nanos(&entry.event));
                open_batch_observed = open_batch_observed.max(entry.observed_at_ms);
                if batch_end == want {
                    index.line_ends.append(&mut open_batch);
                    index.runs_in_flight += open_batch_runs;
                    index.wake_ups_pending = open_batch_wake_ups.apply(index.wake_ups_pending);
                    index.cost_nanos = index.cost_nanos.saturating_add(open_batch_cost);
                    index.last_observed_at_ms = index.last_observed_at_ms.max(open_batch_observed);
                }
            }
            Ok(Line { batch_end, entry }) => {
                let reason = format!(
                    "expected seq {want}, found seq {} (batch ending at {batch_end})",
                    entry.seq
                );
                return Err(corrupt(path, want, line_start, reason));
            }
            Err(reason) => undecodable = Some((line_start, reason)),
        }
    }
    let torn_at = if open_batch.is_empty() {
        undecodable
            .map(|(at, _)| at)
            .or((offset > index.valid_len()).then_some(index.valid_len()))
    } else {
        Some(open_batch_start)
    };
    Ok(torn_at.map(|offset| TornTail { offset }))
}

/// Reads and decodes the entries of `span`.
fn read_span(log: &File, path: &Path, span: Span) -> Result<Vec<LogEntry>, StoreError> {
    let len = usize::try_from(span.end - span.start).map_err(StoreError::permanent)?;
    let mut bytes = vec![0u8; len];
    let mut handle = log;
    handle
        .seek(SeekFrom::Start(span.start))
        .and_then(|_| handle.read_exact(&mut bytes))
        .map_err(io_err("read", path))?;
    let mut entries = Vec::with_capacity(span.count);
    let mut line_start = span.start;
    for (seq, line) in (span.first_seq..).zip(bytes.split_inclusive(|b| *b == b'\n')) {
        let decoded = line
            .strip_suffix(b"\n")
            .ok_or_else(|| "line has no newline".to_owned())
            .and_then(Line::decode)
            .and_then(|Line { entry, .. }| match entry.seq == seq {
                true => Ok(entry),
                false => Err(format!("expected seq {seq}, found seq {}", entry.seq)),
            });
        match decoded {
            Ok(entry) => entries.push(entry),
            // Indexed lines decoded once; if they no longer do, the file changed.
            Err(reason) => return Err(corrupt(path, seq, line_start, reason)),
        }
        line_start += line.len() as u64;
    }
    if entries.len() != span.count {
        let reason = format!("expected {} entries, found {}", span.count, entries.len());
        return Err(corrupt(path, span.first_seq, span.start, reason));
    }
    Ok(entries)
}

fn corrupt(path: &Path, line: Seq, offset: u64, reason: String) -> StoreError {
    StoreError::Corrupt {
        location: format!("{} line {line} (byte offset {offset})", path.display()),
        reason,
    }
}

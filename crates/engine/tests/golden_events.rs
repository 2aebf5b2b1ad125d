#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Golden events: `tests/fixtures/events_v1.jsonl` holds one canonical `LogEntry` line
//! per event kind and version this engine writes. Lines are never rewritten: a log
//! committed today must keep decoding after every future change.
//!
//! - Every line must decode through `CoreEvent::decode`.
//! - A line at the current version of its kind must re-encode byte for byte (so a
//!   renamed field, a changed tag or a new non-optional field is caught).
//! - Every `(kind, version)` in `EVENT_KINDS` must have a line.
//!
//! - Optional fields added to a version later (cost, budgets) have lines of their own,
//!   built by [`later_field_events`], which must be in the fixture byte for byte, so
//!   a renamed later field is caught like any other.
//!
//! When a kind gains a version or a new kind appears, run
//! `UPDATE_GOLDEN=1 cargo test -p engine --test golden_events` to append lines for the
//! missing `(kind, version)` pairs, built by [`golden_events`], and the missing
//! later-field lines; existing lines stay.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Once;

use serde_json::json;

use engine::core::config::{
    CompactionMode, ContextPolicy, GenerationConfig, ModelRoute, ProviderParams, RunLimits,
    RunLimitsPatch, RunOverrides, SessionBudget, SessionConfig, ToolChoice,
};
use engine::core::context::{ContextItem, ItemKind, ItemSpec};
use engine::core::event::{self as ev, CompactionReason, CoreEvent, EVENT_KINDS};
use engine::core::request::Fingerprint;
use engine::core::run::{
    EffectError, FinishReason, LimitKind, QueuedRun, RunFailure, RunOutcome, ToolCallRequest,
    ToolStatus, Usage,
};
use engine::core::tools::ToolSpec;
use engine::log::Joins;
use engine::{BlobRef, LogEntry, RunId, SessionId, SubmissionId, ToolCallId};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events_v1.jsonl")
}

fn fixture_lines() -> Vec<String> {
    static UPDATE: Once = Once::new();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        UPDATE.call_once(append_missing_lines);
    }
    read_fixture()
}

fn read_fixture() -> Vec<String> {
    let text = std::fs::read_to_string(fixture_path()).expect("golden fixture is readable");
    text.lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn current_version(kind: &str) -> Option<u32> {
    EVENT_KINDS
        .iter()
        .find(|(known, _)| *known == kind)
        .map(|(_, version)| *version)
}

#[test]
fn every_fixture_line_decodes_and_current_versions_reencode_byte_for_byte() {
    let lines = fixture_lines();
    assert!(!lines.is_empty());
    for (number, line) in lines.iter().enumerate() {
        let at = format!("{}:{}", fixture_path().display(), number + 1);
        let entry = LogEntry::from_canonical_bytes(line.as_bytes())
            .unwrap_or_else(|err| panic!("{at}: not a log entry: {err}"));
        let event = CoreEvent::decode(&entry.event)
            .unwrap_or_else(|err| panic!("{at}: no longer decodes: {err}"));
        assert_eq!(
            event.kind(),
            entry.event.kind,
            "{at}: decoded as another kind"
        );
        if current_version(&entry.event.kind) != Some(entry.event.version) {
            continue;
        }
        let reencoded = LogEntry {
            event: event.encode(),
            ..entry
        }
        .to_canonical_bytes();
        assert!(
            reencoded == line.as_bytes(),
            "{at}: re-encoding changed the bytes\n  fixture:    {line}\n  re-encoded: {}",
            String::from_utf8_lossy(&reencoded)
        );
    }
}

#[test]
fn every_event_kind_and_version_has_a_fixture_line() {
    let present: BTreeSet<(String, u32)> = fixture_lines()
        .iter()
        .map(|line| {
            let entry = LogEntry::from_canonical_bytes(line.as_bytes()).unwrap();
            (entry.event.kind, entry.event.version)
        })
        .collect();
    let missing: Vec<_> = EVENT_KINDS
        .iter()
        .filter(|(kind, version)| !present.contains(&((*kind).to_owned(), *version)))
        .collect();
    assert!(
        missing.is_empty(),
        "no golden line for {missing:?}; run UPDATE_GOLDEN=1 cargo test -p engine --test golden_events"
    );
}

#[test]
fn every_later_field_line_is_in_the_fixture() {
    let lines: BTreeSet<String> = fixture_lines().into_iter().collect();
    for entry in later_field_events() {
        let line = String::from_utf8(entry.to_canonical_bytes()).unwrap();
        assert!(
            lines.contains(&line),
            "no golden line {line}; run UPDATE_GOLDEN=1 cargo test -p engine --test golden_events"
        );
    }
}

/// The builders cover every kind, so `UPDATE_GOLDEN=1` can always fill a gap.
#[test]
fn builders_cover_every_event_kind() {
    let built: BTreeSet<_> = golden_events()
        .iter()
        .map(|entry| entry.event.kind.clone())
        .collect();
    for (kind, _) in EVENT_KINDS {
        assert!(built.contains(*kind), "no golden builder for {kind}");
    }
}

/// Appends lines for `(kind, version)` pairs the fixture lacks; never rewrites an
/// existing line. Runs (once, before any test reads the fixture) only with
/// `UPDATE_GOLDEN=1`.
fn append_missing_lines() {
    let mut lines = if fixture_path().exists() {
        read_fixture()
    } else {
        Vec::new()
    };
    let present: BTreeSet<(String, u32)> = lines
        .iter()
        .map(|line| {
            let entry = LogEntry::from_canonical_bytes(line.as_bytes()).unwrap();
            (entry.event.kind, entry.event.version)
        })
        .collect();
    for entry in golden_events() {
        let key = (entry.event.kind.clone(), entry.event.version);
        if !present.contains(&key) {
            lines.push(String::from_utf8(entry.to_canonical_bytes()).unwrap());
        }
    }
    for entry in later_field_events() {
        let line = String::from_utf8(entry.to_canonical_bytes()).unwrap();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    std::fs::create_dir_all(fixture_path().parent().unwrap()).unwrap();
    std::fs::write(fixture_path(), lines.join("\n") + "\n").unwrap();
}

#[path = "golden/builders.rs"]
mod builders;
use builders::{golden_events, later_field_events};

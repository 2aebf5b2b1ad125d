//! One call's output, as the gateway receives it: text (invalid UTF-8 replaced,
//! so offsets count the bytes as sent), bounded in memory.
//!
//! The first half of the bound is streamed live. Past it, output goes to a ring
//! that keeps the last half, sent when the call ends (it is "sealed"); what falls
//! out of the ring is counted as dropped. So the bytes a connection was sent live
//! are always still here, and a re-delivered call is answered from offset 0 with
//! exactly what any earlier connection saw.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

/// The output of one call.
#[derive(Debug)]
pub(crate) struct CallOutput {
    state: Mutex<OutputState>,
    /// Bumped on every change, so attachments wake up.
    changed: watch::Sender<()>,
}

#[derive(Debug)]
struct OutputState {
    /// What can be sent: the live head, then (once sealed) the ring.
    text: String,
    head_bytes_max: usize,
    ring: VecDeque<u8>,
    ring_bytes_max: usize,
    dropped: u64,
    sealed: bool,
}

/// A piece of the output from some offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Text at the asked offset (at most the asked size, cut at a character).
    Data(String),
    /// Nothing more yet.
    Pending,
    /// The output is complete: `end` bytes in all, `dropped` missing.
    End { end: u64, dropped: u64 },
}

impl CallOutput {
    /// Output kept within `bytes_max` (at least 8 bytes, so a character fits in
    /// each half).
    pub(crate) fn new(bytes_max: usize) -> Self {
        let bytes_max = bytes_max.max(8);
        Self {
            state: Mutex::new(OutputState {
                text: String::new(),
                head_bytes_max: bytes_max / 2,
                ring: VecDeque::new(),
                ring_bytes_max: bytes_max - bytes_max / 2,
                dropped: 0,
                sealed: false,
            }),
            changed: watch::Sender::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, OutputState> {
        // Plain buffers: a panic while one was held leaves text that is still valid.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Appends decoded text. Ignored once sealed (a process that printed after
    /// its call yielded writes into the next call's output instead).
    pub(crate) fn push(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        {
            let mut state = self.lock();
            if state.sealed {
                return;
            }
            let mut rest = text;
            if state.ring.is_empty() {
                let room = state.head_bytes_max.saturating_sub(state.text.len());
                let cut = rest.floor_char_boundary(room);
                state.text.push_str(&rest[..cut]);
                rest = &rest[cut..];
            }
            if !rest.is_empty() {
                state.ring.extend(rest.as_bytes());
                let excess = state.ring.len().saturating_sub(state.ring_bytes_max);
                let mut drop_bytes = excess;
                // Never start the ring inside a character.
                while state
                    .ring
                    .get(drop_bytes)
                    .is_some_and(|byte| (byte & 0b1100_0000) == 0b1000_0000)
                {
                    drop_bytes += 1;
                }
                state.ring.drain(..drop_bytes);
                state.dropped += drop_bytes as u64;
            }
        }
        self.changed.send_replace(());
    }

    /// The output is complete: the ring becomes sendable, nothing more is added.
    pub(crate) fn seal(&self) {
        {
            let mut state = self.lock();
            if state.sealed {
                return;
            }
            state.sealed = true;
            let ring: Vec<u8> = state.ring.drain(..).collect();
            // The ring only ever holds whole characters of valid text.
            let tail = String::from_utf8_lossy(&ring);
            state.text.push_str(&tail);
        }
        self.changed.send_replace(());
    }

    /// Up to `bytes_max` bytes from `offset` (an offset this returned before).
    pub(crate) fn chunk(&self, offset: u64, bytes_max: usize) -> Chunk {
        let state = self.lock();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(state.text.len());
        let rest = &state.text[start..];
        if !rest.is_empty() {
            let mut cut = rest.floor_char_boundary(bytes_max);
            if cut == 0 {
                // A limit below one character still makes progress.
                cut = rest.ceil_char_boundary(1);
            }
            return Chunk::Data(rest[..cut].to_owned());
        }
        if state.sealed {
            Chunk::End {
                end: state.text.len() as u64,
                dropped: state.dropped,
            }
        } else {
            Chunk::Pending
        }
    }

    /// Bytes held (what a remembered call costs).
    pub(crate) fn bytes(&self) -> usize {
        let state = self.lock();
        state.text.len() + state.ring.len()
    }

    /// `(end, dropped)` once sealed: what a call's result reports.
    pub(crate) fn totals(&self) -> (u64, u64) {
        let state = self.lock();
        (state.text.len() as u64, state.dropped)
    }

    /// Wakes when the output changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }
}

/// Turns a byte stream into text, replacing invalid sequences, keeping a
/// character split across two reads whole.
#[derive(Debug, Default)]
pub(crate) struct Utf8Decoder {
    /// The start of a character the last read ended in (at most 3 bytes).
    pending: Vec<u8>,
}

impl Utf8Decoder {
    pub(crate) fn decode(&mut self, bytes: &[u8]) -> String {
        let mut input = std::mem::take(&mut self.pending);
        input.extend_from_slice(bytes);
        let mut out = String::with_capacity(input.len());
        let mut rest: &[u8] = &input;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(text);
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    out.push_str(&String::from_utf8_lossy(valid));
                    match err.error_len() {
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = after.get(len..).unwrap_or_default();
                        }
                        None => {
                            self.pending = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// The end of the stream: an unfinished character becomes a replacement.
    pub(crate) fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            self.pending.clear();
            char::REPLACEMENT_CHARACTER.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(output: &CallOutput, chunk_bytes_max: usize) -> (String, u64, u64) {
        let mut text = String::new();
        loop {
            match output.chunk(text.len() as u64, chunk_bytes_max) {
                Chunk::Data(data) => {
                    assert!(data.len() <= chunk_bytes_max.max(4));
                    text.push_str(&data);
                }
                Chunk::Pending => panic!("not sealed"),
                Chunk::End { end, dropped } => return (text, end, dropped),
            }
        }
    }

    #[test]
    fn within_the_bound_everything_is_kept() {
        let output = CallOutput::new(100);
        output.push("hello ");
        output.push("world");
        assert_eq!(output.chunk(0, 64), Chunk::Data("hello world".into()));
        assert_eq!(output.chunk(11, 64), Chunk::Pending);
        output.seal();
        assert_eq!(drain(&output, 3), ("hello world".into(), 11, 0));
    }

    #[test]
    fn beyond_the_bound_head_and_tail_are_kept_and_the_middle_counted() {
        let output = CallOutput::new(10);
        output.push("0123456789abcdefghij");
        // The head is sendable before the end; the tail only after.
        assert_eq!(output.chunk(0, 64), Chunk::Data("01234".into()));
        assert_eq!(output.chunk(5, 64), Chunk::Pending);
        output.seal();
        let (text, end, dropped) = drain(&output, 4);
        assert_eq!(text, "01234fghij");
        assert_eq!((end, dropped), (10, 10));
        // Sealed: later pushes are ignored.
        output.push("more");
        assert_eq!(output.totals(), (10, 10));
    }

    #[test]
    fn characters_are_never_cut() {
        let output = CallOutput::new(9);
        output.push("ééééééééé");
        output.seal();
        let (text, end, dropped) = drain(&output, 3);
        assert!(text.chars().all(|c| c == 'é'), "{text}");
        assert_eq!(end as usize, text.len());
        assert_eq!(end + dropped, 18);
    }

    #[test]
    fn decoder_keeps_split_characters_and_replaces_invalid_bytes() {
        let mut decoder = Utf8Decoder::default();
        let bytes = "aé€".as_bytes();
        let mut text = String::new();
        for byte in bytes {
            text.push_str(&decoder.decode(&[*byte]));
        }
        assert_eq!(text, "aé€");
        assert_eq!(decoder.decode(b"x\xffy"), "x\u{fffd}y");
        assert_eq!(decoder.decode(b"\xe2\x82"), "");
        assert_eq!(decoder.finish(), "\u{fffd}");
    }
}

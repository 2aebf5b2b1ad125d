//! What the bytes a server writes on an upgraded connection are: the rest of the
//! `101` answer, then WebSocket frames (RFC 6455 §5.2).
//!
//! jsonrpsee writes the frames from a task of its own and offers no way to send a
//! Close frame with a code, so `killable` watches the bytes go by instead: it must know
//! where one frame ends before it may put its own Close frame on the wire, and how
//! many message bytes left the process (the outbound byte bound counts them).

/// Where the outgoing byte stream stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// Plain HTTP: nothing is tracked.
    Http,
    /// An upgrade was accepted: the rest of its `101` answer, up to the blank line.
    /// `matched` counts the bytes of `\r\n\r\n` seen in a row.
    Head { matched: u8 },
    /// `len` bytes of a frame header seen (at most [`HEADER_BYTES_MAX`]).
    Header {
        bytes: [u8; HEADER_BYTES_MAX],
        len: u8,
    },
    /// Inside a frame's payload; `data` for text, binary and continuation frames.
    Payload { remaining: u64, data: bool },
}

/// 2 bytes, an 8-byte extended length and a 4-byte mask key.
const HEADER_BYTES_MAX: usize = 14;
const HEAD_END: &[u8; 4] = b"\r\n\r\n";
/// A Close frame's payload is at most 125 bytes: the 2-byte code and the reason.
const CLOSE_REASON_BYTES_MAX: usize = 123;
const OPCODE_CLOSE: u8 = 0x8;

impl Outgoing {
    /// Expecting the `101` answer of an accepted upgrade.
    pub(crate) fn upgrading() -> Self {
        Self::Head { matched: 0 }
    }

    fn boundary() -> Self {
        Self::Header {
            bytes: [0; HEADER_BYTES_MAX],
            len: 0,
        }
    }

    /// Between two frames: a frame of our own may be written now.
    pub(crate) fn at_boundary(&self) -> bool {
        matches!(self, Self::Header { len: 0, .. })
    }

    /// Inside the frame stream (not plain HTTP, not the `101` answer).
    pub(crate) fn in_frames(&self) -> bool {
        matches!(self, Self::Header { .. } | Self::Payload { .. })
    }

    /// How many bytes may be written before the next frame boundary, if known: a
    /// writer that must stop at a boundary writes at most this much at once.
    pub(crate) fn bytes_to_boundary(&self) -> Option<u64> {
        match self {
            Self::Http | Self::Head { .. } => None,
            Self::Header { bytes, len } => {
                let len = usize::from(*len);
                // Until the second byte is seen the header's length is unknown; a
                // header ends no earlier than its second byte.
                let total = if len < 2 { 2 } else { header_len(bytes[1]) };
                Some(u64::try_from(total.saturating_sub(len)).unwrap_or(u64::MAX))
            }
            Self::Payload { remaining, .. } => Some(*remaining),
        }
    }

    /// Follows `written`, bytes that went out; returns how many of them were the
    /// payload of data frames.
    pub(crate) fn observe(&mut self, mut written: &[u8]) -> u64 {
        let mut data_bytes = 0;
        while !written.is_empty() {
            match self {
                Self::Http => return data_bytes,
                Self::Head { matched } => {
                    let byte = written[0];
                    written = &written[1..];
                    *matched = match (usize::from(*matched), byte) {
                        (seen, byte) if HEAD_END.get(seen) == Some(&byte) => *matched + 1,
                        (_, b'\r') => 1,
                        _ => 0,
                    };
                    if usize::from(*matched) == HEAD_END.len() {
                        *self = Self::boundary();
                    }
                }
                Self::Header { bytes, len } => {
                    bytes[usize::from(*len)] = written[0];
                    written = &written[1..];
                    *len += 1;
                    let seen = usize::from(*len);
                    if seen >= 2 && seen == header_len(bytes[1]) {
                        let remaining = payload_len(bytes);
                        // Opcodes 0 (continuation), 1 (text) and 2 (binary) carry
                        // messages; the others are control frames.
                        let data = bytes[0] & 0x0f <= 0x2;
                        *self = if remaining == 0 {
                            Self::boundary()
                        } else {
                            Self::Payload { remaining, data }
                        };
                    }
                }
                Self::Payload { remaining, data } => {
                    let take = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(written.len());
                    written = &written[take..];
                    let take = u64::try_from(take).unwrap_or(u64::MAX);
                    *remaining -= take;
                    if *data {
                        data_bytes += take;
                    }
                    if *remaining == 0 {
                        *self = Self::boundary();
                    }
                }
            }
        }
        data_bytes
    }
}

/// A header's length from its second byte: the length form and the mask bit.
fn header_len(second: u8) -> usize {
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

fn payload_len(header: &[u8; HEADER_BYTES_MAX]) -> u64 {
    match header[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => {
            let mut len = [0; 8];
            len.copy_from_slice(&header[2..10]);
            u64::from_be_bytes(len)
        }
        len => u64::from(len),
    }
}

/// A server's Close frame (unmasked, RFC 6455 §5.5.1) with `code` and `reason`,
/// the reason cut at a character boundary to fit the 125-byte payload.
pub(crate) fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(CLOSE_REASON_BYTES_MAX);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    let mut frame = Vec::with_capacity(4 + reason.len());
    frame.push(0x80 | OPCODE_CLOSE);
    // At most 125: the 7-bit length form.
    frame.push(u8::try_from(2 + reason.len()).unwrap_or(125));
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload_len: usize) -> Vec<u8> {
        let mut frame = vec![0x80 | opcode];
        if payload_len < 126 {
            frame.push(payload_len as u8);
        } else if payload_len < 65_536 {
            frame.push(126);
            frame.extend_from_slice(&(payload_len as u16).to_be_bytes());
        } else {
            frame.push(127);
            frame.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
        frame.extend(std::iter::repeat_n(b'x', payload_len));
        frame
    }

    #[test]
    fn the_upgrade_answer_then_frames_are_followed_byte_by_byte_and_in_bulk() {
        let mut stream = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        stream.extend(frame(0x1, 5));
        stream.extend(frame(0x9, 0)); // ping: not data
        stream.extend(frame(0x1, 300));
        stream.extend(frame(0x2, 70_000));
        for chunk in [1, 3, 7, 4096, stream.len()] {
            let mut outgoing = Outgoing::upgrading();
            let mut data = 0;
            for part in stream.chunks(chunk) {
                data += outgoing.observe(part);
            }
            assert_eq!(data, 5 + 300 + 70_000, "chunks of {chunk}");
            assert!(outgoing.at_boundary(), "chunks of {chunk}");
        }
    }

    #[test]
    fn bytes_to_boundary_never_crosses_a_frame_end() {
        let mut outgoing = Outgoing::upgrading();
        outgoing.observe(b"HTTP/1.1 101 OK\r\n\r\n");
        assert!(outgoing.at_boundary());
        let stream = frame(0x1, 300);
        let mut at = 0;
        while at < stream.len() {
            let step = usize::try_from(outgoing.bytes_to_boundary().unwrap()).unwrap();
            assert!(step > 0);
            at += step;
            outgoing.observe(&stream[at - step..at]);
        }
        assert_eq!(at, stream.len());
        assert!(outgoing.at_boundary());
    }

    #[test]
    fn plain_http_is_not_tracked() {
        let mut outgoing = Outgoing::Http;
        assert_eq!(outgoing.observe(&frame(0x1, 10)), 0);
        assert!(!outgoing.at_boundary());
        assert_eq!(outgoing.bytes_to_boundary(), None);
    }

    #[test]
    fn close_frames_carry_code_and_a_bounded_reason() {
        assert_eq!(close_frame(1008, "slow"), b"\x88\x06\x03\xf0slow".to_vec());
        let long = close_frame(1001, &"é".repeat(100));
        assert_eq!(long.len(), 2 + 2 + 122);
        assert_eq!(usize::from(long[1]), long.len() - 2);
        assert!(std::str::from_utf8(&long[4..]).is_ok());
    }
}

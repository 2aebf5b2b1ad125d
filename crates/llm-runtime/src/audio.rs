//! Voice notes: which audio containers are accepted (OGG with Opus or Vorbis, MP3,
//! M4A, WAV), told apart by their first bytes, and how long they play, read from
//! their headers without decoding a sample.
//!
//! The length is what the limits need (the gateway refuses a note over its limit
//! before anything is stored or sent), so the probes read only container metadata:
//! an OGG stream's last granule position, a WAV `data` chunk over its byte rate, an
//! M4A movie header, an MP3 Xing/Info or VBRI frame count (or, for constant bit rate
//! files without one, the stream size over the bit rate). Hand-written rather than
//! a decoder crate: these few header reads are all we need, and a full demuxer
//! (symphonia and the like) would be the largest dependency in the gateway for them.

/// An accepted audio container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// OGG with Opus (Telegram and WhatsApp voice notes) or Vorbis.
    Ogg,
    Mp3,
    /// MPEG-4 audio (`ftyp` box): M4A, iPhone voice memos.
    M4a,
    Wav,
}

impl AudioFormat {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"OggS") {
            Some(Self::Ogg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
            Some(Self::Wav)
        } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
            Some(Self::M4a)
        } else if bytes.starts_with(b"ID3") || mp3_frame(bytes, 0).is_some() {
            Some(Self::Mp3)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Ogg => "audio/ogg",
            Self::Mp3 => "audio/mpeg",
            Self::M4a => "audio/mp4",
            Self::Wav => "audio/wav",
        }
    }

    /// The file name transcription APIs are sent (they tell formats by extension).
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Ogg => "voice.ogg",
            Self::Mp3 => "voice.mp3",
            Self::M4a => "voice.m4a",
            Self::Wav => "voice.wav",
        }
    }

    /// How long the audio plays, in milliseconds; `None` when the headers do not
    /// say (a truncated or malformed file).
    pub fn duration_ms(self, bytes: &[u8]) -> Option<u64> {
        match self {
            Self::Ogg => ogg_duration_ms(bytes),
            Self::Mp3 => mp3_duration_ms(bytes),
            Self::M4a => m4a_duration_ms(bytes),
            Self::Wav => wav_duration_ms(bytes),
        }
    }
}

fn u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u32_be(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_be(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn ms(units: u64, per_second: u64) -> Option<u64> {
    if per_second == 0 {
        return None;
    }
    Some(u64::try_from(u128::from(units) * 1_000 / u128::from(per_second)).unwrap_or(u64::MAX))
}

/// OGG: the last page's granule position over the stream's sample clock (48 kHz for
/// Opus, less its pre-skip; the identification header's rate for Vorbis).
fn ogg_duration_ms(bytes: &[u8]) -> Option<u64> {
    // The first page holds the identification header after its segment table.
    let segments = usize::from(*bytes.get(26)?);
    let first_packet = bytes.get(27 + segments..)?;
    let (rate, pre_skip) = if first_packet.starts_with(b"OpusHead") {
        (48_000, u64::from(u16_le(first_packet, 10)?))
    } else if first_packet.starts_with(b"\x01vorbis") {
        (u64::from(u32_le(first_packet, 12)?), 0)
    } else {
        return None;
    };
    let last = bytes.windows(4).rposition(|window| window == b"OggS")?;
    let page = &bytes[last..];
    if *page.get(4)? != 0 {
        return None;
    }
    let granule = u64::from_le_bytes(page.get(6..14)?.try_into().ok()?);
    // -1 marks a page on which no packet ends; a valid last page has a position.
    if granule == u64::MAX {
        return None;
    }
    ms(granule.saturating_sub(pre_skip), rate)
}

/// WAV: the `data` chunk's size over the `fmt ` chunk's byte rate.
fn wav_duration_ms(bytes: &[u8]) -> Option<u64> {
    let mut at = 12;
    let mut byte_rate = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_le(bytes, at + 4)?;
        if id == b"fmt " {
            byte_rate = Some(u32_le(bytes, at + 16)?);
        } else if id == b"data" {
            // A streaming writer may leave the size at its maximum: use what is here.
            let available = (bytes.len() - at - 8) as u64;
            let data = u64::from(size).min(available);
            return ms(data, u64::from(byte_rate?));
        }
        // Chunks are padded to an even size.
        at = at.checked_add(8 + size as usize + (size as usize & 1))?;
    }
    None
}

/// M4A: the movie header's duration over its time scale.
fn m4a_duration_ms(bytes: &[u8]) -> Option<u64> {
    let moov = find_box(bytes, b"moov")?;
    let mvhd = find_box(moov, b"mvhd")?;
    match *mvhd.first()? {
        0 => ms(u64::from(u32_be(mvhd, 16)?), u64::from(u32_be(mvhd, 12)?)),
        1 => ms(u64_be(mvhd, 24)?, u64::from(u32_be(mvhd, 20)?)),
        _ => None,
    }
}

/// The payload of the first box named `name` among the boxes laid out in `bytes`.
fn find_box<'a>(bytes: &'a [u8], name: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u64::from(u32_be(bytes, at)?);
        let (header, size) = match size {
            0 => (8, (bytes.len() - at) as u64),
            1 => (16, u64_be(bytes, at + 8)?),
            size => (8, size),
        };
        let size = usize::try_from(size).ok()?;
        if size < header {
            return None;
        }
        let end = at.checked_add(size)?.min(bytes.len());
        if &bytes[at + 4..at + 8] == name {
            return bytes.get(at + header..end);
        }
        at = at.checked_add(size)?;
    }
    None
}

/// One MPEG audio frame header at `at`: (bit rate in bit/s, sample rate, samples
/// per frame, frame length in bytes, side information length).
struct Mp3Frame {
    bitrate: u32,
    sample_rate: u32,
    samples: u32,
    side_info: usize,
}

fn mp3_frame(bytes: &[u8], at: usize) -> Option<Mp3Frame> {
    let header = u32_be(bytes, at)?;
    if header >> 21 != 0x7ff {
        return None;
    }
    let version = (header >> 19) & 3; // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
    let layer = (header >> 17) & 3; // 1: layer III, 2: II, 3: I
    let bitrate_index = ((header >> 12) & 15) as usize;
    let rate_index = ((header >> 10) & 3) as usize;
    let mono = (header >> 6) & 3 == 3;
    if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let mpeg1 = version == 3;
    const V1_L3: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const V1_L2: [u32; 15] = [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ];
    const V1_L1: [u32; 15] = [
        0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ];
    const V2_L1: [u32; 15] = [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ];
    const V2_L23: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let kbps = match (mpeg1, layer) {
        (true, 1) => V1_L3[bitrate_index],
        (true, 2) => V1_L2[bitrate_index],
        (true, _) => V1_L1[bitrate_index],
        (false, 3) => V2_L1[bitrate_index],
        (false, _) => V2_L23[bitrate_index],
    };
    let base_rate = [44_100, 48_000, 32_000][rate_index];
    let sample_rate = match version {
        3 => base_rate,
        2 => base_rate / 2,
        _ => base_rate / 4,
    };
    let samples = match (layer, mpeg1) {
        (3, _) => 384,
        (1, false) => 576,
        _ => 1_152,
    };
    let side_info = match (mpeg1, mono) {
        (true, false) => 32,
        (true, true) | (false, false) => 17,
        (false, true) => 9,
    };
    Some(Mp3Frame {
        bitrate: kbps * 1_000,
        sample_rate,
        samples,
        side_info,
    })
}

/// MP3: frames counted by a Xing/Info or VBRI header, else (constant bit rate) the
/// stream's size over the first frame's bit rate.
fn mp3_duration_ms(bytes: &[u8]) -> Option<u64> {
    let mut at = 0usize;
    if bytes.starts_with(b"ID3") {
        // A syncsafe size (7 bits a byte) after a 10-byte header, +10 with a footer.
        let size = bytes
            .get(6..10)?
            .iter()
            .fold(0usize, |size, byte| (size << 7) | usize::from(byte & 0x7f));
        let footer = if bytes.get(5)? & 0x10 != 0 { 10 } else { 0 };
        at = 10 + size + footer;
    }
    // Some encoders pad between the tag and the first frame.
    let start = (at..bytes.len().min(at + 4_096)).find(|&i| mp3_frame(bytes, i).is_some())?;
    let frame = mp3_frame(bytes, start)?;
    let xing = start + 4 + frame.side_info;
    if matches!(bytes.get(xing..xing + 4), Some(b"Xing" | b"Info"))
        && u32_be(bytes, xing + 4)? & 1 == 1
    {
        let frames = u64::from(u32_be(bytes, xing + 8)?);
        return ms(
            frames * u64::from(frame.samples),
            u64::from(frame.sample_rate),
        );
    }
    let vbri = start + 4 + 32;
    if bytes.get(vbri..vbri + 4) == Some(b"VBRI") {
        let frames = u64::from(u32_be(bytes, vbri + 14)?);
        return ms(
            frames * u64::from(frame.samples),
            u64::from(frame.sample_rate),
        );
    }
    let stream = (bytes.len() - start) as u64;
    ms(stream * 8, u64::from(frame.bitrate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../interop/fixtures/audio/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    #[test]
    fn real_voice_notes_are_recognised_and_timed() {
        // Made with espeak-ng, sox and opusenc: 1.78 s of speech.
        let wav = fixture("voice-note.wav");
        assert_eq!(AudioFormat::sniff(&wav), Some(AudioFormat::Wav));
        assert_eq!(AudioFormat::Wav.duration_ms(&wav), Some(1_782));
        let ogg = fixture("voice-note.ogg");
        assert_eq!(AudioFormat::sniff(&ogg), Some(AudioFormat::Ogg));
        let ogg_ms = AudioFormat::Ogg.duration_ms(&ogg).unwrap();
        assert!((1_770..=1_800).contains(&ogg_ms), "{ogg_ms}");
    }

    #[test]
    fn m4a_reads_the_movie_header() {
        let mut mvhd = vec![0u8; 4 + 4 + 4]; // version/flags, creation, modification
        mvhd.extend(1_000u32.to_be_bytes()); // time scale
        mvhd.extend(92_500u32.to_be_bytes()); // duration: 92.5 s
        let mvhd = [&((8 + mvhd.len()) as u32).to_be_bytes()[..], b"mvhd", &mvhd].concat();
        let moov = [&((8 + mvhd.len()) as u32).to_be_bytes()[..], b"moov", &mvhd].concat();
        let ftyp = [&20u32.to_be_bytes()[..], b"ftypM4A \0\0\0\0M4A "].concat();
        let file = [ftyp, moov].concat();
        assert_eq!(AudioFormat::sniff(&file), Some(AudioFormat::M4a));
        assert_eq!(AudioFormat::M4a.duration_ms(&file), Some(92_500));
    }

    #[test]
    fn mp3_uses_xing_frames_or_the_bit_rate() {
        // MPEG-1 layer III, 128 kbit/s, 44.1 kHz, stereo.
        let header = [0xff, 0xfb, 0x90, 0x00];
        let mut cbr = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        for _ in 0..100 {
            cbr.extend(header);
            cbr.extend([0u8; 413]);
        }
        assert_eq!(AudioFormat::sniff(&cbr), Some(AudioFormat::Mp3));
        // 100 frames of 417 bytes at 128 kbit/s.
        assert_eq!(AudioFormat::Mp3.duration_ms(&cbr), Some(2_606));
        let mut vbr = header.to_vec();
        vbr.extend([0u8; 32]);
        vbr.extend(b"Xing");
        vbr.extend(1u32.to_be_bytes());
        vbr.extend(3_828u32.to_be_bytes()); // frames: 100 s at 1,152 samples each
        vbr.extend([0u8; 400]);
        assert_eq!(AudioFormat::Mp3.duration_ms(&vbr), Some(99_996));
    }

    #[test]
    fn other_bytes_are_not_audio() {
        for bytes in [
            &b"\xff\xd8\xff\xe0 jpeg"[..],
            b"%PDF-1.7",
            b"\x89PNG\r\n\x1a\n",
            b"hello",
            b"",
        ] {
            assert_eq!(AudioFormat::sniff(bytes), None, "{bytes:?}");
        }
        // Recognised but cut short: no length.
        assert_eq!(AudioFormat::Ogg.duration_ms(b"OggS\0"), None);
        assert_eq!(AudioFormat::Wav.duration_ms(b"RIFF\0\0\0\0WAVE"), None);
    }
}

//! API conformance cases, voice input: a voice note in `run/start` input is
//! transcribed before the run starts, the model reads the transcript, and the
//! transcript's item names the audio; unreadable, over-long or steered voice notes
//! are refused before anything is stored or run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::fixtures::{final_assistant_text, finished_status, items};
use super::{Case, case};
use crate::api_conformance::client::Harness;

/// 1.8 s of speech (espeak-ng, opusenc) tagged `FAKE_TRANSCRIPT=...`, which the
/// fake provider's transcription endpoint answers with.
const VOICE_NOTE: &[u8] = include_bytes!("../../../../interop/fixtures/audio/voice-note.ogg");
const SAID: &str = "turn on the lights in the kitchen";

pub(super) const CASES: [Case; 1] = [case!(
    voice_notes_are_transcribed_before_the_run_starts,
    [
        "blob/put",
        "session/start",
        "run/start",
        "run/steer",
        "session/events/read"
    ]
)];

/// `seconds` of 8-bit mono WAV audio at 10 samples a second (a valid header, and
/// few bytes for a long note).
fn long_wav(seconds: u32) -> Vec<u8> {
    let data = seconds * 10;
    let mut wav = b"RIFF".to_vec();
    wav.extend((36 + data).to_le_bytes());
    wav.extend(b"WAVEfmt ");
    wav.extend(16u32.to_le_bytes());
    wav.extend(1u16.to_le_bytes()); // PCM
    wav.extend(1u16.to_le_bytes()); // mono
    wav.extend(10u32.to_le_bytes()); // sample rate
    wav.extend(10u32.to_le_bytes()); // byte rate
    wav.extend(1u16.to_le_bytes()); // block align
    wav.extend(8u16.to_le_bytes()); // bits per sample
    wav.extend(b"data");
    wav.extend(data.to_le_bytes());
    wav.extend(vec![0x80u8; data as usize]);
    wav
}

pub(super) async fn voice_notes_are_transcribed_before_the_run_starts(
    h: Harness,
) -> anyhow::Result<()> {
    // No script turns: the fake provider echoes the last user text it is sent.
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    a.start_session("s-voice").await;
    let audio = a.put_blob(VOICE_NOTE).await;
    let input = json!([{"type": "media", "blobRef": audio}]);
    let run = a
        .call(
            "run/start",
            json!({"sessionId": "s-voice", "submissionId": "voice-1", "input": input}),
        )
        .await;
    let run_id = run["runId"].as_str().unwrap();
    let events = a.follow("s-voice", run_id).await;
    assert_eq!(finished_status(&events, run_id), "completed");
    // The model was sent the transcript, not the audio.
    assert_eq!(final_assistant_text(&events), format!("echo: {SAID}"));
    let transcribed = events
        .iter()
        .position(|e| e["kind"] == "lightspeed.core.run.input_transcribed")
        .expect("a run.input_transcribed event");
    let started = events
        .iter()
        .position(|e| e["kind"] == "lightspeed.core.run.started")
        .unwrap();
    assert!(transcribed < started, "transcribed before the run started");
    let items = items(&events);
    let transcript = items
        .iter()
        .find(|i| i["type"] == "userMessage")
        .expect("the transcript as a user message");
    assert_eq!(transcript["text"], SAID, "{transcript}");
    assert_eq!(transcript["audioRef"], audio.as_str(), "{transcript}");

    // Refused before anything runs: cut short (no length), over the 600 s limit,
    // and as steer input.
    let refuse = |input: serde_json::Value, submission: &str| json!({"sessionId": "s-voice", "submissionId": submission, "input": input});
    let cut = a.put_blob(&VOICE_NOTE[..60]).await;
    a.refused(
        "run/start",
        refuse(json!([{"type": "media", "blobRef": cut}]), "voice-2"),
        -32602,
        "unreadableAudio",
    )
    .await;
    let long = a.put_blob(&long_wav(601)).await;
    a.refused(
        "run/start",
        refuse(json!([{"type": "media", "blobRef": long}]), "voice-3"),
        -32602,
        "inputTooLarge",
    )
    .await;
    let steer = json!({"sessionId": "s-voice", "runId": run_id,
                       "input": [{"type": "media", "blobRef": audio}]});
    a.refused("run/steer", steer, -32602, "voiceNoteNotAccepted")
        .await;
    Ok(())
}

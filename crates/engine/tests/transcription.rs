#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Voice input through a full-state drive: a run whose input holds a voice note
//! waits, unstarted, for its transcription; the transcript takes the audio's place
//! and names it; a failed or mismatched transcription ends the run unstarted; a
//! result for a cancelled run is stale; replay rebuilds the same state.

use engine::core::command::{CoreCommand, Rejection};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::event::CoreEvent;
use engine::core::policy::ToolPolicy;
use engine::core::run::{EffectError, RunFailure, RunOutcome};
use engine::core::state::SessionState;
use engine::core::transcription::{Transcript, TranscriptionIntent, TranscriptionOutcome};
use engine::drive::{Action, Drive, Resumed};
use engine::{RunId, SubmissionId};

mod common;
use common::*;

fn request_voice(drive: &mut Drive<SessionState>, submission: &str) -> TranscriptionIntent {
    let run = CoreCommand::RequestRun {
        submission_id: SubmissionId::new(submission).unwrap(),
        input: vec![
            ItemSpec::new(ItemKind::UserMessage, blob("listen:"), 2),
            ItemSpec::new(ItemKind::UserAudio, blob("OggS one"), 0),
            ItemSpec::new(ItemKind::UserAudio, blob("OggS two"), 0),
        ],
        overrides: Default::default(),
    };
    drive.admit(run, 2_000).unwrap();
    let (action, events) = settle(drive);
    assert!(
        !events.iter().any(|e| matches!(e, CoreEvent::RunStarted(_))),
        "a run with audio must not start before it is transcribed: {events:?}"
    );
    let Action::TranscribeInput(intent) = action else {
        panic!("expected a transcription, got {action:?}");
    };
    intent
}

fn transcripts(intent: &TranscriptionIntent) -> TranscriptionOutcome {
    TranscriptionOutcome::Transcribed {
        transcripts: intent
            .audio
            .iter()
            .map(|audio| Transcript {
                index: audio.index,
                text_ref: blob(&format!("said {}", audio.index)),
                token_estimate: 3,
            })
            .collect(),
    }
}

#[test]
fn a_voice_note_becomes_a_transcript_that_names_it_before_the_run_starts() {
    let mut drive = open("sess-voice", ToolPolicy::default(), None, Vec::new());
    let intent = request_voice(&mut drive, "voice-1");
    assert_eq!(
        intent
            .audio
            .iter()
            .map(|audio| (audio.index, audio.audio_ref.clone()))
            .collect::<Vec<_>>(),
        [(1, blob("OggS one")), (2, blob("OggS two"))]
    );
    // Level-triggered: asked again until answered.
    assert_eq!(drive.next_action(), Action::TranscribeInput(intent.clone()));
    let resumed = drive.resume_transcription(&intent.run_id, transcripts(&intent), 2_500);
    assert_eq!(resumed, Resumed::Applied);
    let (action, events) = settle(&mut drive);
    assert!(matches!(action, Action::GenerateLlm(_)), "{action:?}");
    let started = events
        .iter()
        .find_map(|e| match e {
            CoreEvent::RunStarted(e) => Some(e.clone()),
            _ => None,
        })
        .expect("the run starts once transcribed");
    let kinds: Vec<_> = started.input.iter().map(|item| item.kind).collect();
    assert_eq!(kinds, [ItemKind::UserMessage; 3]);
    assert_eq!(started.input[1].content_ref, blob("said 1"));
    assert_eq!(started.input[1].source_ref, Some(blob("OggS one")));
    assert_eq!(started.input[2].source_ref, Some(blob("OggS two")));
    assert_eq!(started.input[0].source_ref, None);
    // The transcribed run's state replays from its log alone.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, CoreEvent::RunInputTranscribed(t)
        if t.transcripts.len() == 2))
    );
    // A second answer for the same run is stale: it has started.
    let again = drive.resume_transcription(&intent.run_id, transcripts(&intent), 2_600);
    assert!(matches!(again, Resumed::Stale { .. }), "{again:?}");
}

#[test]
fn a_failed_transcription_ends_the_run_unstarted() {
    let mut drive = open("sess-voice-fail", ToolPolicy::default(), None, Vec::new());
    let intent = request_voice(&mut drive, "voice-2");
    let error = EffectError {
        code: "audio_too_long".into(),
        message: "912 s of audio, over the 600 s limit".into(),
    };
    let resumed = drive.resume_transcription(
        &intent.run_id,
        TranscriptionOutcome::Failed {
            error: error.clone(),
        },
        2_500,
    );
    assert_eq!(resumed, Resumed::Applied);
    let (action, events) = settle(&mut drive);
    assert_eq!(action, Action::Idle);
    assert!(!events.iter().any(|e| matches!(e, CoreEvent::RunStarted(_))));
    let last = drive.state().control.runs.last_finished.clone().unwrap();
    assert_eq!(last.run_id, intent.run_id);
    assert_eq!(
        last.outcome,
        RunOutcome::Failed {
            failure: RunFailure::TranscriptionFailed { error }
        }
    );
}

#[test]
fn transcripts_that_miss_an_audio_item_fail_the_run_as_invalid() {
    let mut drive = open("sess-voice-bad", ToolPolicy::default(), None, Vec::new());
    let intent = request_voice(&mut drive, "voice-3");
    let TranscriptionOutcome::Transcribed { mut transcripts } = transcripts(&intent) else {
        unreachable!()
    };
    transcripts.pop();
    let resumed = drive.resume_transcription(
        &intent.run_id,
        TranscriptionOutcome::Transcribed { transcripts },
        2_500,
    );
    assert!(
        matches!(
            resumed,
            Resumed::Invalid {
                reason: Rejection::TranscriptMismatch(_)
            }
        ),
        "{resumed:?}"
    );
    let (action, _) = settle(&mut drive);
    assert_eq!(action, Action::Idle);
    let last = drive.state().control.runs.last_finished.clone().unwrap();
    assert!(matches!(
        last.outcome,
        RunOutcome::Failed {
            failure: RunFailure::TranscriptionFailed { error }
        } if error.code == EffectError::INVALID_RESULT
    ));
}

#[test]
fn a_cancelled_voice_run_makes_its_transcription_stale() {
    let mut drive = open("sess-voice-cancel", ToolPolicy::default(), None, Vec::new());
    let intent = request_voice(&mut drive, "voice-4");
    drive
        .admit(
            CoreCommand::CancelRun {
                run_id: intent.run_id.clone(),
                reason: None,
            },
            2_100,
        )
        .unwrap();
    assert_eq!(settle(&mut drive).0, Action::Idle);
    let resumed = drive.resume_transcription(&intent.run_id, transcripts(&intent), 2_500);
    assert!(matches!(resumed, Resumed::Stale { .. }), "{resumed:?}");
    let unknown = drive.resume_transcription(&RunId::from_ordinal(9), transcripts(&intent), 2_600);
    assert!(matches!(unknown, Resumed::Stale { .. }));
}

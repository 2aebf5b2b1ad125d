//! Voice input: the audio items of a run's input are transcribed before the run
//! starts.
//!
//! A run whose input holds [`ItemKind::UserAudio`] items waits at the head of the
//! queue until its host has them transcribed: the planner asks for it with a
//! [`TranscriptionIntent`], and the host's answer becomes either a
//! `run.input_transcribed` event, which swaps each audio item for a `user_message`
//! transcript whose `source_ref` names the audio, or the run's end
//! (`transcription_failed`). So a run only ever starts with text, the log says what
//! the model was told the voice note said, and replay needs no transcription
//! service.

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::command::Rejection;
use crate::core::context::{ItemKind, ItemSpec};
use crate::core::control::{ControlState, Lifecycle};
use crate::core::effects::Accepted;
use crate::core::event as ev;
use crate::core::planner::Planned;
use crate::core::run::{EffectError, QueuedRun, RunFailure, RunOutcome, Usage};
use crate::ids::{RunId, SessionId};

/// Transcribe these audio items of queued run `run_id`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptionIntent {
    pub session_id: SessionId,
    pub run_id: RunId,
    pub audio: Vec<AudioInput>,
}

/// One voice note: its position in the run's input and its blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioInput {
    pub index: u32,
    pub audio_ref: BlobRef,
}

/// The text of the voice note at `index` of the run's input, in the CAS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    pub index: u32,
    pub text_ref: BlobRef,
    pub token_estimate: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TranscriptionOutcome {
    /// One transcript per audio item of the intent.
    Transcribed { transcripts: Vec<Transcript> },
    /// The host gave up (after its own retries): the run ends failed, unstarted.
    Failed { error: EffectError },
}

/// The audio items of `run`'s input, in order.
fn audio_of(run: &QueuedRun) -> Vec<AudioInput> {
    run.input
        .iter()
        .zip(0u32..)
        .filter(|(spec, _)| spec.kind == ItemKind::UserAudio)
        .map(|(spec, index)| AudioInput {
            index,
            audio_ref: spec.content_ref.clone(),
        })
        .collect()
}

/// The transcription the next queued run waits for, if it holds audio.
pub(crate) fn pending(control: &ControlState, next: &QueuedRun) -> Option<TranscriptionIntent> {
    let audio = audio_of(next);
    if audio.is_empty() {
        return None;
    }
    Some(TranscriptionIntent {
        session_id: control.session_id.clone()?,
        run_id: next.run_id.clone(),
        audio,
    })
}

/// Checks a transcription result for queued run `run_id` and decides its events.
/// Stale when the run is no longer the next to start (cancelled, or the session
/// closed); invalid (recorded as the run failing) when the transcripts do not
/// answer exactly the audio items.
pub(crate) fn accept(
    control: &ControlState,
    run_id: &RunId,
    outcome: TranscriptionOutcome,
) -> Result<Accepted, Rejection> {
    let stale = || Rejection::StaleResult {
        effect: "transcription",
        detail: format!("run {run_id} is not waiting for a transcription"),
    };
    if control.lifecycle != Lifecycle::Open || control.runs.active.is_some() {
        return Err(stale());
    }
    let next = control
        .runs
        .queue
        .first()
        .filter(|next| next.run_id == *run_id)
        .ok_or_else(stale)?;
    let audio = audio_of(next);
    if audio.is_empty() {
        return Err(stale());
    }
    let checked = match outcome {
        TranscriptionOutcome::Transcribed { transcripts } => check(&audio, transcripts),
        TranscriptionOutcome::Failed { error } => Err((error, None)),
    };
    match checked {
        Ok(transcripts) => Ok(Accepted {
            events: vec![Planned::run(
                run_id,
                ev::RunInputTranscribed {
                    run_id: run_id.clone(),
                    transcripts,
                },
            )],
            invalid: None,
        }),
        Err((error, invalid)) => Ok(Accepted {
            events: vec![Planned::run(
                run_id,
                ev::RunFinished {
                    run_id: run_id.clone(),
                    outcome: RunOutcome::Failed {
                        failure: RunFailure::TranscriptionFailed { error },
                    },
                    usage: Usage::default(),
                    turns: 0,
                },
            )],
            invalid,
        }),
    }
}

type Refused = (EffectError, Option<Rejection>);

/// One transcript per audio item, in the items' order, or why not.
fn check(
    audio: &[AudioInput],
    mut transcripts: Vec<Transcript>,
) -> Result<Vec<ev::TranscribedInput>, Refused> {
    let invalid = |detail: String| {
        let reason = Rejection::TranscriptMismatch(detail);
        let error = EffectError {
            code: EffectError::INVALID_RESULT.to_owned(),
            message: reason.to_string(),
        };
        Err((error, Some(reason)))
    };
    transcripts.sort_by_key(|transcript| transcript.index);
    let indexes: Vec<u32> = transcripts.iter().map(|t| t.index).collect();
    let expected: Vec<u32> = audio.iter().map(|a| a.index).collect();
    if indexes != expected {
        return invalid(format!(
            "transcripts for input items {indexes:?}, expected {expected:?}"
        ));
    }
    let mut items = Vec::with_capacity(audio.len());
    for (transcript, audio) in transcripts.into_iter().zip(audio) {
        let mut item = ItemSpec::new(
            ItemKind::UserMessage,
            transcript.text_ref,
            transcript.token_estimate,
        );
        item.source_ref = Some(audio.audio_ref.clone());
        items.push(ev::TranscribedInput {
            index: transcript.index,
            item,
        });
    }
    Ok(items)
}

/// Applies `run.input_transcribed` to the queued run it names.
pub(crate) fn apply(run: &mut QueuedRun, e: &ev::RunInputTranscribed) -> Result<(), String> {
    for transcribed in &e.transcripts {
        let slot = usize::try_from(transcribed.index)
            .ok()
            .and_then(|index| run.input.get_mut(index))
            .ok_or_else(|| format!("run {} has no input item {}", e.run_id, transcribed.index))?;
        if slot.kind != ItemKind::UserAudio
            || transcribed.item.source_ref.as_ref() != Some(&slot.content_ref)
        {
            return Err(format!(
                "input item {} of run {} is not the transcribed audio",
                transcribed.index, e.run_id
            ));
        }
        *slot = transcribed.item.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(index: u32) -> AudioInput {
        AudioInput {
            index,
            audio_ref: BlobRef::of_bytes(format!("audio {index}").as_bytes()),
        }
    }

    fn transcript(index: u32) -> Transcript {
        Transcript {
            index,
            text_ref: BlobRef::of_bytes(format!("text {index}").as_bytes()),
            token_estimate: 3,
        }
    }

    #[test]
    fn transcripts_answer_every_audio_item_once() {
        let audio = [audio(0), audio(2)];
        let items = check(&audio, vec![transcript(2), transcript(0)]).unwrap();
        assert_eq!(
            items.iter().map(|item| item.index).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(items[1].item.source_ref, Some(audio[1].audio_ref.clone()));
        assert_eq!(items[1].item.kind, ItemKind::UserMessage);
        for wrong in [
            vec![transcript(0)],
            vec![transcript(0), transcript(1)],
            vec![transcript(0), transcript(2), transcript(2)],
        ] {
            let (error, invalid) = check(&audio, wrong).unwrap_err();
            assert_eq!(error.code, EffectError::INVALID_RESULT);
            assert!(invalid.is_some());
        }
    }
}

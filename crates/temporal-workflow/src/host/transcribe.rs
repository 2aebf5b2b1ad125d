//! Voice input in the drive loop: the voice notes of the next queued run are
//! transcribed by an activity before the run starts (`engine::core::transcription`).

use engine::core::transcription::{TranscriptionIntent, TranscriptionOutcome};

use super::*;
use crate::activities::{TranscribeInput, TranscribeInputInput};

impl Host<'_> {
    /// Transcribes the voice notes of the next queued run, beside admissions (a
    /// cancel of that run makes the answer stale and drops the activity).
    pub(super) async fn transcribe(&mut self, intent: TranscriptionIntent) {
        self.settle_in_flight(|in_flight| {
            matches!(in_flight, InFlight::Transcription { run_id, .. } if *run_id == intent.run_id)
        });
        if self.in_flight.is_none() {
            let id = self.activity_id(format!("transcribe/{}", intent.run_id));
            // Provider work like a compaction: its timeout, heartbeat and retries.
            let options = self.settings().compaction_options(id);
            let input = TranscribeInputInput {
                universe_id: self.key.universe_id.clone(),
                intent: intent.clone(),
                attempts_max: self.settings().llm_attempts_max,
            };
            let activity = self.ctx.execute_activity(TranscribeInput, input, options);
            self.in_flight = Some(InFlight::Transcription {
                run_id: intent.run_id.clone(),
                activity: Box::pin(activity),
            });
        }
        let Some(InFlight::Transcription { activity, .. }) = self.in_flight.as_mut() else {
            return;
        };
        let ctx = self.ctx;
        let Some(result) = Self::beside_admissions(ctx, activity).await else {
            return;
        };
        self.in_flight = None;
        let outcome = result.unwrap_or_else(|err| TranscriptionOutcome::Failed {
            error: effect_error("activity_failed", &err),
        });
        let now = now_ms(ctx);
        let resumed = ctx.state_mut(|wf| {
            wf.session
                .drive_mut()
                .map(|drive| drive.resume_transcription(&intent.run_id, outcome, now))
        });
        report(ctx, "transcription", resumed);
    }
}

//! Sub-agents in the drive loop: a child tells its parent that a run ended
//! (`engine::core::lineage`), through an activity that admits the end into the
//! parent's workflow, then records here that it did.

use engine::core::command::CoreCommand;
use engine::drive::ParentNoticeIntent;

use super::*;
use crate::activities::{NotifyParent, NotifyParentInput};

impl Host<'_> {
    /// Nothing else is in flight: the drive asks for this between runs.
    pub(super) async fn notify_parent(&mut self, intent: ParentNoticeIntent) -> WorkflowResult<()> {
        let id = self.activity_id(format!("notify/{}", intent.run_id));
        let run_id = intent.run_id.clone();
        let input = NotifyParentInput {
            key: self.key.clone(),
            intent,
        };
        let options = self.settings().store_options(id);
        let delivered = self
            .ctx
            .execute_activity(NotifyParent, input, options)
            .await?;
        let now = now_ms(self.ctx);
        let command = CoreCommand::ParentNotified { run_id, delivered };
        let admitted = self.ctx.state_mut(|wf| {
            wf.session
                .drive_mut()
                .map(|drive| drive.admit(command, now))
        });
        if let Some(Err(rejection)) = admitted
            && !self.ctx.is_replaying()
        {
            tracing::warn!(%rejection, "recording a delivered run end was refused");
        }
        Ok(())
    }
}

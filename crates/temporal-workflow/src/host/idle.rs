//! The idle side of the drive loop: waiting for admissions and timed holds, the
//! idle timeout, continue-as-new, and closing. Split from `host.rs` so each file
//! stays readable; a child module, so it shares `Host`'s private state.

use super::*;

impl Host<'_> {
    /// Nothing to do: continue-as-new if history is long, else wait for admissions.
    /// A session with nothing to do for the idle timeout completes its workflow
    /// (`Some`): its state is in the store, and the next admission starts a new
    /// workflow run with update-with-start, so idle sessions hold no open workflow.
    pub(super) async fn idle(&mut self) -> WorkflowResult<Option<SessionWorkflowOutcome>> {
        self.settle_in_flight(|_| false);
        let due = self.ctx.continue_as_new_suggested()
            || self.ctx.history_length() >= self.settings().continue_as_new_history_events;
        if due && self.quiet() {
            let mut next = self.input.clone();
            next.chain_index += 1;
            return match self
                .ctx
                .continue_as_new(next, ContinueAsNewOptions::default())
            {
                Ok(never) => match never {},
                Err(termination) => Err(termination),
            };
        }
        // A timed hold (an approval deadline, a deferred result, a wake-up) keeps the
        // workflow open on one timer; nothing else is held while it waits. Sessions
        // without one never get here, so histories recorded before holds existed
        // replay as they were (docs/spec/orchestration.md).
        let deadline = self.ctx.state(|wf| {
            wf.session
                .drive()
                .and_then(|drive| drive.state().next_deadline_ms())
        });
        if let Some(deadline) = deadline {
            self.wait_for_deadline(due, deadline).await?;
            return Ok(None);
        }
        let idle_timeout_ms = self.settings().session_idle_timeout_ms;
        // Histories recorded before the idle timer existed never started one: the
        // patch marker keeps their replay deterministic (docs/spec/workflow.md).
        if idle_timeout_ms == 0 || !self.ctx.patched(IDLE_TIMEOUT_PATCH) {
            self.wait_for_work(due).await?;
            return Ok(None);
        }
        if self.lean {
            return self.idle_lean(due, idle_timeout_ms).await;
        }
        let ctx = self.ctx;
        let timer = ctx.timer(Duration::from_millis(idle_timeout_ms));
        let woken = select! {
            result = Box::pin(self.wait_for_work(due)).fuse() => Some(result),
            _ = timer.fuse() => None,
        };
        match woken {
            Some(result) => result.map(|()| None),
            // An admission that raced the timer is served; otherwise end here.
            None if self.quiet() => {
                let head = ctx.state(|wf| wf.session.committed_head());
                Ok(Some(SessionWorkflowOutcome { head }))
            }
            None => Ok(None),
        }
    }

    /// Waits for work or for `deadline` (workflow time, milliseconds since the
    /// epoch), whichever comes first; at the deadline, settles what is due.
    async fn wait_for_deadline(&mut self, due: bool, deadline: u64) -> WorkflowResult<()> {
        let ctx = self.ctx;
        let now = now_ms(ctx);
        if deadline > now {
            let timer = ctx.timer(Duration::from_millis(deadline - now));
            let woken = select! {
                result = Box::pin(self.wait_for_work(due)).fuse() => Some(result),
                _ = timer.fuse() => None,
            };
            if let Some(result) = woken {
                return result;
            }
        }
        let now = now_ms(ctx);
        let fired = ctx.state_mut(|wf| {
            wf.session.drive_mut().map(|drive| {
                drive.admit(
                    engine::core::command::CoreCommand::FireTimers { now_ms: now },
                    now,
                )
            })
        });
        // `nothingDue`: the deadline came from another clock (an activity's) a little
        // ahead of the workflow's; the next idle wait re-arms for the rest.
        if let Some(Err(rejection)) = fired
            && rejection != engine::core::command::Rejection::NothingDue
            && !ctx.is_replaying()
        {
            tracing::warn!(%rejection, "firing due holds was refused");
        }
        Ok(())
    }

    /// The idle wait of the history budget's shape. A timer started in an earlier idle
    /// period stays pending while the session works, so an ordinary turn starts no
    /// timer; when it fires before this period has lasted the timeout, it is re-armed
    /// for the rest. The session completes once it has been idle for the whole
    /// timeout, as before.
    async fn idle_lean(
        &mut self,
        due: bool,
        idle_timeout_ms: u64,
    ) -> WorkflowResult<Option<SessionWorkflowOutcome>> {
        let ctx = self.ctx;
        let idle_since = now_ms(ctx);
        let deadline = idle_since.saturating_add(idle_timeout_ms);
        loop {
            let mut idle = match self.idle_timer.take() {
                Some(idle) => idle,
                None => IdleTimer {
                    timer: Box::pin(ctx.timer(Duration::from_millis(idle_timeout_ms))),
                },
            };
            let woken = select! {
                result = Box::pin(self.wait_for_work(due)).fuse() => Some(result),
                _ = idle.timer.as_mut().fuse() => None,
            };
            if let Some(result) = woken {
                self.idle_timer = Some(idle);
                return result.map(|()| None);
            }
            let now = now_ms(ctx);
            if now < deadline {
                // An earlier period's timer: wait out the rest of this one.
                self.idle_timer = Some(IdleTimer {
                    timer: Box::pin(ctx.timer(Duration::from_millis(deadline - now))),
                });
                continue;
            }
            // An admission that raced the timer is served; otherwise end here.
            if !self.quiet() {
                return Ok(None);
            }
            let head = ctx.state(|wf| wf.session.committed_head());
            return Ok(Some(SessionWorkflowOutcome { head }));
        }
    }

    /// No command is queued and no admission handler is waiting for its reply.
    fn quiet(&self) -> bool {
        self.ctx
            .state(|wf| !wf.session.has_queued() && wf.session.handlers_waiting() == 0)
    }

    async fn wait_for_work(&self, due: bool) -> WorkflowResult<()> {
        self.ctx
            .wait_condition(|wf| {
                wf.session.has_queued() || (due && wf.session.handlers_waiting() == 0)
            })
            .await?;
        Ok(())
    }

    /// The session is closed: answer the admissions still waiting, then finish.
    pub(super) async fn closed(&mut self) -> WorkflowResult<SessionWorkflowOutcome> {
        self.settle_in_flight(|_| false);
        loop {
            let now = now_ms(self.ctx);
            self.ctx.state_mut(|wf| wf.decide_queued(now));
            self.ctx
                .wait_condition(|wf| wf.session.has_queued() || wf.session.handlers_waiting() == 0)
                .await?;
            if self.ctx.state(|wf| !wf.session.has_queued()) {
                let head = self.ctx.state(|wf| wf.session.committed_head());
                return Ok(SessionWorkflowOutcome { head });
            }
        }
    }
}

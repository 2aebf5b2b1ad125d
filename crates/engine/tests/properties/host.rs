use super::*;

// ---------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------

/// One host input, fed identically to both drives.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Command(CoreCommand),
    Generation {
        run_id: RunId,
        turn: u32,
        outcome: GenerationOutcome,
    },
    Tools {
        run_id: RunId,
        batch: u32,
        results: Vec<ToolResult>,
    },
    Compaction {
        compaction: u32,
        outcome: CompactionOutcome,
    },
    Transcription {
        run_id: RunId,
        outcome: TranscriptionOutcome,
    },
}

/// What a drive did with an input it did not refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fed {
    Admitted(Admitted),
    Applied,
    /// An effect result that answered the outstanding effect but broke a bound: it
    /// was recorded as the effect failing (`invalid_result`), not refused.
    Invalid(Rejection),
}

/// Feeds `input`; `Err` is a refused command or a stale effect result, which must
/// change nothing (property c).
pub(crate) fn feed_drive<S: DriveState>(
    drive: &mut Drive<S>,
    input: Input,
    at_ms: u64,
) -> Result<Fed, Rejection> {
    let resumed = match input {
        Input::Command(command) => return drive.admit(command, at_ms).map(Fed::Admitted),
        Input::Generation {
            run_id,
            turn,
            outcome,
        } => drive.resume_generation(&run_id, turn, outcome, at_ms),
        Input::Tools {
            run_id,
            batch,
            results,
        } => drive.resume_tool_results(&run_id, batch, results, at_ms),
        Input::Compaction {
            compaction,
            outcome,
        } => drive.resume_compaction(compaction, outcome, at_ms),
        Input::Transcription { run_id, outcome } => {
            drive.resume_transcription(&run_id, outcome, at_ms)
        }
    };
    match resumed {
        Resumed::Applied => Ok(Fed::Applied),
        Resumed::Invalid { reason } => Ok(Fed::Invalid(reason)),
        Resumed::Stale { reason } => Err(reason),
    }
}

pub(crate) struct Host<'s> {
    pub(crate) full: Drive<SessionState>,
    pub(crate) control: Drive<ControlState>,
    pub(crate) plan_ahead: bool,
    pub(crate) log: Vec<LogEntry>,
    /// The committed log applied entry by entry as the host commits it (independent
    /// of the drives' own bookkeeping).
    pub(crate) replica: SessionState,
    /// `GenerationRequest::rebuild` at each committed `turn.planned` entry, by seq.
    pub(crate) rebuilt: BTreeMap<u64, Result<GenerationRequest, RebuildError>>,
    pub(crate) clock_ms: u64,
    /// Distinct effects seen so far, for late and duplicated results.
    pub(crate) effects: Vec<Action>,
    /// Run requests sent so far, for exact resubmission.
    pub(crate) run_requests: Vec<CoreCommand>,
    pub(crate) calls_issued: u64,
    pub(crate) stats: &'s RefCell<Stats>,
}

pub(crate) fn run_scenario(scenario: &Scenario, stats: &RefCell<Stats>) {
    let mut host = Host {
        full: Drive::new(SessionState::default()).with_plan_ahead(scenario.plan_ahead),
        control: Drive::new(ControlState::default()).with_plan_ahead(scenario.plan_ahead),
        plan_ahead: scenario.plan_ahead,
        log: Vec::new(),
        replica: SessionState::default(),
        rebuilt: BTreeMap::new(),
        clock_ms: 1_767_225_600_000,
        effects: Vec::new(),
        run_requests: Vec::new(),
        calls_issued: 0,
        stats,
    };
    if let Some((config, instructions)) = &scenario.open {
        host.feed(Input::Command(CoreCommand::OpenSession {
            session_id: session_id(),
            config: config.clone(),
            instructions: instructions.clone(),
            // Sessions opened with instructions are children: each of their run ends
            // is owed to a parent, so the notice path runs under every schedule.
            parent: instructions
                .is_some()
                .then(|| engine::core::lineage::ParentLink {
                    session_id: engine::SessionId::new("parent").unwrap(),
                    depth: 1,
                }),
        }));
    }
    for step in &scenario.steps {
        host.step(step);
        host.check_step();
    }
    // A host's clock reaches every deadline eventually: fire what is still timed.
    if let Some(deadline) = host.full.projected().next_deadline_ms() {
        host.clock_ms = host.clock_ms.max(deadline);
        host.feed(Input::Command(CoreCommand::FireTimers {
            now_ms: host.clock_ms,
        }));
    }
    host.pump();
    host.check_step();
    host.finish(scenario.split);
    stats.borrow_mut().cases += 1;
}

impl Host<'_> {
    pub(crate) fn step(&mut self, step: &Step) {
        match step {
            Step::Admit { command, dt_ms } => {
                self.clock_ms += dt_ms;
                let command = self.command(command);
                self.feed(Input::Command(command));
            }
            Step::InFlight { command, dt_ms } => {
                self.pump();
                self.clock_ms += dt_ms;
                let command = self.command(command);
                self.feed(Input::Command(command));
            }
            Step::Resolve { outcome, dt_ms } => {
                let action = self.pump();
                self.clock_ms += dt_ms;
                if let Some(input) = self.resolution(&action, outcome) {
                    self.feed(input);
                }
            }
            Step::ResolveStale {
                pick,
                outcome,
                dt_ms,
            } => {
                if self.effects.is_empty() {
                    return;
                }
                let action = self.effects[usize::from(*pick) % self.effects.len()].clone();
                self.clock_ms += dt_ms;
                if let Some(input) = self.resolution(&action, outcome) {
                    self.feed(input);
                }
            }
            Step::Pump => {
                self.pump();
            }
            Step::Crash {
                commit_first,
                checkpoint_at,
            } => self.crash(*commit_first, *checkpoint_at),
            Step::LostAck => self.lost_ack(),
        }
    }

    /// Feeds `input` to both drives; checks (c) and (d).
    pub(crate) fn feed(&mut self, input: Input) {
        let full_before = (self.full.projected().clone(), self.full.state().clone());
        let control_before = (
            self.control.projected().clone(),
            self.control.state().clone(),
        );
        let staged_before = self.full.has_staged();
        let full = feed_drive(&mut self.full, input.clone(), self.clock_ms);
        let control = feed_drive(&mut self.control, input.clone(), self.clock_ms);
        assert_eq!(
            full, control,
            "(d) drives answered differently to {input:?}"
        );
        let rejection = match full {
            Ok(Fed::Invalid(reason)) => {
                self.stats.borrow_mut().invalid(&reason);
                return;
            }
            Ok(Fed::Admitted(_) | Fed::Applied) => {
                if let Input::Command(command @ CoreCommand::RequestRun { .. }) = input {
                    self.run_requests.push(command);
                }
                return;
            }
            Err(rejection) => rejection,
        };
        self.stats.borrow_mut().rejected(&rejection);
        let what = format!("(c) rejected {input:?} ({rejection})");
        assert_eq!(self.full.has_staged(), staged_before, "{what}: staged");
        assert_same_bytes(
            &self.full.projected().to_canonical_bytes(),
            &full_before.0.to_canonical_bytes(),
            &format!("{what}: full drive projection"),
        );
        assert_same_bytes(
            &self.full.state().to_canonical_bytes(),
            &full_before.1.to_canonical_bytes(),
            &format!("{what}: full drive committed state"),
        );
        assert_same_bytes(
            &self.control.projected().to_canonical_bytes(),
            &control_before.0.to_canonical_bytes(),
            &format!("{what}: control drive projection"),
        );
        assert_same_bytes(
            &self.control.state().to_canonical_bytes(),
            &control_before.1.to_canonical_bytes(),
            &format!("{what}: control drive committed state"),
        );
    }

    /// The next action of both drives, which must agree (d). Checks (e).
    pub(crate) fn next_action(&mut self) -> Action {
        let action = self.full.next_action();
        let control = self.control.next_action();
        assert_eq!(action, control, "(d) drives chose different actions");
        if let Action::GenerateLlm(intent) = &action {
            self.check_generation(intent);
        }
        action
    }

    /// Drives to the next effect, committing appends on the way.
    pub(crate) fn pump(&mut self) -> Action {
        for _ in 0..PUMP_ROUNDS_MAX {
            match self.next_action() {
                Action::AppendEvents {
                    expected_head,
                    entries,
                } => {
                    self.commit(expected_head, &entries);
                    self.resume_appended();
                }
                action => {
                    if matches!(
                        action,
                        Action::GenerateLlm(_)
                            | Action::InvokeTools(_)
                            | Action::CompactContext(_)
                            | Action::NotifyParent(_)
                            | Action::TranscribeInput(_)
                    ) && !self.effects.contains(&action)
                    {
                        self.effects.push(action.clone());
                    }
                    return action;
                }
            }
        }
        panic!("the drive kept appending for {PUMP_ROUNDS_MAX} rounds without an effect");
    }

    pub(crate) fn resume_appended(&mut self) {
        self.full.resume_appended().unwrap();
        self.control.resume_appended().unwrap();
    }

    /// The store: append iff the head matches; a retried append of the very same
    /// entries is recognised as already committed. Entries go through their canonical
    /// bytes, as in a real store.
    pub(crate) fn commit(&mut self, expected_head: u64, entries: &[LogEntry]) {
        assert!(!entries.is_empty(), "empty append");
        let head = self.log.len() as u64;
        if head > expected_head {
            let start = usize::try_from(expected_head).unwrap();
            assert_eq!(
                self.log.get(start..start + entries.len()),
                Some(entries),
                "a retried append must repeat the committed entries"
            );
            self.stats.borrow_mut().retried_appends += 1;
            return;
        }
        assert_eq!(head, expected_head, "append at a stale head");
        for (offset, entry) in entries.iter().enumerate() {
            assert_eq!(entry.seq, head + 1 + offset as u64, "entries are numbered");
            let stored = LogEntry::from_canonical_bytes(&entry.to_canonical_bytes()).unwrap();
            assert_eq!(&stored, entry, "entry changed in a canonical round trip");
            let previous_ms = self.log.last().map_or(0, |last| last.observed_at_ms);
            assert!(
                (previous_ms..=self.clock_ms).contains(&stored.observed_at_ms),
                "entry time {} outside [{previous_ms}, {}]",
                stored.observed_at_ms,
                self.clock_ms
            );
            self.replica.apply(&stored).unwrap();
            let event = CoreEvent::decode(&stored.event).unwrap();
            if let CoreEvent::TurnPlanned(_) = event {
                let rebuilt = GenerationRequest::rebuild(&self.replica);
                assert!(
                    rebuilt.is_ok(),
                    "(e) turn planned at {} does not rebuild: {rebuilt:?}",
                    stored.seq
                );
                self.rebuilt.insert(stored.seq, rebuilt);
            }
            self.stats.borrow_mut().committed(&event);
            self.log.push(stored);
        }
    }

    /// (e) The intent names a committed `turn.planned` entry whose state rebuilds a
    /// request with the intent's fingerprint.
    pub(crate) fn check_generation(&mut self, intent: &GenerationIntent) {
        let rebuilt = self
            .rebuilt
            .get(&intent.planned_at)
            .unwrap_or_else(|| panic!("(e) {intent:?} names no committed turn.planned entry"));
        let request = rebuilt.as_ref().unwrap();
        assert_eq!(request.fingerprint(), intent.fingerprint, "(e) fingerprint");
        assert_eq!(
            (&request.session_id, &request.run_id, request.turn),
            (&intent.session_id, &intent.run_id, intent.turn),
            "(e) request identity"
        );
        self.stats.borrow_mut().generations_checked += 1;
    }

    pub(crate) fn lost_ack(&mut self) {
        if !self.full.has_staged() {
            return;
        }
        let first = self.next_action();
        let Action::AppendEvents {
            expected_head,
            entries,
        } = &first
        else {
            panic!("staged entries must be appended first, got {first:?}");
        };
        self.commit(*expected_head, entries);
        // The acknowledgement is lost; the host asks again and retries the same append.
        let retry = self.next_action();
        assert_eq!(retry, first, "a retried append must be the same action");
        self.commit(*expected_head, entries);
        self.resume_appended();
    }

    pub(crate) fn crash(&mut self, commit_first: bool, checkpoint_at: Option<u16>) {
        // Staged entries are always appended before anything else is planned.
        if commit_first
            && self.full.has_staged()
            && let Action::AppendEvents {
                expected_head,
                entries,
            } = self.next_action()
        {
            self.commit(expected_head, &entries);
        }
        let state = match checkpoint_at {
            Some(at) => {
                let split = usize::from(at) % (self.log.len() + 1);
                self.stats.borrow_mut().checkpoint_restores += 1;
                restore(&self.log, split)
            }
            None => SessionState::replay(&self.log).unwrap(),
        };
        assert_same_bytes(
            &state.to_canonical_bytes(),
            &self.replica.to_canonical_bytes(),
            "(a)/(b) state rebuilt after a crash",
        );
        // Bytes cannot see a field that is never serialised; compare values too.
        assert!(
            state == self.replica,
            "(a)/(b) state rebuilt after a crash differs in value"
        );
        self.full = Drive::new(state).with_plan_ahead(self.plan_ahead);
        self.control = Drive::new(replay_control(&self.log)).with_plan_ahead(self.plan_ahead);
        self.stats.borrow_mut().crashes += 1;
    }

    pub(crate) fn check_step(&self) {
        assert_eq!(self.full.state().head(), self.log.len() as u64);
        assert!(
            self.full.state().control == *self.control.state(),
            "(d) committed control states differ"
        );
        assert!(
            self.full.projected() == self.control.projected(),
            "(d) projected control states differ"
        );
        assert!(
            self.replica == *self.full.state(),
            "(a) driven state differs from the committed log applied entry by entry"
        );
        // (g) Event kinds alone count the runs in flight, as stores keep them.
        let runs = &self.control.state().runs;
        let in_flight: i64 = self
            .log
            .iter()
            .map(|entry| runs_in_flight_delta(&entry.event.kind))
            .sum();
        assert_eq!(
            in_flight,
            (runs.queue.len() + usize::from(runs.active.is_some())) as i64,
            "(g) runs in flight by event kind"
        );
        // (g) ... and the wake-ups that can still fire, as stores keep them too.
        let control = self.control.state();
        let wake_ups = self.log.iter().fold(0, |pending, entry| {
            let mut moved = WakeUpsMove::default();
            moved.record(&entry.event.kind);
            moved.apply(pending)
        });
        let can_fire = if control.lifecycle == Lifecycle::Open {
            control.wake_ups.len()
        } else {
            0
        };
        assert_eq!(
            wake_ups, can_fire as i64,
            "(g) wake-ups pending by event kind"
        );
        // (i) No run starts while the queue is held.
        let mut paused = false;
        for entry in &self.log {
            match CoreEvent::decode(&entry.event) {
                Ok(CoreEvent::DispatchChanged(changed)) => paused = changed.paused,
                Ok(CoreEvent::RunStarted(started)) => assert!(
                    !paused,
                    "(i) run {} started at {} while dispatch was paused",
                    started.run_id, entry.seq
                ),
                _ => {}
            }
        }
        assert_eq!(
            paused,
            self.control.state().dispatch_paused,
            "(i) pause flag"
        );
        let control_bytes = self.control.state().to_canonical_bytes().len();
        assert!(
            control_bytes < CONTROL_STATE_BYTES_MAX,
            "(f) control state is {control_bytes} bytes"
        );
        let mut stats = self.stats.borrow_mut();
        stats.control_bytes_max = stats.control_bytes_max.max(control_bytes);
    }

    pub(crate) fn finish(&self, split: u16) {
        // (a) A fresh replay of the committed log gives the driven state.
        let replayed = SessionState::replay(&self.log).unwrap();
        let bytes = replayed.to_canonical_bytes();
        assert_same_bytes(
            &bytes,
            &self.full.state().to_canonical_bytes(),
            "(a) full replay vs driven state",
        );
        // (d) The control-only drive holds exactly the full state's control part.
        let control = replay_control(&self.log).to_canonical_bytes();
        assert_same_bytes(
            &control,
            &replayed.control.to_canonical_bytes(),
            "(d) control replay",
        );
        assert_same_bytes(
            &control,
            &self.control.state().to_canonical_bytes(),
            "(d) control drive",
        );
        // (b) Checkpoint + tail equals the full replay.
        let split = usize::from(split) % (self.log.len() + 1);
        let restored = restore(&self.log, split);
        let what = format!("(b) checkpoint at {split} of {} + tail", self.log.len());
        assert_same_bytes(&restored.to_canonical_bytes(), &bytes, &what);
        assert!(restored == replayed, "{what}: differs in value");
        // (h) A fork at the same entry.
        super::fork::check_fork(&self.log, split, self.stats);
        // (e) Once per case, from a fresh replay rather than the incremental replica.
        if let Some((&planned_at, rebuilt)) = self.rebuilt.iter().next_back() {
            let state = SessionState::replay(&self.log[..planned_at as usize]).unwrap();
            assert_eq!(
                &GenerationRequest::rebuild(&state),
                rebuilt,
                "(e) fresh rebuild"
            );
        }
    }

    // ----- turning generated selectors into concrete inputs -----

    pub(crate) fn resolution(&mut self, action: &Action, outcome: &Outcome) -> Option<Input> {
        match action {
            Action::GenerateLlm(intent) => Some(self.generation(intent, outcome)),
            Action::InvokeTools(intent) => Some(tool_results(intent, outcome, self.clock_ms)),
            Action::CompactContext(intent) => Some(compaction(intent, outcome)),
            Action::NotifyParent(intent) => Some(Input::Command(CoreCommand::ParentNotified {
                run_id: intent.run_id.clone(),
                delivered: outcome.shape != 4,
            })),
            Action::TranscribeInput(intent) => Some(transcription(intent, outcome)),
            Action::AppendEvents { .. } | Action::Idle | Action::Closed => None,
        }
    }

    pub(crate) fn generation(&mut self, intent: &GenerationIntent, outcome: &Outcome) -> Input {
        let turn = match outcome.flaw {
            Flaw::Stale => intent.turn + 1,
            _ => intent.turn,
        };
        let generated = match outcome.shape {
            4 => GenerationOutcome::Failed {
                error: effect_error(outcome),
            },
            shape => {
                let mut items = outcome.items.clone();
                let mut tool_calls = Vec::new();
                let count = if shape >= 2 { 1 + outcome.calls % 3 } else { 0 };
                for _ in 0..count {
                    self.calls_issued += 1;
                    let n = self.calls_issued;
                    let call_id = ToolCallId::new(format!("call_{n}")).unwrap();
                    let arguments_ref = BlobRef::of_bytes(format!("{{\"n\":{n}}}").as_bytes());
                    let mut item =
                        ItemSpec::new(ItemKind::ToolCall, arguments_ref.clone(), outcome.tokens);
                    item.call_id = Some(call_id.clone());
                    items.push(item);
                    tool_calls.push(ToolCallRequest {
                        call_id,
                        name: TOOL_NAMES[(n % 4) as usize].to_owned(),
                        arguments_ref,
                    });
                }
                if outcome.flaw == Flaw::Duplicate
                    && let Some(first) = tool_calls.first().cloned()
                {
                    tool_calls.push(first);
                }
                GenerationOutcome::Completed(GenerationResult {
                    usage: Usage {
                        input_tokens: 1_000,
                        output_tokens: outcome.output_tokens,
                        cached_input_tokens: 512,
                        reasoning_tokens: outcome.output_tokens / 2,
                        // Priced as a host would, so cost budgets trip: 10
                        // nano-USD an output token, some generations unpriced.
                        cost_nanos: outcome.output_tokens * 10,
                        unpriced_turns: u64::from(outcome.output_tokens.is_multiple_of(7)),
                        ..Usage::default()
                    },
                    response_id: Some(match outcome.flaw {
                        Flaw::LongText => "r".repeat(1_025),
                        _ => format!("resp_{}", self.calls_issued),
                    }),
                    finish_reason: Some(if tool_calls.is_empty() {
                        FinishReason::Stop
                    } else {
                        FinishReason::ToolCalls
                    }),
                    context_tokens: Some(1_000),
                    request_ref: None,
                    items,
                    tool_calls,
                    context_refresh: refresh(outcome),
                })
            }
        };
        Input::Generation {
            run_id: intent.run_id.clone(),
            turn,
            outcome: generated,
        }
    }
}

/// State from a checkpoint taken after `split` entries, plus the rest of the log.
pub(crate) fn restore(log: &[LogEntry], split: usize) -> SessionState {
    let checkpoint = SessionState::replay(&log[..split]).unwrap().checkpoint();
    assert_eq!(checkpoint.seq, split as u64);
    let mut state = SessionState::from_checkpoint(&checkpoint).unwrap();
    // (b) The control part alone, decoded without building the item list, is the
    // same control state.
    let control = ready(
        <ControlState as engine::rehydrate::Rehydratable>::from_checkpoint(
            &checkpoint,
            &engine::memory::MemoryStore::default(),
        ),
    )
    .unwrap();
    assert!(
        control == state.control,
        "(b) control-only checkpoint decode"
    );
    // (b) The chunked checkpoint (items in the CAS) restores the same state.
    let store = engine::memory::MemoryStore::default();
    let session = session_id();
    ready(engine::rehydrate::write_checkpoint(
        &store, &session, &state,
    ))
    .unwrap();
    let chunked = ready(engine::store::CheckpointStore::latest_checkpoint(
        &store, &session,
    ))
    .unwrap()
    .unwrap();
    let from_chunks: SessionState = ready(engine::rehydrate::state_at(
        &store,
        &session,
        checkpoint.seq,
    ))
    .unwrap();
    assert!(from_chunks == state, "(b) chunked checkpoint round trip");
    let control =
        ready(<ControlState as engine::rehydrate::Rehydratable>::from_checkpoint(&chunked, &store))
            .unwrap();
    assert!(
        control == state.control,
        "(b) control of a chunked checkpoint"
    );
    for entry in &log[split..] {
        state.apply(entry).unwrap();
    }
    state
}

pub(crate) fn replay_control(log: &[LogEntry]) -> ControlState {
    let mut control = ControlState::default();
    for entry in log {
        control.apply(entry).unwrap();
    }
    control
}

/// Byte equality with a readable failure: the first difference in context.
pub(crate) fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let window = |bytes: &[u8]| {
        let start = at.saturating_sub(120);
        String::from_utf8_lossy(&bytes[start..(at + 120).min(bytes.len())]).into_owned()
    };
    panic!(
        "{what}: bytes differ at offset {at} ({} vs {} bytes)\n  actual:   …{}…\n  expected: …{}…",
        actual.len(),
        expected.len(),
        window(actual),
        window(expected)
    );
}

/// Runs a future of the in-memory store, which never waits, to completion.
pub(crate) fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

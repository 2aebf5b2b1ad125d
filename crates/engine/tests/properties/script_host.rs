use super::*;

// ---------------------------------------------------------------------------------
// A scripted host for the long-session tests
// ---------------------------------------------------------------------------------

pub(crate) struct ScriptHost<S> {
    pub(crate) drive: Drive<S>,
    pub(crate) head: u64,
    pub(crate) clock_ms: u64,
    pub(crate) calls: u64,
}

impl<S: DriveState + Default> ScriptHost<S> {
    pub(crate) fn open(config: SessionConfig) -> Self {
        let mut host = Self {
            drive: Drive::new(S::default()),
            head: 0,
            clock_ms: 1_767_225_600_000,
            calls: 0,
        };
        let instructions = ItemSpec::new(
            ItemKind::Instructions,
            BlobRef::of_bytes(b"You are a careful coding agent."),
            900,
        );
        host.admit(CoreCommand::OpenSession {
            session_id: session_id(),
            config,
            instructions: Some(instructions),
            parent: Default::default(),
        });
        host
    }

    pub(crate) fn tick(&mut self) -> u64 {
        self.clock_ms += 250;
        self.clock_ms
    }

    pub(crate) fn admit(&mut self, command: CoreCommand) {
        let at = self.tick();
        self.drive.admit(command, at).unwrap();
    }

    pub(crate) fn request_run(&mut self, submission: &str) {
        let input = ItemSpec::new(
            ItemKind::UserMessage,
            BlobRef::of_bytes(submission.as_bytes()),
            40,
        );
        self.admit(CoreCommand::RequestRun {
            submission_id: SubmissionId::new(submission).unwrap(),
            input: vec![input],
            overrides: RunOverrides::default(),
        });
    }

    /// Commits appends until the drive asks for an effect.
    pub(crate) fn settle(&mut self) -> Action {
        loop {
            match self.drive.next_action() {
                Action::AppendEvents {
                    expected_head,
                    entries,
                } => {
                    assert_eq!(expected_head, self.head);
                    self.head += entries.len() as u64;
                    self.drive.resume_appended().unwrap();
                }
                action => return action,
            }
        }
    }

    /// Answers the pending generation with `tool_calls` calls and runs them.
    pub(crate) fn answer(&mut self, tool_calls: u64) {
        let Action::GenerateLlm(intent) = self.settle() else {
            panic!("expected a generation");
        };
        let mut items = vec![ItemSpec::new(
            ItemKind::AssistantMessage,
            BlobRef::of_bytes(format!("answer {}", self.calls).as_bytes()),
            120,
        )];
        let calls: Vec<_> = (0..tool_calls)
            .map(|_| {
                self.calls += 1;
                let call_id = ToolCallId::new(format!("call_{}", self.calls)).unwrap();
                let arguments_ref =
                    BlobRef::of_bytes(format!("{{\"n\":{}}}", self.calls).as_bytes());
                let mut item = ItemSpec::new(ItemKind::ToolCall, arguments_ref.clone(), 30);
                item.call_id = Some(call_id.clone());
                items.push(item);
                ToolCallRequest {
                    call_id,
                    name: "read_file".into(),
                    arguments_ref,
                }
            })
            .collect();
        let outcome = GenerationOutcome::Completed(GenerationResult {
            usage: Usage {
                input_tokens: 2_000,
                output_tokens: 150,
                cached_input_tokens: 1_500,
                reasoning_tokens: 40,
                ..Usage::default()
            },
            response_id: Some(format!("resp_{}", self.calls)),
            items,
            tool_calls: calls.clone(),
            finish_reason: None,
            context_tokens: None,
            request_ref: None,
            context_refresh: Default::default(),
        });
        let at = self.tick();
        assert_eq!(
            self.drive
                .resume_generation(&intent.run_id, intent.turn, outcome, at),
            Resumed::Applied
        );
        if calls.is_empty() {
            return;
        }
        let Action::InvokeTools(batch) = self.settle() else {
            panic!("expected a tool batch");
        };
        let results = batch
            .calls
            .iter()
            .map(|call| ToolResult {
                call_id: call.call_id.clone(),
                status: ToolStatus::Ok,
                output_ref: BlobRef::of_bytes(call.call_id.as_str().as_bytes()),
                token_estimate: 300,
                later: None,
                child: Default::default(),
            })
            .collect();
        let at = self.tick();
        assert_eq!(
            self.drive
                .resume_tool_results(&batch.run_id, batch.batch, results, at),
            Resumed::Applied
        );
    }
}

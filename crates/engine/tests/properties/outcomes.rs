//! The effect results the host hands the drive, shaped by a generated [`Outcome`]:
//! tool batches, compactions, effect errors and the context refreshes generations
//! carry (flaws included: stale numbers, bogus or duplicate calls, long text).

use super::*;

/// A context refresh some generations carry: a sourced catalog whose content
/// follows the outcome (so it is sometimes unchanged), and sometimes a removal.
pub(crate) fn refresh(outcome: &Outcome) -> ContextRefresh {
    let mut refresh = ContextRefresh::default();
    if outcome.mask.is_multiple_of(4) {
        refresh.upserts.push(SourcedItem {
            key: format!("source:catalog:{}", outcome.errors % 2),
            spec: ItemSpec::new(
                ItemKind::Catalog,
                BlobRef::of_bytes(format!("skills {}", outcome.tokens % 3).as_bytes()),
                outcome.tokens % 3 + 1,
            ),
        });
    }
    if outcome.mask % 8 == 1 {
        refresh
            .removed
            .push(format!("source:catalog:{}", outcome.errors % 2));
    }
    refresh
}

pub(crate) fn tool_results(intent: &ToolBatchIntent, outcome: &Outcome, now_ms: u64) -> Input {
    let mut results: Vec<ToolResult> = intent
        .calls
        .iter()
        .enumerate()
        .filter(|(i, _)| outcome.mask & (1 << (i % 8)) != 0)
        .map(|(i, call)| ToolResult {
            call_id: call.call_id.clone(),
            status: if outcome.errors & (1 << (i % 8)) != 0 {
                ToolStatus::Error
            } else {
                ToolStatus::Ok
            },
            output_ref: BlobRef::of_bytes(format!("output of {}", call.call_id).as_bytes()),
            token_estimate: outcome.tokens,
            // Only the first call of a batch finishes later: enough to cover holds.
            later: match (i, outcome.later) {
                (0, 4) => Some(Later::At {
                    at_ms: now_ms + outcome.output_tokens * 100,
                }),
                (0, 5) => Some(Later::WakeUp {
                    at_ms: now_ms + outcome.output_tokens,
                    // Mostly a note that is surely valid; else whatever was
                    // generated (often refused).
                    input: if outcome.errors % 4 != 3 {
                        vec![ItemSpec::new(
                            ItemKind::UserMessage,
                            BlobRef::of_bytes(b"wake up"),
                            2,
                        )]
                    } else {
                        outcome.items.clone()
                    },
                }),
                (0, 6) => Some(Later::Children {
                    waits: (0..1 + outcome.calls % 3)
                        .map(|n| engine::core::lineage::ChildWait {
                            session_id: child_id(n),
                            run_id: RunId::from_ordinal(1 + u64::from(outcome.errors % 3)),
                        })
                        .collect(),
                    any: outcome.errors.is_multiple_of(2),
                    until_ms: outcome
                        .mask
                        .is_multiple_of(2)
                        .then_some(now_ms + outcome.output_tokens * 80),
                }),
                _ => None,
            },
            // Calls of some batches start runs on children (agent_spawn, agent_send).
            child: (outcome.later == 7).then(|| engine::core::lineage::ChildStarted {
                session_id: child_id(i as u8),
                run_id: RunId::from_ordinal(1 + u64::from(outcome.tokens as u8 % 3)),
                budget_nanos: Default::default(),
            }),
        })
        .collect();
    let mut batch = intent.batch;
    match outcome.flaw {
        Flaw::Stale => batch += 1,
        Flaw::BogusCall => results.insert(
            0,
            ToolResult {
                call_id: ToolCallId::new("call_bogus").unwrap(),
                status: ToolStatus::Ok,
                output_ref: BlobRef::of_bytes(b"?"),
                token_estimate: 1,
                later: None,
                child: Default::default(),
            },
        ),
        Flaw::Duplicate => {
            if let Some(first) = results.first().cloned() {
                results.push(first);
            }
        }
        Flaw::None | Flaw::LongText => {}
    }
    Input::Tools {
        run_id: intent.run_id.clone(),
        batch,
        results,
    }
}

/// One of the three children generated sessions spawn (a fourth id is never spawned).
pub(crate) fn child_id(n: u8) -> engine::SessionId {
    engine::SessionId::new(format!("child-{}", n % 4)).unwrap()
}

pub(crate) fn compaction(intent: &CompactionIntent, outcome: &Outcome) -> Input {
    let compaction = match outcome.flaw {
        Flaw::Stale => intent.compaction + 1,
        _ => intent.compaction,
    };
    let outcome = if outcome.shape % 3 == 2 {
        CompactionOutcome::Failed {
            error: effect_error(outcome),
        }
    } else {
        let summary = outcome
            .items
            .iter()
            .map(|item| ItemSpec::new(ItemKind::Summary, item.content_ref.clone(), outcome.tokens))
            .collect();
        CompactionOutcome::Compacted { summary }
    };
    Input::Compaction {
        compaction,
        outcome,
    }
}

/// A transcription answer: every audio item transcribed, a failure (shape 4), a
/// transcript missing or twice (`Duplicate`), or for another run (`Stale`).
pub(crate) fn transcription(intent: &TranscriptionIntent, outcome: &Outcome) -> Input {
    let run_id = match outcome.flaw {
        Flaw::Stale => RunId::from_ordinal(u64::from(outcome.calls) + 1_000),
        _ => intent.run_id.clone(),
    };
    let outcome = if outcome.shape == 4 {
        TranscriptionOutcome::Failed {
            error: effect_error(outcome),
        }
    } else {
        let mut transcripts: Vec<Transcript> = intent
            .audio
            .iter()
            .map(|audio| Transcript {
                index: audio.index,
                text_ref: BlobRef::of_bytes(format!("said {}", audio.index).as_bytes()),
                token_estimate: outcome.tokens,
            })
            .collect();
        if outcome.flaw == Flaw::Duplicate {
            match outcome.calls % 2 {
                0 => drop(transcripts.pop()),
                _ => transcripts.extend(transcripts.first().cloned()),
            }
        }
        TranscriptionOutcome::Transcribed { transcripts }
    };
    Input::Transcription { run_id, outcome }
}

pub(crate) fn effect_error(outcome: &Outcome) -> EffectError {
    EffectError {
        code: "server_error".into(),
        message: match outcome.flaw {
            Flaw::LongText => "e".repeat(9_000),
            _ => "the provider returned 500 three times".into(),
        },
    }
}

/// Some user messages of run input as voice notes instead, chosen by their content
/// (not by the generator, whose random stream stays as the coverage guard knows
/// it): the run waits for a transcription before it starts.
pub(crate) fn with_voice_notes(input: &[ItemSpec]) -> Vec<ItemSpec> {
    input
        .iter()
        .map(|item| {
            let voice = item.kind == ItemKind::UserMessage
                && item
                    .content_ref
                    .as_str()
                    .as_bytes()
                    .last()
                    .is_some_and(|b| b % 4 == 0);
            match voice {
                true => ItemSpec::new(ItemKind::UserAudio, item.content_ref.clone(), 0),
                false => item.clone(),
            }
        })
        .collect()
}

//! Every visible state of the TUI, drawn through ratatui's `TestBackend` and kept
//! as `insta` snapshots (`tests/all/snapshots/`). The app is fed the same
//! notifications and keys a live session would give it.

use api::types::events::{
    DeltaKind, DeltaView, EventView, HoldState, HoldView, SessionNotification,
};
use api::types::items::{ItemView, ToolResultView};
use api::types::run::{RunAccepted, RunFailureView, RunStatus, RunView};
use api::types::session::{
    CompactionPolicy, FilesystemMode, ModelRouteInput, ReasoningEffort, RunLimitsView,
    SessionConfigView, SessionStatus, SessionView, ToolChoiceInput, UsageView,
};
use cli::client::{Connection, FollowUpdate, Transport, kinds};
use cli::tui::{App, Call, RunState, UiAction, UiActionResult, draw};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SESSION: &str = "session_demo";
const RUN: &str = "run_1";

fn session_view() -> SessionView {
    SessionView {
        session_id: SESSION.into(),
        status: SessionStatus::Idle,
        revision: 0,
        config: SessionConfigView {
            model: ModelRouteInput {
                provider_id: "fake".into(),
                api_kind: "openai:responses".into(),
                model: "fake-model".into(),
            },
            max_output_tokens: 8_192,
            tool_choice: ToolChoiceInput::Auto,
            provider_params: Default::default(),
            compaction: CompactionPolicy::Auto,
            compaction_threshold_tokens: 150_000,
            run_defaults: RunLimitsView {
                max_turns: 50,
                max_tool_rounds: 50,
                max_output_tokens: 200_000,
                max_cost_usd: None,
            },
            filesystem: FilesystemMode::None,
            timers: false,
            tool_policy: Default::default(),
            agents: Default::default(),
            budget: Default::default(),
        },
        active_run: None,
        queued_run_ids: Vec::new(),
        last_run: None,
        usage: UsageView::default(),
        context_tokens_estimate: 0,
        forked_from: None,
        event_cursor: 1,
        updated_at_ms: 0,
        wake_ups: Vec::new(),
        children: Default::default(),
        dispatch_paused: false,
        parent: Default::default(),
    }
}

fn app() -> App {
    let mut app = App::new(&session_view(), Some(ReasoningEffort::Low), None);
    app.on_follow(FollowUpdate::Connection(Connection::Live {
        transport: Transport::WebSocket,
    }));
    app
}

fn usage(input: u64, output: u64) -> UsageView {
    UsageView {
        input_tokens: input,
        output_tokens: output,
        ..UsageView::default()
    }
}

fn run_view(status: RunStatus, turns: u32, usage: UsageView) -> RunView {
    RunView {
        run_id: RUN.into(),
        status,
        failure: None,
        turns,
        usage,
        items: Vec::new(),
        waiting: Vec::new(),
    }
}

fn event(app: &mut App, cursor: u64, kind: &str, run: Option<RunView>, items: Vec<ItemView>) {
    let event = EventView {
        cursor,
        kind: kind.into(),
        at_ms: 0,
        run_id: Some(RUN.into()),
        run,
        items,
        finish_reason: None,
        context_tokens: None,
        hold: None,
        wake_up: None,
        link: Default::default(),
    };
    app.on_follow(FollowUpdate::Notification(Box::new(
        SessionNotification::Event {
            session_id: SESSION.into(),
            event,
        },
    )));
}

fn delta(app: &mut App, kind: DeltaKind, text: &str) {
    let delta = DeltaView {
        run_id: RUN.into(),
        turn: 1,
        output_index: 0,
        kind,
        text: text.into(),
        call_id: None,
    };
    app.on_follow(FollowUpdate::Notification(Box::new(
        SessionNotification::Delta {
            session_id: SESSION.into(),
            delta,
        },
    )));
}

fn user(text: &str) -> ItemView {
    ItemView::UserMessage {
        item_id: "2:0".into(),
        run_id: Some(RUN.into()),
        text: Some(text.into()),
        media_type: None,
        blob_ref: "sha256:00".into(),
        truncated: false,
        audio_ref: None,
    }
}

fn assistant(text: &str) -> ItemView {
    ItemView::AssistantMessage {
        item_id: "3:0".into(),
        run_id: Some(RUN.into()),
        text: text.into(),
        citations: Vec::new(),
    }
}

fn tool_call(call_id: &str, name: &str, arguments: &str, output: Option<(&str, &str)>) -> ItemView {
    ItemView::ToolCall {
        item_id: format!("4:{call_id}"),
        run_id: Some(RUN.into()),
        call_id: call_id.into(),
        name: name.into(),
        arguments: arguments.into(),
        result: output.map(|(status, output)| ToolResultView {
            status: status.into(),
            output: output.into(),
            truncated: false,
            output_ref: "sha256:00".into(),
        }),
    }
}

/// A run started by "question" (cursor 2).
fn started(app: &mut App, question: &str) {
    event(
        app,
        2,
        "lightspeed.core.run.started",
        Some(run_view(RunStatus::Running, 0, usage(0, 0))),
        vec![user(question)],
    );
}

fn key(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Option<UiAction> {
    app.on_key(KeyEvent::new(code, modifiers))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c), KeyModifiers::NONE);
    }
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn idle_with_an_empty_session() {
    insta::assert_snapshot!(screen(&app(), 80, 12));
}

#[test]
fn streaming_text_and_reasoning() {
    let mut app = app();
    started(&mut app, "Explain event sourcing in two points.");
    delta(
        &mut app,
        DeltaKind::Reasoning,
        "The user wants two short points.",
    );
    for piece in [
        "Event sourcing:\n\n",
        "1. **Events** are the ",
        "source of truth\n2. State is a `fold`",
    ] {
        delta(&mut app, DeltaKind::Text, piece);
    }
    assert!(matches!(app.run_state(), RunState::Active { .. }));
    insta::assert_snapshot!(screen(&app, 80, 16));
}

#[test]
fn tool_group_collapsed_then_expanded() {
    let mut app = app();
    started(&mut app, "What is 2 + 3, and echo hi?");
    let calls = vec![
        tool_call("c1", "add", r#"{"a":2,"b":3}"#, None),
        tool_call("c2", "echo", r#"{"say":"hi"}"#, None),
    ];
    event(
        &mut app,
        3,
        kinds::TURN_COMPLETED,
        Some(run_view(RunStatus::Running, 1, usage(1_200, 30))),
        calls,
    );
    event(
        &mut app,
        4,
        "lightspeed.core.tool.result_recorded",
        None,
        vec![tool_call(
            "c1",
            "add",
            r#"{"a":2,"b":3}"#,
            Some(("ok", r#"{"sum":5}"#)),
        )],
    );
    let lines = (1..=15)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    event(
        &mut app,
        5,
        "lightspeed.core.tool.result_recorded",
        None,
        vec![tool_call(
            "c2",
            "echo",
            r#"{"say":"hi"}"#,
            Some(("error", &lines)),
        )],
    );
    event(
        &mut app,
        6,
        kinds::TURN_COMPLETED,
        Some(run_view(RunStatus::Running, 2, usage(2_500, 42))),
        vec![assistant("2 + 3 = **5**; the echo tool failed.")],
    );
    event(
        &mut app,
        7,
        kinds::RUN_FINISHED,
        Some(run_view(RunStatus::Completed, 2, usage(2_500, 42))),
        vec![],
    );
    insta::assert_snapshot!("tools_collapsed", screen(&app, 80, 14));
    assert_eq!(
        key(&mut app, KeyCode::Char('t'), KeyModifiers::CONTROL),
        None
    );
    insta::assert_snapshot!("tools_expanded", screen(&app, 80, 34));
}

#[test]
fn a_failed_run() {
    let mut app = app();
    started(&mut app, "hi");
    let error = ItemView::Error {
        item_id: "3:0".into(),
        run_id: Some(RUN.into()),
        code: "invalid_request".into(),
        message: "the scripted request is invalid (HTTP 400)".into(),
    };
    event(&mut app, 3, kinds::TURN_FAILED, None, vec![error]);
    let mut failed = run_view(RunStatus::Failed, 1, usage(0, 0));
    failed.failure = Some(RunFailureView {
        reason: "generationFailed".into(),
        code: "invalid_request".into(),
        message: "the scripted request is invalid (HTTP 400)".into(),
    });
    event(&mut app, 4, kinds::RUN_FINISHED, Some(failed), vec![]);
    assert_eq!(
        app.run_state(),
        &RunState::Idle {
            last: Some(RunStatus::Failed)
        }
    );
    insta::assert_snapshot!(screen(&app, 80, 12));
}

#[test]
fn steer_and_interrupt_act_on_the_running_run() {
    let mut app = app();
    started(&mut app, "Write a long essay.");
    delta(&mut app, DeltaKind::Text, "Once upon a time");
    type_text(&mut app, "/steer keep it to one line");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(UiAction::Call(Call::Steer(params))) = action else {
        panic!("{action:?}")
    };
    assert_eq!(
        (params.session_id.as_str(), params.run_id.as_str()),
        (SESSION, RUN)
    );
    app.on_result(UiActionResult::Steered(RunAccepted {
        run_id: RUN.into(),
        event_cursor: 3,
    }));
    event(
        &mut app,
        4,
        kinds::TURN_COMPLETED,
        Some(run_view(RunStatus::Running, 1, usage(900, 12))),
        vec![assistant("Once upon a time, there was a log.")],
    );
    event(
        &mut app,
        5,
        kinds::STEER_APPLIED,
        None,
        vec![user("keep it to one line")],
    );
    insta::assert_snapshot!(screen(&app, 80, 18));

    // Esc (and /interrupt) cancel the running run.
    let action = key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(
        matches!(action, Some(UiAction::Call(Call::Cancel(ref p))) if p.run_id == RUN),
        "{action:?}"
    );
    type_text(&mut app, "/interrupt");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(action, Some(UiAction::Call(Call::Cancel(_)))),
        "{action:?}"
    );
}

#[test]
fn composing_while_reconnecting() {
    let mut app = app();
    app.on_follow(FollowUpdate::Connection(Connection::Reconnecting {
        attempt: 1,
        error: "the connection closed".into(),
    }));
    type_text(&mut app, "first line");
    key(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    type_text(&mut app, "second line");
    insta::assert_snapshot!(screen(&app, 60, 12));
}

#[test]
fn help_and_slash_commands() {
    let mut app = app();
    type_text(&mut app, "/help");
    assert_eq!(key(&mut app, KeyCode::Enter, KeyModifiers::NONE), None);
    insta::assert_snapshot!(screen(&app, 100, 21));

    type_text(&mut app, "/model other-model");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(UiAction::Call(Call::UpdateSession(params))) = action else {
        panic!("{action:?}")
    };
    assert_eq!(params.patch.model.unwrap().model, "other-model");
    type_text(&mut app, "/steer nothing runs");
    assert_eq!(key(&mut app, KeyCode::Enter, KeyModifiers::NONE), None);
    type_text(&mut app, "/quit");
    assert_eq!(
        key(&mut app, KeyCode::Enter, KeyModifiers::NONE),
        Some(UiAction::Quit)
    );
    assert!(app.should_quit());
}

#[test]
fn tool_progress_shows_its_latest_line() {
    let mut app = app();
    started(&mut app, "Run the long tool.");
    delta(
        &mut app,
        DeltaKind::ToolProgress,
        "everything__long: 1/5 Step 1",
    );
    delta(
        &mut app,
        DeltaKind::ToolProgress,
        "everything__long: 2/5 Step 2",
    );
    let screen = screen(&app, 100, 20);
    assert!(
        screen.contains("● everything__long: 2/5 Step 2"),
        "{screen}"
    );
    assert!(!screen.contains("1/5"), "{screen}");
}

#[test]
fn mcp_lists_the_linked_servers() {
    let mut app = app();
    type_text(&mut app, "/mcp");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(UiAction::Call(Call::ListMcp { session_id })) = action else {
        panic!("{action:?}")
    };
    let link = api::types::mcp::SessionMcpLinkView {
        server: "everything".into(),
        mode: api::types::mcp::McpLinkMode::Client,
        server_revision: 2,
        tools: ["echo", "get-sum"]
            .iter()
            .map(|tool| api::types::mcp::McpLinkedToolView {
                name: format!("everything__{tool}"),
                tool: (*tool).into(),
                definition_ref: format!("sha256:{}", "0".repeat(64)),
            })
            .collect(),
        skipped: vec!["get-env".into()],
        linked_at_ms: 1,
    };
    app.on_result(UiActionResult::McpListed(
        api::types::mcp::SessionMcpListResult { links: vec![link] },
    ));
    let screen = screen(&app, 100, 20);
    assert!(
        screen.contains("everything (revision 2): 2 tools"),
        "{screen}"
    );
    assert!(screen.contains("everything__get-sum"), "{screen}");
    assert!(screen.contains("skipped: get-env"), "{screen}");
    assert!(
        screen.contains(&format!("lightspeed mcp link {session_id} SERVER")),
        "{screen}"
    );
}

#[test]
fn skills_list_pin_and_compact() {
    let mut app = app();
    type_text(&mut app, "/skills");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(action, Some(UiAction::Call(Call::ListSkills { .. }))),
        "{action:?}"
    );
    let skill = |active| api::types::context::SkillView {
        name: "release-notes".into(),
        description: "Writes release notes from the changelog.".into(),
        path: "/repo/.agents/skills/release-notes/SKILL.md".into(),
        active,
    };
    app.on_result(UiActionResult::SkillsListed(
        api::types::context::SessionSkillsListResult {
            skills: vec![skill(false)],
        },
    ));
    type_text(&mut app, "/skills on release-notes");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(UiAction::Call(Call::SetSkill { name, active, .. })) = action else {
        panic!("{action:?}")
    };
    assert_eq!((name.as_str(), active), ("release-notes", true));
    app.on_result(UiActionResult::SkillSet(skill(true)));
    type_text(&mut app, "/compact keep the changelog");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(UiAction::Call(Call::Compact { instruction, .. })) = action else {
        panic!("{action:?}")
    };
    assert_eq!(instruction.as_deref(), Some("keep the changelog"));
    app.on_result(UiActionResult::CompactionRequested(
        api::types::context::SessionCompactResult {
            session_id: "s-1".into(),
            compaction: 1,
            cursor: 9,
        },
    ));
    insta::assert_snapshot!(screen(&app, 100, 14));
}

#[test]
fn long_output_scrolls_and_follows() {
    let mut app = app();
    started(&mut app, "count");
    let text = (1..=40)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n\n");
    event(
        &mut app,
        3,
        kinds::TURN_COMPLETED,
        Some(run_view(RunStatus::Running, 1, usage(10, 40))),
        vec![assistant(&text)],
    );
    // Follows the end by default, even after a resize.
    let tail = screen(&app, 40, 12);
    assert!(tail.contains("line 40"), "{tail}");
    let narrow = screen(&app, 20, 8);
    assert!(narrow.contains("line 40"), "{narrow}");
    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    insta::assert_snapshot!(screen(&app, 40, 12));
    key(&mut app, KeyCode::End, KeyModifiers::CONTROL);
    assert!(screen(&app, 40, 12).contains("line 40"));
}

#[test]
fn context_meter_against_the_model_window() {
    use api::types::models::{ModelView, ModelsListResult, ProviderView};
    let mut app = app();
    app.set_models(ModelsListResult {
        providers: vec![ProviderView {
            provider_id: "fake".into(),
            api_kind: "openai:responses".into(),
            host: Some("127.0.0.1:9".into()),
            models: vec![ModelView {
                model: "fake-model".into(),
                context_window_tokens: 200_000,
                max_output_tokens_default: 8_192,
                max_output_tokens_limit: None,
                compaction_threshold_tokens_default: 160_000,
            }],
        }],
    });
    started(&mut app, "How big is the context?");
    let completed = EventView {
        cursor: 3,
        kind: "lightspeed.core.turn.completed".into(),
        at_ms: 0,
        run_id: Some(RUN.into()),
        run: Some(run_view(RunStatus::Running, 1, usage(12_345, 20))),
        items: vec![assistant("About 12k tokens.")],
        finish_reason: None,
        context_tokens: Some(12_345),
        hold: None,
        wake_up: None,
        link: Default::default(),
    };
    app.on_follow(FollowUpdate::Notification(Box::new(
        SessionNotification::Event {
            session_id: SESSION.into(),
            event: completed,
        },
    )));
    assert_eq!(app.context_tokens(), 12_345);
    assert_eq!(app.context_window(), Some(200_000));
    let shown = screen(&app, 120, 10);
    assert!(shown.contains("ctx 12.3k/200k 6%"), "{shown}");
    insta::assert_snapshot!(shown);
}

fn hold_event(app: &mut App, cursor: u64, kind: &str, hold: HoldView) {
    let event = EventView {
        cursor,
        kind: kind.into(),
        at_ms: 1_000,
        run_id: Some(RUN.into()),
        run: None,
        items: Vec::new(),
        finish_reason: None,
        context_tokens: None,
        hold: Some(hold),
        wake_up: None,
        link: Default::default(),
    };
    app.on_follow(FollowUpdate::Notification(Box::new(
        SessionNotification::Event {
            session_id: SESSION.into(),
            event,
        },
    )));
}

#[test]
fn a_call_waiting_for_approval_is_answered_with_a_key() {
    let mut app = app();
    started(&mut app, "Clean up the build directory.");
    let call = tool_call("call_9", "exec_command", r#"{"cmd":"rm -rf build"}"#, None);
    event(
        &mut app,
        4,
        kinds::TURN_COMPLETED,
        Some(run_view(RunStatus::AwaitingApproval, 1, usage(10, 5))),
        vec![call],
    );
    let waiting = HoldView {
        call_ids: vec!["call_9".into()],
        state: HoldState::AwaitingApproval,
        until_ms: Some(61_000),
        remember: false,
    };
    hold_event(
        &mut app,
        5,
        "lightspeed.core.tool.approval_requested",
        waiting,
    );
    insta::assert_snapshot!(screen(&app, 80, 14));
    // While something is typed, the keys are text, not answers.
    type_text(&mut app, "ok, n");
    assert_eq!(app.composer_text(), "ok, n");
    key(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(app.composer_text(), "");
    let action = key(&mut app, KeyCode::Char('a'), KeyModifiers::NONE);
    let Some(UiAction::Call(Call::Approve(params))) = action else {
        panic!("{action:?}")
    };
    assert_eq!(params.run_id, RUN);
    assert_eq!(params.call_ids, ["call_9"]);
    assert!(params.remember);
    type_text(&mut app, "/deny not on this machine");
    let action = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(UiAction::Call(Call::Deny(params))) = action else {
        panic!("{action:?}")
    };
    assert_eq!(params.message.as_deref(), Some("not on this machine"));
    let decided = HoldView {
        call_ids: vec!["call_9".into()],
        state: HoldState::Denied,
        until_ms: None,
        remember: false,
    };
    hold_event(
        &mut app,
        6,
        "lightspeed.core.tool.approval_decided",
        decided,
    );
    // Nothing waits any more: `y` is text again.
    assert_eq!(key(&mut app, KeyCode::Char('y'), KeyModifiers::NONE), None);
    assert_eq!(app.composer_text(), "y");
}

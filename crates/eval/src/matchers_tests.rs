use serde_json::json;

use super::*;
use crate::case::{Case, FileCheck};

fn expect(value: serde_json::Value) -> Expect {
    match serde_json::from_value(value) {
        Ok(expect) => expect,
        Err(err) => panic!("bad expect: {err}"),
    }
}

fn completed() -> Outcome {
    Outcome {
        statuses: vec!["completed".into()],
        ..Outcome::default()
    }
}

fn call(name: &str, arguments: serde_json::Value, output: &str) -> ToolCallSeen {
    ToolCallSeen {
        name: name.into(),
        arguments,
        output: Some(output.into()),
        status: Some("ok".into()),
    }
}

fn matcher(value: serde_json::Value) -> ArgMatcher {
    match serde_json::from_value(value) {
        Ok(m) => m,
        Err(err) => panic!("bad matcher: {err}"),
    }
}

#[test]
fn an_empty_expectation_only_needs_a_completed_run() {
    assert!(evaluate(&Expect::default(), &completed()).is_empty());
    let failed = Outcome {
        statuses: vec!["failed".into()],
        failure: Some(json!({"reason": "generationFailed"})),
        ..Outcome::default()
    };
    let mismatches = evaluate(&Expect::default(), &failed);
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].check, "status");
    assert!(mismatches[0].actual.contains("generationFailed"));
}

#[test]
fn argument_matchers_equal_contain_and_match_at_a_pointer() {
    let args = json!({"path": "/repo/notes.txt", "options": {"depth": 2}});
    assert!(arg_matches(
        &matcher(json!({"pointer": "/options/depth", "equals": 2})),
        &args
    ));
    assert!(!arg_matches(
        &matcher(json!({"pointer": "/options/depth", "equals": "2"})),
        &args
    ));
    assert!(arg_matches(
        &matcher(json!({"pointer": "/path", "contains": "notes"})),
        &args
    ));
    assert!(arg_matches(
        &matcher(json!({"pointer": "/path", "regex": "\\.txt$"})),
        &args
    ));
    assert!(!arg_matches(
        &matcher(json!({"pointer": "/path", "regex": "^notes"})),
        &args
    ));
    // Non-strings are matched as compact JSON; a missing pointer never matches.
    assert!(arg_matches(
        &matcher(json!({"pointer": "/options", "contains": "\"depth\":2"})),
        &args
    ));
    assert!(!arg_matches(&matcher(json!({"pointer": "/nope"})), &args));
}

#[test]
fn tools_called_needs_one_call_matching_every_matcher_and_min_times() {
    let mut outcome = completed();
    outcome.tool_calls = vec![
        call("read_file", json!({"path": "/repo/a.txt"}), "alpha"),
        call("read_file", json!({"path": "/repo/b.txt"}), "beta"),
    ];
    let ok = expect(json!({"toolsCalled": [
        {"name": "read_file", "minTimes": 2},
        {"name": "read_file", "args": [{"pointer": "/path", "contains": "b.txt"}]}
    ], "toolOutputContains": ["beta"], "toolsNotCalled": ["write_file"]}));
    assert_eq!(evaluate(&ok, &outcome), vec![]);

    let bad = expect(json!({"toolsCalled": [
        {"name": "read_file", "minTimes": 3},
        {"name": "write_file"}
    ], "toolOutputContains": ["gamma"], "toolsNotCalled": ["read_file"]}));
    let checks: Vec<String> = evaluate(&bad, &outcome)
        .into_iter()
        .map(|m| m.check)
        .collect();
    assert_eq!(
        checks,
        [
            "toolsCalled read_file",
            "toolsCalled write_file",
            "tool read_file not called",
            "toolOutputContains"
        ]
    );
}

#[test]
fn text_files_ceilings_and_failure_are_checked() {
    let mut outcome = completed();
    outcome.text = "Your name is Ada.".into();
    outcome.turns = 3;
    outcome.cost_usd = 0.5;
    outcome
        .files
        .insert("a.txt".into(), "debug = true\nport = 1\n".into());
    let e = expect(json!({
        "textContains": ["Ada"], "textRegex": ["^Your name"],
        "files": {"a.txt": {"contains": ["debug = true"]}, "gone.txt": {"absent": true}},
        "turnsMax": 3, "costUsdMax": 0.5
    }));
    assert_eq!(evaluate(&e, &outcome), vec![]);

    let e = expect(json!({
        "textContains": ["Bob"], "textRegex": ["Bob$"],
        "files": {"a.txt": "debug = false\n", "b.txt": {"contains": ["x"]}},
        "turnsMax": 2, "costUsdMax": 0.1, "failureContains": ["limitExceeded"]
    }));
    let mismatches = evaluate(&e, &outcome);
    let checks: Vec<&str> = mismatches.iter().map(|m| m.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "failureContains",
            "textContains",
            "textRegex",
            "file a.txt",
            "file b.txt",
            "turnsMax",
            "costUsdMax"
        ]
    );
    // The diff shows both sides.
    let shown = mismatches[3].to_string();
    assert!(shown.contains("expected: \"debug = false\\n\""), "{shown}");
    assert!(
        shown.contains("actual:   \"debug = true\\nport = 1\\n\""),
        "{shown}"
    );
}

#[test]
fn provider_requests_are_checked_only_when_recorded() {
    let e = expect(json!({"providerRequestContains": ["BLUEHERON"]}));
    // Live: nothing recorded, nothing checked.
    assert!(evaluate(&e, &completed()).is_empty());
    let mut outcome = completed();
    outcome.provider_requests = Some("{\"instructions\":\"codename BLUEHERON\"}".into());
    assert!(evaluate(&e, &outcome).is_empty());
    outcome.provider_requests = Some("{}".into());
    assert_eq!(evaluate(&e, &outcome)[0].check, "providerRequestContains");
}

#[test]
fn harness_errors_fail_the_run() {
    let outcome = Outcome {
        error: Some("session/start: refused".into()),
        ..Outcome::default()
    };
    let mismatches = evaluate(&Expect::default(), &outcome);
    assert_eq!(mismatches[0].check, "the case ran");
    assert_eq!(mismatches[1].check, "status");
}

#[test]
fn cases_parse_with_defaults_and_reject_unknown_fields() {
    let case: Case = match serde_json::from_value(json!({
        "name": "x", "prompt": "hi", "expect": {"files": {"a": "exact", "b": {"equals": "e"}}}
    })) {
        Ok(case) => case,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(case.runs, 1);
    assert_eq!(case.min_pass_rate, 1.0);
    assert_eq!(case.messages(), ["hi"]);
    assert_eq!(case.mount_path(), "/repo");
    assert!(matches!(case.expect.files.get("a"), Some(FileExpect::Exact(s)) if s == "exact"));
    assert!(matches!(
        case.expect.files.get("b"),
        Some(FileExpect::Check(FileCheck {
            equals: Some(_),
            ..
        }))
    ));
    let unknown = serde_json::from_value::<Case>(json!({"name": "x", "prompt": "hi", "expct": {}}));
    assert!(unknown.is_err());
}

//! Tool policies: the API's `toolPolicy` to and from the engine's [`ToolPolicy`].
//! The shapes match field for field; only the spelling differs.

use api::types::session::{ToolDecisionInput, ToolPolicyInput, ToolRuleInput};
use engine::core::policy::{ToolDecision, ToolPolicy, ToolRule};

fn decision(input: ToolDecisionInput) -> ToolDecision {
    match input {
        ToolDecisionInput::Allow => ToolDecision::Allow,
        ToolDecisionInput::Ask => ToolDecision::Ask,
        ToolDecisionInput::Deny => ToolDecision::Deny,
    }
}

fn decision_view(decision: ToolDecision) -> ToolDecisionInput {
    match decision {
        ToolDecision::Allow => ToolDecisionInput::Allow,
        ToolDecision::Ask => ToolDecisionInput::Ask,
        ToolDecision::Deny => ToolDecisionInput::Deny,
    }
}

/// The engine policy of `input` (validated by the engine with the rest of the
/// config; its errors are renamed by `config_error`).
pub fn tool_policy(input: &ToolPolicyInput) -> ToolPolicy {
    ToolPolicy {
        rules: input
            .rules
            .iter()
            .map(|rule| ToolRule {
                tools: rule.tools.clone(),
                decision: decision(rule.decision),
            })
            .collect(),
        file_writes: input.file_writes.map(decision),
        shell: input.shell.map(decision),
        mcp: input.mcp.map(decision),
        other: input.other.map(decision),
        approval_timeout_ms: input.approval_timeout_ms,
    }
}

/// The policy as clients wrote it.
pub fn tool_policy_view(policy: &ToolPolicy) -> ToolPolicyInput {
    ToolPolicyInput {
        rules: policy
            .rules
            .iter()
            .map(|rule| ToolRuleInput {
                tools: rule.tools.clone(),
                decision: decision_view(rule.decision),
            })
            .collect(),
        file_writes: policy.file_writes.map(decision_view),
        shell: policy.shell.map(decision_view),
        mcp: policy.mcp.map(decision_view),
        other: policy.other.map(decision_view),
        approval_timeout_ms: policy.approval_timeout_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip() {
        let input = ToolPolicyInput {
            rules: vec![ToolRuleInput {
                tools: "github__*".into(),
                decision: ToolDecisionInput::Deny,
            }],
            file_writes: Some(ToolDecisionInput::Ask),
            shell: Some(ToolDecisionInput::Ask),
            mcp: None,
            other: Some(ToolDecisionInput::Allow),
            approval_timeout_ms: Some(3_600_000),
        };
        assert_eq!(tool_policy_view(&tool_policy(&input)), input);
    }
}

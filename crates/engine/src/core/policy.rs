//! Tool policy: which tool calls run at once, which wait for a person to approve them
//! and which are refused. The engine applies it when a generation's calls are
//! accepted and records what it decided (`tool.approval_requested`, or a refusal as
//! the call's result), so replay never re-evaluates a policy.

use serde::{Deserialize, Serialize};

use crate::core::config::{ConfigError, ConfigField};
use crate::core::tools::ToolSpec;

/// What happens to a call of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolDecision {
    /// The call runs.
    #[default]
    Allow,
    /// The call waits for `run/approve` or `run/deny` (or the approval deadline).
    Ask,
    /// The call is refused; the model gets the refusal as the call's result.
    Deny,
}

/// The families a policy can speak of without naming each tool. The host that
/// registers a tool says which family it belongs to ([`ToolSpec::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolClass {
    /// Tools that change files (`write_file`, `edit_file`, `apply_patch`, ...).
    FileWrite,
    /// Commands on an attached environment (`exec_command`, `write_stdin`, `Bash`).
    Shell,
    /// Tools of linked MCP servers.
    Mcp,
}

/// One rule: tools whose name matches `tools` get `decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRule {
    /// A tool name, or a pattern where `*` stands for any run of characters
    /// (`github__*`, `*_file`, `*`).
    pub tools: String,
    pub decision: ToolDecision,
}

/// A session's tool policy. The default allows everything, as sessions always did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolPolicy {
    /// Checked in order; the first rule whose pattern matches decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ToolRule>,
    /// For tools no rule matches, by class (unset: allow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_writes: Option<ToolDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ToolDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<ToolDecision>,
    /// Tools no rule or class covers (unset: allow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<ToolDecision>,
    /// How long a call waits for a decision before it is denied; unset: forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_ms: Option<u64>,
}

/// Rules one policy may hold.
pub const POLICY_RULES_MAX: usize = 64;
/// Bytes of one rule's pattern (tool names are at most 64; patterns add `*`s).
pub const POLICY_PATTERN_BYTES_MAX: usize = 128;
/// Longest approval deadline: 30 days.
pub const APPROVAL_TIMEOUT_MS_MAX: u64 = 30 * 24 * 60 * 60 * 1_000;
/// Shortest approval deadline: one second.
pub const APPROVAL_TIMEOUT_MS_MIN: u64 = 1_000;
/// Tools one session may have approved "for the rest of the session".
pub const SESSION_APPROVALS_MAX: usize = 256;

impl ToolPolicy {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rules.len() > POLICY_RULES_MAX {
            return Err(ConfigError::TooLarge {
                field: ConfigField::ToolPolicyRules.path(),
                max: POLICY_RULES_MAX as u64,
            });
        }
        for rule in &self.rules {
            let pattern = &rule.tools;
            let valid = (1..=POLICY_PATTERN_BYTES_MAX).contains(&pattern.len())
                && pattern
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-*".contains(&b));
            if !valid {
                return Err(ConfigError::InvalidToolPattern {
                    pattern: pattern.chars().take(POLICY_PATTERN_BYTES_MAX).collect(),
                });
            }
        }
        if let Some(timeout) = self.approval_timeout_ms
            && !(APPROVAL_TIMEOUT_MS_MIN..=APPROVAL_TIMEOUT_MS_MAX).contains(&timeout)
        {
            return Err(ConfigError::OutOfRange {
                field: ConfigField::ToolPolicyApprovalTimeoutMs.path(),
                min: APPROVAL_TIMEOUT_MS_MIN,
                max: APPROVAL_TIMEOUT_MS_MAX,
            });
        }
        Ok(())
    }

    /// What this policy says about a call of `name` (registered as `spec`, if the
    /// session has it), given the tools approved for the rest of the session.
    pub fn decide(
        &self,
        name: &str,
        spec: Option<&ToolSpec>,
        approved: &std::collections::BTreeSet<String>,
    ) -> ToolDecision {
        let by_rule = self
            .rules
            .iter()
            .find(|rule| pattern_matches(&rule.tools, name))
            .map(|rule| rule.decision);
        let decision = by_rule.unwrap_or_else(|| {
            let by_class = match spec.and_then(|spec| spec.class) {
                Some(ToolClass::FileWrite) => self.file_writes,
                Some(ToolClass::Shell) => self.shell,
                Some(ToolClass::Mcp) => self.mcp,
                None => None,
            };
            by_class.or(self.other).unwrap_or_default()
        });
        // "Approve for the rest of this session" answers the question for good; it
        // never overrides a refusal.
        if decision == ToolDecision::Ask && approved.contains(name) {
            ToolDecision::Allow
        } else {
            decision
        }
    }
}

/// `*` matches any run of characters (including none); everything else matches
/// itself. Iterative with one backtrack point, so linear in practice and never
/// exponential (patterns are at most 128 bytes, names 64).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.as_bytes(), name.as_bytes());
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob_ref::BlobRef;
    use std::collections::BTreeSet;

    #[test]
    fn patterns_match_names() {
        for (pattern, name, expected) in [
            ("*", "anything", true),
            ("shell", "shell", true),
            ("shell", "shells", false),
            ("github__*", "github__create_issue", true),
            ("github__*", "gitlab__x", false),
            ("*_file", "write_file", true),
            ("*_file", "write_files", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("**", "", true),
        ] {
            assert_eq!(pattern_matches(pattern, name), expected, "{pattern} {name}");
        }
    }

    fn spec(name: &str, class: Option<ToolClass>) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            definition_ref: BlobRef::of_bytes(b"{}"),
            class,
        }
    }

    #[test]
    fn rules_come_before_classes_and_session_approvals_answer_asks_only() {
        let policy = ToolPolicy {
            rules: vec![
                ToolRule {
                    tools: "rm_*".into(),
                    decision: ToolDecision::Deny,
                },
                ToolRule {
                    tools: "exec_command".into(),
                    decision: ToolDecision::Allow,
                },
            ],
            shell: Some(ToolDecision::Ask),
            file_writes: Some(ToolDecision::Ask),
            ..ToolPolicy::default()
        };
        let none = BTreeSet::new();
        let shell = spec("write_stdin", Some(ToolClass::Shell));
        assert_eq!(
            policy.decide("write_stdin", Some(&shell), &none),
            ToolDecision::Ask
        );
        let exec = spec("exec_command", Some(ToolClass::Shell));
        assert_eq!(
            policy.decide("exec_command", Some(&exec), &none),
            ToolDecision::Allow
        );
        assert_eq!(policy.decide("rm_rf", None, &none), ToolDecision::Deny);
        assert_eq!(policy.decide("read_file", None, &none), ToolDecision::Allow);
        let approved: BTreeSet<String> = ["write_stdin".into(), "rm_rf".into()].into();
        assert_eq!(
            policy.decide("write_stdin", Some(&shell), &approved),
            ToolDecision::Allow
        );
        assert_eq!(policy.decide("rm_rf", None, &approved), ToolDecision::Deny);
    }

    #[test]
    fn policies_are_bounded() {
        let mut policy = ToolPolicy {
            approval_timeout_ms: Some(10),
            ..ToolPolicy::default()
        };
        assert!(policy.validate().is_err());
        policy.approval_timeout_ms = Some(60_000);
        assert!(policy.validate().is_ok());
        policy.rules.push(ToolRule {
            tools: "bad name".into(),
            decision: ToolDecision::Ask,
        });
        assert!(policy.validate().is_err());
        policy.rules = vec![
            ToolRule {
                tools: "x".into(),
                decision: ToolDecision::Ask,
            };
            POLICY_RULES_MAX + 1
        ];
        assert!(policy.validate().is_err());
    }
}

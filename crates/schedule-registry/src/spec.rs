//! When a schedule fires. Two kinds, both evaluated here and by Temporal alike:
//!
//! - `interval`: every `every_seconds`, at the multiples of it since the Unix epoch
//!   (Temporal's interval specs with no phase);
//! - `cron`: a 5-field expression (minute, hour, day of month, month, day of week:
//!   numbers, `*`, ranges, steps, lists, month and weekday names) in an optional
//!   IANA time zone (UTC when none). Extensions that cron dialects read differently
//!   (`L`, `W`, `#`, `?`, `@hourly` nicknames, seconds and years) are refused, and so
//!   is restricting both the day of month and the day of week (POSIX cron fires on
//!   either, Temporal's calendars on both), so every accepted expression means the
//!   same in both.
//!
//! Checked by [`ScheduleSpec::check`] before anything proportional to the input is
//! allocated beyond the expression itself (at most [`CRON_CHARS_MAX`] characters).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;

/// The shortest interval this crate accepts at all (Temporal's granularity); a
/// deployment's floor ([`crate::catalog::ScheduleLimits`]) is usually higher.
pub const INTERVAL_SECONDS_MIN: u64 = 1;
/// The longest interval: a year.
pub const INTERVAL_SECONDS_MAX: u64 = 366 * 24 * 3600;
/// Longest cron expression, in characters.
pub const CRON_CHARS_MAX: usize = 128;
/// Longest time zone name, in characters.
pub const TIMEZONE_CHARS_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ScheduleSpec {
    #[serde(rename_all = "camelCase")]
    Interval { every_seconds: u64 },
    #[serde(rename_all = "camelCase")]
    Cron {
        expression: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
    },
}

impl ScheduleSpec {
    /// Every rule of the spec, with `interval_seconds_min` as the deployment's floor
    /// on intervals (cron fires at most once a minute).
    pub fn check(&self, interval_seconds_min: u64) -> Result<(), ScheduleError> {
        match self {
            Self::Interval { every_seconds } => {
                let min = interval_seconds_min.max(INTERVAL_SECONDS_MIN);
                if *every_seconds < min || *every_seconds > INTERVAL_SECONDS_MAX {
                    return Err(ScheduleError::invalid(
                        "spec.everySeconds",
                        format!("must be {min} to {INTERVAL_SECONDS_MAX}"),
                    ));
                }
                Ok(())
            }
            Self::Cron {
                expression,
                timezone,
            } => {
                parse_cron(expression)?;
                if let Some(timezone) = timezone {
                    parse_timezone(timezone)?;
                }
                Ok(())
            }
        }
    }

    /// The first firing strictly after `after_ms` (ms since the Unix epoch), as
    /// Temporal computes it; `None` for a spec that no longer fires (or an invalid
    /// one, which no stored record is).
    pub fn next_after_ms(&self, after_ms: u64) -> Option<u64> {
        match self {
            Self::Interval { every_seconds } => {
                let every_ms = every_seconds.checked_mul(1000)?;
                if every_ms == 0 {
                    return None;
                }
                (after_ms / every_ms).checked_add(1)?.checked_mul(every_ms)
            }
            Self::Cron {
                expression,
                timezone,
            } => {
                let cron = parse_cron(expression).ok()?;
                let after = Utc
                    .timestamp_millis_opt(i64::try_from(after_ms).ok()?)
                    .single()?;
                let next_ms = match timezone {
                    Some(name) => {
                        let zone = parse_timezone(name).ok()?;
                        next_in(&cron, &after.with_timezone(&zone))?
                    }
                    None => next_in(&cron, &after)?,
                };
                u64::try_from(next_ms).ok()
            }
        }
    }
}

fn next_in<Z: TimeZone>(cron: &croner::Cron, after: &DateTime<Z>) -> Option<i64> {
    cron.find_next_occurrence(after, false)
        .ok()
        .map(|next| next.timestamp_millis())
}

fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, ScheduleError> {
    if name.is_empty() || name.len() > TIMEZONE_CHARS_MAX {
        return Err(ScheduleError::invalid(
            "spec.timezone",
            format!("must be 1 to {TIMEZONE_CHARS_MAX} characters"),
        ));
    }
    chrono_tz::Tz::from_str(name)
        .map_err(|_| ScheduleError::invalid("spec.timezone", "not an IANA time zone name"))
}

fn parse_cron(expression: &str) -> Result<croner::Cron, ScheduleError> {
    let invalid = |reason: &str| ScheduleError::invalid("spec.expression", reason);
    if expression.len() > CRON_CHARS_MAX {
        return Err(invalid("at most 128 characters"));
    }
    let allowed = expression.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'*' | b',' | b'-' | b'/' | b' ' | b'\t')
    });
    if !allowed {
        return Err(invalid(
            "only numbers, names, '*', ',', '-' and '/' (no L, W, #, ? or @nicknames)",
        ));
    }
    let fields: Vec<&str> = expression.split_ascii_whitespace().collect();
    if fields.len() != 5 {
        return Err(invalid(
            "5 fields: minute, hour, day of month, month, day of week",
        ));
    }
    // Letters only as month or weekday names, in their own fields.
    for (index, field) in fields.iter().enumerate() {
        if field.bytes().any(|b| b.is_ascii_alphabetic()) && index != 3 && index != 4 {
            return Err(invalid("names only in the month and day-of-week fields"));
        }
        if field
            .bytes()
            .any(|b| matches!(b, b'l' | b'L' | b'w' | b'W'))
            && !has_name(field)
        {
            return Err(invalid("no L or W"));
        }
    }
    if fields[2] != "*" && fields[4] != "*" {
        return Err(invalid(
            "restrict the day of month or the day of week, not both",
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|err| invalid(&err.to_string()))
}

/// Whether a field's letters are all month or weekday names (three letters each).
fn has_name(field: &str) -> bool {
    const NAMES: [&str; 19] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "SUN",
        "MON", "TUE", "WED", "THU", "FRI", "SAT",
    ];
    field
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|word| !word.is_empty())
        .all(|word| NAMES.contains(&word.to_ascii_uppercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(expression: &str, timezone: Option<&str>) -> ScheduleSpec {
        ScheduleSpec::Cron {
            expression: expression.into(),
            timezone: timezone.map(Into::into),
        }
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch() {
        let spec = ScheduleSpec::Interval { every_seconds: 2 };
        assert_eq!(spec.next_after_ms(0), Some(2_000));
        assert_eq!(spec.next_after_ms(1_999), Some(2_000));
        assert_eq!(spec.next_after_ms(2_000), Some(4_000));
        assert!(spec.check(1).is_ok());
        assert!(spec.check(60).is_err());
        assert!(
            ScheduleSpec::Interval { every_seconds: 0 }
                .check(0)
                .is_err()
        );
    }

    #[test]
    fn cron_next_times_follow_the_time_zone() {
        // 2024-01-01T00:00:00Z
        let start = 1_704_067_200_000;
        let utc = cron("30 9 * * *", None);
        assert_eq!(
            utc.next_after_ms(start),
            Some(start + (9 * 60 + 30) * 60_000)
        );
        let paris = cron("30 9 * * MON-FRI", Some("Europe/Paris"));
        // Paris is UTC+1 in January: 08:30 UTC.
        assert_eq!(
            paris.next_after_ms(start),
            Some(start + (8 * 60 + 30) * 60_000)
        );
        assert!(paris.check(60).is_ok());
    }

    #[test]
    fn dialect_dependent_cron_is_refused() {
        for bad in [
            "* * * *",
            "0 0 L * *",
            "0 0 * * 5#2",
            "@hourly",
            "0 0 1 * MON",
            "0 0 ? * *",
            "0 0 0 * * *",
            "x 0 * * *",
            "0 0 * JAM *",
            "61 0 * * *",
        ] {
            assert!(cron(bad, None).check(60).is_err(), "{bad}");
        }
        assert!(cron("*/15 8-18 * JAN,JUL 1-5", None).check(60).is_ok());
        assert!(cron("0 0 * * *", Some("Mars/Olympus")).check(60).is_err());
    }
}

//! Figures of a process from Linux's `/proc`: resident set sizes from
//! `/proc/{pid}/status`, CPU time from `/proc/{pid}/stat`; and the machine's load
//! average from `/proc/loadavg`.

use anyhow::Context as _;

/// Clock ticks per second of `/proc/{pid}/stat` times: `USER_HZ`, which Linux fixes at
/// 100 for user space on every architecture it exposes it on (what `getconf CLK_TCK`
/// prints).
const TICKS_PER_SECOND: f64 = 100.0;

/// A `kB` field of `/proc/{pid}/status` (`VmRSS`, `VmHWM`, ...), in bytes.
pub(crate) fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("{path} has no {field}"))?;
    let kib: u64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("{path}: {field} is {line:?}"))?;
    Ok(kib * 1024)
}

/// The process's peak resident set: its `VmHWM`, raised to the highest `VmRSS` seen
/// (`observed`). Linux updates the high-water mark lazily (RSS is counted per CPU and
/// folded into `VmHWM` only at unmaps and exits), so a fresh `VmRSS` sample can read
/// above `VmHWM`; a peak below a sample taken earlier is no peak.
pub(crate) fn peak_rss_bytes(pid: u32, observed: u64) -> anyhow::Result<u64> {
    Ok(status_bytes(pid, "VmHWM")?.max(observed))
}

/// User plus system CPU time of all the process's threads so far, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) is in parentheses and may hold spaces; the fields
    // after its closing parenthesis start at field 3, so utime (14) and stime (15)
    // are the 12th and 13th of them.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("{path} is not a stat line"))?;
    let mut fields = rest.split_whitespace().skip(11);
    let mut ticks = 0.0;
    for name in ["utime", "stime"] {
        let value: u64 = fields
            .next()
            .and_then(|field| field.parse().ok())
            .with_context(|| format!("{path} has no {name}"))?;
        ticks += value as f64;
    }
    Ok(ticks / TICKS_PER_SECOND)
}

/// The machine's 1-minute load average: how many processes were runnable, on average.
/// Printed beside the figures, which depend on what else the machine runs.
pub(crate) fn load_average() -> anyhow::Result<f64> {
    let path = "/proc/loadavg";
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    text.split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .with_context(|| format!("{path} is {text:?}"))
}

//! The Landlock launcher: `lightspeed env sandbox-exec --dir DIR --tmp TMP
//! [--no-network] [--allow-read PATH]... -- ARGV...` restricts itself, then
//! executes ARGV in its place (same pid, same process group, same environment
//! and working directory, which the daemon set).
//!
//! Rules: read and execute on the system's directories ([`SYSTEM_READ_PATHS`])
//! and on `--allow-read` paths; everything on DIR and TMP; read and write on a
//! few devices ([`DEVICES`]) and listing `/dev` (not reading its other nodes: as
//! root those include the raw disks). Nothing else: no home directory, no `/tmp`
//! but the daemon's private one. With `--no-network`, TCP bind and connect are
//! denied (Landlock ABI 4); Landlock does not cover UDP, which bubblewrap's
//! network namespace does.
//!
//! Before the rules, the launcher gives up every capability (bounding, ambient,
//! effective, permitted and inheritable sets): Landlock confines paths, not
//! privileges, and a command run as root would otherwise keep them all after
//! `exec` (`CAP_SYS_PTRACE` alone reads the daemon's memory and environment,
//! `CAP_SYS_MODULE` loads kernel code). Like bubblewrap's `--cap-drop ALL`.
//!
//! The rules are built best effort, then the launcher refuses to run anything
//! unless the kernel reports them fully enforced: so a kernel that cannot enforce
//! them (Landlock missing, disabled, or an ABI too old) is told apart, and the
//! daemon's probe at startup turns that into a refusal to start.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// Readable (and executable) by every command.
pub(crate) const SYSTEM_READ_PATHS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/proc",
    "/sys", "/run", "/var/lib",
];

/// Devices commands may read and write.
pub(crate) const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// The filesystem rights handled: ABI 3 adds `Truncate`, without which a
/// readable file could still be truncated.
const FS_ABI: ABI = ABI::V3;

/// The exit status when the sandbox cannot be applied (nothing was run).
const EXIT_SANDBOX: u8 = 125;

/// Parsed launcher arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LaunchArgs {
    pub(crate) dir: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) network: bool,
    pub(crate) allow_read: Vec<PathBuf>,
    pub(crate) argv: Vec<OsString>,
}

impl LaunchArgs {
    /// The arguments the daemon passes (after the launcher's own prefix).
    pub(crate) fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--dir".into(),
            self.dir.clone().into(),
            "--tmp".into(),
            self.tmp.clone().into(),
        ];
        if !self.network {
            args.push("--no-network".into());
        }
        for path in &self.allow_read {
            args.push("--allow-read".into());
            args.push(path.clone().into());
        }
        args.push("--".into());
        args.extend(self.argv.iter().cloned());
        args
    }

    pub(crate) fn parse(args: Vec<OsString>) -> Result<Self, String> {
        let mut parsed = LaunchArgs {
            network: true,
            ..LaunchArgs::default()
        };
        let mut args = args.into_iter();
        let mut dir = None;
        let mut tmp = None;
        while let Some(arg) = args.next() {
            let Some(flag) = arg.to_str() else {
                return Err(format!("unexpected argument {}", arg.to_string_lossy()));
            };
            match flag {
                "--" => {
                    parsed.argv = args.by_ref().collect();
                    break;
                }
                "--no-network" => parsed.network = false,
                "--dir" | "--tmp" | "--allow-read" => {
                    let Some(value) = args.next() else {
                        return Err(format!("{flag} needs a path"));
                    };
                    let path = PathBuf::from(value);
                    if !path.is_absolute() {
                        return Err(format!("{flag} {}: not absolute", path.display()));
                    }
                    match flag {
                        "--dir" => dir = Some(path),
                        "--tmp" => tmp = Some(path),
                        _ => parsed.allow_read.push(path),
                    }
                }
                other => return Err(format!("unexpected argument {other}")),
            }
        }
        parsed.dir = dir.ok_or("--dir is required")?;
        parsed.tmp = tmp.ok_or("--tmp is required")?;
        if parsed.argv.is_empty() {
            return Err("no command after --".into());
        }
        Ok(parsed)
    }
}

/// The launcher's body: restrict, then execute. Returns only on failure (125:
/// the sandbox could not be applied; 126/127: the command could not be run).
pub(crate) fn exec_main(args: Vec<OsString>) -> ExitCode {
    let launch = match LaunchArgs::parse(args) {
        Ok(launch) => launch,
        Err(err) => return fail(EXIT_SANDBOX, &format!("sandbox-exec: {err}")),
    };
    if let Err(err) = drop_capabilities() {
        return fail(EXIT_SANDBOX, &format!("sandbox-exec: capabilities: {err}"));
    }
    if let Err(err) = restrict(&launch) {
        return fail(EXIT_SANDBOX, &format!("sandbox-exec: landlock: {err}"));
    }
    scope_best_effort();
    let mut argv = launch.argv.iter();
    let Some(program) = argv.next() else {
        return fail(EXIT_SANDBOX, "sandbox-exec: no command");
    };
    let err = std::process::Command::new(program).args(argv).exec();
    let status = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    fail(status, &format!("{}: {err}", program.to_string_lossy()))
}

fn fail(status: u8, message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(status)
}

/// Empties every capability set, so the command (root or not) starts with none
/// and gains none by `exec` (`no_new_privs` also ignores file capabilities).
fn drop_capabilities() -> Result<(), String> {
    use rustix::io::Errno;
    use rustix::thread::{
        CapabilitySet, CapabilitySets, capabilities, capability_is_in_bounding_set,
        clear_ambient_capability_set, remove_capability_from_bounding_set, set_capabilities,
    };
    for bit in 0..64u32 {
        let capability = CapabilitySet::from_bits_retain(1 << bit);
        match capability_is_in_bounding_set(capability) {
            Ok(true) => {}
            Ok(false) => continue,
            // Past the kernel's last capability.
            Err(Errno::INVAL) => break,
            Err(err) => return Err(format!("reading the bounding set: {err}")),
        }
        if let Err(err) = remove_capability_from_bounding_set(capability) {
            // Without CAP_SETPCAP (not root): nothing permitted to regain anyway.
            let held = capabilities(None).map_err(|err| err.to_string())?;
            if !held.permitted.is_empty() {
                return Err(format!(
                    "dropping capability {bit} from the bounding set: {err}"
                ));
            }
        }
    }
    match clear_ambient_capability_set() {
        // EINVAL: a kernel without ambient capabilities.
        Ok(()) | Err(Errno::INVAL) => {}
        Err(err) => return Err(format!("clearing the ambient set: {err}")),
    }
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    set_capabilities(None, none).map_err(|err| format!("clearing the capability sets: {err}"))
}

/// Applies the rules to this process; an error unless fully enforced.
fn restrict(launch: &LaunchArgs) -> Result<(), String> {
    let read = AccessFs::from_read(FS_ABI);
    let all = AccessFs::from_all(FS_ABI);
    let device = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate;
    let mut ruleset = Ruleset::default()
        .handle_access(all)
        .map_err(|err| err.to_string())?;
    if !launch.network {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(|err| err.to_string())?;
    }
    let mut created = ruleset.create().map_err(|err| err.to_string())?;
    let readable = SYSTEM_READ_PATHS
        .iter()
        .map(PathBuf::from)
        .chain(launch.allow_read.iter().cloned());
    for path in readable {
        created = add(created, &path, read, false)?;
    }
    created = add(created, Path::new("/dev"), AccessFs::ReadDir.into(), false)?;
    for path in DEVICES {
        created = add(created, Path::new(path), device, false)?;
    }
    created = add(created, &launch.dir, all, true)?;
    created = add(created, &launch.tmp, all, true)?;
    let status = created.restrict_self().map_err(|err| err.to_string())?;
    if status.ruleset != RulesetStatus::FullyEnforced || !status.no_new_privs {
        return Err(not_enforced(&status.landlock, launch.network));
    }
    Ok(())
}

/// Where the kernel has scopes (ABI 6, Linux 6.12), commands may neither signal
/// processes outside their sandbox (the daemon) nor connect to abstract Unix
/// sockets outside it. A layer of its own, best effort: hardening beyond the
/// rules that must be fully enforced, so an older kernel only goes without it.
fn scope_best_effort() {
    let layered = Ruleset::default()
        .scope(Scope::from_all(ABI::V6))
        .and_then(|ruleset| ruleset.create())
        .and_then(|created| created.restrict_self());
    // Nothing to report to: stderr is the command's output.
    let _ = layered;
}

/// Adds a rule for `path` (a file gets only the rights files have); a missing
/// optional path is skipped, a missing required one is an error.
fn add(
    created: landlock::RulesetCreated,
    path: &Path,
    access: BitFlags<AccessFs>,
    required: bool,
) -> Result<landlock::RulesetCreated, String> {
    let fd = match PathFd::new(path) {
        Ok(fd) => fd,
        Err(_) if !required && !path.exists() => return Ok(created),
        Err(err) => return Err(format!("{}: {err}", path.display())),
    };
    let access = if path.is_dir() {
        access
    } else {
        access & AccessFs::from_file(FS_ABI)
    };
    created
        .add_rule(PathBeneath::new(fd, access))
        .map_err(|err| format!("{}: {err}", path.display()))
}

fn not_enforced(landlock: &LandlockStatus, network: bool) -> String {
    let need = if network {
        "ABI 3 (Linux 6.2)"
    } else {
        "ABI 4 (Linux 6.7) for --no-network"
    };
    match landlock {
        LandlockStatus::NotImplemented => {
            "this kernel has no Landlock support (built without CONFIG_SECURITY_LANDLOCK)".into()
        }
        LandlockStatus::NotEnabled => {
            "Landlock is built into this kernel but not enabled (add it to the lsm= boot \
             parameter)"
                .into()
        }
        LandlockStatus::Available { effective_abi, .. } => format!(
            "the kernel's Landlock is {effective_abi:?}, too old to enforce these rules fully: \
             they need {need}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() -> Result<(), String> {
        let launch = LaunchArgs {
            dir: "/w/dir".into(),
            tmp: "/tmp/t".into(),
            network: false,
            allow_read: vec!["/nix".into(), "/srv/x".into()],
            argv: vec!["sh".into(), "-c".into(), "--no-network".into()],
        };
        assert_eq!(LaunchArgs::parse(launch.to_args())?, launch);
        assert!(LaunchArgs::parse(vec!["--dir".into(), "rel".into()]).is_err());
        assert!(
            LaunchArgs::parse(vec![
                "--dir".into(),
                "/a".into(),
                "--tmp".into(),
                "/b".into()
            ])
            .is_err()
        );
        Ok(())
    }
}

//! The bubblewrap wrapper: the same view as the Landlock rules, built as mounts.
//! The sandbox's root is empty; the system's directories are bound read-only
//! (merged-`/usr` symlinks such as `/bin` recreated as symlinks), DIR and the
//! private temp directory read-write, `--allow-read` paths read-only; a fresh
//! `/dev` (null, zero, full, random, urandom, tty, pts, shm) and `/proc`. So the
//! home directories, `/tmp` and everything else are simply absent.
//!
//! Namespaces: pid (so killing bwrap, the process-group leader the daemon kills,
//! takes every process inside down with its init), ipc, and net with
//! `--no-network` (all protocols, not only TCP). `--new-session` keeps commands
//! off the daemon's terminal; `--die-with-parent` ends them with the daemon.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::landlock::SYSTEM_READ_PATHS;

/// What bwrap binds.
#[derive(Debug, Clone)]
pub(crate) struct BwrapView {
    pub(crate) dir: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) network: bool,
    pub(crate) allow_read: Vec<PathBuf>,
}

impl BwrapView {
    /// bwrap's arguments for running `argv` in `cwd`.
    pub(crate) fn args(&self, argv: Vec<OsString>, cwd: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-ipc",
            "--cap-drop",
            "ALL",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        if !self.network {
            args.push("--unshare-net".into());
        }
        for path in SYSTEM_READ_PATHS {
            let path = Path::new(path);
            if path == Path::new("/proc") {
                continue;
            }
            match std::fs::read_link(path) {
                Ok(target) => push(&mut args, "--symlink", &target, path),
                Err(_) if path.exists() => push(&mut args, "--ro-bind", path, path),
                Err(_) => {}
            }
        }
        for path in &self.allow_read {
            push(&mut args, "--ro-bind", path, path);
        }
        args.extend(["--dev", "/dev", "--proc", "/proc"].map(OsString::from));
        push(&mut args, "--bind", &self.dir, &self.dir);
        push(&mut args, "--bind", &self.tmp, &self.tmp);
        args.push("--chdir".into());
        args.push(cwd.into());
        args.push("--".into());
        args.extend(argv);
        args
    }
}

fn push(args: &mut Vec<OsString>, flag: &str, source: &Path, target: &Path) {
    args.push(flag.into());
    args.push(source.into());
    args.push(target.into());
}

/// `bwrap` on `PATH`.
pub(crate) fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_the_directory_and_temp_and_the_command_last() {
        let view = BwrapView {
            dir: "/w/d".into(),
            tmp: "/tmp/t".into(),
            network: false,
            allow_read: vec!["/srv/ro".into()],
        };
        let args = view.args(vec!["echo".into(), "hi".into()], Path::new("/w/d/sub"));
        let text: Vec<String> = args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        let joined = text.join(" ");
        assert!(joined.contains("--unshare-net"), "{joined}");
        assert!(joined.contains("--bind /w/d /w/d"), "{joined}");
        assert!(joined.contains("--bind /tmp/t /tmp/t"), "{joined}");
        assert!(joined.contains("--ro-bind /srv/ro /srv/ro"), "{joined}");
        assert!(joined.ends_with("--chdir /w/d/sub -- echo hi"), "{joined}");
        assert!(!joined.contains("/home"), "{joined}");
    }
}

//! Which names the CLI will not write into a local directory, and which it will not
//! upload without being asked.
//!
//! Materialize writes what a server (and, through its file tools, a possibly
//! prompt-injected agent) chose. Version-control metadata is refused at any depth:
//! `.git/config` can set `core.fsmonitor` or hooks and run code at the next
//! `git status`. Names Windows treats specially are refused on every platform, so a
//! snapshot means the same files everywhere: `C:` makes a path drive-relative,
//! `name:stream` writes an alternate data stream, `CON` and friends are devices,
//! and trailing dots or spaces are dropped (so `.git.` is `.git`).
//!
//! Snapshot upload sends files to a server and from there to a model provider:
//! environment files, private keys and credential files stay behind unless the
//! user asks for them.

/// Version-control metadata directories (and NTFS's short name of `.git`).
const VCS_NAMES: &[&str] = &[
    ".git", "git~1", ".hg", ".svn", ".jj", ".bzr", "_darcs", ".pijul", ".fossil", "cvs",
];

/// Device names, whatever extension follows them.
const WINDOWS_DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "conin$", "conout$", "com1", "com2", "com3", "com4", "com5",
    "com6", "com7", "com8", "com9", "com¹", "com²", "com³", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5",
    "lpt6", "lpt7", "lpt8", "lpt9", "lpt¹", "lpt²", "lpt³",
];

/// Characters Windows does not allow in a name (`:` also covers drive letters and
/// alternate data streams).
const WINDOWS_FORBIDDEN: &[char] = &[':', '<', '>', '"', '|', '?', '*'];

/// Code points some filesystems ignore when comparing names (HFS+ strips them), so
/// `.g\u{200c}it` can be `.git` there.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// `name` as a case-insensitive, ignorable-free filesystem would compare it.
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| !is_ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Why materialize will not write `path` (a `/`-joined snapshot path), if it won't.
pub(crate) fn materialize_refusal(path: &str) -> Option<&'static str> {
    path.split('/').find_map(name_refusal)
}

fn name_refusal(name: &str) -> Option<&'static str> {
    if name.ends_with(['.', ' ']) && name != "." && name != ".." {
        return Some("a name ending in a dot or space (Windows drops it)");
    }
    if name.contains(WINDOWS_FORBIDDEN) {
        return Some("a name with a character Windows does not allow (`:` <>\"|?*)");
    }
    let folded = folded(name);
    if VCS_NAMES.contains(&folded.as_str()) {
        return Some("version-control metadata (it can run code on the next git/hg command)");
    }
    let stem = folded.split('.').next().unwrap_or_default().trim_end();
    if WINDOWS_DEVICES.contains(&stem) {
        return Some("a Windows device name (CON, NUL, COM1, ...)");
    }
    None
}

/// Directories whose whole content is secret.
const SECRET_DIRS: &[&str] = &[".ssh", ".gnupg", ".aws", ".docker"];

/// Secret files by exact name.
const SECRET_NAMES: &[&str] = &[
    ".envrc",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".git-credentials",
    ".htpasswd",
    ".dockercfg",
    "credentials",
    "credentials.json",
    "credentials.yaml",
    "credentials.yml",
    "credentials.toml",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
    "secrets.toml",
];

/// Secret files by extension: keys, certificates with keys, keystores.
const SECRET_EXTENSIONS: &[&str] = &[
    "pem", "key", "p12", "pfx", "jks", "keystore", "ppk", "kdbx", "tfvars",
];

/// `.env` variants meant to be shared: templates without values.
const ENV_TEMPLATES: &[&str] = &["example", "sample", "template", "dist", "defaults"];

/// Why snapshot upload leaves `relative` (its names, root first) out unless asked,
/// if it does.
pub(crate) fn secret_reason<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    let mut last = None;
    for name in names.by_ref() {
        if let Some(previous) = last
            && SECRET_DIRS.contains(&folded(previous).as_str())
        {
            return Some("inside a credentials directory");
        }
        last = Some(name);
    }
    let name = folded(last?);
    if is_env_file(&name) {
        return Some("an environment file");
    }
    if SECRET_NAMES.contains(&name.as_str()) {
        return Some("a credentials file");
    }
    if is_private_key_name(&name) {
        return Some("a private key");
    }
    let extension = name.rsplit_once('.').map(|(_, extension)| extension);
    if extension.is_some_and(|extension| SECRET_EXTENSIONS.contains(&extension)) {
        return Some("a key or certificate file");
    }
    None
}

/// `.env`, `.env.local`, `.env_production`...; not `.env.example` and the like.
fn is_env_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(".env") else {
        return false;
    };
    match rest.strip_prefix(['.', '_', '-']) {
        None => rest.is_empty(),
        Some(suffix) => !ENV_TEMPLATES.contains(&suffix),
    }
}

/// SSH and similar private keys (`id_rsa`, `id_ed25519_sk`...), not their `.pub`.
fn is_private_key_name(name: &str) -> bool {
    let key = ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || name == "identity";
    key && !name.ends_with(".pub")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn materialize_refuses_metadata_and_windows_names() {
        for bad in [
            ".git/config",
            "a/.GIT/hooks/pre-commit",
            "x/.g\u{200c}it/config",
            ".git./config",
            "GIT~1/config",
            ".hg/hgrc",
            "deep/er/.svn/entries",
            ".jj/repo",
            ".bzr/x",
            "C:",
            "C:evil",
            "file.txt:stream",
            "CON",
            "con.txt",
            "a/nul.tar.gz",
            "COM1",
            "lpt9.log",
            "trailing.",
            "trailing ",
            "q?",
        ] {
            assert!(materialize_refusal(bad).is_some(), "{bad:?}");
        }
        for good in [
            "src/git.rs",
            ".gitignore",
            ".github/workflows/ci.yml",
            "console.txt",
            "com10",
            "a/.env",
            "notes.d/x",
        ] {
            assert_eq!(materialize_refusal(good), None, "{good:?}");
        }
    }

    #[test]
    fn secrets_are_recognised() {
        let secret = |path: &str| secret_reason(path.split('/'));
        for bad in [
            ".env",
            "app/.env.local",
            ".ENV.production",
            ".env_prod",
            "id_rsa",
            "keys/id_ed25519",
            "server.pem",
            "tls.key",
            ".npmrc",
            ".pypirc",
            ".netrc",
            "credentials",
            "conf/credentials.json",
            "home/.ssh/config",
            ".aws/config",
        ] {
            assert!(secret(bad).is_some(), "{bad:?}");
        }
        for good in [
            ".env.example",
            ".env_example",
            "id_rsa.pub",
            "src/keys.rs",
            "environment.md",
            ".envrc.md",
            "README.md",
        ] {
            assert_eq!(secret(good), None, "{good:?}");
        }
    }
}

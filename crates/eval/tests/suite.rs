//! Runs the whole `evals/cases` suite offline against the real `server dev` and
//! `fake-provider` binaries, a deliberately broken case, and the HTML report in
//! headless Chromium.
//!
//! The binaries come from `LIGHTSPEED_SERVER_BIN` / `LIGHTSPEED_FAKE_PROVIDER_BIN`,
//! else `$CARGO_TARGET_DIR/debug/{server,fake-provider}`
//! (`cargo build -p temporal-server --bin server -p test-support --bin fake-provider`).
//! Missing binaries skip the tests with a note, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug").join(name)
}

/// The server and fake provider binaries, or `None` (skip) when they are missing
/// outside CI.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let server = bin("LIGHTSPEED_SERVER_BIN", "server");
    let fake = bin("LIGHTSPEED_FAKE_PROVIDER_BIN", "fake-provider");
    if server.exists() && fake.exists() {
        return Some((server, fake));
    }
    let note = format!(
        "missing {} or {}: build them with `cargo build -p temporal-server --bin server \
         -p test-support --bin fake-provider`, or set LIGHTSPEED_SERVER_BIN / \
         LIGHTSPEED_FAKE_PROVIDER_BIN",
        server.display(),
        fake.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{note}");
    eprintln!("skipped: {note}");
    None
}

fn eval(args: &[&std::ffi::OsStr], server: &Path, fake: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_lightspeed-eval"))
        .current_dir(repo_root())
        .args(args)
        .arg("--server-bin")
        .arg(server)
        .arg("--fake-provider-bin")
        .arg(fake)
        .args(["--jobs", "3", "--timeout", "90"])
        .output();
    match output {
        Ok(output) => output,
        Err(err) => panic!("cannot run lightspeed-eval: {err}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn case_names() -> Vec<String> {
    let dir = repo_root().join("evals/cases");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Ok(body) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if let Some(name) = value.get("name").and_then(|n| n.as_str()) {
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn the_suite_passes_offline_and_the_html_report_lists_every_case() {
    let Some((server, fake)) = binaries() else {
        return;
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("tempdir: {err}"),
    };
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let output = eval(
        &[
            "evals/cases".as_ref(),
            "--json".as_ref(),
            json.as_os_str(),
            "--html".as_ref(),
            html.as_os_str(),
        ],
        &server,
        &fake,
    );
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "suite failed ({}):\n{stdout}\n{}",
        output.status,
        text(&output.stderr)
    );
    let names = case_names();
    assert!(names.len() >= 15, "only {} cases", names.len());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_default())
            .unwrap_or_default();
    // A case whose `requires` is missing (the MCP case without local/up.sh's
    // node_modules) is skipped, and still listed.
    let ran = report["cases"].as_array().map_or(0, Vec::len);
    let skipped = report["skipped"].as_array().map_or(0, Vec::len);
    assert_eq!(ran + skipped, names.len(), "{report}");
    if skipped > 0 {
        eprintln!("note: {skipped} case(s) skipped: {}", report["skipped"]);
    }
    for name in &names {
        assert!(
            stdout.contains(name.as_str()),
            "{name} not in the table:\n{stdout}"
        );
    }
    check_html_in_chromium(&html, &names);
}

/// Loads the report in headless Chromium (`/usr/bin/chromium`, Debian's package) and
/// checks that the rendered DOM names every case; skipped without Chromium.
fn check_html_in_chromium(html: &Path, names: &[String]) {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        let note = "no /usr/bin/chromium for the HTML check (apt-get install chromium)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{note}");
        eprintln!("skipped: {note}");
        return;
    }
    let output = Command::new(chromium)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => panic!("chromium: {err}"),
    };
    let dom = text(&output.stdout);
    assert!(
        dom.contains("Lightspeed eval report"),
        "DOM: {dom}\n{}",
        text(&output.stderr)
    );
    for name in names {
        assert!(
            dom.contains(name.as_str()),
            "{name} not in the rendered report"
        );
    }
}

#[test]
fn a_broken_case_fails_with_a_readable_diff() {
    let Some((server, fake)) = binaries() else {
        return;
    };
    let output = eval(&["crates/eval/tests/broken".as_ref()], &server, &fake);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for needle in [
        "FAIL deliberately-broken [default]: pass rate 0% < minimum 100%",
        "✗ toolsCalled edit_file",
        "expected: 1+ call(s) of edit_file with /new_string contains \"debug = true\"",
        "calls: read_file({\"path\":\"/repo/config.toml\"})",
        "✗ textContains",
        "actual:   \"I only looked at it.\"",
        "✗ file config.toml",
        "expected: \"debug = true\\n\"",
        "actual:   \"debug = false\\n\"",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in:\n{stdout}");
    }
}

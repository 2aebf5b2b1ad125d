//! The `lightspeed` binary: parses the command line and hands it to the `cli` library.

use std::process::ExitCode;

/// How long background tasks get to stop once the command is done.
const SHUTDOWN_GRACE_MS: u64 = 200;

fn main() -> ExitCode {
    let cli = cli::args::parse();
    // The Landlock launcher restricts itself, then executes the command: it must
    // do so while this process has one thread, so before the runtime exists.
    if let Some(code) = cli::env::launcher(&cli) {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lightspeed: starting the async runtime failed: {err}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // Background tasks (a followed session, the terminal's input reader) are not
    // waited for: the command is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(SHUTDOWN_GRACE_MS));
    match result {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            eprintln!("lightspeed: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

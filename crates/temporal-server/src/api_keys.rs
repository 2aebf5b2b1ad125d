//! `server api-keys ...`: API keys for the gateway, stored hashed in a key file.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use gateway::{FileKeyStore, KeyStore as _, mint_key};

/// The universe keys belong to when none is named: the single tenant of a local or
/// single-tenant deployment. Same value as the Postgres store's default universe.
pub(crate) const DEFAULT_UNIVERSE_ID: &str = "00000000-0000-0000-0000-000000000001";

/// Where keys are kept when no file is named, relative to the working directory.
pub(crate) const DEFAULT_KEYS_FILE: &str = ".local/data/api-keys.json";

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeysCommand {
    /// Mint a key: prints it once on stdout and stores only its hash.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The universe (tenant) the key acts in.
    #[arg(long = "universe", env = "LIGHTSPEED_PG_UNIVERSE_ID", default_value = DEFAULT_UNIVERSE_ID)]
    universe_id: String,
    /// The JSON key file; created with its directory when missing.
    #[arg(long, env = "LIGHTSPEED_KEYS_FILE", default_value = DEFAULT_KEYS_FILE)]
    keys_file: PathBuf,
}

pub(crate) async fn run(command: ApiKeysCommand) -> anyhow::Result<()> {
    match command {
        ApiKeysCommand::Create(args) => create(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let universe_id = args.universe_id.trim();
    if universe_id.is_empty() || universe_id.chars().any(char::is_whitespace) {
        bail!("--universe must be a non-empty id without spaces");
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_millis();
    let now_ms = u64::try_from(now_ms).context("the system clock is past year 500 million")?;
    let (key, record) = mint_key(universe_id, now_ms);
    let key_id = record.key_id.clone();
    let store = FileKeyStore::new(&args.keys_file);
    store
        .insert(record)
        .await
        .with_context(|| format!("storing the key in {}", args.keys_file.display()))?;
    // The key goes to stdout alone, so `KEY=$(server api-keys create)` works; it is
    // not stored anywhere and cannot be shown again.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{key}").context("writing the key to stdout")?;
    stdout.flush().context("writing the key to stdout")?;
    eprintln!(
        "created API key {key_id} for universe {universe_id} in {}; the key above is shown only once",
        args.keys_file.display()
    );
    Ok(())
}

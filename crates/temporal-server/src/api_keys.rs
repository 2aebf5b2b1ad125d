//! `server api-keys ...`: API keys for the gateway, stored hashed: in Postgres when
//! `LIGHTSPEED_POSTGRES_URL` is set (where a gateway with that URL looks), otherwise
//! in a key file.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use gateway::{
    FileKeyStore, KEY_NAME_BYTES_MAX, KEY_PREFIX, KeyRecord, KeyStore as _, KeyStoreError,
    hash_key, mint_key, mint_operator_key,
};
use temporal_server::keys::PgKeys;

/// The universe keys belong to when none is named: the single tenant of a local or
/// single-tenant deployment. Same value as the Postgres store's default universe.
pub(crate) const DEFAULT_UNIVERSE_ID: &str = "00000000-0000-0000-0000-000000000001";

/// Where keys are kept when no file is named, relative to the working directory.
pub(crate) const DEFAULT_KEYS_FILE: &str = ".local/data/api-keys.json";

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeysCommand {
    /// Mint a key: prints it once on stdout and stores only its hash.
    Create(KeyArgs),
    /// Store the hash of an existing key read from stdin (e.g. from a secret manager,
    /// or `local/up.sh` re-registering its development key). Adding a key that is
    /// already stored succeeds and changes nothing.
    Add(KeyArgs),
    /// Revoke a key by id (every gateway refuses it within its key recheck period).
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The key's public id (`key_...`).
    key_id: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Where keys are kept.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The JSON key file, created with its directory when missing; used when no
    /// Postgres URL is set.
    #[arg(long, env = "LIGHTSPEED_KEYS_FILE", default_value = DEFAULT_KEYS_FILE)]
    keys_file: PathBuf,
    /// Postgres URL: when set, keys are in its `api_keys` and `operator_keys` tables.
    #[arg(long, env = "LIGHTSPEED_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// The universe (tenant) the key acts in.
    #[arg(long = "universe", env = "LIGHTSPEED_PG_UNIVERSE_ID", default_value = DEFAULT_UNIVERSE_ID)]
    universe_id: String,
    /// An operator key instead: no universe, the `operator/` methods only.
    #[arg(long, conflicts_with = "universe_id")]
    operator: bool,
    /// A label for people (who or what uses the key).
    #[arg(long, default_value = "")]
    name: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub(crate) async fn run(command: ApiKeysCommand) -> anyhow::Result<()> {
    match command {
        ApiKeysCommand::Create(args) => create(args).await,
        ApiKeysCommand::Add(args) => add(args).await,
        ApiKeysCommand::Revoke(args) => revoke(args).await,
    }
}

pub(crate) fn now_ms() -> anyhow::Result<u64> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_millis();
    u64::try_from(now_ms).context("the system clock is past year 500 million")
}

/// The universe a key is for: empty for an operator key.
fn checked_universe(args: &KeyArgs) -> anyhow::Result<&str> {
    if args.name.len() > KEY_NAME_BYTES_MAX {
        bail!("--name is longer than {KEY_NAME_BYTES_MAX} bytes");
    }
    if args.operator {
        return Ok("");
    }
    let universe_id = args.universe_id.trim();
    if universe_id.is_empty() || universe_id.chars().any(char::is_whitespace) {
        bail!("--universe must be a non-empty id without spaces");
    }
    let is_seam = universe_id.eq_ignore_ascii_case(temporal_server::seam::SEAM_UNIVERSE_ID)
        // Postgres reads universes as UUIDs: any spelling of the nil UUID is the same.
        || uuid::Uuid::parse_str(universe_id).is_ok_and(|uuid| uuid.is_nil());
    if is_seam {
        // Its CAS holds the spilled workflow payloads of every tenant.
        bail!("--universe {universe_id} is reserved for the server's own use");
    }
    Ok(universe_id)
}

/// The record of a key the caller already holds. Its id derives from the hash, so
/// adding the same key twice yields the same record.
/// An empty `universe_id` makes it an operator key.
pub(crate) fn record_for(key: &str, universe_id: &str, created_at_ms: u64) -> KeyRecord {
    let key_hash = hash_key(key);
    KeyRecord {
        key_id: format!("key_{}", &key_hash[..16]),
        universe_id: universe_id.to_owned(),
        key_hash,
        created_at_ms,
        name: String::new(),
        operator: universe_id.is_empty(),
        revoked_at_ms: None,
    }
}

async fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    let at_ms = now_ms()?;
    let revoked = match args
        .store
        .postgres_url
        .as_deref()
        .filter(|url| !url.is_empty())
    {
        Some(url) => {
            let db = crate::serve::connect_postgres(url, 1).await?;
            let revoked = PgKeys(db.key_store()).revoke(&args.key_id, at_ms).await;
            db.close().await;
            revoked.context("revoking the key in Postgres")?
        }
        None => FileKeyStore::new(&args.store.keys_file)
            .revoke(&args.key_id, at_ms)
            .await
            .with_context(|| format!("revoking the key in {}", args.store.keys_file.display()))?,
    };
    match revoked {
        Some(record) => {
            eprintln!("revoked API key {} (name {:?})", record.key_id, record.name);
            Ok(())
        }
        None => bail!("no API key {:?}", args.key_id),
    }
}

/// Stores `record` where `args` say; returns where, for the message.
async fn store(args: &StoreArgs, record: KeyRecord) -> anyhow::Result<String> {
    match args.postgres_url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => {
            let db = crate::serve::connect_postgres(url, 1).await?;
            let stored = PgKeys(db.key_store()).insert(record).await;
            db.close().await;
            stored.context("storing the key in Postgres")?;
            Ok("Postgres".to_owned())
        }
        None => {
            FileKeyStore::new(&args.keys_file)
                .insert(record)
                .await
                .with_context(|| format!("storing the key in {}", args.keys_file.display()))?;
            Ok(args.keys_file.display().to_string())
        }
    }
}

async fn add(args: KeyArgs) -> anyhow::Result<()> {
    let universe_id = checked_universe(&args)?;
    let mut key = String::new();
    std::io::stdin()
        .read_to_string(&mut key)
        .context("reading the key from stdin")?;
    let key = key.trim();
    if !key.starts_with(KEY_PREFIX) || key.len() < KEY_PREFIX.len() + 32 {
        bail!("stdin does not hold an API key (`{KEY_PREFIX}` followed by at least 32 characters)");
    }
    let mut record = record_for(key, universe_id, now_ms()?);
    record.name.clone_from(&args.name);
    let key_id = record.key_id.clone();
    match store(&args.store, record).await {
        Ok(stored_in) => {
            eprintln!("added API key {key_id} for universe {universe_id} in {stored_in}")
        }
        Err(err) if is_duplicate(&err) => eprintln!("API key {key_id} is already stored"),
        Err(err) => return Err(err),
    }
    Ok(())
}

fn is_duplicate(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<KeyStoreError>(),
        Some(KeyStoreError::Duplicate)
    )
}

async fn create(args: KeyArgs) -> anyhow::Result<()> {
    let universe_id = checked_universe(&args)?;
    let (key, mut record) = if args.operator {
        mint_operator_key(now_ms()?)
    } else {
        mint_key(universe_id, now_ms()?)
    };
    record.name.clone_from(&args.name);
    let key_id = record.key_id.clone();
    let stored_in = store(&args.store, record).await?;
    // The key goes to stdout alone, so `KEY=$(server api-keys create)` works; it is
    // not stored anywhere and cannot be shown again.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{key}").context("writing the key to stdout")?;
    stdout.flush().context("writing the key to stdout")?;
    let owner = if args.operator {
        "the operator".to_owned()
    } else {
        format!("universe {universe_id}")
    };
    eprintln!(
        "created API key {key_id} for {owner} in {stored_in}; the key above is shown only once"
    );
    Ok(())
}

//! Configuration: defaults, then an optional TOML file (`--config` or `FAXRELAY_CONFIG`),
//! then environment variables (`FAXRELAY_*`, and `DATABASE_URL` / `REDIS_URL` as users
//! expect them). Everything is validated once, here, and every bad value is reported with
//! the variable that holds it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use faxrelay_api::{ApiSettings, SignupPolicy};
use faxrelay_core::crypto::{MasterKey, SecretString};
use faxrelay_core::retry::parse_duration;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

/// The settings as written, before validation. Field names are the file's keys; the
/// environment variable of each is `FAXRELAY_` and the name in capitals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: String,
    pub public_url: Option<String>,
    pub database_url: String,
    pub db_max_connections: u32,
    pub db_acquire_timeout: String,
    pub db_busy_timeout: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub redis_shards: usize,
    pub secret_key: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    pub signup: String,
    pub signup_token: Option<String>,
    pub signup_token_file: Option<PathBuf>,
    pub max_push_bytes: usize,
    pub token_ttl: String,
    pub nonce_ttl: String,
    pub http_workers: Option<usize>,
    pub ingest_writers: Option<usize>,
    pub worker_concurrency: usize,
    pub delivery_timeout: String,
    pub retry_schedule: String,
    pub disable_after: String,
    pub sweep_interval: String,
    pub allow_private_targets: bool,
    pub allowed_targets: String,
    pub log: String,
    pub log_format: String,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            public_url: None,
            database_url: "sqlite://faxrelay.db?mode=rwc".to_owned(),
            db_max_connections: 16,
            db_acquire_timeout: "5s".to_owned(),
            db_busy_timeout: "10s".to_owned(),
            redis_url: None,
            redis_prefix: "faxrelay".to_owned(),
            redis_shards: 1,
            secret_key: None,
            secret_key_file: None,
            signup: "open".to_owned(),
            signup_token: None,
            signup_token_file: None,
            max_push_bytes: 1024 * 1024,
            token_ttl: "1h".to_owned(),
            nonce_ttl: "5m".to_owned(),
            http_workers: None,
            ingest_writers: None,
            worker_concurrency: 256,
            delivery_timeout: "15s".to_owned(),
            retry_schedule: faxrelay_core::retry::RetrySchedule::default().to_string(),
            disable_after: "5d".to_owned(),
            sweep_interval: "30s".to_owned(),
            allow_private_targets: false,
            allowed_targets: String::new(),
            log: "info".to_owned(),
            log_format: "text".to_owned(),
        }
    }
}

/// Every problem found in a configuration, one per line.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<String>);

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    Given(MasterKey),
    /// Embedded mode without a configured key: kept in this file, created on first start.
    File(PathBuf),
    /// An in-memory SQLite database: the key lives as long as the process.
    Ephemeral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub store: faxrelay_storage::StoreOptions,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub redis_shards: usize,
    pub key: KeySource,
    pub api: ApiSettings,
    pub http_workers: usize,
    /// Concurrent ingest transactions; `None` picks by database.
    pub ingest_writers: Option<usize>,
    pub worker: faxrelay_worker::WorkerSettings,
    pub log: String,
    pub log_format: LogFormat,
}

impl RawConfig {
    /// Reads the layers: defaults, the file if any, the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(vec![format!(
                    "the configuration file {} does not exist",
                    file.display()
                )]));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
            .merge(Env::prefixed("FAXRELAY_").ignore(&[
                "CONFIG",
                "TEST_DATABASE_URL",
                "TEST_REDIS_URL",
            ]));
        figment.extract().map_err(|error| {
            ConfigError(
                error
                    .into_iter()
                    .map(|e| describe_figment_error(&e))
                    .collect(),
            )
        })
    }
}

fn describe_figment_error(error: &figment::Error) -> String {
    let key = error.path.join(".");
    if key.is_empty() {
        return error.to_string();
    }
    format!(
        "{key} (FAXRELAY_{}): {}",
        key.to_ascii_uppercase(),
        error.kind
    )
}

/// A secret given directly or as a file (`*_FILE`), never both.
fn secret(
    name: &str,
    direct: &Option<String>,
    file: &Option<PathBuf>,
    problems: &mut Vec<String>,
) -> Option<SecretString> {
    match (direct, file) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "FAXRELAY_{name} and FAXRELAY_{name}_FILE are both set; set one"
            ));
            None
        }
        (Some(value), None) => Some(SecretString::new(value.trim())),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(value) => Some(SecretString::new(value.trim())),
            Err(error) => {
                problems.push(format!(
                    "FAXRELAY_{name}_FILE: cannot read {}: {error}",
                    path.display()
                ));
                None
            }
        },
        (None, None) => None,
    }
}

fn duration(name: &str, text: &str, problems: &mut Vec<String>) -> Duration {
    match parse_duration(text) {
        Ok(duration) if !duration.is_zero() => duration,
        Ok(_) => {
            problems.push(format!("{name}: must be longer than zero"));
            Duration::from_secs(1)
        }
        Err(error) => {
            problems.push(format!("{name}: {error}"));
            Duration::from_secs(1)
        }
    }
}

/// The SQLite file a URL names, if it names one.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn worker_settings(raw: &RawConfig, problems: &mut Vec<String>) -> faxrelay_worker::WorkerSettings {
    let mut worker = faxrelay_worker::WorkerSettings::default();
    if !(1..=4096).contains(&raw.worker_concurrency) {
        problems.push("FAXRELAY_WORKER_CONCURRENCY: must be from 1 to 4096".to_owned());
    }
    worker.concurrency = raw.worker_concurrency.clamp(1, 4096);
    worker.claim_batch = worker.concurrency.min(256);
    worker.timeout = duration("FAXRELAY_DELIVERY_TIMEOUT", &raw.delivery_timeout, problems);
    if worker.timeout > Duration::from_secs(120) {
        problems.push("FAXRELAY_DELIVERY_TIMEOUT: must be at most 2m".to_owned());
    }
    match raw.retry_schedule.parse() {
        Ok(schedule) => worker.retry_schedule = schedule,
        Err(error) => problems.push(format!("FAXRELAY_RETRY_SCHEDULE: {error}")),
    }
    worker.disable_after = duration("FAXRELAY_DISABLE_AFTER", &raw.disable_after, problems);
    worker.sweep_interval = duration("FAXRELAY_SWEEP_INTERVAL", &raw.sweep_interval, problems);
    worker.target_policy.allow_private = raw.allow_private_targets;
    match faxrelay_core::target::TargetPolicy::parse_allowed(&raw.allowed_targets) {
        Ok(allowed) => worker.target_policy.allowed = allowed,
        Err(error) => problems.push(format!("FAXRELAY_ALLOWED_TARGETS: {error}")),
    }
    worker
}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();

        let listen = raw.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
            problems.push(format!(
                "FAXRELAY_LISTEN: `{}` is not an address and port such as 127.0.0.1:8080",
                raw.listen
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });

        let public_url = match &raw.public_url {
            Some(text) => match Url::parse(text) {
                Ok(url)
                    if matches!(url.scheme(), "http" | "https")
                        && url.host().is_some()
                        && url.query().is_none() =>
                {
                    url
                }
                _ => {
                    problems.push(format!("FAXRELAY_PUBLIC_URL: `{text}` is not an http(s) URL such as https://relay.example.com"));
                    Url::parse("http://127.0.0.1:8080").expect("valid URL")
                }
            },
            None => {
                let host = if listen.ip().is_unspecified() {
                    "localhost".to_owned()
                } else {
                    listen.ip().to_string()
                };
                let host = if listen.is_ipv6() && !listen.ip().is_unspecified() {
                    format!("[{host}]")
                } else {
                    host
                };
                Url::parse(&format!("http://{host}:{}", listen.port())).expect("valid URL")
            }
        };

        let is_sqlite = raw.database_url.starts_with("sqlite:");
        let is_postgres = raw.database_url.starts_with("postgres://")
            || raw.database_url.starts_with("postgresql://");
        if !is_sqlite && !is_postgres {
            problems.push(
                "DATABASE_URL: use sqlite://FILE?mode=rwc or postgres://USER@HOST/DB".to_owned(),
            );
        }
        if raw.db_max_connections == 0 {
            problems.push("FAXRELAY_DB_MAX_CONNECTIONS: must be at least 1".to_owned());
        }
        let store = faxrelay_storage::StoreOptions {
            max_connections: raw.db_max_connections.max(1),
            acquire_timeout: duration(
                "FAXRELAY_DB_ACQUIRE_TIMEOUT",
                &raw.db_acquire_timeout,
                &mut problems,
            ),
            busy_timeout: duration(
                "FAXRELAY_DB_BUSY_TIMEOUT",
                &raw.db_busy_timeout,
                &mut problems,
            ),
            ..faxrelay_storage::StoreOptions::default()
        };
        if let Some(url) = &raw.redis_url
            && !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("redis+unix://"))
        {
            problems.push("REDIS_URL: use redis://HOST:PORT/DB".to_owned());
        }
        if raw.redis_shards == 0 || raw.redis_shards > 1024 {
            problems.push("FAXRELAY_REDIS_SHARDS: must be from 1 to 1024".to_owned());
        }
        if raw.redis_prefix.is_empty() || raw.redis_prefix.contains(['{', '}', ' ']) {
            problems.push(
                "FAXRELAY_REDIS_PREFIX: must be non-empty, without braces or spaces".to_owned(),
            );
        }

        let key = match secret(
            "SECRET_KEY",
            &raw.secret_key,
            &raw.secret_key_file,
            &mut problems,
        ) {
            Some(text) => match MasterKey::parse(text.expose()) {
                Ok(key) => KeySource::Given(key),
                Err(error) => {
                    problems.push(format!("FAXRELAY_SECRET_KEY: {error}"));
                    KeySource::Ephemeral
                }
            },
            None if is_postgres => {
                problems.push(
                    "FAXRELAY_SECRET_KEY: required with PostgreSQL, since every process must share it; \
                     generate one with `openssl rand -base64 32`"
                        .to_owned(),
                );
                KeySource::Ephemeral
            }
            None => match sqlite_file(&raw.database_url) {
                Some(database) => KeySource::File(database.with_extension("key")),
                None => KeySource::Ephemeral,
            },
        };

        let signup_token = secret(
            "SIGNUP_TOKEN",
            &raw.signup_token,
            &raw.signup_token_file,
            &mut problems,
        );
        let signup = match (raw.signup.as_str(), signup_token) {
            ("open", _) => SignupPolicy::Open,
            ("closed", _) => SignupPolicy::Closed,
            ("token", Some(token)) if token.expose().len() >= 16 => SignupPolicy::Token(token),
            ("token", _) => {
                problems.push("FAXRELAY_SIGNUP_TOKEN: FAXRELAY_SIGNUP=token needs a token of at least 16 characters".to_owned());
                SignupPolicy::Closed
            }
            (other, _) => {
                problems.push(format!(
                    "FAXRELAY_SIGNUP: `{other}` is not one of open, token, closed"
                ));
                SignupPolicy::Closed
            }
        };

        if !(1024..=64 * 1024 * 1024).contains(&raw.max_push_bytes) {
            problems.push("FAXRELAY_MAX_PUSH_BYTES: must be from 1024 to 67108864".to_owned());
        }
        let token_ttl = duration("FAXRELAY_TOKEN_TTL", &raw.token_ttl, &mut problems);
        let nonce_ttl = duration("FAXRELAY_NONCE_TTL", &raw.nonce_ttl, &mut problems);

        let log_format = match raw.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                problems.push(format!(
                    "FAXRELAY_LOG_FORMAT: `{other}` is not one of text, json"
                ));
                LogFormat::Text
            }
        };
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&raw.log) {
            problems.push(format!(
                "FAXRELAY_LOG: `{}` is not a log filter such as info or faxrelay=debug: {error}",
                raw.log
            ));
        }
        let http_workers = match raw.http_workers {
            Some(0) => {
                problems.push("FAXRELAY_HTTP_WORKERS: must be at least 1".to_owned());
                1
            }
            Some(workers) => workers,
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };

        let worker = worker_settings(&raw, &mut problems);
        if raw
            .ingest_writers
            .is_some_and(|writers| !(1..=64).contains(&writers))
        {
            problems.push("FAXRELAY_INGEST_WRITERS: must be from 1 to 64".to_owned());
        }

        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        let mut api = ApiSettings::new(public_url);
        api.signup = signup;
        api.max_push_body = raw.max_push_bytes;
        api.token_ttl = token_ttl;
        api.nonce_ttl = nonce_ttl;
        Ok(Self {
            listen,
            database_url: raw.database_url,
            store,
            redis_url: raw.redis_url,
            redis_prefix: raw.redis_prefix,
            redis_shards: raw.redis_shards,
            key,
            api,
            http_workers,
            ingest_writers: raw.ingest_writers,
            worker,
            log: raw.log,
            log_format,
        })
    }

    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_raw(RawConfig::load(file)?)
    }
}

/// The master key: given, or for the embedded mode read from (or created in) its file.
pub fn master_key(source: &KeySource) -> anyhow::Result<MasterKey> {
    use anyhow::Context;
    match source {
        KeySource::Given(key) => Ok(key.clone()),
        KeySource::Ephemeral => Ok(MasterKey::generate().0),
        KeySource::File(path) => {
            if path.exists() {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the secret key {}", path.display()))?;
                return MasterKey::parse(&text)
                    .with_context(|| format!("the secret key in {} is invalid", path.display()));
            }
            let (key, text) = MasterKey::generate();
            write_private(path, &text)
                .with_context(|| format!("writing the secret key {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a secret key for the embedded mode; back it up with the database");
            Ok(key)
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(raw: RawConfig) -> Vec<String> {
        Config::from_raw(raw).err().map(|e| e.0).unwrap_or_default()
    }

    #[test]
    fn the_defaults_are_valid_and_embedded() {
        let config = Config::from_raw(RawConfig::default()).expect("defaults are valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.api.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(config.redis_url.is_none());
        assert!(
            matches!(config.key, KeySource::File(ref path) if path == Path::new("faxrelay.key"))
        );
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let raw = RawConfig {
            listen: "everywhere".into(),
            public_url: Some("ftp://x".into()),
            database_url: "mysql://x".into(),
            signup: "maybe".into(),
            token_ttl: "forever".into(),
            log_format: "xml".into(),
            ..RawConfig::default()
        };
        let found = problems(raw);
        for variable in [
            "FAXRELAY_LISTEN",
            "FAXRELAY_PUBLIC_URL",
            "DATABASE_URL",
            "FAXRELAY_SIGNUP",
            "FAXRELAY_TOKEN_TTL",
            "FAXRELAY_LOG_FORMAT",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(variable)),
                "{variable} missing from {found:?}"
            );
        }
    }

    #[test]
    fn postgres_needs_a_shared_secret_key() {
        let raw = RawConfig {
            database_url: "postgres://postgres@localhost/x".into(),
            ..RawConfig::default()
        };
        assert!(
            problems(raw)
                .iter()
                .any(|p| p.starts_with("FAXRELAY_SECRET_KEY"))
        );
    }

    #[test]
    fn token_signup_needs_a_long_token() {
        let raw = RawConfig {
            signup: "token".into(),
            signup_token: Some("short".into()),
            ..RawConfig::default()
        };
        assert!(
            problems(raw)
                .iter()
                .any(|p| p.starts_with("FAXRELAY_SIGNUP_TOKEN"))
        );
        let raw = RawConfig {
            signup: "token".into(),
            signup_token: Some("a-long-enough-token".into()),
            ..RawConfig::default()
        };
        assert!(matches!(
            Config::from_raw(raw).map(|c| c.api.signup),
            Ok(SignupPolicy::Token(_))
        ));
    }

    #[test]
    fn a_short_secret_key_is_refused() {
        let raw = RawConfig {
            secret_key: Some("c2hvcnQ=".into()),
            ..RawConfig::default()
        };
        assert!(
            problems(raw)
                .iter()
                .any(|p| p.starts_with("FAXRELAY_SECRET_KEY"))
        );
    }
}

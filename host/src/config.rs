//! The host's configuration: one TOML file plus environment overrides.
//!
//! Each setting is taken from, in order: its command-line flag (where it
//! has one), its environment variable, the configuration file, its
//! default. The file is `--config` (`ATSBRIDGE_CONFIG`), else
//! `atsbridge.toml` in the data directory; it is optional unless named
//! explicitly. Unknown keys are an error that names them, so a typo is not
//! silently ignored. Every setting and default is listed in
//! `docs/operations.md`.
//!
//! ```toml
//! data-dir = "/var/lib/atsbridge"
//! listen = "127.0.0.1:7878"
//! key-file = "/etc/atsbridge/secret.key"
//! operator-token-file = "/etc/atsbridge/operator.token"
//! plugin-dir = "/srv/atsbridge/plugins"
//! runs-kept = 100
//!
//! [limits]
//! max-plugin-memory-mib = 256
//! max-call-secs = 300
//!
//! [scheduler]
//! concurrency = 16
//! per-plugin-concurrency = 4
//!
//! [publish]
//! public-base-url = "https://jobs.example.com"
//! max-upload-mib = 10
//! apply-per-minute = 10
//! apply-burst = 5
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::store::{DEFAULT_RUNS_KEPT, SecretError, SecretKey};

/// The configuration file's name inside the data directory.
pub const CONFIG_FILE_NAME: &str = "atsbridge.toml";
/// The largest configuration or token file read; a real one is a few
/// hundred bytes.
const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Default address of the HTTP API: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// Default ceiling on a plugin's linear memory, MiB.
pub const DEFAULT_MAX_PLUGIN_MEMORY_MIB: u64 = 256;
/// Default ceiling on one plugin call's wall-clock time, seconds.
pub const DEFAULT_MAX_CALL_SECS: u64 = 300;
/// Default syncs running at once, all connections together.
pub const DEFAULT_SCHEDULER_CONCURRENCY: usize = 16;
/// Default syncs running at once per plugin.
pub const DEFAULT_PER_PLUGIN_CONCURRENCY: usize = 4;
/// The data directory `demo` uses when none is given: beside the checkout,
/// so a second `cargo run -- demo` resumes from the first.
pub const DEMO_DATA_DIR: &str = ".atsbridge";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not valid configuration (unknown keys are named).
    #[error("invalid configuration in {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the key, never echoes a secret:
        /// the file holds no secret values, only paths to them).
        message: String,
    },
    /// An environment variable does not parse.
    #[error("environment variable {var} is not valid: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Why.
        reason: String,
    },
    /// No data directory was given and the user's data directory is unknown.
    #[error("no data directory: pass --data-dir or set ATSBRIDGE_DATA_DIR (the user's data directory is unknown)")]
    NoDataDir,
    /// The secret key could not be loaded.
    #[error(transparent)]
    Key(#[from] SecretError),
    /// The operator token file is unusable.
    #[error("cannot use the operator token file {}: {reason}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// Why (never the token).
        reason: String,
    },
}

/// The file's contents; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    key_file: Option<PathBuf>,
    operator_token_file: Option<PathBuf>,
    plugin_dir: Option<PathBuf>,
    runs_kept: Option<usize>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    scheduler: FileScheduler,
    #[serde(default)]
    publish: FilePublish,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FilePublish {
    public_base_url: Option<String>,
    max_upload_mib: Option<u64>,
    apply_per_minute: Option<u32>,
    apply_burst: Option<u32>,
}

/// The largest `max-upload-mib`: the store keeps a resume of at most 25 MiB.
pub const MAX_UPLOAD_MIB: u64 = 25;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileLimits {
    max_plugin_memory_mib: Option<u64>,
    max_call_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileScheduler {
    concurrency: Option<usize>,
    per_plugin_concurrency: Option<usize>,
}

/// What the command line said (flags and the environment variables clap
/// reads for them); `None` where it said nothing.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--max-plugin-memory-mib`.
    pub max_plugin_memory_mib: Option<u64>,
    /// `--max-call-secs`.
    pub max_call_secs: Option<u64>,
    /// `--perf-map`.
    pub perf_map: bool,
    /// The data directory to use when none is configured (`demo`'s own).
    pub default_data_dir: Option<PathBuf>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where plugins, artifacts and the store live (absolute).
    pub data_dir: PathBuf,
    /// The file read, if one was.
    pub file: Option<PathBuf>,
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// File holding the store's secret key (0600), if configured.
    pub key_file: Option<PathBuf>,
    /// File holding the operator token (0600), if configured.
    pub operator_token_file: Option<PathBuf>,
    /// Directory the API may install plugins from, if configured.
    pub plugin_dir: Option<PathBuf>,
    /// Finished runs kept per connection.
    pub runs_kept: usize,
    /// Ceiling on a plugin's memory, MiB.
    pub max_plugin_memory_mib: u64,
    /// Ceiling on a plugin call's time, seconds.
    pub max_call_secs: u64,
    /// Name plugins' compiled functions for `perf` (a diagnostic: the
    /// command line or the environment only).
    pub perf_map: bool,
    /// Syncs at once, all connections.
    pub scheduler_concurrency: usize,
    /// Syncs at once per plugin.
    pub per_plugin_concurrency: usize,
    /// Where public position pages are reached, for the URLs the API shows
    /// (default: the listen address).
    pub public_base_url: Option<String>,
    /// The application form's limits.
    pub public: crate::publish::public::PublicSettings,
}

impl Config {
    /// Loads the configuration from the process environment.
    pub fn load(cli: &Overrides) -> Result<Config, ConfigError> {
        Config::load_with(cli, |var| std::env::var(var).ok().filter(|v| !v.is_empty()))
    }

    /// Loads the configuration with `env` standing for the environment.
    pub fn load_with(cli: &Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let absolute = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
        let env_path = |var: &str| env(var).map(PathBuf::from);
        // The data directory named on the command line (or its variable)
        // decides where the default file is; a file named explicitly may
        // name the data directory itself.
        let named_dir = cli.data_dir.clone().or_else(|| env_path("ATSBRIDGE_DATA_DIR"));
        let explicit_file = cli.config.clone().or_else(|| env_path("ATSBRIDGE_CONFIG"));
        let fallback_dir = match &cli.default_data_dir {
            Some(d) => Some(d.clone()),
            None => dirs::data_dir().map(|d| d.join("atsbridge")),
        };
        let (file_path, required) = match (&explicit_file, &named_dir) {
            (Some(f), _) => (Some(absolute(f.clone())), true),
            (None, Some(d)) => (Some(absolute(d.join(CONFIG_FILE_NAME))), false),
            (None, None) => (fallback_dir.clone().map(|d| absolute(d.join(CONFIG_FILE_NAME))), false),
        };
        let (file, file_used) = match &file_path {
            Some(path) if required || path.exists() => (read_file(path)?, Some(path.clone())),
            _ => (FileConfig::default(), None),
        };
        let data_dir = named_dir.or(file.data_dir).or(fallback_dir).ok_or(ConfigError::NoDataDir)?;
        let parsed = |var: &'static str| -> Result<Option<u64>, ConfigError> {
            env(var)
                .map(|v| v.trim().parse::<u64>().map_err(|e| ConfigError::Env { var, reason: e.to_string() }))
                .transpose()
        };
        let listen = match cli.listen {
            Some(l) => l,
            None => match env("ATSBRIDGE_LISTEN") {
                Some(v) => v.parse().map_err(|e: std::net::AddrParseError| ConfigError::Env {
                    var: "ATSBRIDGE_LISTEN",
                    reason: e.to_string(),
                })?,
                None => file.listen.unwrap_or_else(default_listen),
            },
        };
        let as_usize = |v: Option<u64>| v.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Ok(Config {
            data_dir: absolute(data_dir),
            file: file_used,
            listen,
            key_file: env_path("ATSBRIDGE_KEY_FILE").or(file.key_file).map(absolute),
            operator_token_file: env_path("ATSBRIDGE_OPERATOR_TOKEN_FILE").or(file.operator_token_file).map(absolute),
            plugin_dir: env_path("ATSBRIDGE_PLUGIN_DIR").or(file.plugin_dir).map(absolute),
            runs_kept: as_usize(parsed("ATSBRIDGE_RUNS_KEPT")?).or(file.runs_kept).unwrap_or(DEFAULT_RUNS_KEPT).max(1),
            max_plugin_memory_mib: cli
                .max_plugin_memory_mib
                .or(parsed("ATSBRIDGE_MAX_PLUGIN_MEMORY_MIB")?)
                .or(file.limits.max_plugin_memory_mib)
                .unwrap_or(DEFAULT_MAX_PLUGIN_MEMORY_MIB)
                // The same bounds clap enforces on the flag, for the file too.
                .clamp(1, crate::runtime::limits::MAX_PLUGIN_MEMORY_MIB),
            max_call_secs: cli
                .max_call_secs
                .or(parsed("ATSBRIDGE_MAX_CALL_SECS")?)
                .or(file.limits.max_call_secs)
                .unwrap_or(DEFAULT_MAX_CALL_SECS)
                .clamp(1, crate::runtime::limits::MAX_CALL_SECS),
            perf_map: cli.perf_map,
            scheduler_concurrency: as_usize(parsed("ATSBRIDGE_SCHEDULER_CONCURRENCY")?)
                .or(file.scheduler.concurrency)
                .unwrap_or(DEFAULT_SCHEDULER_CONCURRENCY)
                .max(1),
            per_plugin_concurrency: as_usize(parsed("ATSBRIDGE_PER_PLUGIN_CONCURRENCY")?)
                .or(file.scheduler.per_plugin_concurrency)
                .unwrap_or(DEFAULT_PER_PLUGIN_CONCURRENCY)
                .max(1),
            public_base_url: env("ATSBRIDGE_PUBLIC_BASE_URL")
                .or(file.publish.public_base_url)
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            public: {
                use crate::publish::public::{DEFAULT_APPLY_BURST, DEFAULT_APPLY_PER_MINUTE, DEFAULT_MAX_UPLOAD_BYTES};
                let as_u32 = |v: Option<u64>| v.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                crate::publish::public::PublicSettings {
                    max_upload_bytes: parsed("ATSBRIDGE_MAX_UPLOAD_MIB")?
                        .or(file.publish.max_upload_mib)
                        .map_or(DEFAULT_MAX_UPLOAD_BYTES, |mib| mib.clamp(1, MAX_UPLOAD_MIB) << 20),
                    apply_per_minute: as_u32(parsed("ATSBRIDGE_APPLY_PER_MINUTE")?)
                        .or(file.publish.apply_per_minute)
                        .unwrap_or(DEFAULT_APPLY_PER_MINUTE)
                        .max(1),
                    apply_burst: as_u32(parsed("ATSBRIDGE_APPLY_BURST")?)
                        .or(file.publish.apply_burst)
                        .unwrap_or(DEFAULT_APPLY_BURST)
                        .max(1),
                }
            },
        })
    }

    /// The store's secret key: `ATSBRIDGE_SECRET_KEY` if set, else the key
    /// file if configured (mode 0600 checked), else none.
    pub fn secret_key(&self) -> Result<Option<SecretKey>, ConfigError> {
        if let Some(key) = SecretKey::from_env()? {
            return Ok(Some(key));
        }
        match &self.key_file {
            Some(path) => Ok(Some(SecretKey::from_file(path)?)),
            None => Ok(None),
        }
    }

    /// The operator token from its file, if one is configured. The file
    /// must not be readable by group or others.
    pub fn operator_token(&self) -> Result<Option<SecretString>, ConfigError> {
        let Some(path) = &self.operator_token_file else { return Ok(None) };
        let token_error = |reason: String| ConfigError::Token { path: path.clone(), reason };
        let meta = std::fs::metadata(path).map_err(|e| token_error(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(token_error(format!("readable by group or others (mode {mode:o}); run `chmod 600`")));
            }
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(token_error(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let text = std::fs::read_to_string(path).map_err(|_| token_error("not UTF-8 text".into()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(token_error("empty".into()));
        }
        Ok(Some(SecretString::from(token)))
    }
}

fn default_listen() -> SocketAddr {
    // A constant that parses; checked by a test.
    DEFAULT_LISTEN.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 7878)))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    use std::io::Read as _;
    let read_error = |reason: String| ConfigError::Read { path: path.to_path_buf(), reason };
    let file = std::fs::File::open(path).map_err(|e| read_error(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(|_| read_error("not UTF-8 text".into()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(read_error(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.message().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_absolute_and_documented_values() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Overrides { data_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let c = Config::load_with(&cli, no_env).unwrap();
        assert!(c.data_dir.is_absolute());
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!((c.runs_kept, c.max_plugin_memory_mib, c.max_call_secs), (100, 256, 300));
        assert_eq!((c.scheduler_concurrency, c.per_plugin_concurrency), (16, 4));
        assert!(c.file.is_none() && c.key_file.is_none());
        // With nothing named, the user's data directory, never the working directory.
        let c = Config::load_with(&Overrides::default(), no_env).unwrap();
        assert!(c.data_dir.is_absolute() && c.data_dir.ends_with("atsbridge"), "{}", c.data_dir.display());
        assert_ne!(c.data_dir, std::env::current_dir().unwrap().join(".atsbridge"));
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "listen = \"127.0.0.1:9000\"\nruns-kept = 7\nkey-file = \"k\"\n[limits]\nmax-call-secs = 60\n[scheduler]\nconcurrency = 3\n",
        )
        .unwrap();
        let cli = Overrides { data_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let c = Config::load_with(&cli, no_env).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!((c.runs_kept, c.max_call_secs, c.scheduler_concurrency), (7, 60, 3));
        assert!(c.key_file.unwrap().is_absolute());
        let env = |v: &str| (v == "ATSBRIDGE_RUNS_KEPT" || v == "ATSBRIDGE_MAX_CALL_SECS").then(|| "9".to_string());
        let c = Config::load_with(&cli, env).unwrap();
        assert_eq!((c.runs_kept, c.max_call_secs), (9, 9));
        let cli = Overrides { max_call_secs: Some(1), ..cli };
        assert_eq!(Config::load_with(&cli, env).unwrap().max_call_secs, 1);
    }

    #[test]
    fn publish_settings_have_defaults_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Overrides { data_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let c = Config::load_with(&cli, no_env).unwrap();
        assert_eq!(c.public.max_upload_bytes, 10 << 20);
        assert!(c.public_base_url.is_none());
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "[publish]\npublic-base-url = \"https://jobs.example.com/\"\nmax-upload-mib = 900\napply-burst = 2\n",
        )
        .unwrap();
        let c = Config::load_with(&cli, no_env).unwrap();
        assert_eq!(c.public_base_url.as_deref(), Some("https://jobs.example.com"));
        assert_eq!((c.public.max_upload_bytes, c.public.apply_burst), (MAX_UPLOAD_MIB << 20, 2));
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten-adress = \"x\"\n").unwrap();
        let cli = Overrides { config: Some(path.clone()), ..Default::default() };
        let err = Config::load_with(&cli, no_env).unwrap_err().to_string();
        assert!(err.contains("listen-adress") && err.contains("c.toml"), "{err}");
        std::fs::write(&path, "[limits]\nmax-memory = 1\n").unwrap();
        let err = Config::load_with(&cli, no_env).unwrap_err().to_string();
        assert!(err.contains("max-memory"), "{err}");
        // A file named explicitly must exist.
        let cli = Overrides { config: Some(dir.path().join("missing.toml")), ..Default::default() };
        assert!(matches!(Config::load_with(&cli, no_env), Err(ConfigError::Read { .. })));
    }

    #[test]
    fn a_bad_environment_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Overrides { data_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let env = |v: &str| (v == "ATSBRIDGE_RUNS_KEPT").then(|| "many".to_string());
        let err = Config::load_with(&cli, env).unwrap_err().to_string();
        assert!(err.contains("ATSBRIDGE_RUNS_KEPT"), "{err}");
    }
}

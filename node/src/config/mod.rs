//! The node's configuration: one TOML file in the node's home directory, written by
//! `accord init`, read by `accord run`, and overridable by command-line flags and
//! `ACCORD_*` environment variables (flags win over the environment, which wins over
//! the file).
//!
//! ```toml
//! # Paths are relative to the home directory.
//! chain_spec = "spec.json"
//! validator = "eu-1"
//! data_dir = "data"
//!
//! [keys]
//! consensus = "keys/consensus.key"
//! p2p = "keys/p2p.key"
//!
//! [p2p]
//! listen = "/ip4/127.0.0.1/tcp/30300"
//! max_connections = 64
//! max_message_bytes = 4194304
//!
//! [rpc]
//! listen = "127.0.0.1:9944"
//! max_request_bytes = 4194304
//! max_connections = 128
//! max_batch_len = 50
//! max_subscriptions_per_connection = 16
//! cors_origins = []  # origins browsers may call from, e.g. ["https://explorer.example"]
//! requests_per_second_per_ip = 200  # JSON-RPC calls and REST requests; 0: no limit
//! request_burst_per_ip = 400
//! max_connections_per_ip = 32       # 0: no limit beyond max_connections
//! rate_limit_exempt = []            # addresses never limited, e.g. ["127.0.0.1"]
//!
//! [mempool]
//! max_txs = 10000
//! max_bytes = 33554432
//! max_tx_bytes = 65536
//! max_per_account = 64
//! max_pending_blocks = 1000   # then dropped with its reason (a nonce gap, or never included)
//! regossip_blocks = 10        # a pooled transaction is gossiped again after this many blocks
//!
//! [log]
//! format = "text"   # or "json"
//! filter = "info"   # a tracing filter: "info,accord_node::p2p=debug"
//! ```
//!
//! Unknown keys are errors (a typo must not silently fall back to a default), and every
//! error names the file, the line and the field.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The configuration file's name inside the home directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the configuration's fields.
    #[error("configuration {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line, column and field.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("configuration {path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, as written in the file (`rpc.listen`).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain spec file.
    pub chain_spec: PathBuf,
    /// This node's validator name in the chain spec.
    pub validator: String,
    /// The validator is not in the chain spec: a validator-set change on chain adds
    /// (or added) it. Until then the node follows the chain without voting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub joined_by_governance: bool,
    /// Where the database, the consensus log and the signer state live.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// Key files.
    pub keys: KeysConfig,
    /// Peer-to-peer networking.
    pub p2p: P2pConfig,
    /// The JSON-RPC server.
    #[serde(default)]
    pub rpc: RpcConfig,
    /// The transaction pool.
    #[serde(default)]
    pub mempool: crate::mempool::MempoolConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
}

/// Key files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The validator's consensus (vote-signing) key.
    pub consensus: PathBuf,
    /// The node's p2p identity key.
    pub p2p: PathBuf,
}

/// Peer-to-peer networking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// The multiaddr to listen on.
    pub listen: String,
    /// Most simultaneous connections.
    #[serde(default = "defaults::p2p_max_connections")]
    pub max_connections: u32,
    /// Largest gossip message or sync response.
    #[serde(default = "defaults::max_message_bytes")]
    pub max_message_bytes: usize,
}

/// The JSON-RPC server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    /// Address and port (keep it on 127.0.0.1 unless a proxy guards it).
    #[serde(default = "defaults::rpc_listen")]
    pub listen: SocketAddr,
    /// Largest request body.
    #[serde(default = "defaults::max_request_bytes")]
    pub max_request_bytes: u32,
    /// Most simultaneous connections.
    #[serde(default = "defaults::rpc_max_connections")]
    pub max_connections: u32,
    /// Most calls in one batch.
    #[serde(default = "defaults::rpc_max_batch_len")]
    pub max_batch_len: u32,
    /// Most subscriptions on one WebSocket connection.
    #[serde(default = "defaults::rpc_max_subscriptions")]
    pub max_subscriptions_per_connection: u32,
    /// Origins browsers may call the API from (CORS); none by default, `"*"` for any.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Calls per second one client address may make, JSON-RPC calls and REST requests
    /// together (IPv6 clients are counted per /64); 0 for no limit.
    #[serde(default = "defaults::rpc_requests_per_second_per_ip")]
    pub requests_per_second_per_ip: u32,
    /// Calls one address may make at once after a quiet spell.
    #[serde(default = "defaults::rpc_request_burst_per_ip")]
    pub request_burst_per_ip: u32,
    /// Open connections one address may hold; 0 for no limit beyond `max_connections`.
    #[serde(default = "defaults::rpc_max_connections_per_ip")]
    pub max_connections_per_ip: u32,
    /// Client addresses the per-address limits never apply to (an operator's own
    /// tools; a proxy in front that limits by itself).
    #[serde(default)]
    pub rate_limit_exempt: Vec<IpAddr>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: defaults::rpc_listen(),
            max_request_bytes: defaults::max_request_bytes(),
            max_connections: defaults::rpc_max_connections(),
            max_batch_len: defaults::rpc_max_batch_len(),
            max_subscriptions_per_connection: defaults::rpc_max_subscriptions(),
            cors_origins: Vec::new(),
            requests_per_second_per_ip: defaults::rpc_requests_per_second_per_ip(),
            request_burst_per_ip: defaults::rpc_request_burst_per_ip(),
            max_connections_per_ip: defaults::rpc_max_connections_per_ip(),
            rate_limit_exempt: Vec::new(),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Text for people, JSON for log collectors.
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter directive.
    #[serde(default = "defaults::log_filter")]
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            filter: defaults::log_filter(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

mod defaults {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::path::PathBuf;

    pub fn data_dir() -> PathBuf {
        PathBuf::from("data")
    }
    pub fn p2p_max_connections() -> u32 {
        64
    }
    pub fn max_message_bytes() -> usize {
        4 * 1024 * 1024
    }
    pub fn rpc_listen() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 9944))
    }
    pub fn max_request_bytes() -> u32 {
        4 * 1024 * 1024
    }
    pub fn rpc_max_connections() -> u32 {
        128
    }
    pub fn rpc_max_batch_len() -> u32 {
        50
    }
    pub fn rpc_max_subscriptions() -> u32 {
        16
    }
    pub fn rpc_requests_per_second_per_ip() -> u32 {
        200
    }
    pub fn rpc_request_burst_per_ip() -> u32 {
        400
    }
    pub fn rpc_max_connections_per_ip() -> u32 {
        32
    }
    pub fn log_filter() -> String {
        "info".to_owned()
    }
}

/// Values given on the command line or in the environment, which replace the file's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--data-dir`, `ACCORD_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--p2p-listen`, `ACCORD_P2P_LISTEN`.
    pub p2p_listen: Option<String>,
    /// `--rpc-listen`, `ACCORD_RPC_LISTEN`.
    pub rpc_listen: Option<SocketAddr>,
    /// `--log-format`, `ACCORD_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `--log-filter`, `ACCORD_LOG_FILTER`.
    pub log_filter: Option<String>,
}

impl Config {
    /// A configuration for validator `validator`, with every default.
    pub fn new(validator: &str, p2p_listen: String, rpc_listen: SocketAddr) -> Self {
        Self {
            chain_spec: PathBuf::from("spec.json"),
            validator: validator.to_owned(),
            joined_by_governance: false,
            data_dir: defaults::data_dir(),
            keys: KeysConfig {
                consensus: PathBuf::from("keys/consensus.key"),
                p2p: PathBuf::from("keys/p2p.key"),
            },
            p2p: P2pConfig {
                listen: p2p_listen,
                max_connections: defaults::p2p_max_connections(),
                max_message_bytes: defaults::max_message_bytes(),
            },
            rpc: RpcConfig {
                listen: rpc_listen,
                ..RpcConfig::default()
            },
            mempool: crate::mempool::MempoolConfig::default(),
            log: LogConfig::default(),
        }
    }

    /// Parses a configuration; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.check(path)?;
        Ok(config)
    }

    /// Reads `home/config.toml`, applies the overrides, and makes relative paths
    /// relative to `home`.
    pub fn load(home: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        let path = home.join(CONFIG_FILE);
        let read = |source| ConfigError::Read {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(read)?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::Invalid {
                path,
                field: "(file)",
                message: format!(
                    "{} bytes; a configuration is at most {MAX_CONFIG_BYTES}",
                    meta.len()
                ),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(read)?;
        let mut config = Self::parse(&text, &path)?;
        config.apply(overrides);
        config.check(&path)?;
        config.resolve(home);
        Ok(config)
    }

    /// Replaces the file's values with the overrides that are set.
    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(dir) = &overrides.data_dir {
            self.data_dir.clone_from(dir);
        }
        if let Some(listen) = &overrides.p2p_listen {
            self.p2p.listen.clone_from(listen);
        }
        if let Some(listen) = overrides.rpc_listen {
            self.rpc.listen = listen;
        }
        if let Some(format) = overrides.log_format {
            self.log.format = format;
        }
        if let Some(filter) = &overrides.log_filter {
            self.log.filter.clone_from(filter);
        }
    }

    /// Makes every relative path relative to `home`.
    pub fn resolve(&mut self, home: &Path) {
        for path in [
            &mut self.chain_spec,
            &mut self.data_dir,
            &mut self.keys.consensus,
            &mut self.keys.p2p,
        ] {
            if path.is_relative() {
                *path = home.join(&*path);
            }
        }
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> String {
        // Every field is a plain value, so serialisation cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            message,
        };
        if self.validator.trim().is_empty() {
            return Err(invalid(
                "validator",
                "must name a validator of the chain spec".into(),
            ));
        }
        if self.p2p.listen.parse::<libp2p::Multiaddr>().is_err() {
            return Err(invalid(
                "p2p.listen",
                format!(
                    "{:?} is not a multiaddr; write it like \"/ip4/127.0.0.1/tcp/30300\"",
                    self.p2p.listen
                ),
            ));
        }
        let positive = [
            ("p2p.max_connections", self.p2p.max_connections as usize),
            ("p2p.max_message_bytes", self.p2p.max_message_bytes),
            ("rpc.max_request_bytes", self.rpc.max_request_bytes as usize),
            ("rpc.max_connections", self.rpc.max_connections as usize),
            ("rpc.max_batch_len", self.rpc.max_batch_len as usize),
            (
                "rpc.max_subscriptions_per_connection",
                self.rpc.max_subscriptions_per_connection as usize,
            ),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(invalid(field, "must be greater than zero".into()));
        }
        if self.rpc.requests_per_second_per_ip > 0 && self.rpc.request_burst_per_ip == 0 {
            return Err(invalid(
                "rpc.request_burst_per_ip",
                "must be at least 1 while rpc.requests_per_second_per_ip limits the rate".into(),
            ));
        }
        if let Err(error) = self.mempool.validate() {
            return Err(invalid("mempool", error.to_string()));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            return Err(invalid(
                "log.filter",
                format!(
                    "{:?} is not a tracing filter; examples: \"info\", \"info,accord_node::p2p=debug\"",
                    self.log.filter
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config::new(
            "eu-1",
            "/ip4/127.0.0.1/tcp/30300".into(),
            "127.0.0.1:9944".parse().unwrap(),
        )
    }

    #[test]
    fn written_configs_read_back() {
        let config = sample();
        let text = config.to_toml();
        assert_eq!(Config::parse(&text, Path::new("c.toml")).unwrap(), config);
        assert!(!text.contains("joined_by_governance"), "{text}");
        let joined = Config {
            joined_by_governance: true,
            ..sample()
        };
        let text = joined.to_toml();
        assert!(text.contains("joined_by_governance = true"), "{text}");
        assert_eq!(Config::parse(&text, Path::new("c.toml")).unwrap(), joined);
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let text = r#"
            chain_spec = "spec.json"
            validator = "eu-1"
            [keys]
            consensus = "k/c.key"
            p2p = "k/p.key"
            [p2p]
            listen = "/ip4/127.0.0.1/tcp/1"
        "#;
        let config = Config::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(config.rpc, RpcConfig::default());
        assert_eq!(config.mempool, crate::mempool::MempoolConfig::default());
        assert_eq!(config.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn a_typo_is_an_error_naming_the_field_and_line() {
        let text = sample().to_toml().replace("max_txs", "max_tx");
        let error = Config::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("c.toml"), "{error}");
        assert!(error.contains("max_tx"), "{error}");
        assert!(error.contains("line"), "{error}");
    }

    #[test]
    fn bad_values_are_refused_with_the_field() {
        let cases = [
            (
                "listen = \"/ip4/127.0.0.1/tcp/30300\"",
                "listen = \"localhost:30300\"",
                "p2p.listen",
            ),
            ("max_txs = 10000", "max_txs = 0", "max_txs"),
            ("filter = \"info\"", "filter = \"info,[[\"", "log.filter"),
            ("format = \"text\"", "format = \"yaml\"", "format"),
            (
                "listen = \"127.0.0.1:9944\"",
                "listen = \"127.0.0.1\"",
                "listen",
            ),
            (
                "request_burst_per_ip = 400",
                "request_burst_per_ip = 0",
                "rpc.request_burst_per_ip",
            ),
            (
                "rate_limit_exempt = []",
                "rate_limit_exempt = [\"localhost\"]",
                "rate_limit_exempt",
            ),
        ];
        for (from, to, field) in cases {
            let text = sample().to_toml();
            assert!(text.contains(from), "{from} not in\n{text}");
            let error = Config::parse(&text.replace(from, to), Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(field), "{to}: {error}");
        }
    }

    #[test]
    fn overrides_win_and_paths_resolve_against_home() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), sample().to_toml()).unwrap();
        let overrides = Overrides {
            rpc_listen: Some("127.0.0.1:19944".parse().unwrap()),
            log_format: Some(LogFormat::Json),
            ..Overrides::default()
        };
        let config = Config::load(dir.path(), &overrides).unwrap();
        assert_eq!(config.rpc.listen.port(), 19944);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(config.keys.p2p, dir.path().join("keys/p2p.key"));
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let error = Config::load(dir.path(), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("config.toml"), "{error}");
    }
}

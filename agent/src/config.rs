//! `agent.toml`, overridden by command-line flags and `ACCORD_AGENT_*` environment
//! variables (a flag wins over its variable, which wins over the file).
//!
//! ```toml
//! # Paths are relative to this file's directory; commands run in it too.
//! rpc = ["ws://127.0.0.1:9944", "ws://127.0.0.1:9945"]   # tried in order
//! key = "keys/eu-agent.key"
//! region = "eu"
//! chain_spec = "spec.json"
//! state_dir = "agent-state"
//! dry_run = false
//! metrics_listen = "127.0.0.1:9955"   # "off" to serve no /metrics and /health
//! lease_margin = 5                    # renew a claim this many blocks before it lapses
//! tx_timeout_secs = 60                # wait for a claim or report to be finalized
//! request_timeout_secs = 30
//! poll_interval_ms = 500
//! backoff_initial_ms = 500            # reconnect delay, doubling up to the maximum
//! backoff_max_ms = 30000
//! max_response_bytes = 16777216       # largest answer accepted from a node
//! log_bytes = 1048576                 # output kept per command
//!
//! [actions.model_deployment]
//! command = ["./deploy-model.sh"]
//! rollback = ["./rollback-model.sh"]
//! timeout_secs = 900
//! idempotent = false            # true: rerun after a crash during the command
//! rollback_on_failure = true    # a failed first phase runs `rollback` at once (later ones: when the chain asks)
//! env = { MODEL_REGISTRY = "https://registry.internal" }
//! pre_checks = [{ name = "capacity", command = ["./check-capacity.sh"] }]
//! post_checks = [{ name = "serving", command = ["./probe.sh"], timeout_secs = 60 }]
//!
//! [actions.model_deployment.health]   # the canary rule, run after the post-checks pass
//! name = "health"                     # reported as the last post-check; default "health"
//! command = ["./probe.sh", "--quick"]
//! interval_ms = 10000                 # pause between runs
//! runs = 6                            # runs in the bake window
//! max_consecutive_failures = 3        # this many failed runs in a row fail the phase
//! timeout_secs = 30                   # per run; the action's timeout_secs when absent
//!
//! [actions.default]             # kinds without an entry of their own
//! command = ["./apply.sh"]
//! ```
//!
//! Action names are the sub-kinds of pipeline actions and infrastructure changes, plus
//! `documentation`, `roadmap` and `default` ([`ACTION_NAMES`]). Unknown keys are errors,
//! and every error names the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_runtime::validate::{MAX_LIST, MAX_NAME_BYTES};
use accord_types::governance::{ProposalBody, ProposalKind};
use accord_types::RegionId;
use serde::Deserialize;

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Every `[actions.<name>]` the configuration accepts.
pub const ACTION_NAMES: &[&str] = &[
    "default",
    // pipeline actions
    "infrastructure_deployment",
    "model_deployment",
    "security_upgrade",
    "application_scaling",
    // infrastructure changes
    "resource_addition",
    "resource_modification",
    "resource_removal",
    "architecture_change",
    // the other kinds, without sub-kinds
    "documentation",
    "roadmap",
];

/// Where the metrics and health endpoints listen unless told otherwise.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9955";

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
    /// A required setting is given nowhere.
    #[error("configuration: `{field}` is required: set it in the file, with {flag} or with {env}")]
    Missing {
        /// The field, as written in the file.
        field: &'static str,
        /// The flag that sets it.
        flag: &'static str,
        /// The environment variable that sets it.
        env: &'static str,
    },
    /// A value is out of range or inconsistent.
    #[error("configuration: `{field}`: {message}")]
    Invalid {
        /// The field, as written in the file (`actions.model_deployment.command`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// One check run before or after the command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// The name reported on chain.
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Seconds before it is killed; the action's `timeout_secs` when absent.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// A health check run repeatedly after the post-checks pass (the canary rule): `runs`
/// runs, `interval_ms` apart; `max_consecutive_failures` failed runs in a row fail the
/// execution, and a passing run resets the count.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// The name reported on chain, as the last of the post-checks.
    #[serde(default = "defaults::health_name")]
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Milliseconds between the end of one run and the start of the next.
    pub interval_ms: u64,
    /// Runs in the bake window.
    pub runs: u32,
    /// Failed runs in a row that fail the execution.
    pub max_consecutive_failures: u32,
    /// Seconds before one run is killed; the action's `timeout_secs` when absent.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl HealthConfig {
    /// The pause between runs.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

/// What the agent runs for one action kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Program and arguments of the change.
    pub command: Vec<String>,
    /// Program and arguments that undo it; without one, rollback requests are not served.
    #[serde(default)]
    pub rollback: Option<Vec<String>>,
    /// Checks run before the command; the first failure stops the execution.
    #[serde(default)]
    pub pre_checks: Vec<CheckConfig>,
    /// Checks run after the command; the first failure fails the execution.
    #[serde(default)]
    pub post_checks: Vec<CheckConfig>,
    /// A health check run repeatedly after the post-checks pass; reported after them.
    #[serde(default)]
    pub health: Option<HealthConfig>,
    /// Seconds the command (and the rollback) may run before it is killed.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Extra environment variables of every step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether running the command twice with the same `ACCORD_IDEMPOTENCY_KEY` is
    /// harmless; then a command interrupted by a crash of the agent runs again instead
    /// of being reported failed.
    #[serde(default)]
    pub idempotent: bool,
    /// Whether to run `rollback` as soon as the command or a post-check fails, before
    /// reporting the failure.
    #[serde(default = "defaults::yes")]
    pub rollback_on_failure: bool,
}

impl Action {
    /// The command's time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// A check's time limit.
    pub fn check_timeout(&self, check: &CheckConfig) -> Duration {
        Duration::from_secs(check.timeout_secs.unwrap_or(self.timeout_secs))
    }

    /// The time limit of one run of the health check.
    pub fn health_timeout(&self, health: &HealthConfig) -> Duration {
        Duration::from_secs(health.timeout_secs.unwrap_or(self.timeout_secs))
    }
}

/// The file's shape. Every top-level setting is optional here: a flag or a variable
/// may give it instead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    rpc: Option<Vec<String>>,
    key: Option<PathBuf>,
    region: Option<String>,
    chain_spec: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    dry_run: Option<bool>,
    metrics_listen: Option<String>,
    lease_margin: Option<u64>,
    tx_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    poll_interval_ms: Option<u64>,
    backoff_initial_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    max_response_bytes: Option<u32>,
    log_bytes: Option<u64>,
    #[serde(default)]
    actions: BTreeMap<String, Action>,
}

/// Settings given on the command line or in the environment; they replace the file's.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Node endpoints (WebSocket URLs), tried in order; repeat the flag or separate with commas.
    #[arg(
        long = "rpc",
        value_name = "URL",
        env = "ACCORD_AGENT_RPC",
        value_delimiter = ','
    )]
    pub rpc: Vec<String>,
    /// The agent's key file.
    #[arg(long, value_name = "FILE", env = "ACCORD_AGENT_KEY")]
    pub key: Option<PathBuf>,
    /// The region whose executions this agent runs.
    #[arg(long, value_name = "REGION", env = "ACCORD_AGENT_REGION")]
    pub region: Option<String>,
    /// The chain spec: the chain id and the validator set trusted at genesis.
    #[arg(long, value_name = "FILE", env = "ACCORD_AGENT_CHAIN_SPEC")]
    pub chain_spec: Option<PathBuf>,
    /// Where the journal, the cursor and the trusted validator sets are kept.
    #[arg(long, value_name = "DIR", env = "ACCORD_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print what would run; claim, run and report nothing.
    #[arg(
        long,
        env = "ACCORD_AGENT_DRY_RUN",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub dry_run: Option<bool>,
    /// Address of /metrics and /health, or `off`.
    #[arg(long, value_name = "ADDR", env = "ACCORD_AGENT_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Blocks before a claim lapses at which a running execution renews it.
    #[arg(long, value_name = "BLOCKS", env = "ACCORD_AGENT_LEASE_MARGIN")]
    pub lease_margin: Option<u64>,
    /// Seconds to wait for a claim or a report to be finalized.
    #[arg(long, value_name = "SECS", env = "ACCORD_AGENT_TX_TIMEOUT_SECS")]
    pub tx_timeout_secs: Option<u64>,
    /// Seconds before a call to a node times out.
    #[arg(long, value_name = "SECS", env = "ACCORD_AGENT_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Milliseconds between polls of a transaction or the head.
    #[arg(long, value_name = "MS", env = "ACCORD_AGENT_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// First reconnect delay in milliseconds; it doubles after each failure.
    #[arg(long, value_name = "MS", env = "ACCORD_AGENT_BACKOFF_INITIAL_MS")]
    pub backoff_initial_ms: Option<u64>,
    /// Largest reconnect delay in milliseconds.
    #[arg(long, value_name = "MS", env = "ACCORD_AGENT_BACKOFF_MAX_MS")]
    pub backoff_max_ms: Option<u64>,
    /// Largest answer accepted from a node, in bytes.
    #[arg(long, value_name = "BYTES", env = "ACCORD_AGENT_MAX_RESPONSE_BYTES")]
    pub max_response_bytes: Option<u32>,
    /// Output kept per command, in bytes.
    #[arg(long, value_name = "BYTES", env = "ACCORD_AGENT_LOG_BYTES")]
    pub log_bytes: Option<u64>,
}

/// The configuration in force: every setting resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Node endpoints, in failover order.
    pub rpc: Vec<String>,
    /// The agent's key file.
    pub key: PathBuf,
    /// Its region.
    pub region: RegionId,
    /// The chain spec.
    pub chain_spec: PathBuf,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Print instead of claiming, running and reporting.
    pub dry_run: bool,
    /// Where /metrics and /health listen; `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// Blocks before a lease lapses at which it is renewed.
    pub lease_margin: u64,
    /// Wait for a transaction to be finalized.
    pub tx_timeout: Duration,
    /// Time limit of one call to a node.
    pub request_timeout: Duration,
    /// Interval of polls.
    pub poll_interval: Duration,
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// Largest answer accepted from a node.
    pub max_response_bytes: u32,
    /// Output kept per command.
    pub log_bytes: usize,
    /// The directory commands run in: the configuration file's (the current one without a file).
    pub work_dir: PathBuf,
    /// Actions by name.
    pub actions: BTreeMap<String, Action>,
    /// Settings that are valid but have no effect, to be logged.
    pub warnings: Vec<String>,
}

mod defaults {
    pub fn timeout_secs() -> u64 {
        600
    }
    pub fn yes() -> bool {
        true
    }
    pub fn health_name() -> String {
        "health".to_owned()
    }
}

/// Most runs of a health check.
pub const MAX_HEALTH_RUNS: u32 = 1000;
/// Longest pause between runs of a health check, in milliseconds (one hour).
pub const MAX_HEALTH_INTERVAL_MS: u64 = 3_600_000;

impl Config {
    /// Reads the file (when given), applies the overrides, resolves relative paths and
    /// checks every value. Blocking (reads small files).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let (raw, base) = match file {
            Some(path) => {
                let bytes = crate::durable::read_blocking(path, MAX_CONFIG_BYTES)
                    .and_then(|b| {
                        b.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
                    })
                    .map_err(|source| ConfigError::Read {
                        path: path.to_owned(),
                        source,
                    })?;
                let text = String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
                    path: path.to_owned(),
                    message: "the file is not UTF-8 text".into(),
                })?;
                let base = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => cwd.join(p),
                    _ => cwd.clone(),
                };
                (Self::parse_file(&text, path)?, base)
            }
            None => (FileConfig::default(), cwd.clone()),
        };
        Self::build(raw, &base, &cwd, overrides)
    }

    /// Parses the text of a configuration file (for tests and tools); paths stay relative
    /// to `base`.
    pub fn parse(text: &str, base: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        let raw = Self::parse_file(text, &base.join("agent.toml"))?;
        Self::build(raw, base, base, overrides)
    }

    fn parse_file(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    fn build(
        file: FileConfig,
        base: &Path,
        cwd: &Path,
        o: &Overrides,
    ) -> Result<Self, ConfigError> {
        // A path from the file is relative to the file; one from a flag, to the current directory.
        let path = |flag: &Option<PathBuf>, file: Option<PathBuf>| -> Option<PathBuf> {
            match (flag, file) {
                (Some(p), _) => Some(cwd.join(p)),
                (None, Some(p)) => Some(base.join(p)),
                (None, None) => None,
            }
        };
        let missing = |field, flag, env| ConfigError::Missing { field, flag, env };

        let rpc: Vec<String> = if o.rpc.is_empty() {
            file.rpc.unwrap_or_default()
        } else {
            o.rpc.clone()
        }
        .iter()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .collect();
        if rpc.is_empty() {
            return Err(missing("rpc", "--rpc", "ACCORD_AGENT_RPC"));
        }
        for (i, url) in rpc.iter().enumerate() {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(invalid(
                    format!("rpc[{i}]"),
                    format!("{url:?} is not a WebSocket URL (ws://host:port or wss://host:port)"),
                ));
            }
        }
        let key = path(&o.key, file.key).ok_or(missing("key", "--key", "ACCORD_AGENT_KEY"))?;
        let region_text = o.region.clone().or(file.region).ok_or(missing(
            "region",
            "--region",
            "ACCORD_AGENT_REGION",
        ))?;
        let region = RegionId::new(&region_text)
            .map_err(|e| invalid("region", format!("{region_text:?}: {e}")))?;
        let chain_spec = path(&o.chain_spec, file.chain_spec).ok_or(missing(
            "chain_spec",
            "--chain-spec",
            "ACCORD_AGENT_CHAIN_SPEC",
        ))?;
        let state_dir = path(&o.state_dir, file.state_dir).ok_or(missing(
            "state_dir",
            "--state-dir",
            "ACCORD_AGENT_STATE_DIR",
        ))?;
        let dry_run = o.dry_run.or(file.dry_run).unwrap_or(false);
        let listen = o
            .metrics_listen
            .clone()
            .or(file.metrics_listen)
            .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_owned());
        let metrics_listen = match listen.trim() {
            "off" | "" => None,
            text => Some(text.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "metrics_listen",
                    format!("{text:?} is not an address (ip:port) or \"off\""),
                )
            })?),
        };
        let number = |field: &'static str,
                      flag: Option<u64>,
                      file: Option<u64>,
                      default: u64,
                      min: u64,
                      max: u64| {
            let value = flag.or(file).unwrap_or(default);
            if value < min || value > max {
                return Err(invalid(
                    field,
                    format!("{value} is out of range; it must be from {min} to {max}"),
                ));
            }
            Ok(value)
        };
        let lease_margin = number(
            "lease_margin",
            o.lease_margin,
            file.lease_margin,
            5,
            1,
            10_000,
        )?;
        let tx_timeout = number(
            "tx_timeout_secs",
            o.tx_timeout_secs,
            file.tx_timeout_secs,
            60,
            1,
            86_400,
        )?;
        let request_timeout = number(
            "request_timeout_secs",
            o.request_timeout_secs,
            file.request_timeout_secs,
            30,
            1,
            3_600,
        )?;
        let poll = number(
            "poll_interval_ms",
            o.poll_interval_ms,
            file.poll_interval_ms,
            500,
            10,
            60_000,
        )?;
        let backoff_initial = number(
            "backoff_initial_ms",
            o.backoff_initial_ms,
            file.backoff_initial_ms,
            500,
            1,
            600_000,
        )?;
        let backoff_max = number(
            "backoff_max_ms",
            o.backoff_max_ms,
            file.backoff_max_ms,
            30_000,
            backoff_initial,
            3_600_000,
        )?;
        let max_response = number(
            "max_response_bytes",
            o.max_response_bytes.map(u64::from),
            file.max_response_bytes.map(u64::from),
            16 * 1024 * 1024,
            64 * 1024,
            u64::from(u32::MAX),
        )?;
        let log_bytes = number(
            "log_bytes",
            o.log_bytes,
            file.log_bytes,
            1024 * 1024,
            1024,
            64 * 1024 * 1024,
        )?;

        let mut warnings = Vec::new();
        for (name, action) in &file.actions {
            check_action(name, action)?;
        }
        if file.actions.is_empty() {
            warnings.push(
                "no [actions.*] are configured: every execution request is left to other agents"
                    .to_owned(),
            );
        }
        Ok(Self {
            rpc,
            key,
            region,
            chain_spec,
            state_dir,
            dry_run,
            metrics_listen,
            lease_margin,
            tx_timeout: Duration::from_secs(tx_timeout),
            request_timeout: Duration::from_secs(request_timeout),
            poll_interval: Duration::from_millis(poll),
            backoff_initial: Duration::from_millis(backoff_initial),
            backoff_max: Duration::from_millis(backoff_max),
            max_response_bytes: u32::try_from(max_response).unwrap_or(u32::MAX),
            log_bytes: usize::try_from(log_bytes).unwrap_or(usize::MAX),
            work_dir: base.to_owned(),
            actions: file.actions,
            warnings,
        })
    }

    /// The action for `name`, or the `default` one; with the name of the entry used.
    pub fn action(&self, name: &str) -> Option<(&str, &Action)> {
        self.actions
            .get_key_value(name)
            .or_else(|| self.actions.get_key_value("default"))
            .map(|(k, v)| (k.as_str(), v))
    }
}

fn check_argv(field: &str, argv: &[String]) -> Result<(), ConfigError> {
    match argv.first() {
        None => Err(invalid(
            field,
            "the command is empty; give the program and its arguments as a list",
        )),
        Some(program) if program.trim().is_empty() => {
            Err(invalid(field, "the program name is empty"))
        }
        Some(_) if argv.iter().any(|a| a.contains('\0')) => {
            Err(invalid(field, "an argument contains a NUL byte"))
        }
        Some(_) => Ok(()),
    }
}

fn check_action(name: &str, action: &Action) -> Result<(), ConfigError> {
    let at = |field: &str| format!("actions.{name}.{field}");
    if !ACTION_NAMES.contains(&name) {
        return Err(invalid(
            format!("actions.{name}"),
            format!(
                "not an action kind; expected one of {}",
                ACTION_NAMES.join(", ")
            ),
        ));
    }
    check_argv(&at("command"), &action.command)?;
    if let Some(rollback) = &action.rollback {
        check_argv(&at("rollback"), rollback)?;
    }
    if action.timeout_secs == 0 {
        return Err(invalid(at("timeout_secs"), "must be at least 1"));
    }
    for (list_name, list) in [
        ("pre_checks", &action.pre_checks),
        ("post_checks", &action.post_checks),
    ] {
        if list.len() > MAX_LIST {
            return Err(invalid(
                at(list_name),
                format!("{} checks; a report carries at most {MAX_LIST}", list.len()),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, check) in list.iter().enumerate() {
            let field = format!("actions.{name}.{list_name}[{i}]");
            if check.name.trim().is_empty() || check.name.len() > MAX_NAME_BYTES {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("a check name has 1 to {MAX_NAME_BYTES} bytes"),
                ));
            }
            if !names.insert(check.name.as_str()) {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("{:?} is used twice in {list_name}", check.name),
                ));
            }
            check_argv(&format!("{field}.command"), &check.command)?;
            if check.timeout_secs == Some(0) {
                return Err(invalid(
                    format!("{field}.timeout_secs"),
                    "must be at least 1",
                ));
            }
        }
    }
    if let Some(health) = &action.health {
        check_health(name, health, &action.post_checks)?;
    }
    for (key, value) in &action.env {
        let bad = key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0');
        if bad {
            return Err(invalid(
                format!("{}.{key}", at("env")),
                "a variable name is non-empty without '=' or NUL, and its value has no NUL",
            ));
        }
        if key.starts_with("ACCORD_") {
            return Err(invalid(
                format!("{}.{key}", at("env")),
                "names starting with ACCORD_ are the agent's own; choose another name",
            ));
        }
    }
    Ok(())
}

fn check_health(
    name: &str,
    health: &HealthConfig,
    post_checks: &[CheckConfig],
) -> Result<(), ConfigError> {
    let at = |field: &str| format!("actions.{name}.health.{field}");
    if post_checks.len() >= MAX_LIST {
        return Err(invalid(
            format!("actions.{name}.health"),
            format!(
                "{} post-checks and the health check make {} entries; a report carries at most {MAX_LIST} post-checks",
                post_checks.len(),
                post_checks.len() + 1
            ),
        ));
    }
    if health.name.trim().is_empty() || health.name.len() > MAX_NAME_BYTES {
        return Err(invalid(
            at("name"),
            format!("a check name has 1 to {MAX_NAME_BYTES} bytes"),
        ));
    }
    if let Some(i) = post_checks.iter().position(|c| c.name == health.name) {
        return Err(invalid(
            at("name"),
            format!(
                "{:?} is also the name of actions.{name}.post_checks[{i}]; the report lists both",
                health.name
            ),
        ));
    }
    check_argv(&at("command"), &health.command)?;
    if health.interval_ms == 0 || health.interval_ms > MAX_HEALTH_INTERVAL_MS {
        return Err(invalid(
            at("interval_ms"),
            format!(
                "{} is out of range; it must be from 1 to {MAX_HEALTH_INTERVAL_MS}",
                health.interval_ms
            ),
        ));
    }
    if health.runs == 0 || health.runs > MAX_HEALTH_RUNS {
        return Err(invalid(
            at("runs"),
            format!(
                "{} is out of range; it must be from 1 to {MAX_HEALTH_RUNS}",
                health.runs
            ),
        ));
    }
    if health.max_consecutive_failures == 0 || health.max_consecutive_failures > health.runs {
        return Err(invalid(
            at("max_consecutive_failures"),
            format!(
                "{} is out of range; it must be from 1 to runs ({})",
                health.max_consecutive_failures, health.runs
            ),
        ));
    }
    if health.timeout_secs == Some(0) {
        return Err(invalid(at("timeout_secs"), "must be at least 1"));
    }
    Ok(())
}

/// How the agent names a proposal body: its kind, its sub-kind and the action that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyKind {
    /// `pipeline_action`, `infrastructure_change`, `documentation_change`, `roadmap_change`.
    pub kind: String,
    /// The sub-kind: `model_deployment`, `resource_addition`, `user_guide`, `scope_change`, …
    pub sub_kind: String,
    /// The action name ([`ACTION_NAMES`]).
    pub action: String,
}

fn name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl BodyKind {
    /// The names of a body; `None` for governance changes, which agents never run.
    pub fn of(body: &ProposalBody) -> Option<Self> {
        let kind = name(&body.kind());
        let (sub_kind, action) = match body {
            ProposalBody::PipelineAction(a) => (name(&a.action), name(&a.action)),
            ProposalBody::InfrastructureChange(c) => (name(&c.change), name(&c.change)),
            ProposalBody::DocumentationChange(d) => (name(&d.document), "documentation".into()),
            ProposalBody::RoadmapChange(r) => (name(&r.change), "roadmap".into()),
            ProposalBody::GovernanceChange(_) => return None,
        };
        debug_assert!(body.kind() != ProposalKind::GovernanceChange);
        Some(Self {
            kind,
            sub_kind,
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use accord_types::governance::{InfrastructureChangeKind, PipelineActionKind};
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct TestCli {
        #[command(flatten)]
        overrides: Overrides,
    }

    const MINIMAL: &str = r#"
        rpc = ["ws://127.0.0.1:9944"]
        key = "keys/eu-agent.key"
        region = "eu"
        chain_spec = "spec.json"
        state_dir = "state"

        [actions.default]
        command = ["./apply.sh", "--now"]
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/accord"), &Overrides::default())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_file_gets_defaults_and_paths_relative_to_it() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.key, Path::new("/etc/accord/keys/eu-agent.key"));
        assert_eq!(config.chain_spec, Path::new("/etc/accord/spec.json"));
        assert_eq!(config.state_dir, Path::new("/etc/accord/state"));
        assert_eq!(config.work_dir, Path::new("/etc/accord"));
        assert_eq!(config.region.as_str(), "eu");
        assert!(!config.dry_run);
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9955".parse().unwrap())
        );
        assert_eq!(config.lease_margin, 5);
        assert_eq!(config.log_bytes, 1024 * 1024);
        let (entry, action) = config.action("model_deployment").unwrap();
        assert_eq!(entry, "default");
        assert_eq!(action.timeout(), Duration::from_secs(600));
        assert!(action.rollback_on_failure && !action.idempotent);
    }

    #[test]
    fn errors_name_the_field() {
        let typo = error(&format!("{MINIMAL}\n[actions.default.envv]\nA = \"1\"\n"));
        assert!(typo.contains("envv"), "{typo}");
        let top = error(&MINIMAL.replace("state_dir", "stat_dir"));
        assert!(
            top.contains("unknown field `stat_dir`") && top.contains("line"),
            "{top}"
        );
        let kind = error(&format!(
            "{MINIMAL}\n[actions.model_deploy]\ncommand = [\"x\"]\n"
        ));
        assert!(
            kind.contains("actions.model_deploy") && kind.contains("model_deployment"),
            "{kind}"
        );
        let empty = error(&MINIMAL.replace("[\"./apply.sh\", \"--now\"]", "[]"));
        assert!(empty.contains("actions.default.command"), "{empty}");
        let region = error(&MINIMAL.replace("\"eu\"", "\"EU\""));
        assert!(region.contains("`region`"), "{region}");
        let url = error(&MINIMAL.replace("ws://127.0.0.1:9944", "http://127.0.0.1:9944"));
        assert!(url.contains("rpc[0]") && url.contains("WebSocket"), "{url}");
        let reserved = error(&format!("{MINIMAL}\nenv = {{ ACCORD_PHASE = \"9\" }}\n"));
        assert!(
            reserved.contains("actions.default.env.ACCORD_PHASE"),
            "{reserved}"
        );
        let twice = error(&format!(
            "{MINIMAL}\npre_checks = [{{ name = \"a\", command = [\"x\"] }}, {{ name = \"a\", command = [\"y\"] }}]\n"
        ));
        assert!(
            twice.contains("actions.default.pre_checks[1].name"),
            "{twice}"
        );
        let margin = error(&format!("lease_margin = 0\n{MINIMAL}"));
        assert!(
            margin.contains("`lease_margin`") && margin.contains("out of range"),
            "{margin}"
        );
        let listen = error(&format!("metrics_listen = \"nowhere\"\n{MINIMAL}"));
        assert!(listen.contains("`metrics_listen`"), "{listen}");
        let missing = error(&MINIMAL.replace("region = \"eu\"", ""));
        assert!(
            missing.contains("`region` is required")
                && missing.contains("--region")
                && missing.contains("ACCORD_AGENT_REGION"),
            "{missing}"
        );
        let wrong_type = error(&MINIMAL.replace("rpc = [\"ws://127.0.0.1:9944\"]", "rpc = 9944"));
        assert!(wrong_type.contains("rpc"), "{wrong_type}");
    }

    const HEALTH: &str = r#"
        [actions.default.health]
        command = ["./probe.sh"]
        interval_ms = 100
        runs = 6
        max_consecutive_failures = 3
    "#;

    /// MINIMAL with `post_checks` and the health table `health` (edited by `edit`).
    fn with_health(post_checks: &str, edit: &[(&str, &str)]) -> String {
        let mut health = HEALTH.to_owned();
        for (from, to) in edit {
            assert!(health.contains(from), "{from}");
            health = health.replace(from, to);
        }
        format!("{MINIMAL}\npost_checks = [{post_checks}]\n{health}")
    }

    fn checks(n: usize) -> String {
        (0..n)
            .map(|i| format!("{{ name = \"c{i}\", command = [\"x\"] }}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn a_health_check_gets_its_defaults() {
        let config = parse(&with_health("", &[])).unwrap();
        let (_, action) = config.action("default").unwrap();
        let health = action.health.as_ref().unwrap();
        assert_eq!(health.name, "health");
        assert_eq!(health.interval(), Duration::from_millis(100));
        assert_eq!((health.runs, health.max_consecutive_failures), (6, 3));
        assert_eq!(action.health_timeout(health), Duration::from_secs(600));
        let named = parse(&with_health(
            &checks(MAX_LIST - 1),
            &[("runs = 6", "runs = 6\nname = \"canary\"\ntimeout_secs = 30")],
        ))
        .unwrap();
        let (_, action) = named.action("default").unwrap();
        let health = action.health.as_ref().unwrap();
        assert_eq!(health.name, "canary");
        assert_eq!(action.health_timeout(health), Duration::from_secs(30));
        assert!(parse(MINIMAL).unwrap().actions["default"].health.is_none());
    }

    /// Post-checks, edits of the health table, and the field the error names.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn health_check_errors_name_the_field() {
        let cases: &[Case<'_>] = &[
            (
                "",
                &[("interval_ms = 100", "interval_ms = 0")],
                "actions.default.health.interval_ms",
            ),
            (
                "",
                &[("interval_ms = 100", "interval_ms = 3600001")],
                "actions.default.health.interval_ms",
            ),
            (
                "",
                &[("runs = 6", "runs = 0")],
                "actions.default.health.runs",
            ),
            (
                "",
                &[("runs = 6", "runs = 1001")],
                "actions.default.health.runs",
            ),
            (
                "",
                &[("failures = 3", "failures = 0")],
                "actions.default.health.max_consecutive_failures",
            ),
            (
                "",
                &[("failures = 3", "failures = 7")],
                "actions.default.health.max_consecutive_failures",
            ),
            (
                "",
                &[("runs = 6", "runs = 6\ntimeout_secs = 0")],
                "actions.default.health.timeout_secs",
            ),
            (
                "",
                &[("runs = 6", "runs = 6\nname = \" \"")],
                "actions.default.health.name",
            ),
            (
                "",
                &[("[\"./probe.sh\"]", "[]")],
                "actions.default.health.command",
            ),
            (
                "{ name = \"health\", command = [\"x\"] }",
                &[],
                "actions.default.health.name",
            ),
        ];
        for (post_checks, edit, field) in cases {
            let message = error(&with_health(post_checks, edit));
            assert!(
                message.contains(&format!("`{field}`")),
                "{edit:?}: {message}"
            );
        }
        let same = error(&with_health(
            "{ name = \"health\", command = [\"x\"] }",
            &[],
        ));
        assert!(same.contains("actions.default.post_checks[0]"), "{same}");
        let full = error(&with_health(&checks(MAX_LIST), &[]));
        assert!(
            full.contains("`actions.default.health`") && full.contains("at most 64"),
            "{full}"
        );
        let unknown = error(&with_health("", &[("interval_ms", "interval_secs")]));
        assert!(unknown.contains("interval_secs"), "{unknown}");
        let missing = error(&with_health("", &[("runs = 6", "")]));
        assert!(missing.contains("runs"), "{missing}");
    }

    #[test]
    fn flags_win_over_the_environment_which_wins_over_the_file() {
        // The only test that sets ACCORD_AGENT_* variables.
        std::env::set_var("ACCORD_AGENT_REGION", "us");
        std::env::set_var("ACCORD_AGENT_LEASE_MARGIN", "7");
        std::env::set_var("ACCORD_AGENT_DRY_RUN", "true");
        std::env::set_var("ACCORD_AGENT_RPC", "ws://a:1, ws://b:2");
        let from_env = TestCli::try_parse_from(["agent"]).unwrap().overrides;
        let flags = TestCli::try_parse_from([
            "agent",
            "--region",
            "ap",
            "--dry-run=false",
            "--metrics-listen",
            "off",
            "--key",
            "/keys/k.key",
        ])
        .unwrap()
        .overrides;
        for name in [
            "ACCORD_AGENT_REGION",
            "ACCORD_AGENT_LEASE_MARGIN",
            "ACCORD_AGENT_DRY_RUN",
            "ACCORD_AGENT_RPC",
        ] {
            std::env::remove_var(name);
        }
        let env = Config::parse(MINIMAL, Path::new("/etc/accord"), &from_env).unwrap();
        assert_eq!(env.region.as_str(), "us");
        assert_eq!(env.lease_margin, 7);
        assert!(env.dry_run);
        assert_eq!(env.rpc, vec!["ws://a:1", "ws://b:2"]);
        let flagged = Config::parse(MINIMAL, Path::new("/etc/accord"), &flags).unwrap();
        assert_eq!(
            flagged.region.as_str(),
            "ap",
            "the flag wins over the environment"
        );
        assert!(!flagged.dry_run);
        assert_eq!(
            flagged.lease_margin, 7,
            "the environment still wins over the file"
        );
        assert_eq!(flagged.metrics_listen, None);
        assert_eq!(flagged.key, Path::new("/keys/k.key"));
        let bare = TestCli::try_parse_from(["agent", "--dry-run"])
            .unwrap()
            .overrides;
        assert_eq!(bare.dry_run, Some(true));
    }

    #[test]
    fn every_sub_kind_has_an_action_name() {
        for action in [
            PipelineActionKind::InfrastructureDeployment,
            PipelineActionKind::ModelDeployment,
            PipelineActionKind::SecurityUpgrade,
            PipelineActionKind::ApplicationScaling,
        ] {
            assert!(ACTION_NAMES.contains(&name(&action).as_str()), "{action:?}");
        }
        for change in [
            InfrastructureChangeKind::ResourceAddition,
            InfrastructureChangeKind::ResourceModification,
            InfrastructureChangeKind::ResourceRemoval,
            InfrastructureChangeKind::ArchitectureChange,
        ] {
            assert!(ACTION_NAMES.contains(&name(&change).as_str()), "{change:?}");
        }
        let body = accord_runtime::test_utils::documentation("guide.md");
        let kind = BodyKind::of(&body).unwrap();
        assert_eq!(
            (
                kind.kind.as_str(),
                kind.sub_kind.as_str(),
                kind.action.as_str()
            ),
            ("documentation_change", "user_guide", "documentation")
        );
        assert!(BodyKind::of(&ProposalBody::GovernanceChange(Vec::new())).is_none());
    }
}

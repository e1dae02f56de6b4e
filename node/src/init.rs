//! `accord init`: a node's home directory — the chain spec, the validator's key files,
//! the configuration and an empty data directory.
//!
//! ```text
//! HOME/                 mode 0700
//!   config.toml         the configuration (see `config`)
//!   spec.json           the chain spec, byte for byte as given
//!   keys/               mode 0700
//!     consensus.key     the validator's consensus key (0600)
//!     p2p.key           its p2p identity (0600)
//!   data/               RocksDB, the consensus log, the signer state, the mempool
//!                       journal (created by `run`)
//! ```
//!
//! The key files must hold the keys the chain spec names for the validator: a node
//! started with other keys could neither vote nor be let in by its peers.
//!
//! A validator that is not in the chain spec joins through governance: `accord init
//! --join` takes (or generates) its keys, writes a home whose configuration says
//! `joined_by_governance = true`, and writes `validator.json`, the validator as an
//! architecture change's `validator_updates` entry (`{"op": "add", "validator": …}`)
//! adds it. Once such a change takes effect on chain, the other validators let the
//! node in; it catches up and votes.

use std::fs::{self, DirBuilder};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use accord_chain_spec::ChainSpec;
use accord_types::governance::ValidatorSpec;
use accord_types::{Keypair, PublicKey, RegionId};
use anyhow::{bail, Context, Result};

use crate::config::{Config, CONFIG_FILE};
use crate::keyfile;

/// Largest chain spec read.
const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;

/// Where `accord init` takes the validator's keys from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A directory laid out as `accord spec build --keys-out` writes it:
    /// `<name>.key` and `<name>.p2p.key`.
    Directory(PathBuf),
    /// Two key files.
    Files {
        /// The consensus key file.
        consensus: PathBuf,
        /// The p2p key file.
        p2p: PathBuf,
    },
    /// New keys, generated from the operating system's randomness (only with `--join`:
    /// the keys of a validator in the spec are the spec's).
    Generate,
}

impl KeySource {
    /// The consensus and p2p key files of validator `name`; `None` for new keys.
    fn files(&self, name: &str) -> Option<(PathBuf, PathBuf)> {
        match self {
            Self::Directory(dir) => Some((
                dir.join(format!("{name}.key")),
                dir.join(format!("{name}.p2p.key")),
            )),
            Self::Files { consensus, p2p } => Some((consensus.clone(), p2p.clone())),
            Self::Generate => None,
        }
    }
}

/// A validator to be added by governance rather than named in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// Its region.
    pub region: String,
    /// Its voting power.
    pub power: u64,
}

/// The file, in a joining validator's home, that holds the validator to propose.
pub const JOINING_VALIDATOR_FILE: &str = "validator.json";

/// What `accord init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The chain spec file.
    pub spec: PathBuf,
    /// The validator's name in the spec.
    pub validator: String,
    /// The home directory to create (or fill, when it exists and is empty).
    pub home: PathBuf,
    /// The key files.
    pub keys: KeySource,
    /// The RPC server's address.
    pub rpc_listen: SocketAddr,
    /// The p2p listen address; the spec's address for the validator when `None`.
    pub p2p_listen: Option<String>,
    /// Set for a validator that is not in the spec and joins through governance.
    pub join: Option<Join>,
    /// Client addresses the RPC server's per-address limits never apply to.
    pub rate_limit_exempt: Vec<std::net::IpAddr>,
}

/// Reads and validates a chain spec file.
pub fn read_spec(path: &Path) -> Result<(ChainSpec, Vec<u8>)> {
    let shown = path.display();
    let meta = fs::metadata(path).with_context(|| format!("cannot read chain spec {shown}"))?;
    if meta.len() > MAX_SPEC_BYTES {
        bail!(
            "chain spec {shown} is {} bytes; a spec is at most {MAX_SPEC_BYTES}",
            meta.len()
        );
    }
    let bytes = fs::read(path).with_context(|| format!("cannot read chain spec {shown}"))?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("chain spec {shown} is not UTF-8 text"))?;
    let spec = match ChainSpec::from_json(text) {
        Ok(spec) => spec,
        Err(accord_chain_spec::Error::Invalid { problems }) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!(
                "chain spec {shown} is invalid (check it with `accord spec validate {shown}`):\n  {}",
                list.join("\n  ")
            );
        }
        Err(e) => return Err(e).with_context(|| format!("chain spec {shown}")),
    };
    Ok((spec, bytes))
}

/// Creates the home directory. Returns the configuration written.
pub fn init(options: &InitOptions) -> Result<Config> {
    let (spec, spec_bytes) = read_spec(&options.spec)?;
    let (consensus, p2p, listen, joining) = match &options.join {
        None => {
            let (consensus, p2p, validator) = spec_keys(&spec, options)?;
            let listen = options
                .p2p_listen
                .clone()
                .unwrap_or_else(|| validator.listen_addr.clone());
            (consensus, p2p, listen, None)
        }
        Some(join) => {
            let (consensus, p2p, joining) = joining_keys(&spec, options, join)?;
            (consensus, p2p, joining.listen_addr.clone(), Some(joining))
        }
    };
    let home = &options.home;
    let config_path = home.join(CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already exists; `accord init` never overwrites a node's home: choose another --home",
            config_path.display()
        );
    }
    private_dir(home)?;
    private_dir(&home.join("keys"))?;
    let mut config = Config::new(&options.validator, listen, options.rpc_listen);
    config.joined_by_governance = joining.is_some();
    config.rpc.rate_limit_exempt = options.rate_limit_exempt.clone();
    keyfile::write(&home.join(&config.keys.consensus), &consensus)?;
    keyfile::write(&home.join(&config.keys.p2p), &p2p)?;
    let spec_path = home.join(&config.chain_spec);
    fs::write(&spec_path, spec_bytes)
        .with_context(|| format!("cannot write {}", spec_path.display()))?;
    if let Some(joining) = &joining {
        let mut json = serde_json::to_string_pretty(joining)?;
        json.push('\n');
        write_synced(&home.join(JOINING_VALIDATOR_FILE), json.as_bytes())?;
    }
    private_dir(&home.join(&config.data_dir))?;
    // The configuration last: its presence marks a complete home.
    write_synced(&config_path, config.to_toml().as_bytes())?;
    Ok(config)
}

/// The keys of a validator named in the spec, checked against it.
fn spec_keys<'a>(
    spec: &'a ChainSpec,
    options: &InitOptions,
) -> Result<(Keypair, Keypair, &'a ValidatorSpec)> {
    let Some(validator) = spec.validator(&options.validator) else {
        let names: Vec<&str> = spec.validators().iter().map(|v| v.name.as_str()).collect();
        bail!(
            "the chain spec has no validator named {:?}; its validators are: {} (a validator added by governance is initialised with --join)",
            options.validator,
            names.join(", ")
        );
    };
    let Some((consensus_file, p2p_file)) = options.keys.files(&validator.name) else {
        bail!(
            "validator {} is in the chain spec, which names its keys: give them with --keys or --consensus-key and --p2p-key",
            validator.name
        );
    };
    let consensus = keyfile::read(&consensus_file)?;
    let p2p = keyfile::read(&p2p_file)?;
    expect_key(
        &consensus,
        &validator.consensus_key,
        &consensus_file,
        "consensus",
        &validator.name,
    )?;
    expect_key(&p2p, &validator.p2p_key, &p2p_file, "p2p", &validator.name)?;
    Ok((consensus, p2p, validator))
}

/// The keys of a validator that joins through governance, and the validator to propose.
fn joining_keys(
    spec: &ChainSpec,
    options: &InitOptions,
    join: &Join,
) -> Result<(Keypair, Keypair, ValidatorSpec)> {
    let name = &options.validator;
    if spec.validator(name).is_some() {
        bail!("validator {name:?} is in the chain spec already; initialise it without --join");
    }
    let region = RegionId::new(&join.region)
        .with_context(|| format!("--region {:?} is not a region name", join.region))?;
    if join.power == 0 {
        bail!("--power must be at least 1");
    }
    let Some(listen) = options.p2p_listen.clone() else {
        bail!("--join needs --p2p-listen: the address the other validators will dial");
    };
    listen
        .parse::<libp2p::Multiaddr>()
        .with_context(|| format!("--p2p-listen {listen:?} is not a multiaddr"))?;
    let (consensus, p2p) = match options.keys.files(name) {
        Some((consensus, p2p)) => (keyfile::read(&consensus)?, keyfile::read(&p2p)?),
        None => (
            Keypair::generate(&mut rand_core::OsRng),
            Keypair::generate(&mut rand_core::OsRng),
        ),
    };
    let taken = spec
        .validators()
        .iter()
        .find(|v| v.consensus_key == consensus.public() || v.p2p_key == p2p.public());
    if let Some(other) = taken {
        bail!(
            "validator {} of the chain spec holds these keys already",
            other.name
        );
    }
    let validator = ValidatorSpec {
        name: name.clone(),
        region,
        consensus_key: consensus.public(),
        p2p_key: p2p.public(),
        listen_addr: listen,
        power: join.power,
    };
    Ok((consensus, p2p, validator))
}

/// Refuses a key file that does not hold the key the chain spec names.
pub(crate) fn expect_key(
    keypair: &Keypair,
    expected: &PublicKey,
    file: &Path,
    purpose: &str,
    name: &str,
) -> Result<()> {
    if keypair.public() != *expected {
        bail!(
            "{} holds the key {}, but the chain spec names {expected} as the {purpose} key of {name}",
            file.display(),
            keypair.public()
        );
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700, or checks an existing one.
pub fn private_dir(dir: &Path) -> Result<()> {
    let shown = dir.display();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {shown}"))?;
    let mode = fs::metadata(dir)
        .with_context(|| format!("cannot inspect {shown}"))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        bail!("{shown} has mode {mode:04o}, which lets other users in; run `chmod 700 {shown}`");
    }
    Ok(())
}

/// Writes a file of the node's home whole, replacing any earlier one atomically.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::durable::replace_file(path, bytes, 0o644)
        .with_context(|| format!("cannot write {}", path.display()))
}

//! The command line: `accord init`, `accord run`, `accord localnet`, `accord tx …`,
//! `accord status`, `accord key …` and `accord spec …`.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use accord_chain_spec::{preset, ChainSpec, PRESET_NAMES};
use accord_types::Keypair;
use anyhow::{bail, Context, Result};
use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};

use crate::init::{InitOptions, KeySource};
use crate::keyfile;

/// Exit status when the input was read but is invalid (a bad spec or key file).
pub const EXIT_INVALID: u8 = 1;
/// Exit status for usage errors and for files that cannot be read or written.
pub const EXIT_USAGE_OR_IO: u8 = 2;

/// accord: a permissioned BFT chain on which DevOps changes are governed.
#[derive(Debug, Parser)]
#[command(
    name = "accord",
    version,
    about,
    after_help = "Exit status: 0 on success, 1 when the input is invalid, 2 for usage or I/O errors."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node's home directory: configuration, chain spec and key files.
    Init(InitArgs),
    /// Run a validator node from its home directory.
    Run(RunArgs),
    /// Copy a node's database, consistent and checked, while it runs (or stopped), with
    /// its configuration and chain spec; not its keys.
    Backup(BackupArgs),
    /// Put a backup's database into a stopped node's data directory.
    Restore(RestoreArgs),
    /// Start a local validator network on loopback, one process per validator.
    Localnet(LocalnetArgs),
    /// Build, sign and submit a transaction through a node's RPC.
    Tx(TxArgs),
    /// Print a node's status.
    Status {
        /// The node's RPC URL.
        #[arg(
            long,
            value_name = "URL",
            default_value = "http://127.0.0.1:9944",
            env = "ACCORD_RPC"
        )]
        rpc: String,
    },
    /// Create and inspect ed25519 key files.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Build and check chain specs.
    #[command(subcommand)]
    Spec(SpecCommand),
}

/// `accord init …`
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The chain spec.
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// The validator this node runs, by its name in the spec.
    #[arg(long, value_name = "NAME")]
    pub validator: String,
    /// The home directory to create.
    #[arg(long, value_name = "DIR")]
    pub home: PathBuf,
    /// A directory of key files named as `accord spec build --keys-out` writes them
    /// (`<name>.key`, `<name>.p2p.key`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["consensus_key", "p2p_key"])]
    pub keys: Option<PathBuf>,
    /// The validator's consensus key file.
    #[arg(long, value_name = "FILE", requires = "p2p_key")]
    pub consensus_key: Option<PathBuf>,
    /// The node's p2p key file.
    #[arg(long, value_name = "FILE", requires = "consensus_key")]
    pub p2p_key: Option<PathBuf>,
    /// Address of the JSON-RPC server.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9944")]
    pub rpc_listen: std::net::SocketAddr,
    /// Multiaddr to listen on for peers (default: the validator's address in the spec;
    /// with --join, required: it is the address the other validators will dial).
    #[arg(long, value_name = "MULTIADDR")]
    pub p2p_listen: Option<String>,
    /// The validator is not in the spec and joins through governance: keys are
    /// generated unless given, and HOME/validator.json holds the validator to add in an
    /// architecture change's `validator_updates`.
    #[arg(long, requires_all = ["region", "p2p_listen"])]
    pub join: bool,
    /// With --join: the validator's region.
    #[arg(long, value_name = "REGION", requires = "join")]
    pub region: Option<String>,
    /// With --join: the validator's voting power.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub power: u64,
}

/// `accord backup …`
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The node's home directory (holds config.toml).
    #[arg(long, value_name = "DIR", env = "ACCORD_HOME")]
    pub home: PathBuf,
    /// The node's data directory, when not the configuration's.
    #[arg(long, value_name = "DIR", env = "ACCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where to write the backup: a directory that does not exist yet.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `accord restore …`
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup (a directory `accord backup` wrote).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The stopped node's home directory (holds config.toml).
    #[arg(long, value_name = "DIR", env = "ACCORD_HOME")]
    pub home: PathBuf,
    /// The node's data directory, when not the configuration's.
    #[arg(long, value_name = "DIR", env = "ACCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Move a database already in the data directory aside (to
    /// `db.before-restore-<ms>`) instead of refusing.
    #[arg(long)]
    pub force: bool,
}

/// `accord run …`
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The node's home directory (holds config.toml).
    #[arg(long, value_name = "DIR", env = "ACCORD_HOME")]
    pub home: PathBuf,
    /// Where the database, consensus log and signer state live.
    #[arg(long, value_name = "DIR", env = "ACCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Multiaddr to listen on for peers.
    #[arg(long, value_name = "MULTIADDR", env = "ACCORD_P2P_LISTEN")]
    pub p2p_listen: Option<String>,
    /// Address of the JSON-RPC server.
    #[arg(long, value_name = "ADDR", env = "ACCORD_RPC_LISTEN")]
    pub rpc_listen: Option<std::net::SocketAddr>,
    /// Log format.
    #[arg(long, value_enum, env = "ACCORD_LOG_FORMAT")]
    pub log_format: Option<crate::config::LogFormat>,
    /// Log filter (`info`, `info,accord_node::p2p=debug`).
    #[arg(long, value_name = "FILTER", env = "ACCORD_LOG_FILTER")]
    pub log_filter: Option<String>,
}

/// `accord localnet …`
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LocalnetArgs {
    /// Act on a running local network instead of starting one.
    #[command(subcommand)]
    pub action: Option<LocalnetAction>,
    /// Number of validators, dealt to the regions in turn. With four or more in every
    /// region, the regional quorum rule is on (each region's validators must agree);
    /// with fewer, the global rule.
    #[arg(long, default_value_t = 8)]
    pub validators: usize,
    /// Number of regions.
    #[arg(long, default_value_t = 2)]
    pub regions: usize,
    /// Where the network's spec, keys and node homes live.
    #[arg(long, value_name = "DIR", default_value = ".localnet")]
    pub home: PathBuf,
    /// The first validator's p2p port; the others follow.
    #[arg(long, default_value_t = 30300)]
    pub base_port: u16,
    /// The first validator's RPC port; the others follow.
    #[arg(long, default_value_t = 9944)]
    pub rpc_port: u16,
    /// Delete the network in DIR and start a new one.
    #[arg(long)]
    pub fresh: bool,
    /// The accounts and governance parameters: `localnet` (two voters per region), or
    /// `bench` (500 voters per region, votes open for ten million blocks: for loadgen's
    /// open-loop runs).
    #[arg(long, value_enum, default_value_t = crate::localnet::NetPreset::Localnet)]
    pub preset: crate::localnet::NetPreset,
    /// The pause after an empty block before the next height starts, in milliseconds
    /// (the chain spec's `consensus.timeouts.commit_ms`; the presets have 200). 0 runs an
    /// idle chain as fast as consensus goes. Only for a new network.
    #[arg(long, value_name = "MS")]
    pub commit_ms: Option<u64>,
    /// How often to print who signs the last certificates in each region, in seconds
    /// (a line when someone goes absent or comes back, at least every 30 s otherwise);
    /// 0 prints nothing.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub signing_every: u64,
}

/// What `accord localnet` does to a network that runs.
#[derive(Debug, Subcommand)]
pub enum LocalnetAction {
    /// Start one of its nodes again (stopping it first if it runs), under the running
    /// `accord localnet`, which then supervises it as before.
    Restart {
        /// The node's name (eu-1, us-2, …).
        name: String,
        /// The network's home, as given to `accord localnet`.
        #[arg(long, value_name = "DIR", default_value = ".localnet")]
        home: PathBuf,
    },
}

/// `accord tx …`
#[derive(Debug, clap::Args)]
pub struct TxArgs {
    /// What to send.
    #[command(subcommand)]
    pub action: TxCommand,
    /// The signing account's key file.
    #[arg(long, value_name = "FILE", global = true)]
    pub key: Option<PathBuf>,
    /// The node's RPC URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:9944",
        env = "ACCORD_RPC",
        global = true
    )]
    pub rpc: String,
    /// Wait for the transaction's receipt and print it.
    #[arg(long, global = true)]
    pub wait: bool,
}

/// `accord tx <action>`
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Submit a proposal.
    Propose {
        /// The proposal draft, as JSON.
        #[arg(long, value_name = "FILE")]
        draft: PathBuf,
    },
    /// Vote on a proposal for a region.
    Vote {
        /// The proposal id.
        #[arg(long)]
        proposal: u64,
        /// The region voted for.
        #[arg(long)]
        region: String,
        /// yes, no, abstain or veto.
        #[arg(long, value_parser = PossibleValuesParser::new(["yes", "no", "abstain", "veto"]))]
        choice: String,
    },
    /// Cancel a proposal.
    Cancel {
        /// The proposal id.
        #[arg(long)]
        proposal: u64,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Execute an approved proposal whose mode is manual.
    Execute {
        /// The proposal id.
        #[arg(long)]
        proposal: u64,
    },
}

/// `accord key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a fresh key into a new file (mode 0600) and print its public key.
    Generate {
        /// Where to write the key file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// `accord spec …`
#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Print a preset chain spec, and optionally write the keys it was built from.
    Build {
        /// Which preset.
        #[arg(long, value_parser = PossibleValuesParser::new(PRESET_NAMES))]
        preset: String,
        /// Write the spec to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write every key of the preset into DIR (created with mode 0700): `<name>.key`
        /// for validator consensus keys and account keys, `<name>.p2p.key` for p2p keys.
        /// These keys are derived from public labels: for development only.
        #[arg(long, value_name = "DIR")]
        keys_out: Option<PathBuf>,
    },
    /// Check a chain spec and report every problem in it.
    Validate {
        /// The spec file, or `-` for standard input.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => init(args),
        Command::Run(args) => {
            let overrides = crate::config::Overrides {
                data_dir: args.data_dir,
                p2p_listen: args.p2p_listen,
                rpc_listen: args.rpc_listen,
                log_format: args.log_format,
                log_filter: args.log_filter,
            };
            crate::run::run(&args.home, &overrides)
        }
        Command::Backup(args) => {
            let overrides = crate::config::Overrides {
                data_dir: args.data_dir,
                ..Default::default()
            };
            let m = crate::backup::backup(&args.home, &overrides, &args.out)?;
            say(format_args!(
                "backup of {} at height {} ({}) in {}: db/ (a checkpoint, checked), config.toml, spec.json, {}; the keys are not in it",
                m.validator,
                m.height,
                m.hash,
                args.out.display(),
                crate::backup::MANIFEST
            ))
        }
        Command::Restore(args) => {
            let overrides = crate::config::Overrides {
                data_dir: args.data_dir,
                ..Default::default()
            };
            let r = crate::backup::restore(&args.from, &args.home, &overrides, args.force)?;
            if let Some(aside) = &r.moved_aside {
                say(format_args!(
                    "the database there before is in {}",
                    aside.display()
                ))?;
            }
            say(format_args!(
                "restored {}'s database at height {} ({}) into {}; start the node to catch up with the network",
                r.manifest.validator,
                r.manifest.height,
                r.manifest.hash,
                r.db.display()
            ))?;
            if !r.signer_record {
                eprintln!(
                    "warning: this data directory holds no signer record (signer-state.json): start the validator only once the network has finalized past the height where it last ran, or it could sign twice at that height (docs/OPERATIONS.md, \"Backups and restore\")"
                );
            }
            Ok(())
        }
        Command::Localnet(LocalnetArgs {
            action: Some(LocalnetAction::Restart { name, home }),
            ..
        }) => {
            let node = crate::localnet::restart(&home, &name)?;
            say(format_args!(
                "{} started again: rpc {}, log {}",
                node.name,
                node.rpc,
                node.home.join("node.log").display()
            ))
        }
        Command::Localnet(args) => crate::localnet::run(
            &args.home,
            crate::localnet::Shape {
                validators: args.validators,
                regions: args.regions,
                base_port: args.base_port,
                rpc_port: args.rpc_port,
                preset: args.preset,
                commit_ms: args.commit_ms,
            },
            args.fresh,
            (args.signing_every > 0).then(|| std::time::Duration::from_secs(args.signing_every)),
        ),
        Command::Tx(args) => tx(args),
        Command::Status { rpc } => block_on(async move {
            let status = crate::client::Client::new(&rpc)?.status().await?;
            say(serde_json::to_string_pretty(&status)?)?;
            Ok(())
        }),
        Command::Key(KeyCommand::Generate { out, force }) => key_generate(&out, force),
        Command::Key(KeyCommand::Show { file }) => key_show(&file),
        Command::Spec(SpecCommand::Build {
            preset,
            out,
            keys_out,
        }) => spec_build(&preset, out.as_deref(), keys_out.as_deref()),
        Command::Spec(SpecCommand::Validate { file }) => spec_validate(&file),
    }
}

/// The exit status for a failed command: I/O errors are usage-class (2), everything
/// else means the input was read and found wanting (1).
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.is::<OutputClosed>() {
        return 0;
    }
    if error.chain().any(|e| e.is::<io::Error>()) {
        EXIT_USAGE_OR_IO
    } else {
        EXIT_INVALID
    }
}

/// Standard output was closed by its reader (`accord tx vote … --wait | head -2`): the
/// command stops there, quietly and successfully, as a shell pipeline expects.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct OutputClosed;

/// Writes `bytes` to standard output; a closed pipe is [`OutputClosed`].
pub fn write_out(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write to standard output")),
    }
}

/// Prints `line` and a newline on standard output; a closed pipe is [`OutputClosed`].
pub fn say(line: impl std::fmt::Display) -> Result<()> {
    write_out(format!("{line}\n").as_bytes())
}

fn init(args: InitArgs) -> Result<()> {
    let keys = match (args.keys, args.consensus_key, args.p2p_key) {
        (Some(dir), _, _) => KeySource::Directory(dir),
        (None, Some(consensus), Some(p2p)) => KeySource::Files { consensus, p2p },
        _ if args.join => KeySource::Generate,
        _ => bail!(
            "say where the validator's keys are: --keys DIR, or --consensus-key FILE and --p2p-key FILE"
        ),
    };
    let join = args.join.then(|| crate::init::Join {
        region: args.region.clone().unwrap_or_default(),
        power: args.power,
    });
    let options = InitOptions {
        spec: args.spec,
        validator: args.validator,
        home: args.home,
        keys,
        rpc_listen: args.rpc_listen,
        p2p_listen: args.p2p_listen,
        join,
        rate_limit_exempt: Vec::new(),
    };
    let config = crate::init::init(&options)?;
    say(format_args!(
        "initialised {} for validator {}: p2p {}, rpc http://{}\nstart it with: accord run --home {}",
        options.home.display(),
        config.validator,
        config.p2p.listen,
        config.rpc.listen,
        options.home.display()
    ))?;
    if config.joined_by_governance {
        say(format_args!(
            "this validator joins through governance: propose an architecture change whose validator_updates hold {{\"op\": \"add\", \"validator\": …}} with the validator in {}; until the change takes effect the node follows the chain without voting",
            options.home.join(crate::init::JOINING_VALIDATOR_FILE).display()
        ))?;
    }
    Ok(())
}

fn block_on<F: std::future::Future<Output = Result<()>>>(future: F) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(future)
}

fn tx(args: TxArgs) -> Result<()> {
    use crate::client::TxAction;
    let Some(key) = args.key else {
        bail!("say which account signs: --key FILE");
    };
    let action = match args.action {
        TxCommand::Propose { draft } => TxAction::Propose { draft },
        TxCommand::Vote {
            proposal,
            region,
            choice,
        } => TxAction::Vote {
            proposal,
            region,
            choice: match choice.as_str() {
                "yes" => accord_types::governance::VoteChoice::Yes,
                "no" => accord_types::governance::VoteChoice::No,
                "abstain" => accord_types::governance::VoteChoice::Abstain,
                _ => accord_types::governance::VoteChoice::Veto,
            },
        },
        TxCommand::Cancel { proposal, reason } => TxAction::Cancel { proposal, reason },
        TxCommand::Execute { proposal } => TxAction::Execute { proposal },
    };
    let wait = args.wait;
    block_on(async move {
        let ok = crate::client::send(&args.rpc, &key, &action, wait).await?;
        if !ok {
            bail!("the transaction failed");
        }
        Ok(())
    })
}

fn key_generate(out: &Path, force: bool) -> Result<()> {
    let keypair = Keypair::generate(&mut rand_core::OsRng);
    if force {
        keyfile::replace(out, &keypair)?;
    } else {
        keyfile::write(out, &keypair).map_err(|e| {
            if out.exists() {
                e.context(format!(
                    "{} already exists; pass --force to replace it",
                    out.display()
                ))
            } else {
                e
            }
        })?;
    }
    say(keypair.public())
}

fn key_show(file: &Path) -> Result<()> {
    say(keyfile::read(file)?.public())
}

fn spec_build(name: &str, out: Option<&Path>, keys_out: Option<&Path>) -> Result<()> {
    let preset = preset(name)?;
    if let Some(dir) = keys_out {
        keyfile::write_all(dir, &preset.keys)?;
        eprintln!(
            "wrote {} key files to {} (insecure preset keys: for development only)",
            preset.keys.len(),
            dir.display()
        );
    }
    let mut json = preset.spec.to_json_pretty();
    json.push('\n');
    match out {
        Some(path) => {
            fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => write_out(json.as_bytes())?,
    }
    Ok(())
}

/// The file a preset key is written to.
fn spec_validate(file: &Path) -> Result<()> {
    let (shown, text) = if file == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the spec from standard input")?;
        ("<stdin>".to_owned(), text)
    } else {
        let text = fs::read_to_string(file)
            .with_context(|| format!("cannot read chain spec {}", file.display()))?;
        (file.display().to_string(), text)
    };
    match ChainSpec::from_json(&text) {
        Ok(spec) => say(summary(&spec)),
        Err(accord_chain_spec::Error::Invalid { problems }) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            let n = problems.len();
            bail!(
                "{n} problem{} in chain spec {shown}",
                if n == 1 { "" } else { "s" }
            )
        }
        Err(e) => Err(e).with_context(|| format!("chain spec {shown}")),
    }
}

/// `ok: chain accord-local, genesis 0x…, 4 validators in 2 regions, 8 accounts`
fn summary(spec: &ChainSpec) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut line = format!(
        "ok: chain {}, genesis {}, {} in {}, {}",
        spec.chain_name(),
        spec.genesis_hash(),
        plural(spec.validators().len(), "validator"),
        plural(spec.regions().len(), "region"),
        plural(spec.accounts().len(), "account"),
    );
    if !spec.observers().is_empty() {
        line.push_str(&format!(", {}", plural(spec.observers().len(), "observer")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn summary_counts_the_local_preset() {
        let spec = preset("local").unwrap().spec;
        let line = summary(&spec);
        assert!(
            line.starts_with("ok: chain accord-local, genesis 0x"),
            "{line}"
        );
        assert!(
            line.ends_with(", 4 validators in 2 regions, 8 accounts"),
            "{line}"
        );
        let dev = summary(&preset("dev").unwrap().spec);
        assert!(
            dev.ends_with(", 1 validator in 1 region, 3 accounts"),
            "{dev}"
        );
    }

    #[test]
    fn io_errors_exit_with_two() {
        let io = anyhow::Error::new(io::Error::from(io::ErrorKind::NotFound)).context("reading");
        assert_eq!(exit_code(&io), EXIT_USAGE_OR_IO);
        assert_eq!(exit_code(&anyhow::anyhow!("bad spec")), EXIT_INVALID);
    }
}

//! `accord backup` and `accord restore`: a consistent copy of a node's database, taken
//! while the node runs, and putting one back.
//!
//! ```text
//! OUT/                 mode 0700
//!   backup.json        chain id, genesis hash, the head it holds, when, which version
//!   db/                a RocksDB checkpoint of the node's database
//!   config.toml        the node's configuration, as it was
//!   spec.json          its chain spec
//! ```
//!
//! A running node writes the checkpoint itself, asked through its administration socket
//! ([`crate::admin`]); a stopped node's database is opened and checkpointed directly.
//! Either way the copy is opened afterwards and checked like a node checks its database
//! on start (head, certificates, state root), so a backup that says it holds height H
//! does. The keys are not in a backup: they are kept apart (an operator's secret store),
//! and so are the consensus log and the signer guard's record, which belong to the
//! validator's live data directory (see `restore`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use accord_types::{ChainId, Hash, Height};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::admin::{self, Request, Response};
use crate::config::{Config, Overrides, CONFIG_FILE};
use crate::init::{private_dir, read_spec};
use crate::run::DataPaths;
use crate::storage::{Storage, StorageError};

/// The manifest's file name in a backup.
pub const MANIFEST: &str = "backup.json";

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The chain.
    pub chain_id: ChainId,
    /// Its genesis hash.
    pub genesis_hash: Hash,
    /// The head of the copied database.
    pub height: Height,
    /// Its hash.
    pub hash: Hash,
    /// The validator whose node it was taken from.
    pub validator: String,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// The version of accord that took it.
    pub version: String,
    /// Whether the node was running (the checkpoint written by the node itself).
    pub online: bool,
}

/// Writes a backup of the node whose home is `home` into `out`, which must not exist.
pub fn backup(home: &Path, overrides: &Overrides, out: &Path) -> Result<Manifest> {
    let config = Config::load(home, overrides)?;
    let (spec, spec_bytes) = read_spec(&config.chain_spec)?;
    if out.exists() {
        bail!(
            "{} exists already; a backup goes into a new directory",
            out.display()
        );
    }
    private_dir(out)?;
    let out = out
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", out.display()))?;
    let db = out.join("db");
    let paths = DataPaths::new(&config.data_dir);
    let online = match admin::call(&config.data_dir, &Request::Checkpoint { dir: db.clone() })? {
        Some(Response::Ok { .. }) => true,
        Some(Response::Error(message)) => {
            bail!("the running node refused the checkpoint: {message}")
        }
        None => {
            // Nobody listens: the node is stopped (or runs a version without the socket,
            // in which case the database's lock says so).
            let storage = Storage::open(&paths.db).map_err(|e| match e {
                StorageError::Locked { .. } => anyhow::anyhow!(
                    "{e}; the node holding it does not answer on {}",
                    admin::socket_path(&config.data_dir).display()
                ),
                other => other.into(),
            })?;
            storage.checkpoint(&db)?;
            false
        }
    };
    let (head, chain) = check_copy(&db)?;
    if chain.chain_id != *spec.chain_id() || chain.genesis_hash != spec.genesis_hash() {
        bail!(
            "the database is of chain {} (genesis {}), the node's spec of {} (genesis {})",
            chain.chain_id,
            chain.genesis_hash,
            spec.chain_id(),
            spec.genesis_hash()
        );
    }
    let config_file = home.join(CONFIG_FILE);
    fs::copy(&config_file, out.join(CONFIG_FILE))
        .with_context(|| format!("cannot copy {}", config_file.display()))?;
    fs::write(out.join("spec.json"), spec_bytes)
        .with_context(|| format!("cannot write {}", out.join("spec.json").display()))?;
    let manifest = Manifest {
        chain_id: chain.chain_id,
        genesis_hash: chain.genesis_hash,
        height: head.0,
        hash: head.1,
        validator: config.validator,
        taken_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        online,
    };
    let manifest_path = out.join(MANIFEST);
    fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)? + "\n",
    )
    .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    Ok(manifest)
}

/// Opens a copied database and checks it as a node does on start; its head and chain.
fn check_copy(db: &Path) -> Result<((Height, Hash), crate::storage::ChainIdentity)> {
    let storage = Storage::open(db)?;
    let head = storage
        .check_consistency()
        .with_context(|| format!("the copy in {} does not check out", db.display()))?;
    let chain = storage
        .chain()?
        .with_context(|| format!("the copy in {} holds no chain", db.display()))?;
    Ok(((head.height, head.hash), chain))
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Where the database was put.
    pub db: PathBuf,
    /// Where the database it replaced was moved, with `--force`.
    pub moved_aside: Option<PathBuf>,
    /// Whether the data directory holds the signer guard's record.
    pub signer_record: bool,
}

/// Puts the database of the backup in `from` into the data directory of the (stopped)
/// node whose home is `home`. A database already there is refused, or moved aside to
/// `db.before-restore-<ms>` with `force`. The consensus log and the signer guard's
/// record in the data directory are left as they are: the guard then refuses to sign
/// anything below what this validator already signed.
pub fn restore(from: &Path, home: &Path, overrides: &Overrides, force: bool) -> Result<Restored> {
    let manifest_path = from.join(MANIFEST);
    let text = fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read {} (is {} a backup?)",
            manifest_path.display(),
            from.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a backup manifest", manifest_path.display()))?;
    let config = Config::load(home, overrides)?;
    let (spec, _) = read_spec(&config.chain_spec)?;
    if manifest.chain_id != *spec.chain_id() || manifest.genesis_hash != spec.genesis_hash() {
        bail!(
            "the backup is of chain {} (genesis {}), the home {} of {} (genesis {})",
            manifest.chain_id,
            manifest.genesis_hash,
            home.display(),
            spec.chain_id(),
            spec.genesis_hash()
        );
    }
    let paths = DataPaths::new(&config.data_dir);
    let mut moved_aside = None;
    if paths.db.exists() {
        // Opening it takes its lock: a running node is found here, before anything moves.
        let existing = Storage::open(&paths.db).map_err(|e| match e {
            StorageError::Locked { path, .. } => anyhow::anyhow!(
                "the database at {} is in use (its node runs): stop the node before restoring its database",
                path.display()
            ),
            other => other.into(),
        })?;
        let height = existing.head()?.map(|h| h.height);
        drop(existing);
        if !force {
            bail!(
                "{} holds a database{}; pass --force to move it aside and restore the backup's (height {})",
                paths.db.display(),
                height.map(|h| format!(" at height {h}")).unwrap_or_default(),
                manifest.height
            );
        }
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let aside = paths.db.with_file_name(format!("db.before-restore-{ms}"));
        fs::rename(&paths.db, &aside).with_context(|| {
            format!("cannot move {} to {}", paths.db.display(), aside.display())
        })?;
        moved_aside = Some(aside);
    }
    private_dir(&config.data_dir)?;
    copy_dir(&from.join("db"), &paths.db)?;
    let ((height, hash), _) = check_copy(&paths.db)?;
    if (height, hash) != (manifest.height, manifest.hash) {
        bail!(
            "the restored database holds height {height} ({hash}), the manifest says {} ({})",
            manifest.height,
            manifest.hash
        );
    }
    Ok(Restored {
        manifest,
        db: paths.db,
        moved_aside,
        signer_record: paths.signer.exists(),
    })
}

/// Copies the files of the flat directory `from` (a RocksDB checkpoint) into `to`,
/// which must not exist.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    private_dir(to)?;
    let entries = fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            bail!(
                "{} is not a file; a backup's db/ holds files only",
                entry.path().display()
            );
        }
        let target = to.join(entry.file_name());
        fs::copy(entry.path(), &target).with_context(|| {
            format!(
                "cannot copy {} to {}",
                entry.path().display(),
                target.display()
            )
        })?;
        fs::File::open(&target)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot sync {}", target.display()))?;
    }
    let dir = fs::File::open(to)?;
    dir.sync_all()
        .with_context(|| format!("cannot sync {}", to.display()))?;
    Ok(())
}

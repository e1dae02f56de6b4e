//! Where the load goes: the nodes' RPC URLs and the accounts' key files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accord_node::localnet::{read_shape, MARKER};
use accord_types::{Keypair, RegionId};
use anyhow::{bail, ensure, Context, Result};

/// The nodes and the key directory of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// RPC URLs; submissions take turns over them, blocks are read from the first.
    pub rpc: Vec<String>,
    /// A directory with `author.key` and `<region>-voter-<n>.key` files.
    pub keys: PathBuf,
}

impl Target {
    /// The network of an `accord localnet` home: its `localnet.json` gives the number of
    /// validators and the first RPC port, its `keys/` the accounts.
    pub fn from_home(home: &Path) -> Result<Self> {
        let marker = home.join(MARKER);
        if !marker.exists() {
            bail!(
                "{} is not the home of an `accord localnet` (no localnet.json); pass the --home \
                 given to `accord localnet`, or --rpc URL (repeated) and --keys DIR",
                home.display()
            );
        }
        let shape = read_shape(home)?;
        ensure!(
            shape.validators > 0,
            "{} describes a network without validators",
            marker.display()
        );
        let rpc = (0..shape.validators)
            .map(|i| {
                u16::try_from(i)
                    .ok()
                    .and_then(|i| shape.rpc_port.checked_add(i))
                    .map(|port| format!("http://127.0.0.1:{port}"))
                    .with_context(|| format!("RPC port {} + {i} is out of range", shape.rpc_port))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            rpc,
            keys: home.join("keys"),
        })
    }
}

/// The accounts loadgen signs with.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// The proposer (`author.key`).
    pub author: Keypair,
    /// Voters by region (`<region>-voter-<n>.key`), in file-name order.
    pub voters: BTreeMap<RegionId, Vec<(String, Keypair)>>,
}

impl Accounts {
    /// Reads `author.key` and every `<region>-voter-<n>.key` of `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let author_path = dir.join("author.key");
        if !author_path.exists() {
            bail!(
                "{} holds no author.key: loadgen needs the proposer's key and the voters' \
                 (<region>-voter-<n>.key) of an `accord localnet`",
                dir.display()
            );
        }
        let author = accord_node::keyfile::read(&author_path)?;
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list the key directory {}", dir.display()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        let mut voters: BTreeMap<RegionId, Vec<(String, Keypair)>> = BTreeMap::new();
        for name in names {
            let Some((region, account)) = voter_file(&name) else {
                continue;
            };
            let region = RegionId::new(region)
                .with_context(|| format!("key file {name}: {region:?} is not a region name"))?;
            let keypair = accord_node::keyfile::read(&dir.join(&name))?;
            voters
                .entry(region)
                .or_default()
                .push((account.to_owned(), keypair));
        }
        if voters.is_empty() {
            bail!(
                "{} holds no voter key (<region>-voter-<n>.key)",
                dir.display()
            );
        }
        Ok(Self { author, voters })
    }

    /// The regions that have voters.
    pub fn regions(&self) -> Vec<RegionId> {
        self.voters.keys().cloned().collect()
    }
}

/// `eu-voter-1.key` → (`eu`, `eu-voter-1`).
pub fn voter_file(name: &str) -> Option<(&str, &str)> {
    let account = name.strip_suffix(".key")?;
    let (region, number) = account.split_once("-voter-")?;
    if region.is_empty() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((region, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voter_files_name_their_region() {
        assert_eq!(voter_file("eu-voter-1.key"), Some(("eu", "eu-voter-1")));
        assert_eq!(voter_file("ap-voter-12.key"), Some(("ap", "ap-voter-12")));
        for other in [
            "author.key",
            "guardian.key",
            "eu-agent.key",
            "eu-voter-1.json",
            "-voter-1.key",
            "eu-voter-.key",
            "eu-voter-x.key",
        ] {
            assert_eq!(voter_file(other), None, "{other}");
        }
    }

    #[test]
    fn a_home_without_localnet_json_is_refused_with_the_alternative() {
        let dir = tempfile::tempdir().unwrap();
        let error = Target::from_home(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no localnet.json"), "{error}");
        assert!(error.contains("--rpc"), "{error}");
    }

    #[test]
    fn a_localnet_home_gives_one_url_per_validator() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("localnet.json"),
            r#"{"validators":3,"regions":2,"base_port":31000,"rpc_port":31100}"#,
        )
        .unwrap();
        let target = Target::from_home(dir.path()).unwrap();
        assert_eq!(
            target.rpc,
            [
                "http://127.0.0.1:31100",
                "http://127.0.0.1:31101",
                "http://127.0.0.1:31102"
            ]
        );
        assert_eq!(target.keys, dir.path().join("keys"));
    }

    #[test]
    fn a_key_directory_without_the_author_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = Accounts::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no author.key"), "{error}");
    }
}

//! Who is signing, region by region: what `accord localnet` prints while the network
//! runs, read from the last certificates of a running node.
//!
//! A certificate holds the precommits its committer had when the quorum was reached,
//! so one certificate can leave out a live validator whose vote came a moment later;
//! a validator counts as signing when it is in any of the last [`WINDOW`] certificates,
//! and as absent when it is in none of them.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_rpc::types::{BlockId, ValidatorsView};
use accord_rpc::ChainApiClient;
use accord_types::{CommitCertificate, Height, PublicKey, QuorumRule};

use crate::client::Client;

/// Certificates read for each report.
pub const WINDOW: u64 = 10;

/// A report is printed when who is absent changes, and at least this often otherwise.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Who signed the last certificates, region by region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    /// The newest certificate's height.
    pub height: Height,
    /// The set's quorum rule.
    pub rule: QuorumRule,
    /// Each region, in the set's order.
    pub regions: Vec<RegionSigning>,
}

/// One region of a [`Signing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSigning {
    /// The region's name.
    pub region: String,
    /// Its validators in any of the certificates, by name.
    pub signing: Vec<String>,
    /// Its validators in none of them, by name.
    pub absent: Vec<String>,
}

impl Signing {
    /// Who of `set` signed any of `certificates` (the newest last).
    pub fn from_certificates(set: &ValidatorsView, certificates: &[CommitCertificate]) -> Self {
        let signers: BTreeSet<&PublicKey> = certificates
            .iter()
            .flat_map(|c| c.signatures.iter().map(|s| &s.validator))
            .collect();
        let regions = set
            .regions
            .iter()
            .map(|region| {
                let (signing, absent): (Vec<_>, Vec<_>) = region
                    .validators
                    .iter()
                    .partition(|v| signers.contains(&v.key));
                let names = |vs: Vec<&accord_rpc::types::ValidatorView>| {
                    let mut names: Vec<String> = vs.into_iter().map(|v| v.name.clone()).collect();
                    names.sort();
                    names
                };
                RegionSigning {
                    region: region.region.as_str().to_owned(),
                    signing: names(signing),
                    absent: names(absent),
                }
            })
            .collect();
        Self {
            height: certificates
                .iter()
                .map(|c| c.height)
                .max()
                .unwrap_or(Height(0)),
            rule: set.rule,
            regions,
        }
    }

    /// The names of every absent validator.
    pub fn absent(&self) -> Vec<&str> {
        self.regions
            .iter()
            .flat_map(|r| r.absent.iter().map(String::as_str))
            .collect()
    }
}

impl fmt::Display for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "height {}", self.height)?;
        for r in &self.regions {
            let all = r.signing.len() + r.absent.len();
            write!(f, " · {} {}/{all} signing", r.region, r.signing.len())?;
            if !r.absent.is_empty() {
                write!(f, " ({} absent)", r.absent.join(", "))?;
            }
        }
        Ok(())
    }
}

/// What the quorum rule asks, in words.
pub fn rule_in_words(rule: QuorumRule) -> &'static str {
    match rule {
        QuorumRule::Global => "global: more than 2/3 of all validators' power signs each block",
        QuorumRule::Regional => {
            "regional: more than 2/3 of all validators' power and of each region's power signs each block"
        }
    }
}

/// Reads who signed the last [`WINDOW`] certificates from the first of `urls` that
/// answers.
async fn read(clients: &[Client]) -> Option<Signing> {
    for client in clients {
        let api = client.api();
        let Ok(status) = api.status().await else {
            continue;
        };
        let Ok(set) = api.validators(None).await else {
            continue;
        };
        let head = status.height.0;
        let first = head.saturating_sub(WINDOW - 1).max(1);
        let mut certificates = Vec::new();
        for height in first..=head {
            if let Ok(Some(c)) = api.certificate(BlockId::Height(Height(height))).await {
                certificates.push(c);
            }
        }
        if certificates.is_empty() {
            continue;
        }
        return Some(Signing::from_certificates(&set, &certificates));
    }
    None
}

/// Prints, every `every`, who signs in each region, when it differs from the last
/// report or [`HEARTBEAT`] has passed; stops when `stop` is set. Runs on a thread of
/// its own with a single-threaded runtime (localnet itself is synchronous).
pub fn spawn(
    urls: Vec<String>,
    every: Duration,
    stop: Arc<AtomicBool>,
    say: fn(&dyn fmt::Display),
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("localnet-signing".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let clients: Vec<Client> = urls.iter().filter_map(|u| Client::new(u).ok()).collect();
            let mut last: Option<(Vec<String>, Instant)> = None;
            let mut rule_said = false;
            let mut next = Instant::now() + every;
            while !stop.load(Ordering::SeqCst) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                next = Instant::now() + every;
                let Some(signing) = runtime.block_on(read(&clients)) else {
                    continue;
                };
                if !rule_said {
                    say(&format_args!("quorum {}", rule_in_words(signing.rule)));
                    rule_said = true;
                }
                let absent: Vec<String> = signing.absent().into_iter().map(Into::into).collect();
                let due = last
                    .as_ref()
                    .is_none_or(|(before, at)| *before != absent || at.elapsed() >= HEARTBEAT);
                if due {
                    say(&signing);
                    last = Some((absent, Instant::now()));
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use accord_rpc::types::{RegionValidators, ValidatorView, U64};
    use accord_types::{CommitSignature, Hash, Keypair, RegionId, Signature};

    use super::*;

    fn key(i: u8) -> PublicKey {
        Keypair::from_seed(&[i; 32]).public()
    }

    fn set(rule: QuorumRule) -> ValidatorsView {
        let region = |name: &str, first: u8| RegionValidators {
            region: RegionId::new(name).unwrap(),
            power: U64(40),
            validators: (first..first + 4)
                .map(|i| ValidatorView {
                    name: format!("{name}-{}", i - first + 1),
                    key: key(i),
                    power: U64(10),
                })
                .collect(),
        };
        ValidatorsView {
            height: Height(1),
            hash: Hash::ZERO,
            rule,
            total_power: U64(80),
            regions: vec![region("eu", 0), region("us", 4)],
        }
    }

    fn certificate(height: u64, signers: &[u8]) -> CommitCertificate {
        CommitCertificate {
            height: Height(height),
            round: accord_types::Round(0),
            block_hash: Hash::ZERO,
            signatures: signers
                .iter()
                .map(|i| CommitSignature {
                    validator: key(*i),
                    signature: Signature::from_bytes([0; 64]),
                })
                .collect(),
        }
    }

    #[test]
    fn a_validator_in_any_certificate_of_the_window_is_signing() {
        // eu-4 (3) is late in one certificate and present in the other; us-2 (5) is in none.
        let certs = [
            certificate(7, &[0, 1, 2, 4, 6, 7]),
            certificate(8, &[0, 1, 3, 4, 6, 7]),
        ];
        let signing = Signing::from_certificates(&set(QuorumRule::Regional), &certs);
        assert_eq!(signing.height, Height(8));
        assert_eq!(signing.regions[0].signing.len(), 4);
        assert!(signing.regions[0].absent.is_empty());
        assert_eq!(signing.regions[1].absent, vec!["us-2".to_owned()]);
        assert_eq!(signing.absent(), vec!["us-2"]);
        assert_eq!(
            signing.to_string(),
            "height 8 · eu 4/4 signing · us 3/4 signing (us-2 absent)"
        );
    }

    #[test]
    fn with_no_certificates_everyone_is_absent_at_height_zero() {
        let signing = Signing::from_certificates(&set(QuorumRule::Global), &[]);
        assert_eq!(signing.height, Height(0));
        assert_eq!(signing.absent().len(), 8);
        assert!(rule_in_words(signing.rule).starts_with("global"));
        assert!(rule_in_words(QuorumRule::Regional).contains("each region"));
    }
}

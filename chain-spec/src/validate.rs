//! Stage 2: turns the raw shape into a typed [`ChainSpec`], reporting every broken
//! rule at its JSON path rather than stopping at the first. Every way of making a
//! spec from outside data — JSON, borsh, a preset — ends here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::io;

use accord_types::governance::Role;
use accord_types::params::{
    ConsensusParams, Fraction, FreezeWindow, GovernanceParams, ParamProblem, TierParams, TierTable,
};
use accord_types::validator::{MAX_TOTAL_POWER, MAX_VALIDATORS};
use accord_types::{ChainId, PublicKey, RegionId, Timestamp};
use borsh::BorshDeserialize;

use crate::raw::{
    RawAccount, RawChainSpec, RawFreezeWindow, RawGovernance, RawObserver, RawRole, RawTierParams,
    RawValidator,
};
use crate::spec::{Account, GenesisValidator, Observer};
use crate::{raw, time, ChainSpec, Error, Problem, Result};

/// Longest name of a validator, observer or account, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest chain name (the spec's `chain_id`), in bytes; the chain id signatures cover
/// adds `-` and 32 hex digits of the genesis hash.
pub const MAX_CHAIN_NAME_LEN: usize = 64;

pub use accord_types::params::MIN_BLOCK_BYTES;

/// Validates `raw` and builds the typed spec, or lists every problem.
pub(crate) fn check(raw: &RawChainSpec) -> Result<ChainSpec> {
    let mut c = Checker::default();

    let chain_id = c.parse("$.chain_id", ChainId::new(raw.chain_id.as_str()));
    if raw.chain_id.len() > MAX_CHAIN_NAME_LEN {
        c.report(
            "$.chain_id",
            format!("is too long: at most {MAX_CHAIN_NAME_LEN} bytes (the chain id adds 33 for the genesis hash)"),
        );
    }
    let genesis_time = c.parse("$.genesis_time", time::parse(&raw.genesis_time));
    let regions = c.regions(&raw.regions);
    let known: BTreeSet<RegionId> = regions.iter().flatten().cloned().collect();

    let validators = c.validators(&raw.validators, &known);
    let observers = c.observers(&raw.observers);
    let accounts = c.accounts(&raw.accounts, &known);
    let governance = c.governance(&raw.governance, &known);
    c.consensus(&raw.consensus);
    c.coverage(raw, &regions);

    if !c.problems.is_empty() {
        return Err(Error::Invalid {
            problems: c.problems,
        });
    }
    let (
        Some(chain_id),
        Some(genesis_time),
        Some(regions),
        Some(validators),
        Some(observers),
        Some(accounts),
        Some(governance),
    ) = (
        chain_id,
        genesis_time,
        regions.into_iter().collect::<Option<Vec<_>>>(),
        validators,
        observers,
        accounts,
        governance,
    )
    else {
        // Every check that yields `None` also reports a problem, so this is unreachable.
        return Err(Error::Invalid {
            problems: vec![Problem::new("$", "invalid (no specific problem recorded)")],
        });
    };
    let mut spec = ChainSpec {
        chain_id: chain_id.clone(),
        name: chain_id,
        genesis_time,
        regions,
        validators,
        observers,
        accounts,
        governance,
        consensus: raw.consensus.clone(),
    };
    spec.chain_id = bound_chain_id(&spec)?;
    Ok(spec)
}

/// The chain id signatures cover: the name and the first half of the genesis hash.
fn bound_chain_id(spec: &ChainSpec) -> Result<ChainId> {
    let half = accord_types::codec::hex_encode(&spec.genesis_hash().as_bytes()[..16]);
    let hex = half.trim_start_matches("0x");
    ChainId::new(format!("{}-{hex}", spec.name)).map_err(|e| Error::Invalid {
        problems: vec![Problem::new("$.chain_id", e.to_string())],
    })
}

impl ChainSpec {
    /// Parses and validates a JSON chain spec.
    ///
    /// A structural error (bad JSON, a wrong type, a missing or unknown field) is an
    /// [`Error::Syntax`](crate::Error::Syntax) at its path, line and column; otherwise
    /// every broken rule is listed in one [`Error::Invalid`](crate::Error::Invalid).
    pub fn from_json(json: &str) -> Result<Self> {
        check(&raw::parse(json)?)
    }

    /// Checks the spec again; used on values that did not come from JSON.
    pub(crate) fn validate(mut self) -> Result<Self> {
        let checked = check(&self.to_raw())?;
        // Derived from the rest, not part of the text form.
        self.chain_id = checked.chain_id.clone();
        if checked != self {
            // Unreachable while the text form and the checks agree; refuse rather than guess.
            let message = "does not survive a round trip through its JSON form";
            return Err(Error::Invalid {
                problems: vec![Problem::new("$", message)],
            });
        }
        Ok(self)
    }
}

/// Decoding validates, as parsing JSON does: no unchecked spec can be made from bytes.
impl BorshDeserialize for ChainSpec {
    fn deserialize_reader<R: io::Read>(reader: &mut R) -> io::Result<Self> {
        // Fields are read in declaration order, the order BorshSerialize writes them.
        let name: ChainId = BorshDeserialize::deserialize_reader(reader)?;
        let unchecked = Self {
            chain_id: name.clone(),
            name,
            genesis_time: BorshDeserialize::deserialize_reader(reader)?,
            regions: BorshDeserialize::deserialize_reader(reader)?,
            validators: BorshDeserialize::deserialize_reader(reader)?,
            observers: BorshDeserialize::deserialize_reader(reader)?,
            accounts: BorshDeserialize::deserialize_reader(reader)?,
            governance: BorshDeserialize::deserialize_reader(reader)?,
            consensus: BorshDeserialize::deserialize_reader(reader)?,
        };
        unchecked
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }
}

/// Collects problems, and remembers what must be unique across sections.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
    /// Names of validators, observers and accounts (one namespace), with where each was first used.
    names: BTreeMap<String, String>,
    /// p2p keys of validators and observers (one namespace: peers), with where each was first used.
    p2p_keys: BTreeMap<PublicKey, String>,
}

/// Records `key` as used at `path`, or returns where it was used first.
fn first_use<K: Ord>(seen: &mut BTreeMap<K, String>, key: K, path: &str) -> Option<String> {
    match seen.get(&key) {
        Some(first) => Some(first.clone()),
        None => {
            seen.insert(key, path.to_owned());
            None
        }
    }
}

/// Items that are all valid, or `None` when any is not. Every item has been checked
/// before this is called, so no problem goes unreported.
fn all<T>(items: Vec<Option<T>>) -> Option<Vec<T>> {
    items.into_iter().collect()
}

impl Checker {
    fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    /// The value, or `None` after reporting the error at `path`.
    fn parse<T, E: Display>(&mut self, path: &str, parsed: Result<T, E>) -> Option<T> {
        parsed.map_err(|e| self.report(path, e.to_string())).ok()
    }

    /// Reports a repeat of `key` (of kind `what`) at `path`; `true` when it is new.
    fn unique<K: Ord>(
        &mut self,
        seen: &mut BTreeMap<K, String>,
        key: K,
        path: &str,
        what: impl Display,
    ) -> bool {
        match first_use(seen, key, path) {
            Some(first) => {
                self.report(path, format!("duplicate {what}, also used at {first}"));
                false
            }
            None => true,
        }
    }

    /// A name: non-empty, short, safe as a file name, unique across the whole spec.
    fn name(&mut self, path: &str, name: &str) -> bool {
        let allowed = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
        if name.is_empty() {
            self.report(path, "must not be empty");
            return false;
        }
        if name.len() > MAX_NAME_LEN {
            self.report(path, format!("is longer than {MAX_NAME_LEN} bytes"));
            return false;
        }
        if name.starts_with('.') || !name.chars().all(allowed) {
            self.report(
                path,
                format!(
                    "{name:?} may contain only letters, digits, '-', '_' and '.', \
                     and must not start with '.'"
                ),
            );
            return false;
        }
        let mut names = std::mem::take(&mut self.names);
        let new = self.unique(&mut names, name.to_owned(), path, format!("name {name:?}"));
        self.names = names;
        new
    }

    /// A public key: hex of 32 bytes that decode to a curve point.
    fn key(&mut self, path: &str, text: &str) -> Option<PublicKey> {
        let key = self.parse(path, PublicKey::from_hex(text))?;
        if !key.is_valid_point() {
            self.report(
                path,
                format!("{key} is not a valid ed25519 public key (not a curve point)"),
            );
            return None;
        }
        if key.is_small_order() {
            self.report(
                path,
                format!("{key} is a small-order point: anyone could forge signatures for it"),
            );
            return None;
        }
        Some(key)
    }

    /// A p2p key, unique among validators and observers.
    fn p2p_key(&mut self, path: &str, text: &str) -> Option<PublicKey> {
        let key = self.key(path, text)?;
        let mut seen = std::mem::take(&mut self.p2p_keys);
        let new = self.unique(&mut seen, key, path, "p2p key");
        self.p2p_keys = seen;
        new.then_some(key)
    }

    /// A reference to one of the spec's regions.
    fn region_ref(
        &mut self,
        path: &str,
        text: &str,
        known: &BTreeSet<RegionId>,
    ) -> Option<RegionId> {
        let region = self.parse(path, RegionId::new(text))?;
        if known.contains(&region) {
            return Some(region);
        }
        let list: Vec<&str> = known.iter().map(RegionId::as_str).collect();
        self.report(
            path,
            format!(
                "unknown region {text:?}; the spec's regions are [{}]",
                list.join(", ")
            ),
        );
        None
    }

    fn regions(&mut self, raw: &[String]) -> Vec<Option<RegionId>> {
        if raw.is_empty() {
            self.report("$.regions", "must list at least one region");
        }
        let mut seen = BTreeMap::new();
        let mut regions = Vec::with_capacity(raw.len());
        for (i, text) in raw.iter().enumerate() {
            let path = format!("$.regions[{i}]");
            let region = self.parse(&path, RegionId::new(text.as_str()));
            let region = region
                .filter(|r| self.unique(&mut seen, r.clone(), &path, format!("region {text:?}")));
            regions.push(region);
        }
        regions
    }

    fn validators(
        &mut self,
        raw: &[RawValidator],
        known: &BTreeSet<RegionId>,
    ) -> Option<Vec<GenesisValidator>> {
        if raw.is_empty() {
            self.report("$.validators", "must list at least one validator");
        }
        if raw.len() > MAX_VALIDATORS {
            self.report(
                "$.validators",
                format!(
                    "{} validators, more than the maximum of {MAX_VALIDATORS}",
                    raw.len()
                ),
            );
        }
        let mut consensus_keys = BTreeMap::new();
        let mut listen_addrs = BTreeMap::new();
        let mut total_power: u128 = 0;
        let mut checked = Vec::with_capacity(raw.len());
        for (i, v) in raw.iter().enumerate() {
            let at = |field: &str| format!("$.validators[{i}].{field}");
            let name_ok = self.name(&at("name"), &v.name);
            let region = self.region_ref(&at("region"), &v.region, known);
            let consensus_key = self
                .key(&at("consensus_key"), &v.consensus_key)
                .filter(|key| {
                    self.unique(
                        &mut consensus_keys,
                        *key,
                        &at("consensus_key"),
                        "consensus key",
                    )
                });
            let p2p_key = self.p2p_key(&at("p2p_key"), &v.p2p_key);
            let addr_ok = self.listen_addr(&at("listen_addr"), &v.listen_addr, &mut listen_addrs);
            if v.power == 0 {
                self.report(at("power"), "must be more than zero");
            }
            total_power = total_power.saturating_add(u128::from(v.power));
            checked.push(match (name_ok, region, consensus_key, p2p_key, addr_ok) {
                (true, Some(region), Some(consensus_key), Some(p2p_key), true) if v.power > 0 => {
                    Some(GenesisValidator {
                        name: v.name.clone(),
                        region,
                        consensus_key,
                        p2p_key,
                        listen_addr: v.listen_addr.clone(),
                        power: v.power,
                    })
                }
                _ => None,
            });
        }
        if total_power > u128::from(MAX_TOTAL_POWER) {
            self.report(
                "$.validators",
                format!("total power {total_power} is more than the maximum of {MAX_TOTAL_POWER}"),
            );
        }
        all(checked)
    }

    /// A libp2p multiaddress to dial: non-empty, starting with `/`, not shared.
    fn listen_addr(&mut self, path: &str, addr: &str, seen: &mut BTreeMap<String, String>) -> bool {
        if addr.is_empty() {
            self.report(path, "must not be empty");
            return false;
        }
        if !addr.starts_with('/') {
            self.report(
                path,
                format!(
                    "{addr:?} is not a multiaddress; expected one such as /ip4/127.0.0.1/tcp/30301"
                ),
            );
            return false;
        }
        self.unique(
            seen,
            addr.to_owned(),
            path,
            format!("listen address {addr:?}"),
        )
    }

    fn observers(&mut self, raw: &[RawObserver]) -> Option<Vec<Observer>> {
        let mut checked = Vec::with_capacity(raw.len());
        for (i, o) in raw.iter().enumerate() {
            let name_ok = self.name(&format!("$.observers[{i}].name"), &o.name);
            let p2p_key = self.p2p_key(&format!("$.observers[{i}].p2p_key"), &o.p2p_key);
            checked.push(p2p_key.filter(|_| name_ok).map(|p2p_key| Observer {
                name: o.name.clone(),
                p2p_key,
            }));
        }
        all(checked)
    }

    fn accounts(&mut self, raw: &[RawAccount], known: &BTreeSet<RegionId>) -> Option<Vec<Account>> {
        let mut keys = BTreeMap::new();
        let mut checked = Vec::with_capacity(raw.len());
        for (i, a) in raw.iter().enumerate() {
            let at = |field: &str| format!("$.accounts[{i}].{field}");
            let name_ok = self.name(&at("name"), &a.name);
            let key = self
                .key(&at("key"), &a.key)
                .filter(|key| self.unique(&mut keys, *key, &at("key"), "account key"));
            let mut roles = Vec::with_capacity(a.roles.len());
            for (j, role) in a.roles.iter().enumerate() {
                let path = format!("$.accounts[{i}].roles[{j}]");
                if a.roles
                    .get(..j)
                    .is_some_and(|earlier| earlier.contains(role))
                {
                    self.report(&path, "repeats an earlier role of this account");
                    roles.push(None);
                    continue;
                }
                roles.push(match role {
                    RawRole::Proposer => Some(Role::Proposer),
                    RawRole::Guardian => Some(Role::Guardian),
                    RawRole::Voter(region) => {
                        self.region_ref(&path, region, known).map(Role::Voter)
                    }
                    RawRole::Agent(region) => {
                        self.region_ref(&path, region, known).map(Role::Agent)
                    }
                });
            }
            let roles = all(roles);
            checked.push(match (name_ok, key, roles) {
                (true, Some(key), Some(roles)) => Some(Account {
                    name: a.name.clone(),
                    key,
                    roles,
                }),
                _ => None,
            });
        }
        all(checked)
    }

    /// Rules that look at the spec as a whole: every region can be governed and, under
    /// the regional quorum rule, can reach its quorum; someone can propose.
    fn coverage(&mut self, raw: &RawChainSpec, regions: &[Option<RegionId>]) {
        let with_validators: BTreeSet<&str> =
            raw.validators.iter().map(|v| v.region.as_str()).collect();
        let with_voters: BTreeSet<&str> = raw
            .accounts
            .iter()
            .flat_map(|a| &a.roles)
            .filter_map(|role| match role {
                RawRole::Voter(region) => Some(region.as_str()),
                _ => None,
            })
            .collect();
        for (i, region) in regions.iter().enumerate() {
            let Some(region) = region else { continue };
            let path = format!("$.regions[{i}]");
            if raw.consensus.regional_quorum && !with_validators.contains(region.as_str()) {
                self.report(
                    &path,
                    format!(
                        "region {region} has no validators, but regional_quorum requires more than \
                         two thirds of every region's power: a quorum that no set of validators can reach"
                    ),
                );
            }
            if !with_voters.contains(region.as_str()) {
                self.report(
                    &path,
                    format!(
                        "region {region} has no voter account, so no proposal affecting it could ever pass"
                    ),
                );
            }
        }
        if !raw
            .accounts
            .iter()
            .any(|a| a.roles.contains(&RawRole::Proposer))
        {
            self.report(
                "$.accounts",
                "no account has the proposer role, so no proposal could ever be submitted",
            );
        }
    }

    /// The governance section. Fractions are parsed here (only the spec has them as
    /// text); every other rule comes from the `problems` methods of the parameter
    /// types, which governance proposals share. Each part is checked even when
    /// another part is broken, so every problem is reported in one run.
    fn governance(
        &mut self,
        raw: &RawGovernance,
        known: &BTreeSet<RegionId>,
    ) -> Option<GovernanceParams> {
        let before = self.problems.len();
        let tiers = &raw.tiers;
        let low = self.tier("low", &tiers.low);
        let medium = self.tier("medium", &tiers.medium);
        let high = self.tier("high", &tiers.high);
        let critical = self.tier("critical", &tiers.critical);
        self.nested("$.governance.risk_rules", raw.risk_rules.problems());
        self.nested("$.governance.execution", raw.execution.problems());
        let windows: Vec<_> = raw
            .freeze_windows
            .iter()
            .enumerate()
            .map(|(i, w)| self.freeze_window(i, w, known))
            .collect();
        let params = GovernanceParams {
            tiers: TierTable {
                low: low?,
                medium: medium?,
                high: high?,
                critical: critical?,
            },
            risk_rules: raw.risk_rules.clone(),
            freeze_windows: all(windows)?,
            execution: raw.execution.clone(),
        };
        (self.problems.len() == before).then_some(params)
    }

    /// Reports `problems` of a typed parameter under `prefix`.
    fn nested(&mut self, prefix: &str, problems: Vec<ParamProblem>) {
        for p in problems {
            self.report(format!("{prefix}.{}", p.field), p.message);
        }
    }

    fn tier(&mut self, tier: &str, raw: &RawTierParams) -> Option<TierParams> {
        let at = |field: &str| format!("$.governance.tiers.{tier}.{field}");
        let fraction = |text: &str| text.parse::<Fraction>();
        let quorum = self.parse(&at("quorum"), fraction(&raw.quorum));
        let approval = self.parse(&at("approval_threshold"), fraction(&raw.approval_threshold));
        let veto = self.parse(&at("veto_threshold"), fraction(&raw.veto_threshold));
        // Check what parsed; a placeholder stands in for what did not (already reported).
        let params = TierParams {
            quorum: quorum.unwrap_or(Fraction::ONE),
            approval_threshold: approval.unwrap_or(Fraction::ONE),
            veto_threshold: veto.unwrap_or(Fraction::ONE),
            voting_period: raw.voting_period,
            enactment_delay: raw.enactment_delay,
        };
        let problems = params.problems();
        let valid = problems.is_empty() && quorum.is_some() && approval.is_some() && veto.is_some();
        self.nested(&format!("$.governance.tiers.{tier}"), problems);
        valid.then_some(params)
    }

    /// A freeze window: its regions must exist, and its own rules hold.
    fn freeze_window(
        &mut self,
        i: usize,
        raw: &RawFreezeWindow,
        known: &BTreeSet<RegionId>,
    ) -> Option<FreezeWindow> {
        let at = format!("$.governance.freeze_windows[{i}]");
        let regions: Vec<_> = raw
            .regions
            .iter()
            .enumerate()
            .map(|(j, region)| self.region_ref(&format!("{at}.regions[{j}]"), region, known))
            .collect();
        let regions_valid = regions.iter().all(Option::is_some);
        let window = FreezeWindow {
            name: raw.name.clone(),
            start: Timestamp(raw.start),
            end: Timestamp(raw.end),
            regions: regions.into_iter().flatten().collect(),
        };
        let problems = window.problems();
        let valid = problems.is_empty() && regions_valid;
        self.nested(&at, problems);
        valid.then_some(window)
    }

    fn consensus(&mut self, c: &ConsensusParams) {
        self.nested("$.consensus", c.problems());
    }
}

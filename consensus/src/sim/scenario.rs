//! Random scenarios for seed sweeps, and the fixed ones the tests name.

use accord_types::QuorumRule;

use super::network::{NetworkConfig, Partition};
use super::rng::SimRng;
use super::{faults_within_bounds, region_names, Behaviour, SimConfig, ValidatorSpec};

/// The stream of the scenario generator, apart from the network's.
const SCENARIO_STREAM: u64 = 1;

/// A random scenario with `n` validators in 2 or 3 regions, global or regional quorums,
/// equal or unequal powers, Byzantine and crashing validators within the fault bound
/// (under the regional rule, within it in every region), and a network that loses,
/// delays, duplicates and partitions until a random GST.
pub fn random(seed: u64, n: usize) -> SimConfig {
    let mut rng = SimRng::new(seed, SCENARIO_STREAM);
    let region_count = usize::try_from(rng.range(2, 3)).unwrap_or(2).min(n.max(1));
    let names = region_names(region_count);
    let weighted = rng.chance(300_000);
    let mut validators: Vec<ValidatorSpec> = (0..n)
        .map(|i| ValidatorSpec {
            // Every region gets a validator, then the rest at random.
            region: if i < region_count {
                names.get(i).cloned().unwrap_or_default()
            } else {
                names
                    .get(rng.index(region_count))
                    .cloned()
                    .unwrap_or_default()
            },
            power: if weighted { rng.range(1, 4) } else { 1 },
            behaviour: Behaviour::Honest,
        })
        .collect();
    let rule = if rng.chance(500_000) {
        QuorumRule::Regional
    } else {
        QuorumRule::Global
    };

    let mut network = NetworkConfig {
        intra_region_ms: rng.range(2, 15),
        inter_region_ms: rng.range(20, 70),
        jitter_ms: rng.range(0, 30),
        gst_ms: rng.range(0, 3_000),
        loss_ppm: u32::try_from(rng.range(0, 200_000)).unwrap_or(0),
        slow_ppm: u32::try_from(rng.range(0, 100_000)).unwrap_or(0),
        slow_ms: 600,
        duplicate_ppm: u32::try_from(rng.range(0, 50_000)).unwrap_or(0),
        partitions: Vec::new(),
    };

    // Faults: visit validators in random order, give each a random behaviour, and keep
    // it only while the faulty power stays within the bound.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.index(i + 1));
    }
    let wanted = rng.range(0, n as u64);
    let mut faulty = 0;
    for i in order {
        if faulty >= wanted {
            break;
        }
        let behaviour = match rng.below(5) {
            0 => Behaviour::Silent,
            1 => {
                let crash_at_ms = rng.range(0, network.gst_ms + 1_000);
                Behaviour::CrashRestart {
                    crash_at_ms,
                    restart_at_ms: Some(crash_at_ms + rng.range(100, 2_000)),
                }
            }
            2 => Behaviour::DoubleVoter,
            3 => Behaviour::EquivocatingProposer,
            _ => Behaviour::Twins,
        };
        let Some(v) = validators.get_mut(i) else {
            continue;
        };
        v.behaviour = behaviour;
        if faults_within_bounds(&validators, rule) {
            faulty += 1;
        } else if let Some(v) = validators.get_mut(i) {
            v.behaviour = Behaviour::Honest;
        }
    }

    let mut config = SimConfig::new(seed, validators, rule);
    let nodes = config.node_validators().len();
    for _ in 0..rng.below(4) {
        let from_ms = rng.range(0, network.gst_ms);
        let until_ms = rng.range(from_ms, network.gst_ms);
        let groups = rng.range(2, 3);
        network.partitions.push(Partition {
            from_ms,
            until_ms,
            group_of: (0..nodes)
                .map(|_| u32::try_from(rng.below(groups)).unwrap_or(0))
                .collect(),
        });
    }
    config.network = network;
    config.target_height = 4;
    config.max_time_ms = config.network.gst_ms + 60_000;
    config
}

/// `n` validators of power 1 in `regions` regions (validator `i` in region `i mod
/// regions`), those in `twinned` twins, split by a partition from the start until a
/// random GST into two sides: one copy of every twin on each side, the others spread
/// at random.
pub fn twins_partition(
    seed: u64,
    n: usize,
    regions: usize,
    twinned: &[usize],
    rule: QuorumRule,
) -> SimConfig {
    let mut config = SimConfig::honest(seed, n, regions);
    config.rule = rule;
    for &i in twinned {
        if let Some(v) = config.validators.get_mut(i) {
            v.behaviour = Behaviour::Twins;
        }
    }
    let mut rng = SimRng::new(seed, SCENARIO_STREAM);
    let gst_ms = rng.range(2_000, 5_000);
    // Node i < n is validator i; the twin copies follow.
    let group_of = config
        .node_validators()
        .iter()
        .enumerate()
        .map(|(node, &validator)| {
            if twinned.contains(&validator) {
                u32::from(node >= n)
            } else {
                u32::try_from(rng.below(2)).unwrap_or(0)
            }
        })
        .collect();
    config.network = NetworkConfig {
        intra_region_ms: 5,
        inter_region_ms: 30,
        jitter_ms: 10,
        gst_ms,
        loss_ppm: 0,
        slow_ppm: 0,
        slow_ms: 0,
        duplicate_ppm: 0,
        partitions: vec![Partition {
            from_ms: 0,
            until_ms: gst_ms,
            group_of,
        }],
    };
    config.target_height = 3;
    config.max_time_ms = gst_ms + 30_000;
    config
}

/// `n` validators of power 1 in `regions` regions over reliable links (`intra_ms`
/// within a region, `inter_ms` between), the validators in `crashed` silent from the
/// start, deciding `heights` heights, with the production-like propose timeout of 3 s.
pub fn crashed(
    n: usize,
    regions: usize,
    crashed: &[usize],
    heights: u64,
    demote_absent: bool,
) -> SimConfig {
    let mut config = SimConfig::honest(0, n, regions);
    for &i in crashed {
        if let Some(v) = config.validators.get_mut(i) {
            v.behaviour = Behaviour::Silent;
        }
    }
    config.network = NetworkConfig::reliable(5, 30);
    config.timeouts.propose_ms = 3_000;
    config.timeouts.propose_delta_ms = 500;
    config.target_height = heights;
    config.max_time_ms = heights.saturating_mul(10_000);
    config.demote_absent = demote_absent;
    config
}

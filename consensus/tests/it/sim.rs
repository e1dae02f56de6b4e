//! Simulator runs: honest networks, each Byzantine behaviour, determinism, and the
//! checker catching forks once the fault bound is crossed.

use accord_consensus::sim::{self, scenario, Behaviour, SimConfig};
use accord_types::QuorumRule;

fn assert_clean(config: &SimConfig) -> sim::Report {
    let report = sim::run(config);
    assert!(
        report.violations.is_empty(),
        "seed {}: {:?}",
        config.seed,
        report.violations
    );
    assert!(report.finished, "seed {}: did not finish", config.seed);
    assert_eq!(report.engine_errors, 0, "seed {}", config.seed);
    report
}

#[test]
fn honest_networks_decide_with_verifiable_certificates() {
    for (n, regions) in [(4, 2), (7, 3), (10, 2), (16, 3)] {
        for rule in [QuorumRule::Global, QuorumRule::Regional] {
            let mut config = SimConfig::honest(n as u64, n, regions);
            config.rule = rule;
            config.verify_signatures = true;
            config.network.jitter_ms = 15;
            let report = assert_clean(&config);
            assert!(report.accused.is_empty());
            assert_eq!(
                report.max_decided_round, 0,
                "n={n} {rule:?}: a fast network decides in round 0"
            );
        }
    }
}

/// With every validator's precommit in, the next height starts at once instead of
/// waiting out the commit pause (a minute of simulated time here); with one validator
/// silent its precommit never comes, and each height waits a tenth of the pause (the
/// pause of a busy block) for it, not the whole pause.
#[test]
fn the_commit_pause_is_waited_out_only_for_a_missing_precommit() {
    let mut config = SimConfig::honest(11, 4, 2);
    config.timeouts.commit_ms = 60_000;
    config.target_height = 10;
    config.max_time_ms = 2_000_000;
    let report = assert_clean(&config);
    let reached = report.target_reached_ms.unwrap();
    assert!(
        reached < 60_000,
        "10 heights took {reached} ms of simulated time: the pause was waited out"
    );

    let mut silent = config;
    silent.target_height = 4;
    silent.validators[3].behaviour = Behaviour::Silent;
    let report = assert_clean(&silent);
    let reached = report.target_reached_ms.unwrap();
    assert!(
        (3 * 6_000..3 * 60_000).contains(&reached),
        "4 heights took {reached} ms with a precommit missing from each: \
         not a tenth of the pause per height"
    );
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in [1, 2, 3, 40, 41] {
        let config = scenario::random(seed, [4, 7, 10][seed as usize % 3]);
        let a = sim::run(&config);
        let b = sim::run(&config);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.messages_sent, b.messages_sent);
        assert_eq!(a.end_ms, b.end_ms);
        let mut other = config.clone();
        other.seed += 1_000;
        assert_ne!(sim::run(&other).trace_hash, a.trace_hash, "seed {seed}");
    }
}

/// Each Byzantine behaviour alone, at the largest power under the bound, over lossy,
/// partitioned links: safe, live, and reported.
#[test]
fn each_byzantine_behaviour_within_the_bound() {
    let behaviours = [
        Behaviour::DoubleVoter,
        Behaviour::EquivocatingProposer,
        Behaviour::Twins,
        Behaviour::Silent,
        Behaviour::CrashRestart {
            crash_at_ms: 300,
            restart_at_ms: Some(1_500),
        },
    ];
    for behaviour in behaviours {
        let mut evidence = 0;
        let mut conflicting = 0;
        for seed in 0..6 {
            let mut config = scenario::random(seed, 7);
            for (i, v) in config.validators.iter_mut().enumerate() {
                v.power = 1;
                v.region = format!("r{}", i % 2);
                // Two of seven validators: under a third of the power, and under a
                // third of each region (4 and 3 validators) only in the global rule.
                v.behaviour = if i == 0 || i == 3 {
                    behaviour
                } else {
                    Behaviour::Honest
                };
            }
            config.rule = QuorumRule::Global;
            let report = assert_clean(&config);
            evidence += report.evidence;
            conflicting += report.conflicting_proposals;
            let honest: Vec<usize> = (1..7).filter(|i| *i != 3).collect();
            assert!(
                honest.iter().all(|i| !report.accused.contains(i)),
                "{behaviour:?}: an honest validator was accused: {:?}",
                report.accused
            );
        }
        match behaviour {
            Behaviour::DoubleVoter | Behaviour::Twins => {
                assert!(evidence > 0, "{behaviour:?} produced no evidence");
            }
            Behaviour::EquivocatingProposer => {
                assert!(conflicting > 0, "{behaviour:?} was never reported");
            }
            _ => {}
        }
    }
}

/// The checker works: with twins holding at least a third of the power (two of four)
/// and a partition until GST, some seed forks the chain and the checker says so. With
/// one twin of four (under a third), the same partitions never fork it.
#[test]
fn twins_above_the_bound_fork_and_the_checker_reports_it() {
    let mut forked = None;
    for seed in 0..20 {
        let config = scenario::twins_partition(seed, 4, 2, &[0, 1], QuorumRule::Global);
        assert!(!config.faults_within_bounds());
        let report = sim::run(&config);
        if report.has_fork() {
            forked = Some(seed);
            break;
        }
    }
    let seed = forked.expect("no fork in 20 seeds with twins above the bound");
    println!("twins above the bound forked the chain at seed {seed}");
    for seed in 0..20 {
        let config = scenario::twins_partition(seed, 4, 2, &[0], QuorumRule::Global);
        assert!(config.faults_within_bounds());
        let report = sim::run(&config);
        assert!(
            report.safety_violations().is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
    }
}

/// The regional rule's extra safety: four twins of six validators fork the global
/// rule, but under the regional rule every quorum needs all three validators of a
/// region that holds only one twin, so no seed forks it.
#[test]
fn regional_quorums_stay_safe_while_one_region_is_clean() {
    let twins = [0, 1, 3, 5]; // region r0 = {0, 2, 4}, region r1 = {1, 3, 5}
    let mut global_forks = 0;
    for seed in 0..20 {
        let global = sim::run(&scenario::twins_partition(
            seed,
            6,
            2,
            &twins,
            QuorumRule::Global,
        ));
        global_forks += u32::from(global.has_fork());
        let regional = sim::run(&scenario::twins_partition(
            seed,
            6,
            2,
            &twins,
            QuorumRule::Regional,
        ));
        assert!(
            regional.safety_violations().is_empty(),
            "seed {seed}: {:?}",
            regional.violations
        );
    }
    assert!(
        global_forks > 0,
        "the global rule never forked: the test shows nothing"
    );
}

/// A region that loses a third of its power stops the chain under the regional rule
/// (every block needs every region) but not under the global one; nothing unsafe
/// happens either way.
#[test]
fn a_region_without_quorum_stops_the_regional_chain_only() {
    let mut config = SimConfig::honest(7, 6, 2); // r0 = {0, 2, 4}, r1 = {1, 3, 5}
    config.validators[2].behaviour = Behaviour::Silent;
    config.target_height = 3;
    config.max_time_ms = 20_000;
    let global = sim::run(&config);
    assert!(
        global.violations.is_empty() && global.finished,
        "{:?}",
        global.violations
    );
    config.rule = QuorumRule::Regional;
    assert!(!config.faults_within_bounds());
    let regional = sim::run(&config);
    assert!(regional.safety_violations().is_empty());
    assert!(!regional.finished);
    assert!(regional.nodes.iter().all(|n| n.decided.is_none()));
}

/// Not a check: prints what one seed of the sweep did, node by node, to investigate a
/// failure. `SEED=123 N=7 cargo test -p accord-consensus --test it explain_seed -- --ignored --nocapture`
#[test]
#[ignore]
fn explain_seed() {
    let var = |name: &str| -> Option<u64> { std::env::var(name).ok()?.parse().ok() };
    let (Some(seed), Some(n)) = (var("SEED"), var("N")) else {
        println!("set SEED and N");
        return;
    };
    let mut config = scenario::random(seed, n as usize);
    config.record_logs = true;
    for (i, v) in config.validators.iter().enumerate() {
        println!(
            "validator {i}: {} power {} {:?}",
            v.region, v.power, v.behaviour
        );
    }
    println!("{:?}, {:?}", config.rule, config.network);
    let report = sim::run(&config);
    for (i, node) in report.nodes.iter().enumerate() {
        println!(
            "node {i} (validator {}): {:?}, decided {:?}, holds {} messages",
            node.validator, node.state, node.decided, node.stored_messages
        );
    }
    for log in &report.logs {
        for (i, (input, result)) in log.entries.iter().enumerate() {
            if let Err(e) = result {
                println!("node {} input {i} refused: {e}: {input:?}", log.node);
            }
        }
    }
    for v in &report.violations {
        println!("violation: {v}");
    }
    println!(
        "finished {}, {} ms, {} messages, {} evidence",
        report.finished, report.end_ms, report.messages_sent, report.evidence
    );
}

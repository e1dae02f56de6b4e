//! The engine is a deterministic function of its inputs: a write-ahead log of inputs
//! rebuilds its state and its outputs, signed votes included.

use accord_consensus::sim::{self, scenario, Behaviour, SimConfig};
use accord_consensus::{Engine, Input, Output};
use accord_types::QuorumRule;
use borsh::BorshDeserialize;

/// A run with Byzantine validators, lossy links and a partition, logging every input.
fn logged_run(seed: u64, n: usize) -> (SimConfig, sim::Report) {
    let mut config = scenario::random(seed, n);
    config.record_logs = true;
    let report = sim::run(&config);
    assert!(
        report.safety_violations().is_empty(),
        "{:?}",
        report.violations
    );
    (config, report)
}

#[test]
fn replaying_a_logged_input_sequence_gives_identical_outputs() {
    let mut replayed = 0;
    for (seed, n) in [(3, 4), (11, 7), (12, 10)] {
        let (config, report) = logged_run(seed, n);
        for log in &report.logs {
            if log.entries.is_empty() {
                continue;
            }
            // The log as a node would write it: borsh bytes, read back.
            let bytes: Vec<Vec<u8>> = log
                .entries
                .iter()
                .map(|(input, _)| borsh::to_vec(input).unwrap())
                .collect();
            let mut engine = Engine::new(config.engine_config(log.validator));
            for (i, (encoded, (_, original))) in bytes.iter().zip(&log.entries).enumerate() {
                let input = Input::try_from_slice(encoded).unwrap();
                let again = engine.process(input);
                assert_eq!(&again, original, "seed {seed} node {} input {i}", log.node);
                replayed += 1;
            }
        }
    }
    assert!(replayed > 1_000, "only {replayed} inputs replayed");
}

#[test]
fn replaying_from_the_last_start_height_rebuilds_the_state() {
    let (config, report) = logged_run(5, 7);
    for log in report.logs.iter().filter(|l| !l.entries.is_empty()) {
        let mut full = Engine::new(config.engine_config(log.validator));
        for (input, _) in &log.entries {
            let _ = full.process(input.clone());
        }
        // A write-ahead log truncated at the last StartHeight.
        let Some(start) = log
            .entries
            .iter()
            .rposition(|(input, _)| matches!(input, Input::StartHeight { .. }))
        else {
            continue;
        };
        let mut truncated = Engine::new(config.engine_config(log.validator));
        for (i, (input, original)) in log.entries[start..].iter().enumerate() {
            let again = truncated.process(input.clone()).unwrap();
            let keep = |outputs: &[Output]| -> Vec<Output> {
                outputs
                    .iter()
                    .filter(|o| !matches!(o, Output::Requeue(_)))
                    .cloned()
                    .collect()
            };
            // Only the first StartHeight differs: the early messages it requeued in
            // the original run are already in the log as inputs.
            assert_eq!(
                keep(&again),
                keep(original.as_ref().unwrap()),
                "node {} input {i}",
                log.node
            );
        }
        assert_eq!(truncated.state(), full.state(), "node {}", log.node);
        assert_eq!(
            truncated.certificate(),
            full.certificate(),
            "node {}",
            log.node
        );
        assert_eq!(
            truncated.stored_messages(),
            full.stored_messages(),
            "node {}",
            log.node
        );
    }
}

/// Nodes that crash and restart from their write-ahead log, again and again, keep the
/// chain safe and live, give the same outputs on replay (the checker compares them),
/// and never sign a vote that conflicts with one they signed before the crash.
#[test]
fn crashed_nodes_restart_from_their_log_without_equivocating() {
    for seed in 0..12 {
        let mut config = SimConfig::honest(seed, 7, 3);
        config.rule = if seed % 2 == 0 {
            QuorumRule::Global
        } else {
            QuorumRule::Regional
        };
        let mut rng = sim::SimRng::new(seed, 99);
        for i in [1, 4] {
            let crash_at_ms = rng.range(0, 600);
            config.validators[i].behaviour = Behaviour::CrashRestart {
                crash_at_ms,
                restart_at_ms: Some(crash_at_ms + rng.range(50, 1_500)),
            };
        }
        // Two crash-restart validators of seven exceed a third in a region under the
        // regional rule; keep to the bound so liveness is expected.
        if !config.faults_within_bounds() {
            config.validators[4].behaviour = Behaviour::Honest;
        }
        config.network.jitter_ms = 20;
        config.target_height = 6;
        let report = sim::run(&config);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(report.finished, "seed {seed}");
        assert!(
            report.accused.is_empty(),
            "seed {seed}: accused {:?}",
            report.accused
        );
    }
}

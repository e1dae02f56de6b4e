//! Fault injection on real `accord run` processes: damaged consensus logs, crashes in
//! every window of a block commit, `kill -9` at random moments, and a process whose p2p
//! identity is not in the chain spec.

/// Multi-process tests (nextest group `multi-process`).
pub mod slow {
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use accord_node::fault;
    use accord_rpc::SystemApiClient;
    use serde_json::Value;

    use accord_tests::byzantine::Byzantine;
    use accord_tests::net::{tail, Net};

    const LIMIT: Duration = Duration::from_secs(120);

    /// Lengths of the intact records of a consensus log file (format in `node/src/wal`).
    fn records(bytes: &[u8]) -> Vec<usize> {
        let mut lengths = Vec::new();
        let mut offset = 12;
        while let Some(header) = bytes.get(offset..offset + 8) {
            let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
            if len == 0 || bytes.len() < offset + 8 + len {
                break;
            }
            lengths.push(len);
            offset += 8 + len;
        }
        lengths
    }

    /// `kill -9` of node `i` at a moment its consensus log holds at least two records,
    /// restarting it in between until it does; returns the log's bytes.
    async fn kill_with_records(net: &mut Net, i: usize) -> Vec<u8> {
        for _ in 0..20 {
            net.kill(i);
            let bytes = std::fs::read(net.wal(i)).unwrap();
            if records(&bytes).len() >= 2 {
                return bytes;
            }
            net.start(i);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        panic!("the consensus log never held two records at a kill");
    }

    /// Waits until node `i` is 3 heights past where node `reference` is now, then checks
    /// that both hold the same blocks and state roots at `heights` and at the new height.
    async fn caught_up(net: &Net, i: usize, reference: usize, heights: &[u64]) {
        let target = net.height(reference).await.unwrap() + 3;
        net.wait_height(i, target, LIMIT).await;
        for &height in heights.iter().chain([&target]) {
            assert_eq!(
                net.block(i, height).await,
                net.block(reference, height).await,
                "node {i} and node {reference} differ at height {height}"
            );
        }
    }

    /// No node saw two different votes from one validator or withheld a conflicting
    /// one of its own, and none panicked.
    fn no_equivocation_nor_panic(net: &Net) {
        no_equivocation_nor_panic_among(net, 0..net.nodes.len());
    }

    /// [`no_equivocation_nor_panic`] for the nodes `nodes` (those that ran).
    fn no_equivocation_nor_panic_among(net: &Net, nodes: std::ops::Range<usize>) {
        for i in nodes {
            net.assert_no_double_signing(i);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_torn_log_tail_is_dropped_and_a_damaged_middle_is_refused() {
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(3, 3, LIMIT).await;

        // A record cut short by the crash: its header promises more bytes than follow.
        let mut bytes = kill_with_records(&mut net, 3).await;
        bytes.extend_from_slice(&1000u32.to_le_bytes());
        bytes.extend_from_slice(&[0xab; 100]);
        std::fs::write(net.wal(3), &bytes).unwrap();
        net.start(3);
        caught_up(&net, 3, 0, &[2]).await;
        no_equivocation_nor_panic(&net);
        assert!(
            net.log(3)
                .contains("dropped a torn record at the end of the consensus log"),
            "{}",
            tail(&net.log(3), 40)
        );

        // A damaged byte in the first record, with intact records after it.
        let mut bytes = kill_with_records(&mut net, 3).await;
        bytes[12 + 8] ^= 0x55;
        std::fs::write(net.wal(3), &bytes).unwrap();
        let log_before = net.log(3).len();
        net.start(3);
        let status = net.wait_exit(3, Duration::from_secs(60));
        assert!(!status.success(), "the node ran on a corrupt log");
        let output = net.log(3)[log_before..].to_owned();
        let wal = net.wal(3).display().to_string();
        assert!(
            output.contains(&format!("consensus log {wal} is corrupt at byte 12"))
                && output.contains("checksum mismatch")
                && output.contains(&format!("mv {wal} {wal}.corrupt")),
            "{output}"
        );
        // The file is left as it was, for the operator to look at.
        assert_eq!(std::fs::read(net.wal(3)).unwrap(), bytes);
        // The others never depended on it.
        let height = net.height(0).await.unwrap();
        net.wait_height(0, height + 3, LIMIT).await;

        // The recovery the message gives works. Without its log the node may be asked
        // by its engine to sign again at the height it was at, differently: its signer
        // guard withholds that (as it must), and no peer ever sees two votes from it.
        std::fs::rename(net.wal(3), format!("{wal}.corrupt")).unwrap();
        let recovery = net.log(3).len();
        net.start(3);
        caught_up(&net, 3, 1, &[1, 2]).await;
        for i in 0..3 {
            net.assert_no_double_signing(i);
        }
        let log = net.log(3);
        assert!(!log[..recovery].contains("signed message withheld"));
        assert!(!log.contains("equivocation") && !log.contains("panicked"));
    }

    /// A pseudo-random delay in `range` milliseconds (test timing only).
    fn jitter(range: std::ops::Range<u64>) -> Duration {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Duration::from_millis(range.start + u64::from(nanos) % (range.end - range.start))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_validator_killed_again_and_again_never_signs_two_values_for_one_step_as_its_peers_hear_it(
    ) {
        // Five validators: the fifth is a peer in this process that records every signed
        // message gossiped, and signs nothing. Four must be up to decide, so every kill
        // of node 0 stalls the chain and node 0 restarts in the middle of a height, often
        // in a later round: the moments a forgetful validator would sign again.
        let mut net = Net::new(5, 2);
        for i in 0..4 {
            net.start(i);
        }
        net.wait_height(0, 2, LIMIT).await;
        let recorder = Byzantine::join(&net, 4, 8 << 20);
        recorder.wait_for_mesh(4).await;
        let key = accord_node::keyfile::read(&net.nodes[0].node.home.join("keys/consensus.key"))
            .unwrap()
            .public();
        let before = recorder.heard().steps_of(&key);
        for _ in 0..8 {
            tokio::time::sleep(jitter(300..2000)).await;
            net.kill(0);
            net.start(0);
        }
        let now = net.height(1).await.unwrap();
        for i in 0..4 {
            net.wait_height(i, now + 3, LIMIT).await;
        }
        let heard = recorder.heard();
        assert!(
            heard.steps_of(&key) > before + 10,
            "node 0 was heard signing {} steps, {before} before the kills",
            heard.steps_of(&key)
        );
        assert!(
            heard.conflicts().is_empty(),
            "validators signed two values for one step: {:?}",
            heard.conflicts()
        );
        no_equivocation_nor_panic_among(&net, 0..4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crashes_in_every_window_of_a_commit_leave_a_node_that_restarts_consistent() {
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(0, 3, LIMIT).await;
        let draft = net.home.join("draft.json");
        let body = accord_runtime::test_utils::documentation("ops/crash.md");
        let proposal = accord_runtime::test_utils::draft(&["eu", "us"], body);
        std::fs::write(&draft, serde_json::to_string_pretty(&proposal).unwrap()).unwrap();
        let load = tokio::spawn(crate::slow::load(
            net.nodes[0].node.rpc.clone(),
            net.key("author"),
            draft,
            400,
        ));
        let mut starts = 1;

        // At each crash point, on the third pass: the node has committed blocks in
        // consensus (or while catching up) by then.
        for point in fault::POINTS {
            net.kill(3);
            let armed = format!("{point}:3");
            net.start_with(3, &[(fault::ENV, &armed)]);
            starts += 1;
            let status = net.wait_exit(3, LIMIT);
            assert_eq!(status.signal(), Some(6), "{point}: {status:?}");
            assert!(
                net.log(3)
                    .contains(&format!("crash point {point} reached on pass 3")),
                "{}",
                tail(&net.log(3), 20)
            );
            net.start(3);
            starts += 1;
            caught_up(&net, 3, 0, &[1]).await;
        }

        // And `kill -9` at moments nobody chose.
        for _ in 0..6 {
            tokio::time::sleep(jitter(200..1500)).await;
            net.kill(3);
            net.start(3);
            starts += 1;
        }
        caught_up(&net, 3, 0, &[1, 5]).await;

        load.abort();
        assert_eq!(
            net.log(3).matches("database consistent").count(),
            starts,
            "every start found a consistent database"
        );
        no_equivocation_nor_panic(&net);
        // Every node still agrees on the whole chain.
        let top = net.height(3).await.unwrap();
        for height in 1..=top {
            let first = net.block(0, height).await;
            for i in 1..4 {
                assert_eq!(net.block(i, height).await, first, "node {i} at {height}");
            }
        }
    }

    #[test]
    fn an_unknown_crash_point_is_refused_by_name() {
        let net = Net::new(1, 1);
        let out = accord_tests::accord()
            .args(["run", "--home"])
            .arg(&net.nodes[0].node.home)
            .env(fault::ENV, "after-comit")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("\"after-comit\" names no crash point")
                && stderr.contains("after-commit"),
            "{stderr}"
        );
    }

    /// Sets the p2p key of validator `name` in the spec file at `path`.
    fn set_p2p_key(path: &Path, name: &str, key: &str) {
        let mut spec: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validators = spec["validators"].as_array_mut().unwrap();
        let entry = validators.iter_mut().find(|v| v["name"] == name).unwrap();
        entry["p2p_key"] = Value::String(key.to_owned());
        std::fs::write(path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    }

    async fn peers(net: &Net, i: usize) -> Option<u64> {
        let status = net.client(i).status().await.ok()?;
        Some(status.peers as u64)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_process_with_an_identity_outside_the_chain_spec_cannot_connect() {
        let mut net = Net::new(4, 2);
        for i in 0..3 {
            net.start(i);
        }
        net.wait_height(0, 2, LIMIT).await;

        // Validator 3's home with another p2p key, which its own copy of the spec names:
        // the process starts, but the others' allow lists hold the real key only.
        let home = net.nodes[3].node.home.clone();
        let name = net.nodes[3].node.name.clone();
        let key_file = home.join("keys").join("p2p.key");
        let spec_file = home.join("spec.json");
        let genuine_key = std::fs::read(&key_file).unwrap();
        let genuine_spec = std::fs::read(&spec_file).unwrap();
        let out = accord_tests::accord()
            .args(["key", "generate", "--force", "--out"])
            .arg(&key_file)
            .output()
            .unwrap();
        assert!(out.status.success());
        let outsider = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        set_p2p_key(&spec_file, &name, &outsider);
        net.start(3);

        let start = net.height(0).await.unwrap();
        let until = Instant::now() + Duration::from_secs(8);
        let mut samples = 0;
        while Instant::now() < until {
            for i in 0..3 {
                let seen = peers(&net, i).await.unwrap();
                assert!(seen <= 2, "node {i} has {seen} peers with the outsider up");
            }
            if let Some(height) = net.height(3).await {
                assert_eq!(height, 0, "the outsider received blocks");
                samples += 1;
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        assert!(samples > 5, "the outsider's RPC did not answer");
        assert!(
            net.height(0).await.unwrap() > start,
            "the network stopped while the outsider knocked"
        );
        // It really ran, with the outsider's identity.
        let log = net.log(3);
        assert!(
            log.contains(&format!("p2p task started key={outsider}")),
            "{outsider:?} not in:\n{log}"
        );

        // The same process with its genuine identity is let in and catches up.
        assert!(net.stop(3).success());
        std::fs::write(&key_file, genuine_key).unwrap();
        std::fs::write(&spec_file, genuine_spec).unwrap();
        // Its database was made for the edited spec (another genesis), which the node
        // refuses to mix with the genuine one; it starts from an empty one.
        std::fs::remove_dir_all(home.join("data")).unwrap();
        net.start(3);
        caught_up(&net, 3, 0, &[1]).await;
        let deadline = Instant::now() + LIMIT;
        while peers(&net, 0).await != Some(3) {
            assert!(
                Instant::now() < deadline,
                "the genuine validator was not let in"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Node `i`'s `system_health`: (healthy, accord_node_halted).
    async fn health(net: &Net, i: usize) -> (bool, f64) {
        let health = net.client(i).api().health().await.unwrap();
        (health.healthy, net.metric(i, "accord_node_halted"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_validator_whose_signer_guard_cannot_record_says_so_and_votes_again_once_it_can() {
        let mut net = Net::new(4, 2);
        net.start_all();
        for i in 0..4 {
            net.wait_height(i, 2, LIMIT).await;
        }
        assert_eq!(health(&net, 1).await, (true, 0.0));

        // The guard's state file replaced by a directory: its next write (a rename
        // over it) fails, and so does every one after.
        let state = net.nodes[1]
            .node
            .home
            .join("data")
            .join("signer-state.json");
        let saved = std::fs::read(&state).unwrap();
        std::fs::remove_file(&state).unwrap();
        std::fs::create_dir(&state).unwrap();
        std::fs::write(state.join("in-the-way"), b"").unwrap();
        let deadline = Instant::now() + LIMIT;
        while health(&net, 1).await != (false, 1.0) {
            assert!(
                Instant::now() < deadline,
                "node 1 still reports itself healthy:\n{}",
                tail(&net.log(1), 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(net.log(1).contains("the signer guard cannot record it"));
        // The others decide without it.
        let now = net.height(0).await.unwrap();
        net.wait_height(0, now + 5, LIMIT).await;

        // Once the file can be written again, it votes and reports healthy again.
        std::fs::remove_dir_all(&state).unwrap();
        std::fs::write(&state, saved).unwrap();
        let deadline = Instant::now() + LIMIT;
        while health(&net, 1).await != (true, 0.0) {
            assert!(
                Instant::now() < deadline,
                "node 1 did not recover:\n{}",
                tail(&net.log(1), 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(net.log(1).contains("voting resumes"));
        assert!(net.running(1));
    }
}

//! `accord backup` and `accord restore` against real nodes: a copy taken while the node
//! runs, checked, and put back into a stopped node, which then catches up.

mod slow {
    use std::path::Path;
    use std::process::Output;
    use std::time::Duration;

    use accord_tests::net::Net;
    use accord_tests::{accord, stderr, stdout};

    fn backup(home: &Path, out: &Path) -> Output {
        accord()
            .arg("backup")
            .arg("--home")
            .arg(home)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    }

    fn restore(from: &Path, home: &Path, force: bool) -> Output {
        let mut cmd = accord();
        cmd.arg("restore")
            .arg("--from")
            .arg(from)
            .arg("--home")
            .arg(home);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    }

    fn refused(output: &Output, words: &str) {
        assert!(!output.status.success(), "{}", stdout(output));
        assert!(
            stderr(output).contains(words),
            "expected {words:?} in:\n{}",
            stderr(output)
        );
    }

    fn manifest(dir: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("backup.json")).unwrap()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backup_taken_while_the_node_runs_restores_and_the_node_catches_up() {
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(0, 5, Duration::from_secs(120)).await;
        let home = net.nodes[0].node.home.clone();
        let dir = tempfile::tempdir().unwrap();

        // Online: the running node writes the checkpoint; the copy is checked.
        let online = dir.path().join("online");
        let out = backup(&home, &online);
        assert!(out.status.success(), "{}", stderr(&out));
        let taken = manifest(&online);
        assert_eq!(taken["online"], true);
        assert_eq!(taken["validator"], "eu-1");
        let height = taken["height"].as_u64().unwrap();
        assert!(height >= 5, "{taken}");
        assert!(stdout(&out).contains(&format!("backup of eu-1 at height {height}")));
        for file in ["config.toml", "spec.json", "db/CURRENT"] {
            assert!(online.join(file).exists(), "{file} missing from the backup");
        }
        assert!(
            !online.join("keys").exists(),
            "keys must not be in a backup"
        );
        // The running node's block at that height is the one the backup holds.
        let (hash, _) = net.block(0, height).await;
        assert_eq!(taken["hash"].as_str().unwrap(), hash);
        // Into a directory that exists: refused, nothing written there.
        refused(&backup(&home, &online), "exists already");

        // A running node's database is not replaced.
        refused(
            &restore(&online, &home, true),
            "stop the node before restoring",
        );

        // Stopped, its database is ahead of the backup: refused without --force.
        net.wait_height(0, height + 5, Duration::from_secs(60))
            .await;
        assert!(net.stop(0).success());
        refused(
            &restore(&online, &home, false),
            "pass --force to move it aside",
        );
        // A backup of a stopped node works too (the database opened directly).
        let offline = dir.path().join("offline");
        let out = backup(&home, &offline);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(manifest(&offline)["online"], false);
        assert!(manifest(&offline)["height"].as_u64().unwrap() >= height + 5);
        // Another chain's backup is refused.
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let mut foreign = taken.clone();
        foreign["genesis_hash"] = serde_json::json!(format!("0x{}", "11".repeat(32)));
        std::fs::write(other.join("backup.json"), foreign.to_string()).unwrap();
        refused(&restore(&other, &home, true), "the backup is of chain");

        // Restored with --force: the old database moved aside, the copy checked.
        let out = restore(&online, &home, true);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains(&format!("restored eu-1's database at height {height}")));
        assert!(stdout(&out).contains("db.before-restore-"));
        // The node starts from the backup's height and catches up with the others.
        net.start(0);
        let target = net.height(1).await.unwrap() + 3;
        net.wait_height(0, target, Duration::from_secs(120)).await;
        for h in [height, height + 1, target] {
            assert_eq!(net.block(0, h).await, net.block(1, h).await, "height {h}");
        }
        net.assert_no_double_signing(0);
    }
}

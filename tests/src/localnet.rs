//! `accord localnet` as a child process: the network its code writes and starts, one
//! `accord run` per validator, on ports claimed like every multi-process test's.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use accord_node::client::Client;

use crate::ports::{claim_ports, PortBlock, PORTS_PER_KIND};

/// A running `accord localnet`; stopped with SIGINT, killed on drop if still running.
pub struct Localnet {
    child: Option<Child>,
    /// The network's home (`--home`).
    pub home: PathBuf,
    output: PathBuf,
    _dir: tempfile::TempDir,
    _ports: PortBlock,
}

impl Localnet {
    /// Starts `accord localnet` with `validators` in `regions` and the `extra` arguments.
    ///
    /// # Panics
    /// When more than 10 validators are asked for or the binary cannot start.
    pub fn start(validators: usize, regions: usize, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("net");
        let output = dir.path().join("localnet.out");
        let ports = claim_ports();
        assert!(
            validators <= PORTS_PER_KIND,
            "a block of ports holds 10 nodes"
        );
        let log = std::fs::File::create(&output).unwrap();
        let child = crate::accord()
            .arg("localnet")
            .arg("--home")
            .arg(&home)
            .args(["--validators", &validators.to_string()])
            .args(["--regions", &regions.to_string()])
            .args(["--base-port", &ports.node(0).0.to_string()])
            .args(["--rpc-port", &ports.node(0).1.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self {
            child: Some(child),
            home,
            output,
            _dir: dir,
            _ports: ports,
        }
    }

    /// What `accord localnet` has printed so far (standard output and error).
    pub fn printed(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// Waits until `accord localnet` has printed `text`.
    ///
    /// # Panics
    /// After `timeout`, with what it printed.
    pub async fn wait_printed(&self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.printed().contains(text) {
            assert!(
                Instant::now() < deadline,
                "localnet did not print {text:?} within {timeout:?}\n{}",
                self.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What `accord localnet` printed, and the tail of the first node's log.
    pub fn diagnostics(&self) -> String {
        let log =
            std::fs::read_to_string(self.home.join("nodes/eu-1/node.log")).unwrap_or_default();
        format!(
            "accord localnet printed:\n{}\neu-1's log ends:\n{}",
            self.printed(),
            crate::net::tail(&log, 30)
        )
    }

    /// Waits until `accord localnet` has written the home.
    ///
    /// # Panics
    /// After 60 s.
    pub async fn wait_home(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.home.join("localnet.json").exists() {
            assert!(Instant::now() < deadline, "{}", self.diagnostics());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every node of `rpc` has finalized `height`.
    ///
    /// # Panics
    /// When one has not within `limit`.
    pub async fn wait_height(&self, rpc: &[String], height: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        for url in rpc {
            let client = Client::new(url).unwrap();
            loop {
                let reached = client
                    .status()
                    .await
                    .ok()
                    .is_some_and(|s| s.height.0 >= height);
                if reached {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{url} did not reach height {height} within {limit:?}\n{}",
                    self.diagnostics()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// How `accord localnet` ended, if it has.
    ///
    /// # Panics
    /// When it was already stopped through [`Self::interrupt`] or [`Self::wait_exit`].
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .expect("localnet runs")
            .try_wait()
            .unwrap()
    }

    /// Waits up to `limit` for `accord localnet` to end by itself.
    ///
    /// # Panics
    /// When it has not (it is then killed).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("localnet runs");
        wait_for(&mut child, limit).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "accord localnet did not end within {limit:?}\n{}",
                self.diagnostics()
            )
        })
    }

    /// SIGINT, as Ctrl-C would; returns the exit status.
    ///
    /// # Panics
    /// When it does not stop within `limit` (it is then killed).
    pub fn interrupt(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("localnet runs");
        signal(child.id(), "-INT");
        wait_for(&mut child, limit).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "accord localnet did not stop within {limit:?} of SIGINT\n{}",
                self.diagnostics()
            )
        })
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        // A failed test: stop the nodes through localnet if it listens, else kill it.
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "-TERM");
            if wait_for(&mut child, Duration::from_secs(20)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Sends a signal (`-INT`, `-KILL`, …) to process `pid`.
pub fn signal(pid: u32, which: &str) {
    let _ = Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .status();
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

//! The `accord-agent` binary and its signals: the first SIGTERM lets the running
//! command finish; a second one ends the process at once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord_runtime::test_utils;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_stops_the_agent_at_once() {
    let fixture = Fixture::new().await;
    fixture.script("deploy.sh", "echo started > started\nsleep 30");
    let config = format!(
        r#"
rpc = [{:?}]
key = "agent.key"
region = "eu"
chain_spec = "spec.json"
state_dir = "state"
metrics_listen = "off"
poll_interval_ms = 50
[actions.default]
command = ["/bin/sh", "deploy.sh"]
"#,
        fixture.url()
    );
    std::fs::write(fixture.path("agent.toml"), config).unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_accord-agent"))
        .arg("--config")
        .arg(fixture.path("agent.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    fixture.approve(test_utils::pipeline(&[]), &["eu"]);
    let deadline = Instant::now() + crate::DEADLINE;
    while !fixture.path("started").exists() {
        assert!(Instant::now() < deadline, "the command never started");
        assert!(agent.try_wait().unwrap().is_none(), "the agent exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let pid = Pid::from_raw(i32::try_from(agent.id()).unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        agent.try_wait().unwrap().is_none(),
        "the first signal waits for the command"
    );
    kill(pid, Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = agent.kill();
            panic!("the agent still runs 10 s after a second SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(130));
}

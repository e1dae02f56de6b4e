//! The files of deploy/: checked by the tools that read them.
//!
//! The Dockerfile by hadolint, the alert rules and Prometheus' configuration by promtool
//! (rules, their unit tests, the configuration), the systemd units by `systemd-analyze
//! verify`, the Helm chart by rendering it again (deploy/helm/render.py) against the
//! committed example and validating that with kubernetes-validate, the compose file by
//! reading it. In `slow`: every metric name the alert rules and the dashboard use is
//! one a running node or agent serves. The tools come from `scripts/install-deps.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Kubernetes version the rendered manifests are validated against (one whose
/// schemas kubernetes-validate ships).
const KUBERNETES_VERSION: &str = "1.33.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

/// A tool `scripts/install-deps.sh` installs; panics saying so when it is missing.
fn tool(name: &str) -> Command {
    Command::new(accord_tests::tool(name))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command`; panics with its output unless it succeeds. Returns the output.
fn ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} ({e}): run scripts/install-deps.sh"));
    let out = text(&output);
    assert!(output.status.success(), "{command:?} failed:\n{out}");
    out
}

/// Runs a Python script with the tools' Python (PyYAML, tomllib); returns its output.
fn python(script: &str, args: &[&Path]) -> String {
    ok(tool("python").arg("-c").arg(script).args(args))
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let out = ok(tool("hadolint")
        .arg("--config")
        .arg(deploy(".hadolint.yaml"))
        .arg(deploy("Dockerfile")));
    assert!(out.trim().is_empty(), "hadolint:\n{out}");
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    let dir = deploy("prometheus");
    let out = ok(tool("promtool")
        .args(["check", "rules", "alerts.yaml"])
        .current_dir(&dir));
    assert!(out.contains("SUCCESS"), "{out}");
    let out = ok(tool("promtool")
        .args(["test", "rules", "alerts_test.yaml"])
        .current_dir(&dir));
    assert!(out.contains("SUCCESS"), "{out}");
    let out = ok(tool("promtool")
        .args(["check", "config", "prometheus.yml"])
        .current_dir(&dir));
    assert!(out.contains("is valid prometheus config"), "{out}");
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let out = python(
        r#"
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
fires, quiet = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
for name in sorted(alerts):
    print(name, name in fires, name in quiet)
"#,
        &[
            &deploy("prometheus/alerts.yaml"),
            &deploy("prometheus/alerts_test.yaml"),
        ],
    );
    assert!(out.lines().count() >= 7, "{out}");
    for line in out.lines() {
        assert!(
            line.ends_with("True True"),
            "an alert without a firing and a quiet test (name, fires, quiet): {line}"
        );
    }
}

#[test]
fn the_systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for (unit, binary) in [
        ("accord.service", "accord"),
        ("accord-agent.service", "accord-agent"),
    ] {
        let text = std::fs::read_to_string(deploy("systemd").join(unit)).unwrap();
        let installed = format!("ExecStart=/usr/local/bin/{binary} ");
        assert!(
            text.contains(&installed),
            "{unit} runs /usr/local/bin/{binary}"
        );
        // verify wants the binary to exist: the one this test was built with.
        let built = format!("ExecStart={} ", accord_tests::binary(binary).display());
        let path = dir.path().join(unit);
        std::fs::write(&path, text.replace(&installed, &built)).unwrap();
        units.push(path);
    }
    let out = ok(tool("systemd-analyze").arg("verify").args(&units));
    assert!(out.trim().is_empty(), "systemd-analyze verify:\n{out}");
}

#[test]
fn the_helm_chart_renders_to_the_committed_manifests_which_validate() {
    let committed = deploy("helm/rendered/accord.yaml");
    let rendered = ok(tool("python").arg(deploy("helm/render.py")));
    let expected = std::fs::read_to_string(&committed).unwrap();
    assert!(
        rendered == expected,
        "deploy/helm/rendered/accord.yaml is not what the chart renders: run \
         `python3 deploy/helm/render.py > deploy/helm/rendered/accord.yaml` and review the diff"
    );

    // The core kinds go to kubernetes-validate. The ServiceMonitor's CRD is not among
    // its schemas: it is checked here, field by field, against the Services it selects.
    // Every agent.toml must be TOML the agent reads.
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.yaml");
    let out = python(
        r#"
import sys, tomllib, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
core, monitors, ports = [], [], {}
for d in docs:
    kind = d["kind"]
    print("kind", kind, d["metadata"]["name"])
    if kind == "ServiceMonitor":
        monitors.append(d)
        continue
    core.append(d)
    if kind == "Service":
        for p in d["spec"]["ports"]:
            ports.setdefault(p["name"], []).append(d["metadata"]["labels"])
    if kind == "ConfigMap" and "agent.toml" in d.get("data", {}):
        agent = tomllib.loads(d["data"]["agent.toml"])
        assert set(agent) >= {"rpc", "key", "region", "chain_spec", "state_dir", "actions"}, agent
        print("agent.toml", agent["region"], len(agent["rpc"]))
    if kind == "PodDisruptionBudget":
        print("pdb", d["metadata"]["name"], d["spec"]["maxUnavailable"])
yaml.safe_dump_all(core, open(sys.argv[2], "w"))
assert len(monitors) == 1, monitors
m = monitors[0]
assert m["apiVersion"] == "monitoring.coreos.com/v1", m
spec = m["spec"]
want = spec["selector"]["matchLabels"]
for e in spec["endpoints"]:
    assert set(e) <= {"port", "path", "interval", "relabelings"}, e
    assert e["path"] == "/metrics", e
    assert e["interval"].endswith("s"), e
    services = [l for l in ports.get(e["port"], []) if all(l.get(k) == v for k, v in want.items())]
    assert services, f"no Service selected by the ServiceMonitor has a port {e['port']}"
    assert all(spec["jobLabel"] in l for l in services), (spec["jobLabel"], services)
    for r in e["relabelings"]:
        assert set(r) == {"sourceLabels", "targetLabel"}, r
print("servicemonitor ok")
"#,
        &[&committed, &core],
    );
    for want in [
        "kind StatefulSet accord-eu",
        "kind StatefulSet accord-us",
        "kind PodDisruptionBudget accord-eu",
        "kind Deployment accord-eu-agent",
        "kind ServiceMonitor accord",
        // Four validators per region: three must stay up, so one may go.
        "pdb accord-eu 1",
        "agent.toml eu 4",
        "servicemonitor ok",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let out = ok(tool("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", KUBERNETES_VERSION])
        .arg(&core));
    let passed = out.lines().filter(|l| l.contains(" passed for ")).count();
    let documents = python(
        "import sys, yaml; print(len([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        &[&core],
    );
    assert_eq!(
        passed.to_string(),
        documents.trim(),
        "kubernetes-validate:\n{out}"
    );
    assert!(
        !out.contains("WARN") && !out.contains("ERROR"),
        "kubernetes-validate:\n{out}"
    );
}

#[test]
fn the_compose_file_parses_and_mounts_files_that_exist() {
    let out = python(
        r#"
import os, sys, tomllib, yaml
path = sys.argv[1]
base = os.path.dirname(path)
compose = yaml.safe_load(open(path))
services = compose["services"]
named = set(compose.get("volumes") or {})
for name, s in services.items():
    build = s.get("build")
    if build:
        context = os.path.join(base, build["context"])
        assert os.path.isfile(os.path.join(context, build["dockerfile"])), build
    for v in s.get("volumes", []):
        source = v.split(":")[0]
        if source.startswith("."):
            file = os.path.join(base, source)
            assert os.path.exists(file), f"{name} mounts {source}, which does not exist"
            if file.endswith(".toml"):
                tomllib.load(open(file, "rb"))
            if file.endswith((".yaml", ".yml")):
                yaml.safe_load(open(file))
            print("mount", name, source)
        else:
            assert source in named, f"{name} mounts volume {source}, not declared"
    for dep in s.get("depends_on") or []:
        assert dep in services, f"{name} depends on {dep}, no such service"
for job in yaml.safe_load(open(os.path.join(base, "prometheus/prometheus.yml")))["scrape_configs"]:
    for sc in job["static_configs"]:
        for target in sc["targets"]:
            host = target.split(":")[0]
            assert host in services, f"prometheus scrapes {target}: no such service"
print("validators", sorted(n for n, s in services.items() if s.get("entrypoint", [""])[-1] == "/compose/node.sh"))
print("agents", sorted(n for n in services if n.endswith("-agent")))
"#,
        &[&deploy("compose.yaml")],
    );
    for want in [
        "validators ['eu-1', 'eu-2', 'us-1', 'us-2']",
        "agents ['eu-agent', 'us-agent']",
        "mount prometheus ./prometheus/alerts.yaml",
        "mount grafana ./grafana/accord.json",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
}

/// Every `accord_…` name in the alert rules and the dashboard.
fn metric_names_used() -> std::collections::BTreeSet<String> {
    let mut used = std::collections::BTreeSet::new();
    for file in ["prometheus/alerts.yaml", "grafana/accord.json"] {
        let text = std::fs::read_to_string(deploy(file)).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("accord_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            used.insert(name);
        }
    }
    used
}

#[test]
fn the_dashboard_is_grafana_json_over_accord_metrics() {
    let text = std::fs::read_to_string(deploy("grafana/accord.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["uid"], "accord");
    let panels = dashboard["panels"].as_array().unwrap();
    let exprs: Vec<&str> = panels
        .iter()
        .filter_map(|p| p["targets"].as_array())
        .flatten()
        .filter_map(|t| t["expr"].as_str())
        .collect();
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    assert!(exprs.iter().all(|e| e.contains("accord_")));
    // The delivery row: each DORA family, its histograms by their sums and counts.
    let used = metric_names_used();
    for name in [
        "accord_dora_deployments_total",
        "accord_dora_changes_executed_total",
        "accord_dora_changes_failed_total",
        "accord_dora_lead_time_seconds_sum",
        "accord_dora_lead_time_seconds_count",
        "accord_dora_restore_seconds_sum",
        "accord_dora_restore_seconds_count",
    ] {
        assert!(used.contains(name), "the dashboard does not use {name}");
    }
    let row = panels
        .iter()
        .position(|p| p["type"] == "row" && p["title"] == "Delivery (DORA)")
        .expect("a Delivery (DORA) row");
    let delivery: Vec<&str> = panels[row + 1..]
        .iter()
        .take_while(|p| p["type"] != "row")
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(delivery.len(), 4, "{delivery:?}");
}

mod slow {
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};

    use accord_tests::agent::AgentProc;
    use accord_tests::net::Net;

    /// The metric names a `/metrics` answer declares (`# TYPE`) and samples.
    fn names(body: &str) -> BTreeSet<String> {
        body.lines()
            .filter_map(|line| match line.strip_prefix("# TYPE ") {
                Some(typed) => typed.split_whitespace().next(),
                None if line.starts_with('#') => None,
                None => line.split(['{', ' ']).next(),
            })
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn scrape(addr: &str, expect: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let body = accord_tests::http_get(addr, "/metrics").unwrap_or_default();
            if body.contains(expect) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{addr}/metrics has no {expect}:\n{body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Families the agent exports only once something happened (an event seen or
    /// refused, an execution finished): running one is more than this check needs, so
    /// their registration is read from the agent's source instead.
    const AGENT_FAMILIES_AFTER_EVENTS: [&str; 3] = [
        "accord_agent_events_seen_total",
        "accord_agent_events_refused_total",
        "accord_agent_executions_total",
    ];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alerts_and_dashboard_use_only_metrics_the_node_and_the_agent_export() {
        // Two validators (eu-1, us-1): peers and gossip; a proposal to both regions:
        // proposals by kind and status.
        let mut net = Net::new(2, 2);
        net.start_all();
        net.wait_height(0, 2, Duration::from_secs(60)).await;
        net.propose_with_cli(
            "author",
            super::repo().join("docs/examples/draft-documentation.json"),
        );
        let rpc_url = net.nodes[0].node.rpc.clone();
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.1:{}", net.spare_port(0));
        let mut agent = AgentProc::with_rpc(
            &net,
            dir.path(),
            "eu",
            &[net.ws(0)],
            Some(listen.clone()),
            "[actions.default]\ncommand = [\"/bin/true\"]",
        );
        agent.start();
        let rpc = rpc_url.trim_start_matches("http://").to_owned();
        // Series of the peers family come with the first peer, of proposals with the first.
        scrape(&rpc, "accord_p2p_peers{");
        let node = scrape(&rpc, "accord_gov_proposals{");
        // The delivery families are declared (`# TYPE`) from the first scrape; their
        // series come with the first figures (nothing is executed here).
        for family in [
            "accord_dora_deployments counter",
            "accord_dora_changes_executed counter",
            "accord_dora_changes_failed counter",
            "accord_dora_lead_time_seconds histogram",
            "accord_dora_restore_seconds histogram",
        ] {
            assert!(
                node.contains(&format!("\n# TYPE {family}\n")),
                "{rpc}/metrics does not declare {family}:\n{node}"
            );
        }
        let mut exported = names(&node);
        exported.extend(names(&scrape(&rpc, "accord_p2p_gossip_messages_total{")));
        exported.extend(names(&scrape(&listen, "accord_agent_connected 1")));
        assert!(agent.running(), "the agent exited:\n{}", agent.log());

        let agent_source =
            std::fs::read_to_string(super::repo().join("agent/src/metrics.rs")).unwrap();
        for family in AGENT_FAMILIES_AFTER_EVENTS {
            let registered = family
                .trim_start_matches("accord_agent_")
                .trim_end_matches("_total");
            assert!(
                agent_source.contains(&format!("\"{registered}\"")),
                "the agent registers no {family}"
            );
            exported.insert(family.to_owned());
        }

        let used = super::metric_names_used();
        assert!(used.len() >= 25, "{used:?}");
        let missing: Vec<&String> = used
            .iter()
            .filter(|name| {
                let base = ["_bucket", "_sum", "_count", "_total", "_created"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix));
                !exported.contains(*name) && !base.is_some_and(|b| exported.contains(b))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "used but not exported: {missing:?}\nexported: {exported:?}"
        );
    }
}

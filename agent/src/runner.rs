//! Runs an action's steps as child processes: pre-checks, the command, post-checks,
//! and the rollback.
//!
//! Each step runs in its own process group with stdin closed, in the configuration's
//! directory, with the agent's environment plus the execution's `ACCORD_*` variables
//! and the action's `env`. A step that outlives its time limit is killed with its whole
//! group (children included). Standard output and error are captured together, up to
//! `log_bytes` per step (the rest is counted, not kept); the execution log is every
//! step's header, output and exit, and its digest ([`LOG_DOMAIN`]) goes in the report.
//! A command that prints `ACCORD_BEFORE_DIGEST=<hex>` or `ACCORD_AFTER_DIGEST=<hex>` on
//! its standard output sets the report's before and after digests (the last valid line
//! wins).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accord_types::governance::{CheckResult, CheckStatus, ExecutionOutcome};
use accord_types::{Domain, Hash, Timestamp};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

/// The domain of an execution log's digest.
pub const LOG_DOMAIN: Domain = Domain::new("accord/execution-log");

/// How long the output of a finished (or killed) step is still read: a background
/// process it started may hold the pipes open.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// Longest stdout line examined for digest lines.
const MAX_LINE: usize = 4096;
/// Longest failure reason put in a report.
const MAX_REASON: usize = 1024;

/// One process to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it is, in logs and reasons (`command`, `pre-check "disk"`).
    pub label: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Time limit.
    pub timeout: Duration,
}

/// Where and with what the steps run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Variables added to the agent's environment.
    pub vars: BTreeMap<String, String>,
    /// The working directory.
    pub work_dir: PathBuf,
    /// Output kept per step.
    pub log_bytes: usize,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited with a status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// It ran past its limit and was killed with its process group.
    TimedOut {
        /// The limit.
        after: Duration,
    },
    /// It could not be started.
    NotStarted {
        /// Why.
        reason: String,
    },
}

impl Exit {
    /// Whether the step succeeded (exit status 0).
    pub fn success(&self) -> bool {
        matches!(self, Self::Code(0))
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exit status {code}"),
            Self::Signal(signal) => write!(f, "killed by signal {signal}"),
            Self::TimedOut { after } => write!(
                f,
                "timed out after {} s and was killed",
                after.as_secs_f64()
            ),
            Self::NotStarted { reason } => write!(f, "could not start: {reason}"),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// The step's label.
    pub label: String,
    /// How it ended.
    pub exit: Exit,
    /// Its output (stdout and stderr as they arrived), at most `log_bytes`.
    pub output: Vec<u8>,
    /// Output bytes not kept.
    pub dropped: u64,
    /// The last valid `ACCORD_BEFORE_DIGEST=` line.
    pub before_digest: Option<Hash>,
    /// The last valid `ACCORD_AFTER_DIGEST=` line.
    pub after_digest: Option<Hash>,
    /// Digest lines that could not be read.
    pub notes: Vec<String>,
}

/// Output kept so far, shared by the two readers of a step.
struct Capture {
    buf: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl Capture {
    fn push(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.buf.len());
        let kept = room.min(bytes.len());
        self.buf
            .extend_from_slice(bytes.get(..kept).unwrap_or_default());
        self.dropped = self
            .dropped
            .saturating_add(u64::try_from(bytes.len() - kept).unwrap_or(u64::MAX));
    }
}

#[derive(Default)]
struct Digests {
    before: Option<Hash>,
    after: Option<Hash>,
    notes: Vec<String>,
}

impl Digests {
    fn line(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let text = text.trim();
        for (prefix, slot) in [
            ("ACCORD_BEFORE_DIGEST=", &mut self.before),
            ("ACCORD_AFTER_DIGEST=", &mut self.after),
        ] {
            if let Some(value) = text.strip_prefix(prefix) {
                match Hash::from_hex(value.trim()) {
                    Ok(hash) => *slot = Some(hash),
                    Err(e) => self.notes.push(format!("ignored {prefix}{value}: {e}")),
                }
            }
        }
    }
}

fn lock(capture: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    capture
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn read_into(
    mut reader: impl AsyncRead + Unpin,
    capture: Arc<Mutex<Capture>>,
    parse: bool,
) -> Digests {
    let mut digests = Digests::default();
    let mut chunk = vec![0u8; 8192];
    let mut line = Vec::new();
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let bytes = chunk.get(..n).unwrap_or_default();
        lock(&capture).push(bytes);
        if parse {
            for &b in bytes {
                if b == b'\n' {
                    digests.line(&line);
                    line.clear();
                } else if line.len() < MAX_LINE {
                    line.push(b);
                }
            }
        }
    }
    if parse && !line.is_empty() {
        digests.line(&line);
    }
    digests
}

/// Waits for a reader, giving up (and stopping it) after the grace period.
async fn finish(mut reader: JoinHandle<Digests>) -> Digests {
    match tokio::time::timeout(OUTPUT_GRACE, &mut reader).await {
        Ok(Ok(digests)) => digests,
        Ok(Err(_)) => Digests::default(),
        Err(_) => {
            reader.abort();
            Digests::default()
        }
    }
}

fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    // The child leads its own group (process_group(0)), so its pid is the group id.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Runs one step (see the module docs).
pub async fn run_step(step: &Step, env: &Environment) -> StepResult {
    let mut result = StepResult {
        label: step.label.clone(),
        exit: Exit::NotStarted {
            reason: "the command is empty".into(),
        },
        output: Vec::new(),
        dropped: 0,
        before_digest: None,
        after_digest: None,
        notes: Vec::new(),
    };
    let Some((program, args)) = step.argv.split_first() else {
        return result;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(&env.work_dir)
        .envs(&env.vars)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            result.exit = Exit::NotStarted {
                reason: format!("{program}: {e}"),
            };
            return result;
        }
    };
    let pid = child.id();
    let capture = Arc::new(Mutex::new(Capture {
        buf: Vec::new(),
        limit: env.log_bytes,
        dropped: 0,
    }));
    let out = child
        .stdout
        .take()
        .map(|o| tokio::spawn(read_into(o, capture.clone(), true)));
    let err = child
        .stderr
        .take()
        .map(|e| tokio::spawn(read_into(e, capture.clone(), false)));
    result.exit = match tokio::time::timeout(step.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Signal(0),
            }
        }
        Ok(Err(e)) => {
            kill_group(pid);
            Exit::NotStarted {
                reason: format!("waiting for {program} failed: {e}"),
            }
        }
        Err(_) => {
            kill_group(pid);
            let _ = child.kill().await;
            Exit::TimedOut {
                after: step.timeout,
            }
        }
    };
    if let Some(out) = out {
        let digests = finish(out).await;
        result.before_digest = digests.before;
        result.after_digest = digests.after;
        result.notes = digests.notes;
    }
    if let Some(err) = err {
        finish(err).await;
    }
    let mut capture = lock(&capture);
    result.output = std::mem::take(&mut capture.buf);
    result.dropped = capture.dropped;
    result
}

/// What an action runs for one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Checks before the command, by name.
    pub pre_checks: Vec<(String, Step)>,
    /// The change.
    pub command: Step,
    /// Checks after the command, by name.
    pub post_checks: Vec<(String, Step)>,
    /// Run when the command or a post-check fails.
    pub rollback_on_failure: Option<Step>,
}

/// The result of a plan or a rollback: what the report carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// Succeeded, failed with the failing step named, or rolled back.
    pub outcome: ExecutionOutcome,
    /// Results of the pre-checks (skipped after a failure).
    pub pre_checks: Vec<CheckResult>,
    /// Results of the post-checks.
    pub post_checks: Vec<CheckResult>,
    /// From the command's `ACCORD_BEFORE_DIGEST=` line.
    pub before_digest: Option<Hash>,
    /// From the command's `ACCORD_AFTER_DIGEST=` line.
    pub after_digest: Option<Hash>,
    /// The execution log.
    pub log: Vec<u8>,
    /// When the first step started.
    pub started_at: Timestamp,
    /// When the last step ended.
    pub finished_at: Timestamp,
}

impl Execution {
    /// The digest of the log.
    pub fn log_digest(&self) -> Hash {
        Hash::digest(LOG_DOMAIN, &self.log)
    }
}

/// The agent's clock in milliseconds since the Unix epoch.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

fn log_step(log: &mut Vec<u8>, step: &Step, result: &StepResult) {
    log.extend_from_slice(format!("== {}: {:?}\n", step.label, step.argv).as_bytes());
    log.extend_from_slice(&result.output);
    if !result.output.is_empty() && !result.output.ends_with(b"\n") {
        log.push(b'\n');
    }
    if result.dropped > 0 {
        log.extend_from_slice(
            format!("[{} more bytes of output not kept]\n", result.dropped).as_bytes(),
        );
    }
    for note in &result.notes {
        log.extend_from_slice(format!("[{note}]\n").as_bytes());
    }
    log.extend_from_slice(format!("== {}: {}\n", step.label, result.exit).as_bytes());
}

fn reason(text: String) -> String {
    if text.len() <= MAX_REASON {
        return text;
    }
    let mut end = MAX_REASON;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

fn skipped(checks: &[(String, Step)]) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|(name, _)| CheckResult {
            name: name.clone(),
            status: CheckStatus::Skipped,
        })
        .collect()
}

/// Runs the pre-checks, the command and the post-checks; the first failure stops the
/// rest (and runs the rollback when the plan has one for failures).
pub async fn execute(plan: &Plan, env: &Environment) -> Execution {
    let started_at = now();
    let mut log = Vec::new();
    let mut run = Execution {
        outcome: ExecutionOutcome::Succeeded,
        pre_checks: skipped(&plan.pre_checks),
        post_checks: skipped(&plan.post_checks),
        before_digest: None,
        after_digest: None,
        log: Vec::new(),
        started_at,
        finished_at: started_at,
    };
    let mut failure: Option<String> = None;
    for (i, (name, step)) in plan.pre_checks.iter().enumerate() {
        let result = run_step(step, env).await;
        log_step(&mut log, step, &result);
        let passed = result.exit.success();
        if let Some(check) = run.pre_checks.get_mut(i) {
            check.status = if passed {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            };
        }
        if !passed {
            failure = Some(format!("pre-check {name:?} failed: {}", result.exit));
            break;
        }
    }
    let mut applied = false;
    if failure.is_none() {
        let result = run_step(&plan.command, env).await;
        log_step(&mut log, &plan.command, &result);
        run.before_digest = result.before_digest;
        run.after_digest = result.after_digest;
        applied = true;
        if !result.exit.success() {
            failure = Some(format!("command failed: {}", result.exit));
        }
    }
    if failure.is_none() {
        for (i, (name, step)) in plan.post_checks.iter().enumerate() {
            let result = run_step(step, env).await;
            log_step(&mut log, step, &result);
            let passed = result.exit.success();
            if let Some(check) = run.post_checks.get_mut(i) {
                check.status = if passed {
                    CheckStatus::Passed
                } else {
                    CheckStatus::Failed
                };
            }
            if !passed {
                failure = Some(format!("post-check {name:?} failed: {}", result.exit));
                break;
            }
        }
    }
    if let Some(mut why) = failure {
        if let (true, Some(rollback)) = (applied, &plan.rollback_on_failure) {
            let result = run_step(rollback, env).await;
            log_step(&mut log, rollback, &result);
            if result.exit.success() {
                why.push_str("; rolled back locally");
            } else {
                why.push_str(&format!(
                    "; the local rollback also failed: {}",
                    result.exit
                ));
            }
        }
        run.outcome = ExecutionOutcome::Failed {
            reason: reason(why),
        };
    }
    run.log = log;
    run.finished_at = now().max(started_at);
    run
}

/// Runs a rollback requested by the chain: `RolledBack`, or `Failed` naming the exit.
pub async fn roll_back(step: &Step, env: &Environment) -> Execution {
    let started_at = now();
    let mut log = Vec::new();
    let result = run_step(step, env).await;
    log_step(&mut log, step, &result);
    let outcome = if result.exit.success() {
        ExecutionOutcome::RolledBack
    } else {
        ExecutionOutcome::Failed {
            reason: reason(format!("rollback failed: {}", result.exit)),
        }
    };
    Execution {
        outcome,
        pre_checks: Vec::new(),
        post_checks: Vec::new(),
        before_digest: result.before_digest,
        after_digest: result.after_digest,
        log,
        started_at,
        finished_at: now().max(started_at),
    }
}

/// What a dry run prints: every step with its time limit, then the environment.
pub fn describe(steps: &[&Step], env: &Environment) -> String {
    let mut out = String::new();
    for step in steps {
        out.push_str(&format!(
            "  would run {} (limit {} s): {:?}\n",
            step.label,
            step.timeout.as_secs(),
            step.argv
        ));
    }
    out.push_str(&format!("  in {}\n  with\n", env.work_dir.display()));
    for (key, value) in &env.vars {
        let shown: String = value.chars().take(200).collect();
        let more = if shown.len() < value.len() { "…" } else { "" };
        out.push_str(&format!("    {key}={shown}{more}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn env(dir: &Path, log_bytes: usize) -> Environment {
        Environment {
            vars: BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]),
            work_dir: dir.to_owned(),
            log_bytes,
        }
    }

    fn sh(label: &str, script: &str, timeout: Duration) -> Step {
        Step {
            label: label.into(),
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            timeout,
        }
    }

    fn alive(pid: u32) -> bool {
        // A zombie has exited; only its parent's reaping is pending.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let state = stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .next();
                state != Some("Z")
            })
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn a_step_past_its_limit_is_killed_with_its_children_and_its_output_kept() {
        let dir = tempfile::tempdir().unwrap();
        let script = "echo started; sleep 60 & echo $! > child.pid; echo $$ > shell.pid; wait";
        let step = sh("command", script, Duration::from_millis(500));
        let result = run_step(&step, &env(dir.path(), 1024)).await;
        assert_eq!(
            result.exit,
            Exit::TimedOut {
                after: Duration::from_millis(500)
            }
        );
        assert_eq!(result.output, b"started\n");
        for file in ["shell.pid", "child.pid"] {
            let pid: u32 = std::fs::read_to_string(dir.path().join(file))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            // The kill is delivered before run_step returns; init reaps the orphan soon after.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while alive(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(!alive(pid), "{file}: process {pid} still runs");
        }
    }

    #[tokio::test]
    async fn output_is_bounded_and_digest_lines_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let before = Hash::digest(LOG_DOMAIN, b"before");
        let script = format!(
            "echo ACCORD_BEFORE_DIGEST={before}; head -c 5000 /dev/zero; echo; echo ACCORD_AFTER_DIGEST=nothex; echo $GREETING $PWD >&2; exit 3"
        );
        let result = run_step(
            &sh("command", &script, Duration::from_secs(30)),
            &env(dir.path(), 100),
        )
        .await;
        assert_eq!(result.exit, Exit::Code(3));
        assert_eq!(result.output.len(), 100);
        assert!(result.dropped > 4900, "{}", result.dropped);
        assert_eq!(result.before_digest, Some(before));
        assert_eq!(result.after_digest, None);
        assert!(result
            .notes
            .iter()
            .any(|n| n.contains("ACCORD_AFTER_DIGEST=nothex")));

        let echo = run_step(
            &sh("check", "echo $GREETING; pwd", Duration::from_secs(30)),
            &env(dir.path(), 1024),
        )
        .await;
        let text = String::from_utf8(echo.output).unwrap();
        let cwd = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(text, format!("hello\n{}\n", cwd.display()));

        let missing = Step {
            label: "command".into(),
            argv: vec!["/nonexistent/program".into()],
            timeout: Duration::from_secs(1),
        };
        let result = run_step(&missing, &env(dir.path(), 1024)).await;
        assert!(
            matches!(&result.exit, Exit::NotStarted { reason } if reason.contains("/nonexistent/program"))
        );
    }

    #[tokio::test]
    async fn a_failed_pre_check_stops_the_plan_and_a_failed_command_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = Duration::from_secs(30);
        let plan = Plan {
            pre_checks: vec![
                ("first".into(), sh("pre-check \"first\"", "true", t)),
                ("disk".into(), sh("pre-check \"disk\"", "exit 4", t)),
                ("last".into(), sh("pre-check \"last\"", "true", t)),
            ],
            command: sh("command", "touch applied", t),
            post_checks: vec![("probe".into(), sh("post-check \"probe\"", "true", t))],
            rollback_on_failure: Some(sh("rollback", "touch rolled-back", t)),
        };
        let run = execute(&plan, &env(dir.path(), 1024)).await;
        assert_eq!(
            run.outcome,
            ExecutionOutcome::Failed {
                reason: "pre-check \"disk\" failed: exit status 4".into()
            }
        );
        let statuses: Vec<CheckStatus> = run.pre_checks.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            vec![
                CheckStatus::Passed,
                CheckStatus::Failed,
                CheckStatus::Skipped
            ]
        );
        assert_eq!(run.post_checks[0].status, CheckStatus::Skipped);
        assert!(!dir.path().join("applied").exists());
        assert!(
            !dir.path().join("rolled-back").exists(),
            "nothing was applied, nothing to roll back"
        );

        let failing = Plan {
            pre_checks: Vec::new(),
            command: sh("command", "touch applied; exit 2", t),
            ..plan.clone()
        };
        let run = execute(&failing, &env(dir.path(), 1024)).await;
        assert_eq!(
            run.outcome,
            ExecutionOutcome::Failed {
                reason: "command failed: exit status 2; rolled back locally".into()
            }
        );
        assert!(dir.path().join("rolled-back").exists());
        assert_eq!(run.log_digest(), Hash::digest(LOG_DOMAIN, &run.log));
        let log = String::from_utf8(run.log).unwrap();
        assert!(
            log.contains("== command: exit status 2") && log.contains("== rollback: exit status 0"),
            "{log}"
        );
    }
}

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
//!
//! A plan may end with a health check ([`HealthCheck`], the canary rule): once the
//! command and the post-checks pass, it runs `runs` times, `interval` apart, with
//! `ACCORD_HEALTH_RUN` set to the run's number; `max_consecutive_failures` failed runs
//! in a row fail the execution at once, and a passing run resets the count. It is
//! reported as the last post-check. Its log stays bounded whatever the number of runs:
//! a passing run is one line, and a failed run is logged like a step only while the
//! health check's part of the log is under `log_bytes` (then one line too).

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
/// Longest one-line record of a health check's run in the log.
const MAX_RUN_LINE: usize = 2048;

/// The variable that tells a health check's run its number, from 1.
pub const HEALTH_RUN_VAR: &str = "ACCORD_HEALTH_RUN";

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

/// Notes kept per step about digest lines that do not parse.
const MAX_NOTES: usize = 8;

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
                    Err(e) if self.notes.len() < MAX_NOTES => {
                        let mut value = value.trim().to_owned();
                        if value.len() > 80 {
                            let mut end = 80;
                            while !value.is_char_boundary(end) {
                                end -= 1;
                            }
                            value.truncate(end);
                            value.push('…');
                        }
                        self.notes.push(format!("ignored {prefix}{value}: {e}"));
                    }
                    Err(_) => {}
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
    /// Run repeatedly once the post-checks pass; reported as the last post-check.
    pub health: Option<HealthCheck>,
    /// Run when the command, a post-check or the health check fails.
    pub rollback_on_failure: Option<Step>,
}

/// A check run repeatedly over a bake window (the canary rule): `runs` runs, `interval`
/// apart; `max_consecutive_failures` failed runs in a row fail it at once, and a
/// passing run resets the count. Passing the window passes the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// The name reported on chain.
    pub name: String,
    /// One run; its label (`health check "health"`) gets the run's number in the log.
    pub step: Step,
    /// The pause between the end of a run and the start of the next (none after the last).
    pub interval: Duration,
    /// Runs in the window (at least 1).
    pub runs: u32,
    /// Failed runs in a row that fail the check (from 1 to `runs`).
    pub max_consecutive_failures: u32,
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

/// The first `max` bytes of `text` at most, cut at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

fn reason(text: String) -> String {
    if text.len() <= MAX_REASON {
        return text;
    }
    clip(&text, MAX_REASON).to_owned()
}

/// Appends one line to the log, cut to [`MAX_RUN_LINE`] bytes.
fn log_line(log: &mut Vec<u8>, text: &str) {
    log.extend_from_slice(clip(text, MAX_RUN_LINE).as_bytes());
    log.push(b'\n');
}

/// Runs a health check over its window (see [`HealthCheck`]): `Ok` once every run is
/// done without `max_consecutive_failures` failures in a row, else the failure reason.
async fn bake(health: &HealthCheck, env: &Environment, log: &mut Vec<u8>) -> Result<(), String> {
    let runs = health.runs.max(1);
    let limit = health.max_consecutive_failures.clamp(1, runs);
    let label = &health.step.label;
    log_line(
        log,
        &format!(
            "== {label}: {runs} run(s), {} apart; {limit} failed run(s) in a row fail it",
            span(health.interval)
        ),
    );
    // What failed runs may add to the log in full (header, output, exit), together.
    let mut budget = env.log_bytes;
    let mut streak: u32 = 0;
    let mut first_failed = 0;
    for run in 1..=runs {
        if run > 1 {
            tokio::time::sleep(health.interval).await;
        }
        let step = Step {
            label: format!("{label} run {run}/{runs}"),
            ..health.step.clone()
        };
        let mut run_env = env.clone();
        run_env
            .vars
            .insert(HEALTH_RUN_VAR.to_owned(), run.to_string());
        // Output is kept only within the budget left.
        run_env.log_bytes = budget;
        let mut result = run_step(&step, &run_env).await;
        if result.exit.success() {
            streak = 0;
            log_line(log, &format!("== {}: {}", step.label, result.exit));
            continue;
        }
        if streak == 0 {
            first_failed = run;
        }
        streak = streak.saturating_add(1);
        if budget > 0 {
            // A check's digest lines are not read.
            result.notes.clear();
            let before = log.len();
            log_step(log, &step, &result);
            budget = budget.saturating_sub(log.len() - before);
        } else {
            log_line(
                log,
                &format!(
                    "== {}: {} (output not kept: the health check's log is full)",
                    step.label, result.exit
                ),
            );
        }
        if streak >= limit {
            let name = &health.name;
            return Err(if limit == 1 {
                format!(
                    "health check {name:?} failed (run {run} of {runs}: {})",
                    result.exit
                )
            } else {
                format!(
                    "health check {name:?} failed {streak} times in a row (runs {first_failed} to {run} of {runs}; last: {})",
                    result.exit
                )
            });
        }
    }
    Ok(())
}

/// A pause as a person would write it: whole seconds in `s`, anything else in `ms`.
fn span(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 && duration.as_secs() > 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
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

/// Runs the pre-checks, the command, the post-checks and the health check; the first
/// failure stops the rest (and runs the rollback when the plan has one for failures and
/// the command was tried).
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
    if let Some(health) = &plan.health {
        run.post_checks.push(CheckResult {
            name: health.name.clone(),
            status: CheckStatus::Skipped,
        });
    }
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
    if let (None, Some(health)) = (&failure, &plan.health) {
        let baked = bake(health, env, &mut log).await;
        if let Some(check) = run.post_checks.get_mut(plan.post_checks.len()) {
            check.status = if baked.is_ok() {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            };
        }
        failure = baked.err();
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
        would_run(&mut out, step);
    }
    environment(&mut out, env);
    out
}

/// What a dry run prints for a plan: its steps in order, the health check with its
/// schedule, then the environment.
pub fn describe_plan(plan: &Plan, env: &Environment) -> String {
    let mut out = String::new();
    for (_, step) in &plan.pre_checks {
        would_run(&mut out, step);
    }
    would_run(&mut out, &plan.command);
    for (_, step) in &plan.post_checks {
        would_run(&mut out, step);
    }
    if let Some(health) = &plan.health {
        let runs = health.runs.max(1);
        out.push_str(&format!(
            "  would run {} {runs} time(s), {} apart, with {HEALTH_RUN_VAR}=1…{runs}; {} failed run(s) in a row fail it (limit {} s each): {:?}\n",
            health.step.label,
            span(health.interval),
            health.max_consecutive_failures.clamp(1, runs),
            health.step.timeout.as_secs(),
            health.step.argv
        ));
    }
    environment(&mut out, env);
    out
}

fn would_run(out: &mut String, step: &Step) {
    out.push_str(&format!(
        "  would run {} (limit {} s): {:?}\n",
        step.label,
        step.timeout.as_secs(),
        step.argv
    ));
}

fn environment(out: &mut String, env: &Environment) {
    out.push_str(&format!("  in {}\n  with\n", env.work_dir.display()));
    for (key, value) in &env.vars {
        let shown: String = value.chars().take(200).collect();
        let more = if shown.len() < value.len() { "…" } else { "" };
        out.push_str(&format!("    {key}={shown}{more}\n"));
    }
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
            health: None,
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

    /// A health check that passes or fails run by run as `pattern` says (`P`, `F`),
    /// counting its runs in `count` and recording `ACCORD_HEALTH_RUN` in `runs`.
    fn health(pattern: &str, runs: u32, max_consecutive_failures: u32) -> HealthCheck {
        let script = format!(
            "n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; \
             echo \"$ACCORD_HEALTH_RUN\" >> runs; echo \"probe $n\"; \
             test \"$(echo {pattern} | cut -c$n)\" = P"
        );
        HealthCheck {
            name: "health".into(),
            step: sh("health check \"health\"", &script, Duration::from_secs(30)),
            interval: Duration::from_millis(50),
            runs,
            max_consecutive_failures,
        }
    }

    fn canary_plan(health: HealthCheck) -> Plan {
        let t = Duration::from_secs(30);
        Plan {
            pre_checks: Vec::new(),
            command: sh("command", "touch applied", t),
            post_checks: vec![("probe".into(), sh("post-check \"probe\"", "true", t))],
            health: Some(health),
            rollback_on_failure: Some(sh("rollback", "touch rolled-back", t)),
        }
    }

    fn statuses(checks: &[CheckResult]) -> Vec<(&str, CheckStatus)> {
        checks.iter().map(|c| (c.name.as_str(), c.status)).collect()
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_health_check_passes_while_failures_are_never_enough_in_a_row() {
        for (pattern, limit) in [("FPFP", 2), ("FFPFFP", 3), ("PPP", 1)] {
            let dir = tempfile::tempdir().unwrap();
            let runs = u32::try_from(pattern.len()).unwrap();
            let started = std::time::Instant::now();
            let run = execute(
                &canary_plan(health(pattern, runs, limit)),
                &env(dir.path(), 1024),
            )
            .await;
            let elapsed = started.elapsed();
            assert_eq!(run.outcome, ExecutionOutcome::Succeeded, "{pattern}");
            assert_eq!(
                statuses(&run.post_checks),
                vec![
                    ("probe", CheckStatus::Passed),
                    ("health", CheckStatus::Passed)
                ],
                "{pattern}"
            );
            // Every run ran, numbered from 1, an interval apart (none after the last).
            assert_eq!(read(dir.path(), "count"), format!("{runs}\n"));
            let numbers: String = (1..=runs).map(|n| format!("{n}\n")).collect();
            assert_eq!(read(dir.path(), "runs"), numbers);
            assert!(
                elapsed >= Duration::from_millis(50) * (runs - 1),
                "{elapsed:?}"
            );
            assert!(!dir.path().join("rolled-back").exists());
            let log = String::from_utf8(run.log).unwrap();
            for n in 1..=runs {
                assert!(
                    log.contains(&format!(
                        "== health check \"health\" run {n}/{runs}: exit status"
                    )),
                    "{log}"
                );
            }
            // A failed run is logged with its output, a passing one in a line.
            let failed = pattern.matches('F').count();
            let outputs = log.lines().filter(|l| l.starts_with("probe ")).count();
            assert_eq!(outputs, failed, "{log}");
        }
    }

    #[tokio::test]
    async fn failures_in_a_row_fail_the_health_check_at_once_and_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let run = execute(
            &canary_plan(health("PFFFFFFFFF", 10, 3)),
            &env(dir.path(), 1024),
        )
        .await;
        assert_eq!(
            run.outcome,
            ExecutionOutcome::Failed {
                reason: "health check \"health\" failed 3 times in a row (runs 2 to 4 of 10; last: exit status 1); rolled back locally".into()
            }
        );
        assert_eq!(
            statuses(&run.post_checks),
            vec![
                ("probe", CheckStatus::Passed),
                ("health", CheckStatus::Failed)
            ]
        );
        // It stopped at the third failure in a row.
        assert_eq!(read(dir.path(), "count"), "4\n");
        assert!(dir.path().join("rolled-back").exists());
        let log = String::from_utf8(run.log).unwrap();
        assert!(
            log.contains("== health check \"health\" run 4/10: exit status 1"),
            "{log}"
        );
        assert!(!log.contains("run 5/10"), "{log}");
        assert!(log.contains("== rollback: exit status 0"), "{log}");

        // A single failure fails it when the limit is 1; without a rollback none runs.
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            rollback_on_failure: None,
            ..canary_plan(health("PPF", 5, 1))
        };
        let run = execute(&plan, &env(dir.path(), 1024)).await;
        assert_eq!(
            run.outcome,
            ExecutionOutcome::Failed {
                reason: "health check \"health\" failed (run 3 of 5: exit status 1)".into()
            }
        );
        assert_eq!(read(dir.path(), "count"), "3\n");
        assert!(!dir.path().join("rolled-back").exists());
    }

    #[tokio::test]
    async fn a_failure_before_the_health_check_leaves_it_skipped() {
        let t = Duration::from_secs(30);
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            post_checks: vec![("probe".into(), sh("post-check \"probe\"", "exit 5", t))],
            ..canary_plan(health("PPP", 3, 1))
        };
        let run = execute(&plan, &env(dir.path(), 1024)).await;
        assert_eq!(
            run.outcome,
            ExecutionOutcome::Failed {
                reason: "post-check \"probe\" failed: exit status 5; rolled back locally".into()
            }
        );
        assert_eq!(
            statuses(&run.post_checks),
            vec![
                ("probe", CheckStatus::Failed),
                ("health", CheckStatus::Skipped)
            ]
        );
        assert!(!dir.path().join("count").exists());

        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            command: sh("command", "exit 2", t),
            ..canary_plan(health("PPP", 3, 1))
        };
        let run = execute(&plan, &env(dir.path(), 1024)).await;
        assert_eq!(
            statuses(&run.post_checks),
            vec![
                ("probe", CheckStatus::Skipped),
                ("health", CheckStatus::Skipped)
            ]
        );
        assert!(!dir.path().join("count").exists());
    }

    #[tokio::test]
    async fn many_runs_keep_the_log_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let runs = 200;
        let log_bytes = 4096;
        // Every other run fails, printing 1,000 bytes: never two failures in a row.
        let check = HealthCheck {
            step: sh(
                "health check \"health\"",
                "head -c 1000 /dev/zero | tr '\\0' x; test $((ACCORD_HEALTH_RUN % 2)) = 0",
                Duration::from_secs(30),
            ),
            interval: Duration::from_millis(1),
            ..health("", runs, 2)
        };
        let run = execute(&canary_plan(check), &env(dir.path(), log_bytes)).await;
        assert_eq!(run.outcome, ExecutionOutcome::Succeeded);
        let log = String::from_utf8(run.log).unwrap();
        let lines = usize::try_from(runs).unwrap() * 120;
        assert!(log.len() < log_bytes + lines, "{} bytes", log.len());
        assert!(log.contains("the health check's log is full"), "{log}");
        assert!(log.contains("run 200/200: exit status 0"), "{log}");
    }

    #[test]
    fn a_dry_run_shows_the_health_check_and_its_schedule() {
        let check = HealthCheck {
            interval: Duration::from_secs(10),
            ..health("P", 6, 3)
        };
        let text = describe_plan(&canary_plan(check), &env(Path::new("/srv"), 1024));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("  would run command (limit 30 s)"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("  would run post-check \"probe\""),
            "{text}"
        );
        assert!(
            lines[2].starts_with(
                "  would run health check \"health\" 6 time(s), 10 s apart, with ACCORD_HEALTH_RUN=1…6; 3 failed run(s) in a row fail it (limit 30 s each): [\"/bin/sh\""
            ),
            "{text}"
        );
        assert_eq!(lines[3], "  in /srv");
    }
}

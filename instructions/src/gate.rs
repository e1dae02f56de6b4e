//! Counting each scenario under callgrind, and judging the counts against the baseline.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::scenarios::{self, Scenario};

/// The function whose instructions are counted ([`crate::measured`]), as callgrind
/// names it.
pub const MEASURED: &str = "accord_instructions::measured";

/// The build profile the counts are meaningful for (scripts/instructions.sh).
const PROFILE: &str = "instructions";

/// The default threshold: a scenario may grow this many percent over its baseline.
const DEFAULT_THRESHOLD: f64 = 20.0;

/// What `gate` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The baseline file.
    pub baseline: PathBuf,
    /// Growth allowed over the baseline, in percent.
    pub threshold: f64,
    /// Write the counts to the baseline instead of judging them.
    pub update: bool,
    /// The scenarios to count; every one when empty.
    pub only: Vec<String>,
}

impl Options {
    /// Reads `gate`'s arguments.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            baseline: PathBuf::from("instructions/baseline.json"),
            threshold: DEFAULT_THRESHOLD,
            update: false,
            only: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--baseline" => {
                    let path = args.next().ok_or("--baseline takes a file")?;
                    options.baseline = PathBuf::from(path);
                }
                "--threshold" => {
                    let value = args.next().ok_or("--threshold takes a percentage")?;
                    options.threshold = match value.parse::<f64>() {
                        Ok(t) if t.is_finite() && t >= 0.0 => t,
                        _ => return Err(format!("--threshold {value:?}: not a percentage")),
                    };
                }
                "--update" => options.update = true,
                flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
                name => {
                    scenarios::find(name)?;
                    options.only.push(name.to_owned());
                }
            }
        }
        Ok(options)
    }
}

/// How a baseline was taken: counts compare only under the same compiler, profile,
/// Valgrind and CPU features (the cryptography and hashing pick SIMD code at run time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `rustc -V`.
    pub rustc: String,
    /// The cargo profile of the measured binary.
    pub profile: String,
    /// `valgrind --version`.
    pub valgrind: String,
    /// The architecture and the CPU features the code saw under Valgrind.
    pub cpu: String,
}

/// The committed baseline (`instructions/baseline.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// How the counts were taken.
    pub taken_with: Environment,
    /// Instructions (callgrind's `Ir`) of each scenario's measured work.
    pub instructions: BTreeMap<String, u64>,
}

/// The verdict on one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the threshold either way.
    Within,
    /// Grew more than the threshold: the gate fails.
    Grew,
    /// Fell more than the threshold: the baseline should be updated (not a failure).
    Fell,
    /// Counted, but the baseline has no count for it: the gate fails.
    NoBaseline,
    /// In the baseline, but no longer a scenario: the gate fails.
    Gone,
}

impl Verdict {
    /// Whether the gate fails on it.
    pub fn fails(self) -> bool {
        matches!(self, Self::Grew | Self::NoBaseline | Self::Gone)
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The scenario.
    pub name: String,
    /// Its baseline count.
    pub baseline: Option<u64>,
    /// Its count now.
    pub now: Option<u64>,
    /// The change in percent of the baseline.
    pub change: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Judges `now` (in table order) against `baseline`. Baseline entries missing from
/// `now` are reported as gone only when `every_scenario` was counted.
pub fn compare(
    baseline: &BTreeMap<String, u64>,
    now: &[(String, u64)],
    threshold: f64,
    every_scenario: bool,
) -> Vec<Row> {
    let mut rows: Vec<Row> = now
        .iter()
        .map(|(name, count)| {
            let Some(&base) = baseline.get(name) else {
                return Row {
                    name: name.clone(),
                    baseline: None,
                    now: Some(*count),
                    change: None,
                    verdict: Verdict::NoBaseline,
                };
            };
            let change = percent_change(base, *count);
            let verdict = if change > threshold {
                Verdict::Grew
            } else if change < -threshold {
                Verdict::Fell
            } else {
                Verdict::Within
            };
            Row {
                name: name.clone(),
                baseline: Some(base),
                now: Some(*count),
                change: Some(change),
                verdict,
            }
        })
        .collect();
    if every_scenario {
        let counted: BTreeSet<&str> = now.iter().map(|(name, _)| name.as_str()).collect();
        for (name, base) in baseline {
            if !counted.contains(name.as_str()) {
                rows.push(Row {
                    name: name.clone(),
                    baseline: Some(*base),
                    now: None,
                    change: None,
                    verdict: Verdict::Gone,
                });
            }
        }
    }
    rows
}

/// `now` against `base`, in percent of `base` (a count out of nothing is infinite growth).
fn percent_change(base: u64, now: u64) -> f64 {
    if base == 0 {
        return if now == 0 { 0.0 } else { f64::INFINITY };
    }
    // Counts stay far below 2^53: the conversions are exact.
    (now as f64 - base as f64) * 100.0 / base as f64
}

/// The table the gate prints.
pub fn table(rows: &[Row], threshold: f64) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(8);
    let mut out = format!(
        "{:<width$}  {:>15}  {:>15}  {:>9}\n",
        "scenario", "baseline", "now", "change"
    );
    for row in rows {
        let count = |c: Option<u64>| c.map_or_else(|| "-".to_owned(), thousands);
        let change = row
            .change
            .map_or_else(|| "-".to_owned(), |c| format!("{c:+.2} %"));
        let note = match row.verdict {
            Verdict::Within => String::new(),
            Verdict::Grew => format!("  FAIL: grew more than {threshold} %"),
            Verdict::Fell => format!(
                "  fell more than {threshold} %: update the baseline (make instructions-baseline)"
            ),
            Verdict::NoBaseline => "  FAIL: no baseline (make instructions-baseline)".to_owned(),
            Verdict::Gone => "  FAIL: no longer a scenario (make instructions-baseline)".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>15}  {:>15}  {:>9}{note}",
            row.name,
            count(row.baseline),
            count(row.now),
            change
        );
    }
    out
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The total instruction count (`Ir`) of a callgrind output file: its `totals:` line
/// (or `summary:`), in the column of `Ir` among its `events:`.
pub fn callgrind_total(text: &str) -> Result<u64, String> {
    let events: Vec<&str> = text
        .lines()
        .find_map(|line| line.strip_prefix("events:"))
        .ok_or("no `events:` line")?
        .split_whitespace()
        .collect();
    let column = events
        .iter()
        .position(|e| *e == "Ir")
        .ok_or("no Ir among the events")?;
    let totals = text
        .lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .or_else(|| text.lines().find_map(|line| line.strip_prefix("summary:")))
        .ok_or("no `totals:` or `summary:` line")?;
    let field = totals
        .split_whitespace()
        .nth(column)
        // Callgrind leaves out trailing zero counts.
        .unwrap_or("0");
    field
        .parse()
        .map_err(|_| format!("totals: {field:?} is not a count"))
}

/// The architecture and the SIMD features that change which code the cryptography and
/// hashing run.
pub fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut features = vec!["x86_64"];
        if std::arch::is_x86_feature_detected!("sse4.1") {
            features.push("sse4.1");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            features.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            features.push("avx512f");
        }
        if std::arch::is_x86_feature_detected!("bmi2") {
            features.push("bmi2");
        }
        if std::arch::is_x86_feature_detected!("sha") {
            features.push("sha");
        }
        features.join(" ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_owned()
    }
}

/// The first line a command prints, or why it could not run.
fn version(program: &str, arg: &str) -> Result<String, String> {
    let output = Command::new(program)
        .arg(arg)
        .output()
        .map_err(|error| format!("{program} {arg}: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// One scenario counted: its `Ir`, the summary line it printed and the CPU features it saw.
struct Measurement {
    instructions: u64,
    summary: String,
    cpu: String,
}

/// Runs `exe run <scenario>` under callgrind, counting [`MEASURED`] only. The output
/// and Valgrind's log stay in `dir` (`callgrind_annotate dir/<scenario>.callgrind`
/// shows where the instructions go).
fn measure(exe: &Path, dir: &Path, scenario: &Scenario) -> Result<Measurement, String> {
    let out = dir.join(format!("{}.callgrind", scenario.name));
    let log = dir.join(format!("{}.log", scenario.name));
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--collect-atstart=no")
        .arg(format!("--toggle-collect={MEASURED}"))
        .arg(exe)
        .args(["run", scenario.name])
        // The environment shifts the stack and heap a little, and with them a few
        // hundredths of a percent of the counts: the scenario gets the same one anywhere.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .map_err(|error| format!("valgrind: {error}"))?;
    fs::write(&log, &output.stderr).map_err(|error| format!("{}: {error}", log.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "{} failed ({}):\n{}",
            scenario.name,
            output.status,
            tail.join("\n")
        ));
    }
    let text = fs::read_to_string(&out).map_err(|error| format!("{}: {error}", out.display()))?;
    let instructions =
        callgrind_total(&text).map_err(|error| format!("{}: {error}", out.display()))?;
    if instructions == 0 {
        return Err(format!(
            "{}: nothing counted; callgrind did not find {MEASURED} (see {})",
            scenario.name,
            log.display()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    Ok(Measurement {
        instructions,
        summary: line(&format!("{}:", scenario.name)),
        cpu: line("cpu:"),
    })
}

/// Reads a baseline; `None` when the file does not exist.
fn read_baseline(path: &Path) -> Result<Option<Baseline>, String> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| format!("{}: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

/// Notes on what differs between the baseline's environment and this run's.
fn environment_notes(baseline: &Environment, now: &Environment) -> Vec<String> {
    let fields = [
        ("rustc", &baseline.rustc, &now.rustc),
        ("profile", &baseline.profile, &now.profile),
        ("valgrind", &baseline.valgrind, &now.valgrind),
        ("cpu", &baseline.cpu, &now.cpu),
    ];
    fields
        .into_iter()
        .filter(|(_, then, now)| then != now)
        .map(|(what, then, now)| {
            format!("note: the baseline was taken with {what} \"{then}\", this run has \"{now}\"")
        })
        .collect()
}

/// Counts the scenarios and judges them against the baseline (or writes it).
pub fn gate(options: &Options) -> Result<ExitCode, String> {
    if cfg!(debug_assertions) {
        return Err(format!(
            "counts are only comparable from the `{PROFILE}` profile: \
             cargo build --profile {PROFILE} -p accord-instructions (scripts/instructions.sh)"
        ));
    }
    let exe = std::env::current_exe().map_err(|error| format!("this program: {error}"))?;
    let dir = exe
        .parent()
        .ok_or("this program has no directory")?
        .join("callgrind");
    fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let valgrind = version("valgrind", "--version")
        .map_err(|error| format!("{error} (scripts/install-deps.sh installs Valgrind)"))?;
    let rustc = version(
        &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()),
        "-V",
    )
    .unwrap_or_else(|_| "unknown".to_owned());

    let selected: Vec<&Scenario> = scenarios::ALL
        .iter()
        .filter(|s| options.only.is_empty() || options.only.iter().any(|n| n == s.name))
        .collect();
    let started = Instant::now();
    let mut counts = Vec::with_capacity(selected.len());
    let mut cpu = String::new();
    for scenario in selected {
        let start = Instant::now();
        let measurement = measure(&exe, &dir, scenario)?;
        eprintln!(
            "{}: {} instructions ({:.1} s under callgrind; {})",
            scenario.name,
            thousands(measurement.instructions),
            start.elapsed().as_secs_f64(),
            measurement.summary
        );
        cpu = measurement.cpu;
        counts.push((scenario.name.to_owned(), measurement.instructions));
    }
    eprintln!(
        "counted in {:.0} s; callgrind outputs in {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let environment = Environment {
        rustc,
        profile: PROFILE.to_owned(),
        valgrind,
        cpu,
    };

    let previous = read_baseline(&options.baseline)?;
    let every_scenario = options.only.is_empty();
    let old = previous
        .as_ref()
        .map(|b| b.instructions.clone())
        .unwrap_or_default();
    let rows = compare(&old, &counts, options.threshold, every_scenario);
    println!(
        "instructions (callgrind Ir) against {}, threshold +{} %",
        options.baseline.display(),
        options.threshold
    );
    print!("{}", table(&rows, options.threshold));
    if let Some(previous) = &previous {
        for note in environment_notes(&previous.taken_with, &environment) {
            println!("{note}");
        }
    }

    if options.update {
        // Counting some scenarios updates those and keeps the others' counts.
        let mut instructions = if every_scenario { BTreeMap::new() } else { old };
        instructions.extend(counts);
        let baseline = Baseline {
            taken_with: environment,
            instructions,
        };
        let text = serde_json::to_string_pretty(&baseline)
            .map_err(|error| format!("baseline: {error}"))?;
        fs::write(&options.baseline, text + "\n")
            .map_err(|error| format!("{}: {error}", options.baseline.display()))?;
        println!("baseline written to {}", options.baseline.display());
        return Ok(ExitCode::SUCCESS);
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.verdict.fails())
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() {
        println!("instruction counts: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("instruction counts: FAILED ({})", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head and tail of a real callgrind output (`--collect-atstart=no`).
    const OUTPUT: &str = "\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  accord-instructions run execute_block_1000_txs
part: 1

desc: I1 cache: 
desc: D1 cache: 
desc: LL cache: 
desc: Timerange: Basic block 0 - 98765432
desc: Trigger: Program termination

positions: line
events: Ir
summary: 45123456

ob=(1) /work/main/target/instructions/accord-instructions
fl=(1) ???
fn=(1) accord_instructions::measured
0 12

totals: 45123456
";

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
    }

    fn now(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
    }

    #[test]
    fn the_total_is_read_from_the_ir_column() {
        assert_eq!(callgrind_total(OUTPUT), Ok(45_123_456));
        let two_events = "events: Bc Ir Bcm\nsummary: 7 1000 3\ntotals: 7 999 3\n";
        assert_eq!(callgrind_total(two_events), Ok(999));
        // Without `totals:`, the summary; a trailing zero count is left out.
        assert_eq!(callgrind_total("events: Bc Ir\nsummary: 5\n"), Ok(0));
        assert!(callgrind_total("events: Dr\ntotals: 5\n").is_err());
        assert!(callgrind_total("totals: 5\n").is_err());
        assert!(callgrind_total("events: Ir\n").is_err());
        assert!(callgrind_total("events: Ir\ntotals: many\n").is_err());
    }

    #[test]
    fn growth_past_the_threshold_fails_and_growth_up_to_it_passes() {
        let baseline = counts(&[("a", 1_000), ("b", 1_000), ("c", 1_000)]);
        let rows = compare(
            &baseline,
            &now(&[("a", 1_200), ("b", 1_201), ("c", 1_000)]),
            20.0,
            true,
        );
        let verdicts: Vec<Verdict> = rows.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [Verdict::Within, Verdict::Grew, Verdict::Within],
            "{rows:?}"
        );
        assert_eq!(rows[1].change, Some(20.1));
        assert!(rows[1].verdict.fails());
        // Another threshold moves the line.
        let rows = compare(&baseline, &now(&[("a", 1_050)]), 4.9, false);
        assert_eq!(rows[0].verdict, Verdict::Grew);
    }

    #[test]
    fn a_fall_past_the_threshold_is_a_hint_not_a_failure() {
        let baseline = counts(&[("a", 1_000), ("b", 1_000)]);
        let rows = compare(&baseline, &now(&[("a", 799), ("b", 800)]), 20.0, true);
        assert_eq!(rows[0].verdict, Verdict::Fell);
        assert!(!rows[0].verdict.fails());
        assert_eq!(rows[1].verdict, Verdict::Within);
        assert!(table(&rows, 20.0).contains("make instructions-baseline"));
    }

    #[test]
    fn a_scenario_without_a_baseline_or_a_baseline_without_a_scenario_fails() {
        let baseline = counts(&[("old", 10), ("kept", 10)]);
        let rows = compare(&baseline, &now(&[("kept", 10), ("new", 10)]), 20.0, true);
        let verdicts: Vec<(&str, Verdict)> =
            rows.iter().map(|r| (r.name.as_str(), r.verdict)).collect();
        assert_eq!(
            verdicts,
            [
                ("kept", Verdict::Within),
                ("new", Verdict::NoBaseline),
                ("old", Verdict::Gone)
            ]
        );
        // Counting some scenarios says nothing of the others.
        let rows = compare(&baseline, &now(&[("kept", 10)]), 20.0, false);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].verdict, Verdict::Within);
    }

    #[test]
    fn the_table_shows_counts_changes_and_failures() {
        let rows = compare(
            &counts(&[("execute", 45_123_456)]),
            &now(&[("execute", 60_000_000)]),
            20.0,
            true,
        );
        let text = table(&rows, 20.0);
        assert!(text.contains("45,123,456"), "{text}");
        assert!(text.contains("60,000,000"), "{text}");
        assert!(text.contains("+32.97 %"), "{text}");
        assert!(text.contains("FAIL: grew more than 20 %"), "{text}");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678_901), "12,345,678,901");
    }

    #[test]
    fn options_read_the_threshold_the_baseline_and_the_scenarios() {
        let args = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_owned).collect() };
        let options = Options::parse(&args(
            "--threshold 12.5 --baseline b.json --update mempool_admit_256_txs",
        ))
        .unwrap();
        assert_eq!(options.threshold, 12.5);
        assert_eq!(options.baseline, PathBuf::from("b.json"));
        assert!(options.update);
        assert_eq!(options.only, ["mempool_admit_256_txs"]);
        assert_eq!(Options::parse(&[]).unwrap().threshold, 20.0);
        assert!(Options::parse(&args("--threshold -1")).is_err());
        assert!(Options::parse(&args("--threshold")).is_err());
        assert!(Options::parse(&args("no_such_scenario")).is_err());
        assert!(Options::parse(&args("--fast")).is_err());
    }

    #[test]
    fn the_committed_baseline_names_every_scenario() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.json");
        let baseline = read_baseline(&path).unwrap().expect("baseline.json exists");
        let names: BTreeSet<&str> = baseline.instructions.keys().map(String::as_str).collect();
        let scenarios: BTreeSet<&str> = scenarios::ALL.iter().map(|s| s.name).collect();
        assert_eq!(names, scenarios, "make instructions-baseline");
        assert!(baseline.instructions.values().all(|c| *c > 0));
    }

    #[test]
    fn environment_differences_are_named() {
        let then = Environment {
            rustc: "rustc 1.95.0".into(),
            profile: PROFILE.into(),
            valgrind: "valgrind-3.19.0".into(),
            cpu: "x86_64 avx2".into(),
        };
        assert!(environment_notes(&then, &then).is_empty());
        let now = Environment {
            cpu: "x86_64".into(),
            ..then.clone()
        };
        let notes = environment_notes(&then, &now);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("cpu"), "{notes:?}");
    }
}

//! What a run costs the machine, read from Linux's `/proc`: the node processes of an
//! `accord localnet` home, their CPU time and resident memory, and the size of their
//! data directories.

use std::path::{Path, PathBuf};

/// A node process of a local network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProcess {
    /// The validator's name (its home's directory name).
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// Its home directory.
    pub home: PathBuf,
}

/// CPU time and memory of a process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size now (`VmRSS`), bytes.
    pub rss: u64,
    /// Peak resident set size so far (`VmHWM`), bytes.
    pub peak_rss: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`: 100 on Linux).
pub const TICKS_PER_SECOND: u64 = 100;

/// The `accord run --home <home>/nodes/<name>` processes running now.
pub fn node_processes(home: &Path) -> Vec<NodeProcess> {
    let nodes = home.join("nodes");
    let nodes = nodes.canonicalize().unwrap_or(nodes);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if let Some(node_home) = run_home(&cmdline) {
            let node_home = node_home.canonicalize().unwrap_or(node_home);
            if node_home.parent() == Some(nodes.as_path()) {
                if let Some(name) = node_home.file_name().and_then(|n| n.to_str()) {
                    found.push(NodeProcess {
                        name: name.to_owned(),
                        pid,
                        home: node_home.clone(),
                    });
                }
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The home of an `accord run --home DIR` command line (NUL-separated), if it is one.
pub fn run_home(cmdline: &[u8]) -> Option<PathBuf> {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program = args.first()?;
    let is_accord = Path::new(std::str::from_utf8(program).ok()?)
        .file_name()
        .is_some_and(|n| n == "accord");
    if !is_accord || args.get(1) != Some(&b"run".as_slice()) {
        return None;
    }
    let at = args.iter().position(|a| *a == b"--home")?;
    let home = std::str::from_utf8(args.get(at + 1)?).ok()?;
    (!home.is_empty()).then(|| PathBuf::from(home))
}

/// CPU time and memory of `pid` now; `None` once it has exited.
pub fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Sample {
        cpu_ticks: cpu_ticks(&stat)?,
        rss: status_kib(&status, "VmRSS:")?.saturating_mul(1024),
        peak_rss: status_kib(&status, "VmHWM:")?.saturating_mul(1024),
    })
}

/// User plus system time (fields 14 and 15) of a `/proc/<pid>/stat` line; the command
/// name in parentheses may hold spaces, so fields are counted after its `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Bytes of every file under `dir` (0 when it cannot be read).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accord_run_command_line_names_its_home() {
        assert_eq!(
            run_home(b"/t/debug/accord\0run\0--home\0/n/nodes/eu-1\0"),
            Some(PathBuf::from("/n/nodes/eu-1"))
        );
        assert_eq!(run_home(b"accord\0localnet\0--home\0/n\0"), None);
        assert_eq!(run_home(b"/bin/cat\0run\0--home\0/n\0"), None);
        assert_eq!(run_home(b"accord\0run\0--home\0"), None);
        assert_eq!(run_home(b""), None);
    }

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces() {
        let stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0 5 1000 50";
        assert_eq!(cpu_ticks(stat), Some(281));
        assert_eq!(cpu_ticks("42 (x"), None);
    }

    #[test]
    fn this_process_can_be_sampled_and_a_gone_one_cannot() {
        let me = sample(std::process::id()).expect("our own /proc entry");
        assert!(me.rss > 0 && me.peak_rss >= me.rss);
        assert_eq!(sample(u32::MAX), None);
        assert_eq!(status_kib("VmHWM:\t  2048 kB\n", "VmHWM:"), Some(2048));
    }

    #[test]
    fn a_directory_size_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("sub").join("b"), [0u8; 32]).unwrap();
        assert_eq!(dir_bytes(dir.path()), 42);
        assert_eq!(dir_bytes(&dir.path().join("missing")), 0);
    }
}

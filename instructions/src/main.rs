//! The instruction-count gate: block execution, block validation, consensus heights and
//! mempool admission counted under callgrind against a committed baseline.
//!
//! # Design
//!
//! ```text
//!   gate ──► for each scenario: valgrind --tool=callgrind --collect-atstart=no
//!    │                          --toggle-collect=accord_instructions::measured
//!    │                          accord-instructions run <scenario>
//!    │                            prepare the input (not counted)
//!    │                            measured(work)     ◄── only this is counted
//!    │                            check the result   (not counted)
//!    ├─ totals of the callgrind output (Ir)
//!    └─ compare with the baseline ──► table; exit 1 when one grew past the threshold
//! ```
//!
//! Instruction counts do not depend on the machine's load, unlike wall time, so a
//! threshold of a few percent would hold on a shared CI machine; 20 % leaves room for
//! code-generation shifts between unrelated changes. Each scenario runs on one thread:
//! the process's rayon pool is the main thread alone, so parallel code runs inline and
//! every instruction it executes is inside [`measured`].

mod gate;
mod scenarios;

use std::process::ExitCode;

/// Runs `work` once. The gate counts the instructions executed inside this function,
/// callees included, and nothing else (`--toggle-collect`, [`gate::MEASURED`]).
#[inline(never)]
fn measured(work: &mut dyn FnMut()) {
    work();
}

const USAGE: &str = "\
usage:
  accord-instructions list
  accord-instructions run <scenario>
  accord-instructions gate [--baseline FILE] [--threshold PERCENT] [--update] [<scenario>…]

run:   prepares the scenario and runs its measured work once (the gate runs it under
       callgrind; alone it only checks that the scenario works)
gate:  counts every scenario (or the ones named) under callgrind and compares the counts
       with FILE (default instructions/baseline.json); exits 1 when one grew more than
       PERCENT (default 20) over its baseline; --update writes the counts to FILE instead";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("list") => {
            for scenario in &scenarios::ALL {
                println!("{:<36} {}", scenario.name, scenario.what);
            }
            Ok(ExitCode::SUCCESS)
        }
        Some("run") => match args.get(1..) {
            Some([name]) => run(name).map(|()| ExitCode::SUCCESS),
            _ => Err(format!("run takes one scenario name\n{USAGE}")),
        },
        Some("gate") => gate::Options::parse(args.get(1..).unwrap_or_default())
            .and_then(|options| gate::gate(&options)),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_owned()),
    };
    result.unwrap_or_else(|message| {
        eprintln!("accord-instructions: {message}");
        ExitCode::from(2)
    })
}

/// Runs one scenario on a one-thread rayon pool made of this thread, then prints what
/// it did and the CPU features the code could pick (their SIMD paths change the counts).
fn run(name: &str) -> Result<(), String> {
    let scenario = scenarios::find(name)?;
    // Kept alive for the whole run: this thread is the pool's only worker, so `par_iter`
    // and `join` run inline here and no other thread executes anything.
    let _pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .map_err(|error| format!("rayon pool: {error}"))?;
    let summary = (scenario.run)();
    println!("{}: {summary}", scenario.name);
    println!("cpu: {}", gate::cpu_features());
    Ok(())
}

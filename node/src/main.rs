//! The `accord` binary.

use std::process::ExitCode;

use clap::Parser;

use accord_node::cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Its reader closed standard output: nothing more to say to anyone.
        Err(error) if error.is::<cli::OutputClosed>() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli::exit_code(&error))
        }
    }
}

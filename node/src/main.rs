//! The accord validator node and its command-line interface.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod keyfile;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli::exit_code(&error))
        }
    }
}

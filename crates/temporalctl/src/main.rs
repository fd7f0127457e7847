//! temporalctl: stand up, operate and tear down a Temporal cluster on AWS.

mod cli;
mod commands;
mod images;
mod live;
mod output;
mod phases;
mod reach;
mod remote;
mod stdout;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    commands::run(cli)
}

//! The command line, exactly: global options, then one verb.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "temporalctl",
    version,
    about = "Stand up, operate and tear down a production Temporal cluster on AWS, directly through the AWS SDK"
)]
pub struct Cli {
    /// The deployment file.
    #[arg(long, global = true, default_value = "deploy.yaml", value_name = "PATH")]
    pub config: PathBuf,
    /// Where state files live (one per project).
    #[arg(long, global = true, default_value = "state", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Most AWS calls in flight at once.
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Also log the underlying AWS calls.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Check deploy.yaml; no AWS call.
    Validate,
    /// Show what `up` would do to each resource; no change is made.
    Plan {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Create or repair everything deploy.yaml describes.
    Up {
        /// Allow replacing a data store (DSQL, OpenSearch) when a field that cannot change
        /// in place changed: its data is lost.
        #[arg(long)]
        allow_data_replacement: bool,
    },
    /// Set the services' desired counts, wave by wave, each wave waited until stable.
    Scale {
        #[command(subcommand)]
        direction: Direction,
    },
    /// Each resource: ok, drifted or missing; no change is made.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Delete everything, in reverse dependency order.
    Down {
        /// Do not ask for confirmation (required when not on a terminal).
        #[arg(long)]
        yes: bool,
        /// Also delete what holds data: DSQL, OpenSearch, log groups, the Grafana secret
        /// and the ECR repositories with their images. Kept by default.
        #[arg(long)]
        destroy_data: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum Direction {
    /// Scale up in seed 002's order: history + matching, frontend, worker + ui, grafana + adot.
    Up {
        /// Tasks per service; without it, each service's `count` from deploy.yaml.
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100))]
        count: Option<u32>,
        /// Only this service (repeatable): history, matching, frontend, worker, ui, grafana, adot.
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
    },
    /// Scale to 0 in reverse order.
    Down {
        /// Only this service (repeatable).
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

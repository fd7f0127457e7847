//! The command line, exactly: global options, then one verb.

use std::path::PathBuf;
use std::time::Duration;

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
        /// Exit 3 when `up` would change something (0 when nothing; 1 and 2 keep their
        /// meaning: failure, bad input), for a scheduled job that alerts on drift.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or repair everything deploy.yaml describes.
    Up {
        /// Allow replacing a data store (DSQL, OpenSearch) when a field that cannot change
        /// in place changed: its data is lost.
        #[arg(long)]
        allow_data_replacement: bool,
        /// Allow an OpenSearch engine version upgrade (`opensearch.engine_version`): AWS
        /// cannot undo or cancel one, so `up` refuses it otherwise.
        #[arg(long)]
        allow_engine_upgrade: bool,
        /// `json`: one JSON object per event on stdout, then the result
        /// (docs/events.schema.json), for CI systems.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Set the services' desired counts, wave by wave, each wave waited until stable.
    Scale {
        #[command(subcommand)]
        direction: Direction,
        /// `json`: one JSON object per event on stdout, then the result.
        #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
        output: Format,
    },
    /// The images the task definitions name and the digest each names now (ECR, or the
    /// public registry); exit 1 when one cannot be pinned. `images build` builds and
    /// pushes ours.
    Images {
        #[command(subcommand)]
        action: Option<ImagesAction>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// The deployment's mutual TLS. `tls client-cert --out DIR` writes what a client needs
    /// to reach the frontend (through `connect frontend`): the authority, a client
    /// certificate and its key (readable by you alone), and prints the `temporal` flags.
    /// `tls rotate` renews the certificates under running services.
    Tls {
        #[command(subcommand)]
        action: TlsAction,
    },
    /// Each resource: ok, drifted or missing; no change is made.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
        /// Redraw until interrupted (Ctrl-C).
        #[arg(long)]
        watch: bool,
        /// Time between redraws with --watch, e.g. 5s or 1m.
        #[arg(long, default_value = "10s", value_parser = duration, requires = "watch")]
        interval: Duration,
        /// List every resource, not only those that are not ok.
        #[arg(long)]
        all: bool,
        /// Then prove the cluster serves: a one-off task checks health, the namespace, and
        /// a workflow started, found through visibility and terminated; exit 1 on failure.
        #[arg(long, conflicts_with = "watch")]
        check: bool,
    },
    /// Monthly cost estimate of deploy.yaml, line by line, from the shipped price table; no AWS call.
    Cost {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
        /// Hours a month the stack runs (730 = always on; 176 = 8 h × 22 working days).
        #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u16).range(1..=744))]
        hours_per_month: u16,
    },
    /// Forward a local port to the Temporal UI, Grafana or the frontend's gRPC port (Session Manager).
    Connect {
        target: Target,
        /// Local port; defaults to the service's own (8080, 3000, 7233).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        local_port: Option<u16>,
        /// Print the command instead of running it.
        #[arg(long)]
        print: bool,
    },
    /// Prove every network flow the deployment needs against the live security groups,
    /// routes, NAT and internet gateways, endpoints and network ACLs; exit 1 when one is
    /// blocked. Makes no change.
    Verify {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// A service's CloudWatch logs.
    Logs {
        /// history, matching, frontend, worker, ui, grafana, adot or admin-tools.
        service: String,
        /// Keep printing new lines until interrupted.
        #[arg(short, long)]
        follow: bool,
        /// How far back to start, e.g. 10m, 2h, 1d.
        #[arg(long, default_value = "10m", value_parser = duration)]
        since: Duration,
    },
    /// Run a command in a running task of a service through ECS Exec (default: a shell).
    Exec {
        /// history, matching, frontend, worker, ui, grafana or adot.
        service: String,
        /// Print the command instead of running it.
        #[arg(long)]
        print: bool,
        /// The command, after `--`; e.g. `-- cat /etc/temporal/config/dynamicconfig/temporal.yaml`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// The resource graph, for a picture: Graphviz dot or Mermaid; no AWS call.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Shell completions, to stdout: `temporalctl completions bash > /etc/bash_completion.d/temporalctl`.
    Completions { shell: clap_complete::Shell },
    /// The man page (roff), to stdout: `temporalctl man > temporalctl.1`.
    Man {
        /// Write temporalctl.1 and one page per verb (temporalctl-up.1…) into DIR instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
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
        /// `json`: one JSON object per event on stdout, then the result.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// The state's S3 backend (`state:` in deploy.yaml, docs/state.md): make or check the
    /// bucket, remove a dead run's lock, list and show versions, push a rescued copy,
    /// move the state between this machine and the bucket.
    State {
        #[command(subcommand)]
        action: StateAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum StateAction {
    /// Make the bucket (versioning, default encryption, public access blocked, a policy
    /// refusing plain HTTP, our tags, old versions expiring after
    /// `state.keep_versions_days`), or check an existing one and report what it lacks
    /// without changing it.
    Init,
    /// Remove the lock a killed run left. Asks on a terminal; `--yes` otherwise.
    Unlock {
        /// Required: a lock is removed only when you say so.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        yes: bool,
    },
    /// The state's versions, newest first: when, who, which command.
    History {
        /// How many versions at most.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Print the state (a given version of it).
    Show {
        #[arg(long, value_name = "VERSION_ID")]
        version: Option<String>,
    },
    /// Send this machine's copy, left by a run whose last write could not reach S3.
    Push,
    /// Move the state between this machine's state directory and the bucket, under the
    /// lock; the source is kept until the destination reads back the same.
    Migrate {
        #[arg(long, value_enum)]
        to: Backend,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

impl Verb {
    /// What holds the lock while it runs, as its holder record names it; `None` for the
    /// verbs that only read.
    pub fn mutation(&self) -> Option<&'static str> {
        match self {
            Verb::Up { .. } => Some("up"),
            Verb::Down { .. } => Some("down"),
            Verb::Scale { .. } => Some("scale"),
            Verb::Tls { action: TlsAction::Rotate } => Some("tls rotate"),
            Verb::Images { action: Some(ImagesAction::Build { .. }), .. } => Some("images build"),
            _ => None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TlsAction {
    /// Write authority.pem, client.pem and client.key into DIR (created 0700; the key
    /// 0600) from the deployment's certificates secret, and print the `temporal` CLI flags
    /// that use them. The key is never printed.
    ClientCert {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue new certificates from the deployment's own authority (a new version of the
    /// certificates' secret), then give every service that reads them (the Temporal
    /// services and the UI) new tasks, wave by wave, each waited until stable. Old and new
    /// certificates trust each other; a service that rolls in place has a short gap.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum ImagesAction {
    /// Build the server and admin-tools images from a checkout of the temporal-dsql fork
    /// for linux/arm64 (local `go` and `docker buildx`) and push them to the project's ECR
    /// repositories, tagged temporal.version (immutable: a version already in ECR is kept)
    /// and labelled with the checkout's git revision. Creates the repositories first if
    /// they do not exist.
    Build {
        /// The fork's checkout (the folder with go.mod, cmd/ and docker/targets/).
        #[arg(long, value_name = "DIR")]
        source: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum Direction {
    /// Scale up in dependency order: history + matching, frontend, worker + ui, grafana + adot.
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
pub enum Target {
    Ui,
    Grafana,
    Frontend,
}

impl Target {
    /// The service key, as in deploy.yaml and `status`'s commands.
    pub fn key(self) -> &'static str {
        match self {
            Target::Ui => "ui",
            Target::Grafana => "grafana",
            Target::Frontend => "frontend",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e}; write e.g. 30s, 10m or 2h"))
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn help_names_no_internal_planning_document() {
        fn every_help(cmd: &mut clap::Command, out: &mut String) {
            out.push_str(&cmd.render_long_help().to_string());
            for sub in cmd.get_subcommands_mut() {
                every_help(sub, out);
            }
        }
        let mut all = String::new();
        every_help(&mut Cli::command(), &mut all);
        assert!(all.contains("Scale up in dependency order"), "every verb's help is read");
        assert!(!all.to_lowercase().contains("seed"), "{all}");
    }
}

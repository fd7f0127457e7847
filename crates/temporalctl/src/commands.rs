//! The verbs. Exit codes: 0 success, 1 runtime or AWS failure, 2 usage or config error,
//! 130 interrupted. Config is validated before anything touches AWS.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use temporalctl_aws::operate::Operator;
use temporalctl_aws::operate::access::TaskInfo;
use temporalctl_aws::service_kinds::ServiceKind;
use temporalctl_aws::{Aws, stack};
use temporalctl_config::Deploy;
use temporalctl_config::capacity::{self, Counts};
use temporalctl_config::dsql_budget;
use temporalctl_engine::{
    CancelToken, Engine, EngineOptions, ErrorClass, Graph, LockedState, Phase, Planned, Recorded, ResourceError,
    RetryPolicy, RunReport, StateError, StateFile, StateStore,
};

use clap::CommandFactory;

use crate::cli::{Cli, Direction, Format, GraphFormat, ImagesAction, TlsAction, Verb};
use crate::output::{self, Display, Progress};
use crate::phases::{Phases, check_fixed_settings, desired_counts};
use crate::reach;
use crate::stdout::{out, outln, printable};

/// Why a command stopped.
pub enum Failure {
    /// The user must fix something (config, flags, the state file): exit 2.
    Usage(String),
    /// AWS or the machine failed: exit 1.
    Runtime(String),
    /// Ctrl-C: exit 130.
    Interrupted,
    /// A session we started (ECS Exec, port forwarding) ended with this code.
    Exit(u8),
}

impl Failure {
    /// What the failure says, for `--output json`'s result.
    fn text(&self) -> String {
        match self {
            Failure::Usage(s) | Failure::Runtime(s) => s.clone(),
            Failure::Interrupted => "interrupted (Ctrl-C)".into(),
            Failure::Exit(code) => format!("exited with {code}"),
        }
    }
}

impl From<ResourceError> for Failure {
    fn from(e: ResourceError) -> Self {
        if e.class == ErrorClass::Cancelled { Failure::Interrupted } else { Failure::Runtime(e.to_string()) }
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        if e.is_usage() { Failure::Usage(e.to_string()) } else { Failure::Runtime(e.to_string()) }
    }
}

/// `plan --detailed-exitcode` when `up` would change something: not 2, which is bad
/// input here (Terraform's `-detailed-exitcode` uses 2 for changes).
pub const PLAN_CHANGES_PENDING: u8 = 3;

pub fn run(cli: Cli) -> ExitCode {
    init_tracing(cli.verbose);
    // These describe the binary, not a deployment: no deploy.yaml needed.
    match &cli.verb {
        Verb::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "temporalctl", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Verb::Man { out_dir } => {
            let written = match out_dir {
                None => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()),
                Some(dir) => clap_mangen::generate_to(Cli::command(), dir),
            };
            return match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the man page: {e}");
                    ExitCode::from(1)
                }
            };
        }
        _ => {}
    }
    let result = match temporalctl_config::load(&cli.config) {
        Err(e) => Err(Failure::Usage(format!("{e}Nothing was sent to AWS."))),
        Ok(deploy) => match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt.block_on(dispatch(&cli, &deploy)),
            Err(e) => Err(Failure::Runtime(format!("cannot start the async runtime: {e}"))),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Exit(code)) => ExitCode::from(code),
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {}", printable(msg.trim_end()));
            ExitCode::from(2)
        }
        // AWS's messages and a failed step's log lines are in here: shown, never obeyed.
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {}", printable(msg.trim_end()));
            ExitCode::from(1)
        }
        Err(Failure::Interrupted) => {
            eprintln!(
                "interrupted: finished calls were recorded in the state file and the lock was released; run the same command again to continue"
            );
            ExitCode::from(130)
        }
    }
}

async fn dispatch(cli: &Cli, d: &Deploy) -> Result<(), Failure> {
    let store = StateStore::new(&cli.state_dir, &d.project, &d.region);
    if let Verb::State { action } = &cli.verb {
        return crate::remote::state(d, store, action).await;
    }
    // The verbs that read no state need no bucket.
    let offline = matches!(cli.verb, Verb::Validate | Verb::Cost { .. } | Verb::Graph { .. });
    if d.state.backend == temporalctl_config::StateBackend::Local || offline {
        return verbs(cli, d, &store).await;
    }
    // Asked before the lock is taken: a lock is never held while a person reads a prompt.
    if let Verb::Down { yes: false, destroy_data, .. } = &cli.verb {
        confirm_down(d, *destroy_data)?;
    }
    let (session, store) = crate::remote::begin(cli, d, store).await?;
    let result = verbs(cli, d, &store).await;
    session.end(result).await
}

async fn verbs(cli: &Cli, d: &Deploy, store: &StateStore) -> Result<(), Failure> {
    match &cli.verb {
        Verb::Validate => {
            let graph = graph(d, &Aws::offline(&d.region), &StateFile::new(&d.project, &d.region), Default::default())?;
            outln!(
                "{} is valid: project {} in {}, {} resources.",
                cli.config.display(),
                d.project,
                d.region,
                graph.len()
            );
            Ok(())
        }
        Verb::Plan { output, detailed_exitcode } => {
            let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
            let cancel = read_only_interrupt();
            let planned = read_all(cli, d, &aws, &store, true, &cancel).await?;
            let cost = cost_change(d, &store.read()?);
            let wants_retired = *detailed_exitcode || matches!(output, Format::Text);
            let retired =
                if wants_retired { retired(d, &aws, &store.read()?, Default::default())?.0 } else { Vec::new() };
            match output {
                Format::Text => {
                    out!("{}", output::plan_text(&d.project, &d.region, &planned));
                    if !retired.is_empty() {
                        outln!("To delete, no longer in deploy.yaml: {}.", retired.join(", "));
                    }
                    out!("{}", output::cost_change_text(&cost));
                    let budget = dsql_budget::Budget::of(d, &capacity::counts_from_config(d));
                    out!("{}", output::dsql_budget_text(&budget, "deploy.yaml's counts"));
                }
                Format::Json => outln!("{}", output::plan_json(&d.project, &d.region, &planned, &cost)),
            }
            let pending =
                !retired.is_empty() || planned.iter().any(|p| p.change != temporalctl_engine::Change::NoChange);
            if *detailed_exitcode && pending {
                return Err(Failure::Exit(PLAN_CHANGES_PENDING));
            }
            Ok(())
        }
        Verb::Status { output, watch, interval, all, check } => {
            let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
            let cancel = read_only_interrupt();
            let on_terminal = std::io::stdout().is_terminal();
            loop {
                let view = StatusView { format: *output, compact: *watch, all: *all };
                let shown = match status_once(cli, d, &aws, &store, view, &cancel).await {
                    Err(Failure::Interrupted) if *watch => return Ok(()),
                    other => other?,
                };
                if !*watch {
                    out!("{shown}");
                    if *check {
                        let quiet = Progress::new(Display::Quiet);
                        let phases = phases(&aws, d, &quiet, interrupt_token());
                        let nodes = store.read()?.nodes;
                        outln!("{}", phases.cluster_check(&nodes).await?);
                    }
                    return Ok(());
                }
                let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
                match (output, on_terminal) {
                    (Format::Json, _) => outln!("{shown}"),
                    // Redraw in place: clear the screen, then home the cursor.
                    (Format::Text, true) => {
                        crate::stdout::write_raw("\x1b[2J\x1b[H");
                        out!(
                            "{shown}\nEvery {}, last read {now}; Ctrl-C to stop.\n",
                            humantime::format_duration(*interval)
                        )
                    }
                    (Format::Text, false) => out!("--- {now}\n{shown}"),
                }
                let _ = std::io::stdout().flush();
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(*interval) => aws.listings.clear(),
                }
            }
        }
        Verb::Cost { output, hours_per_month } => {
            let e =
                temporalctl_cost::estimate(d, &temporalctl_cost::PriceTable::shipped(), f64::from(*hours_per_month));
            match output {
                Format::Text => out!("{}", temporalctl_cost::render(&e)),
                Format::Json => outln!("{}", serde_json::to_string_pretty(&e).unwrap_or_default()),
            }
            Ok(())
        }
        Verb::Graph { format } => {
            let graph = graph(d, &Aws::offline(&d.region), &StateFile::new(&d.project, &d.region), Default::default())?;
            match format {
                GraphFormat::Dot => out!("{}", output::graph_dot(&graph)),
                GraphFormat::Mermaid => out!("{}", output::graph_mermaid(&graph)),
            }
            Ok(())
        }
        Verb::Connect { target, local_port, print } => {
            session(d, &store, "connect", target.key(), *print, |op, kind, task| {
                reach::connect_command(op, kind, task, *local_port)
            })
            .await
        }
        Verb::Exec { service, print, command } => {
            session(d, &store, "exec", service, *print, |op, kind, task| {
                Ok(reach::exec_command(op, kind, task, command))
            })
            .await
        }
        Verb::Verify { output } => {
            let (aws, nodes, quiet) = operating(d, &store).await?;
            let phases = phases(&aws, d, &quiet, read_only_interrupt());
            let verdicts = phases.verify(&nodes).await?;
            match output {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&verdicts).unwrap_or_default()),
                Format::Text => out!("{}", output::verdicts(&verdicts, true)),
            }
            if verdicts.iter().any(|v| !v.allowed) { Err(Failure::Exit(1)) } else { Ok(()) }
        }
        Verb::Logs { service, follow, since } => {
            let kind = reach::service(service, true)?;
            let (aws, nodes, quiet) = operating(d, &store).await?;
            let phases = phases(&aws, d, &quiet, read_only_interrupt());
            reach::logs(&phases.operator(&nodes), kind, *since, *follow, &phases.cancel).await
        }
        Verb::Images { action: None, output } => crate::images::status(cli, d, *output, &read_only_interrupt()).await,
        Verb::Images { action: Some(ImagesAction::Build { source }), .. } => {
            crate::images::build(cli, d, &store, source, options(cli, d), &interrupt_token()).await
        }
        Verb::Tls { action: TlsAction::ClientCert { out } } => client_cert(d, &store, out).await,
        Verb::Tls { action: TlsAction::Rotate } => rotate_tls(d, &store).await,
        Verb::Completions { .. } | Verb::Man { .. } => unreachable!("answered before deploy.yaml is read"),
        Verb::State { .. } => unreachable!("answered by `dispatch`"),
        Verb::Up { output, .. } => up(cli, d, &store, *output == Format::Json).await,
        Verb::Scale { direction, output } => scale(d, &store, direction, *output == Format::Json).await,
        Verb::Down { yes, destroy_data, output } => {
            // The S3 backend asked before taking its lock.
            if !yes && d.state.backend == temporalctl_config::StateBackend::Local {
                confirm_down(d, *destroy_data)?;
            }
            down(cli, d, &store, *destroy_data, *output == Format::Json).await
        }
    }
}

/// `plan` and `status`: read every node, change nothing, take no lock. `plan` runs the
/// preflight first.
async fn read_all(
    cli: &Cli,
    d: &Deploy,
    aws: &Aws,
    store: &StateStore,
    check: bool,
    cancel: &CancelToken,
) -> Result<Vec<Planned>, Failure> {
    let mut state = store.read()?;
    let cancel = cancel.clone();
    if check {
        check_fixed_settings(d, &state)?;
        preflight(aws, d, &state, &cancel).await?;
        // The digests the tags name now: a tag that moved shows as a task definition change.
        let found = crate::images::look(aws, d, &cancel).await?;
        for missing in crate::images::missing(&found, cli) {
            eprintln!("note: `up` stops before any change until this is fixed: {}", printable(&missing));
        }
        state.images.extend(temporalctl_aws::platform::images::pins(&found));
    }
    let support = temporalctl_aws::network::vpc_endpoint::policy_support(aws, d, &cancel).await?;
    let graph = graph(d, aws, &state, support)?;
    let progress = Progress::new(Display::Quiet);
    let (planned, report) = Engine::new(&graph, options(cli, d), &progress, cancel).plan(&state).await;
    if report.cancelled {
        return Err(Failure::Interrupted);
    }
    if !report.ok() {
        return Err(Failure::Runtime(failures(&report)));
    }
    Ok(planned)
}

/// How one reading of `status` is rendered.
#[derive(Clone, Copy)]
struct StatusView {
    format: Format,
    /// JSON on one line (`--watch`'s stream).
    compact: bool,
    /// Every resource, not only those that are not ok.
    all: bool,
}

/// One reading of `status`, rendered.
async fn status_once(
    cli: &Cli,
    d: &Deploy,
    aws: &Aws,
    store: &StateStore,
    view: StatusView,
    cancel: &CancelToken,
) -> Result<String, Failure> {
    let planned = read_all(cli, d, aws, store, false, cancel).await?;
    // The recorded outputs as this read found them (endpoints, ids).
    let nodes = planned
        .iter()
        .map(|p| {
            let id = p.id.clone().unwrap_or_default();
            let rec = Recorded { kind: p.kind.into(), id, phase: Phase::Ready, outputs: p.outputs.clone() };
            (p.node.clone(), rec)
        })
        .collect();
    let quiet = Progress::new(Display::Quiet);
    let phases = phases(aws, d, &quiet, cancel.clone());
    let runtime = phases.runtime(&nodes).await?;
    let counts = crate::phases::desired_counts(d, &store.read()?.desired_counts, None);
    let budget = dsql_budget::Budget::of(d, &counts);
    Ok(match view.format {
        Format::Text => {
            output::status_text(&d.project, &d.region, &planned, &runtime, view.all)
                + &output::dsql_budget_text(&budget, "the counts up and scale set")
        }
        Format::Json => output::status_json(&d.project, &d.region, &planned, &runtime, &budget, view.compact),
    })
}

/// What `connect`, `exec` and `logs` work from: clients, the recorded stack, no progress.
async fn operating(
    d: &Deploy,
    store: &StateStore,
) -> Result<(Aws, std::collections::BTreeMap<String, Recorded>, Progress), Failure> {
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    Ok((aws, store.read()?.nodes, Progress::new(Display::Quiet)))
}

/// `connect` and `exec`: the service's first running task, the command `build` makes for
/// it, then run or printed (`reach::launch`); the session's exit code becomes ours.
async fn session(
    d: &Deploy,
    store: &StateStore,
    verb: &str,
    service: &str,
    print: bool,
    build: impl FnOnce(&Operator<'_>, &ServiceKind, &TaskInfo) -> Result<Vec<String>, Failure>,
) -> Result<(), Failure> {
    let kind = reach::service(service, false)?;
    if !d.services.exec(kind.key) {
        return Err(Failure::Usage(format!(
            "services.{0}.exec is off, so ECS Exec does not reach {0}'s tasks: set `services.{0}.exec: true` in deploy.yaml and run `temporalctl up`. Nothing was sent to AWS.",
            kind.key
        )));
    }
    let (aws, nodes, quiet) = operating(d, store).await?;
    let phases = phases(&aws, d, &quiet, read_only_interrupt());
    let op = phases.operator(&nodes);
    let task = reach::running_task(&op, kind).await?;
    let argv = build(&op, kind, &task)?;
    match reach::launch(&format!("{verb} {}", kind.key), &argv, print)? {
        0 => Ok(()),
        code => Err(Failure::Exit(code)),
    }
}

/// `tls client-cert --out DIR`: the client's TLS material from the certificates' secret
/// (ours by its tags), written for the operator's own `temporal` CLI.
async fn client_cert(d: &Deploy, store: &StateStore, out: &std::path::Path) -> Result<(), Failure> {
    if !d.temporal.tls.enabled {
        return Err(Failure::Usage(
            "temporal.tls.enabled is false: the frontend takes plain connections and there is no client certificate. Nothing was sent to AWS.".into(),
        ));
    }
    let (aws, nodes, quiet) = operating(d, store).await?;
    let phases = phases(&aws, d, &quiet, read_only_interrupt());
    let tls = phases.operator(&nodes).client_tls().await?;
    let written = crate::reach::write_client_tls(out, &tls)
        .map_err(|e| Failure::Runtime(format!("cannot write the client certificate into {}: {e}", out.display())))?;
    outln!("wrote {} (the key readable by you alone)", written.join(", "));
    outln!("with `temporalctl connect frontend` running, in another terminal:");
    outln!("  {}", crate::reach::temporal_tls_flags(out));
    if d.temporal.authorization.enabled() {
        // Health checks pass without a token; every other call needs one (default authorizer).
        outln!("other calls need your identity provider's token too: add --api-key <token> (or set TEMPORAL_API_KEY)");
    }
    Ok(())
}

/// `tls rotate`: new certificates, then new tasks for their readers (`Operator::rotate_tls`),
/// under the state lock like every verb that changes the stack.
async fn rotate_tls(d: &Deploy, store: &StateStore) -> Result<(), Failure> {
    if !d.temporal.tls.enabled {
        return Err(Failure::Usage(
            "temporal.tls.enabled is false: there are no certificates to rotate. Nothing was sent to AWS.".into(),
        ));
    }
    let locked = lock(store, "tls rotate")?;
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    let progress = live_progress(false);
    let phases = phases(&aws, d, &progress, interrupt_token());
    let result = phases.operator(&locked.state().nodes).rotate_tls().await;
    progress.finish();
    let (until, rolled) = result?;
    outln!(
        "tls rotate: new certificates valid until {until}; {rolled} service(s) on new tasks, all stable, in {:.1}s",
        phases.started.elapsed().as_secs_f64()
    );
    outln!("operators: fetch the new client certificate with `temporalctl tls client-cert --out DIR`");
    Ok(())
}

fn phases<'a>(aws: &'a Aws, d: &'a Deploy, events: &'a Progress, cancel: CancelToken) -> Phases<'a> {
    Phases(temporalctl_aws::operate::Context { aws, deploy: d, events, cancel, started: Instant::now() })
}

/// `plan`'s cost line: deploy.yaml priced against what the last `up` applied.
fn cost_change(d: &Deploy, state: &temporalctl_engine::StateFile) -> output::CostChange {
    let table = temporalctl_cost::PriceTable::shipped();
    let hours = temporalctl_cost::HOURS_PER_MONTH;
    let after = temporalctl_cost::estimate(d, &table, hours);
    let applied: Option<Deploy> = state.applied.clone().and_then(|v| serde_json::from_value(v).ok());
    let before = applied.map(|a| temporalctl_cost::estimate(&a, &table, hours));
    output::CostChange::new(before, after)
}

/// What `up` and `down` share: the lock held for the whole run, the clients, the graph,
/// the live progress and the engine.
struct Mutation {
    locked: LockedState,
    aws: Aws,
    graph: Graph,
    progress: Progress,
    cancel: CancelToken,
}

/// The deployment's lock, with a note when a killed run left it.
pub(crate) fn lock(store: &StateStore, holder: &str) -> Result<LockedState, Failure> {
    let locked = store.lock(holder)?;
    if let Some(stale) = &locked.stale {
        eprintln!("note: {}", stale.explain(locked.lock_path()));
    }
    Ok(locked)
}

impl Mutation {
    async fn begin(d: &Deploy, locked: LockedState, json: bool) -> Result<Mutation, Failure> {
        let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
        // `down` and the first look of `up`: no endpoint is updated from this graph.
        let graph = graph(d, &aws, locked.state(), Default::default())?;
        Ok(Mutation { locked, aws, graph, progress: live_progress(json), cancel: interrupt_token() })
    }

    /// The closing summary: the lock released first, then what the walk did and the lines
    /// of the work around it.
    fn finish(
        self,
        verb: &str,
        mut report: RunReport,
        started: Instant,
        around: Result<Vec<String>, Failure>,
    ) -> Result<(), Failure> {
        self.progress.finish();
        drop(self.locked);
        // Wall time of the whole command: drain and sweep, the graph, the final phases.
        report.elapsed = started.elapsed();
        if self.progress.is_json() {
            let lines = around.as_ref().map(Vec::clone).unwrap_or_default();
            let after = around.as_ref().err().map(Failure::text);
            self.progress.json_result(verb, &report, &lines, after);
            return match around {
                _ if report.cancelled => Err(Failure::Interrupted),
                _ if !report.ok() => Err(Failure::Runtime(failures(&report))),
                around => around.map(|_| ()),
            };
        }
        outln!("{}", output::summary(verb, &report));
        if report.cancelled {
            return Err(Failure::Interrupted);
        }
        if !report.ok() {
            return Err(Failure::Runtime(failures(&report)));
        }
        for line in around? {
            outln!("  {line}");
        }
        Ok(())
    }
}

/// `up`: the preflight and the images first, the schema when a new version needs it
/// before anything rolls, the graph, then the final phases.
async fn up(cli: &Cli, d: &Deploy, store: &StateStore, json: bool) -> Result<(), Failure> {
    let started = Instant::now();
    let locked = lock(store, "up")?;
    check_fixed_settings(d, locked.state())?;
    let mut m = Mutation::begin(d, locked, json).await?;
    preflight(&m.aws, d, m.locked.state(), &m.cancel).await?;
    let pins = crate::images::require(&m.aws, d, cli, &m.cancel).await?;
    crate::phases::record_tls(d, &mut m.locked)?;
    // Recorded before any task definition names them, so a later read compares with them.
    m.locked.set_images(pins)?;
    let support = temporalctl_aws::network::vpc_endpoint::policy_support(&m.aws, d, &m.cancel).await?;
    m.graph = graph(d, &m.aws, m.locked.state(), support.clone())?;
    // Deleted only after the graph's walk, so whatever used them has let go first (the
    // frontend's service its balancer).
    let (retired, retired_graph) = retired(d, &m.aws, m.locked.state(), support)?;
    let phases = phases(&m.aws, d, &m.progress, m.cancel.clone());
    let engine = Engine::new(&m.graph, options(cli, d), &m.progress, m.cancel.clone());
    let mut around = match phases.schema_first(&engine, &mut m.locked).await {
        Ok(first) => first.into_iter().collect::<Vec<_>>(),
        Err(e) => {
            m.progress.finish();
            return Err(e);
        }
    };
    // A fresh deployment's waves, namespace and check follow the graph: the time left counts them.
    let after_graph = if m.locked.state().steps.is_empty() { crate::live::FINAL_PHASES_S } else { 0.0 };
    m.progress.set_graph(&m.graph, after_graph);
    // The one-off steps start beside the walk, each when what it needs is ready; a step
    // that failed is reported with the walk's own failures.
    let (mut report, mut beside) =
        engine.apply_beside(&mut m.locked, async |walk| phases.steps_beside(walk, &m.graph).await).await;
    for (step, e) in std::mem::take(&mut beside.failures) {
        match e.class {
            temporalctl_engine::ErrorClass::Cancelled => report.cancelled = true,
            _ => report.failures.push((step, e)),
        }
    }
    if report.ok() && !retired.is_empty() {
        let targets: Vec<&str> = retired.iter().map(String::as_str).collect();
        let retire = Engine::new(&retired_graph, options(cli, d), &m.progress, m.cancel.clone());
        let gone = retire.destroy_only(&mut m.locked, &targets).await;
        report.outcomes.extend(gone.outcomes);
        report.failures.extend(gone.failures);
        report.cancelled |= gone.cancelled;
        // The network the steps proved has changed since: `after_up` proves it again.
        beside.verified = None;
    }
    let mut after = Ok(Vec::new());
    if report.ok() {
        let changed: Vec<&str> = report
            .outcomes
            .iter()
            .filter(|(_, o)| **o != temporalctl_engine::Outcome::Unchanged)
            .map(|(node, _)| node.as_str())
            .collect();
        after = phases.after_up(&mut m.locked, &changed, &beside).await.map_err(Failure::from).map(|lines| {
            let mut all = beside.summary.clone();
            all.extend(lines);
            all
        });
    }
    if report.ok() && after.is_ok() {
        // What `plan` prices the next change against.
        m.locked.set_applied(serde_json::to_value(d).ok())?;
    }
    let t = &d.temporal.tls;
    let tls = t
        .enabled
        .then(|| temporalctl_aws::operate::access::tls_validity(&m.locked.state().nodes, t.private_ca_arn.is_some()));
    if let Some(v) = tls.flatten().filter(|v| v.near_expiry()) {
        m.progress.note(format!("warning: {}", v.describe()));
    }
    let after = after.map(|lines| {
        around.extend(lines);
        around
    });
    drop(engine);
    drop(phases);
    m.finish("up", report, started, after)
}

/// `down`: every service to 0 first (nothing is deleted under running tasks), then our
/// tagged leftovers (none is inside the VPC when its turn comes), then the graph in
/// reverse.
async fn down(cli: &Cli, d: &Deploy, store: &StateStore, destroy_data: bool, json: bool) -> Result<(), Failure> {
    let started = Instant::now();
    let mut m = Mutation::begin(d, lock(store, "down")?, json).await?;
    let phases = phases(&m.aws, d, &m.progress, m.cancel.clone());
    let engine = Engine::new(&m.graph, options(cli, d), &m.progress, m.cancel.clone());
    let nodes: std::collections::BTreeSet<String> = m.graph.ids().into_iter().map(String::from).collect();
    let drained = async {
        phases.drain(&m.locked).await?;
        phases.sweep(&nodes, &m.locked).await
    };
    let swept = match drained.await {
        Ok(removed) => removed,
        Err(e) => {
            m.progress.finish();
            return Err(e.into());
        }
    };
    let report = engine.destroy(&mut m.locked).await;
    if report.ok() {
        if destroy_data {
            // The schema and namespace went with DSQL and OpenSearch.
            m.locked.forget_steps()?;
        }
        // `down` leaves nothing applied for `plan` to price against.
        m.locked.set_applied(None)?;
    }
    drop(engine);
    drop(phases);
    m.finish("down", report, started, Ok(swept))
}

/// `scale up|down`: check the node groups can hold the new counts (exit 2, no call, when
/// not), record them, then run the waves.
async fn scale(d: &Deploy, store: &StateStore, direction: &Direction, json: bool) -> Result<(), Failure> {
    let (names, down) = match direction {
        Direction::Up { services, .. } => (services, false),
        Direction::Down { services } => (services, true),
    };
    let known: Vec<&str> = d.services.iter().map(|(k, _)| k).collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(Failure::Usage(format!(
            "--service {bad}: no such service; choose from {}. Nothing was sent to AWS.",
            known.join(", ")
        )));
    }
    let chosen: Vec<&'static str> =
        known.iter().copied().filter(|k| names.is_empty() || names.iter().any(|n| n == k)).collect();
    let change: Counts = chosen
        .iter()
        .map(|k| {
            let n = match direction {
                Direction::Down { .. } => 0,
                Direction::Up { count: Some(n), .. } => *n,
                Direction::Up { count: None, .. } => d.services.get(k).map(|s| s.count).unwrap_or_default(),
            };
            (*k, n)
        })
        .collect();
    let recorded = store.read()?.desired_counts;
    let after = desired_counts(d, &recorded, Some(&change));
    let problems = dsql_budget::counts_problems(d, &after);
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {}: {}", p.path, p.message)).collect();
        return Err(Failure::Usage(format!(
            "these counts do not fit the deployment:\n{}\nNothing was sent to AWS.",
            lines.join("\n")
        )));
    }
    let mut locked = lock(store, "scale")?;
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    if !down {
        // What `up`'s preflight says for deploy.yaml's counts, for the counts asked now.
        let role = locked.state().nodes.get(stack::INSTANCE_ROLE).and_then(|r| r.outputs.get("arn")).cloned();
        let notes =
            temporalctl_aws::preflight::trunking_notes(&aws, d, &after, role.as_deref(), &read_only_interrupt())
                .await
                .map_err(|e| Failure::Runtime(format!("preflight: {e}")))?;
        for note in notes {
            eprintln!("note: {}", printable(&note));
        }
    }
    let progress = live_progress(json);
    let phases = phases(&aws, d, &progress, interrupt_token());
    let result = phases.scale(&mut locked, &change, down).await;
    progress.finish();
    let verb = if down { "scale down" } else { "scale up" };
    let counts: Vec<String> = change.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let line = |changed: usize| {
        format!(
            "{verb}: {changed} service(s) changed, all stable ({}) in {:.1}s",
            counts.join(" "),
            phases.started.elapsed().as_secs_f64()
        )
    };
    if progress.is_json() {
        // The services' own events carried the work; the result says how it ended.
        let mut report = temporalctl_engine::RunReport { elapsed: phases.started.elapsed(), ..Default::default() };
        let mut summary = Vec::new();
        match &result {
            Ok(changed) => summary.push(line(*changed)),
            Err(e) if e.class == temporalctl_engine::ErrorClass::Cancelled => report.cancelled = true,
            Err(e) => report.failures.push((verb.to_string(), temporalctl_engine::ResourceError::fatal(e.to_string()))),
        }
        progress.json_result(verb, &report, &summary, None);
        result?;
        return Ok(());
    }
    outln!("{}", line(result?));
    Ok(())
}

/// Stop before any change when `up` could not finish; say what else is worth knowing.
async fn preflight(aws: &Aws, d: &Deploy, state: &StateFile, cancel: &CancelToken) -> Result<(), Failure> {
    let instance_role = state.nodes.get(stack::INSTANCE_ROLE).and_then(|r| r.outputs.get("arn"));
    let findings = temporalctl_aws::preflight::run(aws, d, instance_role.map(String::as_str), cancel).await.map_err(
        |e| match e.class {
            ErrorClass::Cancelled => Failure::Interrupted,
            _ => Failure::Runtime(format!("preflight: {e}")),
        },
    )?;
    for note in &findings.notes {
        eprintln!("note: {}", printable(note));
    }
    if findings.blockers.is_empty() {
        Ok(())
    } else {
        let lines: Vec<String> = findings.blockers.iter().map(|b| format!("  {b}")).collect();
        Err(Failure::Runtime(format!(
            "preflight found {} problem(s); nothing was changed:\n{}",
            lines.len(),
            lines.join("\n")
        )))
    }
}

pub fn failures(report: &RunReport) -> String {
    let lines: Vec<String> = report.failures.iter().map(|(node, e)| format!("  {node}: {e}")).collect();
    format!("{} resource(s) failed:\n{}", report.failures.len(), lines.join("\n"))
}

/// The graph as the state file knows the deployment: its services rolling at the counts
/// `scale` recorded (over deploy.yaml's allow), its task definitions naming the digests
/// the last `up` pinned. `endpoint_policies`: the endpoint services that take a policy
/// (`policy_support`; empty where the graph's desired states do not matter or no AWS is
/// asked).
/// What deploy.yaml no longer asks for: nodes the state records that the graph lacks
/// (a balancer after `frontend.endpoint: none`, the limiter's table after
/// `dsql.rate_coordination: false`). `up` deletes those the graph of
/// `stack::with_every_option` still has; what even that graph lacks (a node group since
/// removed) is left to `down`'s sweep.
pub(crate) fn retired(
    d: &Deploy,
    aws: &Aws,
    state: &StateFile,
    endpoint_policies: std::collections::BTreeSet<String>,
) -> Result<(Vec<String>, Graph), Failure> {
    let wanted = graph(d, aws, state, endpoint_policies.clone())?;
    let everything = graph(&stack::with_every_option(d), aws, state, endpoint_policies)?;
    let retired =
        state.nodes.keys().filter(|n| wanted.find(n).is_none() && everything.find(n).is_some()).cloned().collect();
    Ok((retired, everything))
}

pub(crate) fn graph(
    d: &Deploy,
    aws: &Aws,
    state: &StateFile,
    endpoint_policies: std::collections::BTreeSet<String>,
) -> Result<Graph, Failure> {
    let facts = stack::Facts { pins: state.images.clone(), endpoint_policies };
    stack::build(d, aws, &desired_counts(d, &state.desired_counts, None), &facts)
        .map_err(|e| Failure::Runtime(format!("internal error building the resource graph: {e}")))
}

fn options(cli: &Cli, d: &Deploy) -> EngineOptions {
    EngineOptions {
        project: d.project.clone(),
        extra_tags: d.tags.clone(),
        parallelism: usize::from(cli.parallelism),
        retry: RetryPolicy::default(),
        delete_deadline: d.timeouts.delete_dependencies,
        destroy_data: matches!(cli.verb, Verb::Down { destroy_data: true, .. }),
        replace_data: matches!(cli.verb, Verb::Up { allow_data_replacement: true, .. }),
        allow_irreversible: matches!(cli.verb, Verb::Up { allow_engine_upgrade: true, .. }),
    }
}

/// Whether log lines go to stderr (`-v`, `RUST_LOG`): they would tear a live view.
static LOGGING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The live view on a terminal, one line per event in CI, pipes and when logging; JSON
/// lines on stdout with `--output json`.
fn live_progress(json: bool) -> Progress {
    if json {
        return Progress::new(Display::Json);
    }
    let terminal = std::io::stderr().is_terminal() && !LOGGING.load(std::sync::atomic::Ordering::Relaxed);
    Progress::new(output::display(terminal, std::env::var_os("CI").is_some(), false))
}

/// Ctrl-C stops new work; a second Ctrl-C exits at once.
fn interrupt_token() -> CancelToken {
    on_ctrl_c(Some("finishing calls in flight and saving state (Ctrl-C again to abort)"))
}

/// For the verbs that change nothing (`plan`, `status --watch`, `logs --follow`…): Ctrl-C
/// stops them quietly, there being nothing to save.
fn read_only_interrupt() -> CancelToken {
    on_ctrl_c(None)
}

fn on_ctrl_c(note: Option<&'static str>) -> CancelToken {
    let token = CancelToken::default();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if let Some(note) = note {
                eprintln!("\ninterrupt: {note}");
            }
            t.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    token
}

fn confirm_down(d: &Deploy, destroy_data: bool) -> Result<(), Failure> {
    let what = if destroy_data {
        "every resource, data stores included (DSQL, OpenSearch, logs, the Grafana secret, images),"
    } else {
        "every resource except the data stores (DSQL, OpenSearch, logs, the Grafana secret, images)"
    };
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "`down` deletes {what} of project {} in {}; pass --yes to confirm (there is no terminal to ask on)",
            d.project, d.region
        )));
    }
    eprint!("This deletes {what} of project {} in {}. Type the project name to confirm: ", d.project, d.region);
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Failure::Usage(e.to_string()))?;
    if answer.trim() == d.project { Ok(()) } else { Err(Failure::Usage("not confirmed; nothing was deleted".into())) }
}

/// Crates whose TRACE events carry whole requests and responses: the SDK's orchestrator
/// traces every response body ("read HTTP response body"), redacted only until someone
/// sets `LOG_SENSITIVE_BODIES=true`, and then an ECR login token or a secret's value is
/// in the log. Their TRACE events are never printed, whatever `-v`, `RUST_LOG` or that
/// variable ask; DEBUG and above stay.
const WIRE_TARGETS: &[&str] = &["aws_smithy", "aws_sigv4", "aws_runtime", "aws_config", "hyper", "h2", "rustls"];

/// `-v` our own debug lines and each AWS call; `-vv` everyone's debug; `-vvv` our trace
/// too. `RUST_LOG`, when set, chooses instead (with the same cap on the wire).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::prelude::*;
    let asked = match verbose {
        0 => "warn",
        1 => "warn,temporalctl=debug,aws_smithy_runtime::client::orchestrator=debug",
        2 => "debug",
        _ => "debug,temporalctl=trace,temporalctl_engine=trace,temporalctl_aws=trace",
    };
    let env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    LOGGING.store(verbose > 0 || env.is_some(), std::sync::atomic::Ordering::Relaxed);
    let filter = match env.map(|v| (tracing_subscriber::EnvFilter::try_new(&v), v)) {
        Some((Ok(filter), _)) => filter,
        Some((Err(e), v)) => {
            eprintln!("warning: RUST_LOG={v:?} is not a valid filter ({e}); logging as the -v flags ask");
            tracing_subscriber::EnvFilter::new(asked)
        }
        None => tracing_subscriber::EnvFilter::new(asked),
    };
    let no_wire = tracing_subscriber::filter::filter_fn(|m| {
        *m.level() != tracing::Level::TRACE || !WIRE_TARGETS.iter().any(|t| m.target().starts_with(t))
    });
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter).with_filter(no_wire)).try_init();
}

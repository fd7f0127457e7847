//! How a run looks: live rows on a terminal, one plain line per event elsewhere, and the
//! plan / status renderings (text or JSON).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use temporalctl_aws::operate::access::{Access, FORWARDS, INGRESS_ADDRESS, Runtime, ServiceRow, TEMPORAL_ADDRESS};
use temporalctl_cost::{Delta, Estimate};
use temporalctl_engine::{Change, Event, EventKind, EventSink, FieldDiff, Graph, Need, Outcome, Planned, RunReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Finished work printed once, what is in flight redrawn below it (`live`).
    Rows,
    /// One line per event (CI, pipes, files).
    Lines,
    /// Nothing while running (plan, status: the result is the output).
    Quiet,
    /// One JSON object per event on stdout, then the result (`--output json`), schema
    /// `temporalctl.events/v1` (docs/events.schema.json).
    Json,
}

/// Pure, so it is tested as a table: terminals get rows, CI and pipes get lines.
pub fn display(is_tty: bool, is_ci: bool, quiet: bool) -> Display {
    match (quiet, is_tty && !is_ci) {
        (true, _) => Display::Quiet,
        (false, true) => Display::Rows,
        (false, false) => Display::Lines,
    }
}

pub struct Progress {
    display: Display,
    /// The live view, on a terminal.
    screen: Option<std::sync::Arc<crate::live::Screen>>,
    /// `--output json`: the nodes started, and those whose final event was written.
    json: std::sync::Mutex<JsonNodes>,
    started: std::time::Instant,
}

#[derive(Default)]
struct JsonNodes {
    started: std::collections::BTreeSet<String>,
    ended: std::collections::BTreeSet<String>,
}

impl Progress {
    pub fn new(display: Display) -> Self {
        let screen = (display == Display::Rows).then(|| crate::live::Screen::new(crate::live::Glyphs::from_env()));
        Self { display, screen, json: Default::default(), started: std::time::Instant::now() }
    }

    pub fn is_json(&self) -> bool {
        self.display == Display::Json
    }

    /// `--output json`'s last lines: a final event for each node that had none (what a
    /// failure or an interrupt stopped first: `skipped` when it never started, `failed`
    /// when it had), then the result. `after` is the work after the walk (final phases),
    /// which can fail where the walk did not: the result's `ok` says the same as the exit
    /// code.
    pub fn json_result(&self, command: &str, report: &RunReport, summary: &[String], after: Option<String>) {
        let nodes = std::mem::take(&mut *self.json.lock().unwrap_or_else(|e| e.into_inner()));
        for (node, outcome) in report.outcomes.iter().filter(|(node, _)| !nodes.ended.contains(*node)) {
            let kind = EventKind::NodeFinished { node: node.clone(), outcome: *outcome, id: None };
            self.emit(Event { elapsed: report.elapsed, kind });
        }
        for node in nodes.started.difference(&nodes.ended).filter(|n| !report.outcomes.contains_key(*n)) {
            let error = "did not finish: the run stopped first".to_string();
            self.emit(Event { elapsed: report.elapsed, kind: EventKind::NodeFailed { node: node.clone(), error } });
        }
        crate::stdout::write(format_args!("{}\n", result_line(command, report, summary, after)));
    }

    /// The run's graph, for done/total and the time left, and how long the work after the
    /// graph takes by the readiness profile.
    pub fn set_graph(&self, g: &Graph, after_graph_s: f64) {
        if let Some(screen) = &self.screen {
            screen.set_graph(g, after_graph_s);
        }
    }

    /// A note or warning while the run shows progress: above the live area on a terminal.
    pub fn note(&self, text: String) {
        self.emit(Event { elapsed: self.started.elapsed(), kind: EventKind::Note { text } });
    }

    /// The live view's last frame: what finished printed, the live area cleared.
    pub fn finish(&self) {
        if let Some(screen) = &self.screen {
            screen.finish();
        }
    }
}

/// A command that returns early (an error after the walk) leaves no live area behind.
impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl EventSink for Progress {
    fn emit(&self, event: Event) {
        // Retry and failure texts carry AWS's messages: shown, never obeyed.
        let event = Event { kind: sanitized(event.kind), ..event };
        match self.display {
            Display::Quiet => {}
            Display::Lines => {
                let Some((node, text, _)) = describe(&event.kind) else { return };
                let mut err = std::io::stderr().lock();
                let _ = match node {
                    "" => writeln!(err, "{text}"),
                    _ => writeln!(err, "{}", line(event.elapsed, node, &text)),
                };
            }
            Display::Rows => {
                if let Some(screen) = &self.screen {
                    screen.event(&event);
                }
            }
            Display::Json => {
                let mut nodes = self.json.lock().unwrap_or_else(|e| e.into_inner());
                match &event.kind {
                    EventKind::NodeStarted { node, .. } => {
                        nodes.started.insert(node.clone());
                    }
                    // One final line per node, though a node may finish in two walks
                    // (`up`'s schema first, then the whole graph).
                    EventKind::NodeFinished { node, .. } | EventKind::NodeFailed { node, .. } => {
                        if !nodes.ended.insert(node.clone()) {
                            return;
                        }
                    }
                    _ => {}
                }
                drop(nodes);
                let Some(line) = event_json(&event) else { return };
                crate::stdout::write(format_args!("{line}\n"));
            }
        }
    }
}

pub const EVENTS_SCHEMA: &str = "temporalctl.events/v1";

/// One line of `--output json`'s stream. Fields are only ever added; a removal or a
/// change of meaning bumps the version.
#[derive(Serialize)]
struct JsonEvent<'a> {
    schema: &'static str,
    elapsed_s: f64,
    #[serde(flatten)]
    event: JsonKind<'a>,
}

/// What happened, tagged `event`.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum JsonKind<'a> {
    /// `action`: creating, updating, deleting, running, scaling…
    Started {
        node: &'a str,
        kind: &'a str,
        action: &'a str,
    },
    /// `aws_state`: AWS's own state in the wait (`Processing`, `pending`), when it said one.
    Waiting {
        node: &'a str,
        what: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        aws_state: Option<String>,
    },
    Retrying {
        node: &'a str,
        attempt: u32,
        delay_s: f64,
        error: &'a str,
    },
    Finished {
        node: &'a str,
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
    },
    Failed {
        node: &'a str,
        error: &'a str,
    },
    Kept {
        node: &'a str,
        reason: &'a str,
    },
    Note {
        text: &'a str,
    },
}

#[derive(Serialize)]
struct JsonResult<'a> {
    schema: &'static str,
    elapsed_s: f64,
    event: &'static str,
    command: &'a str,
    ok: bool,
    cancelled: bool,
    outcomes: &'a BTreeMap<String, Outcome>,
    failures: Vec<JsonFailure<'a>>,
    /// The closing lines (the steps that ran, the waves, the check).
    summary: &'a [String],
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    node: &'a str,
    error: String,
}

/// `--output json`'s last line. `after`: how the work after the walk failed, if it did.
fn result_line(command: &str, report: &RunReport, summary: &[String], after: Option<String>) -> String {
    let mut failures: Vec<JsonFailure> =
        report.failures.iter().map(|(node, e)| JsonFailure { node, error: e.to_string() }).collect();
    let ok = report.ok() && after.is_none();
    if let Some(error) = after {
        failures.push(JsonFailure { node: "final phases", error });
    }
    let result = JsonResult {
        schema: EVENTS_SCHEMA,
        elapsed_s: secs(report.elapsed),
        event: "result",
        command,
        ok,
        cancelled: report.cancelled,
        outcomes: &report.outcomes,
        failures,
        summary,
    };
    serde_json::to_string(&result).unwrap_or_default()
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// An event as one JSON line; `None` for the engine's own bookkeeping.
fn event_json(e: &Event) -> Option<String> {
    let event = match &e.kind {
        EventKind::NodeStarted { node, kind, doing } => JsonKind::Started { node, kind, action: doing },
        EventKind::NodeWaiting { node, what } => {
            JsonKind::Waiting { node, what, aws_state: crate::live::aws_state(what) }
        }
        EventKind::NodeRetrying { node, attempt, delay, error } => {
            JsonKind::Retrying { node, attempt: *attempt, delay_s: secs(*delay), error }
        }
        EventKind::NodeFinished { node, outcome, id } => {
            JsonKind::Finished { node, outcome: *outcome, id: id.as_deref() }
        }
        EventKind::NodeFailed { node, error } => JsonKind::Failed { node, error },
        EventKind::NodeKept { node, reason } => JsonKind::Kept { node, reason },
        EventKind::Note { text } => JsonKind::Note { text },
        EventKind::NodePlanned { .. } | EventKind::StateSaved => return None,
    };
    serde_json::to_string(&JsonEvent { schema: EVENTS_SCHEMA, elapsed_s: secs(e.elapsed), event }).ok()
}

/// The event with every text from elsewhere made [`crate::stdout::printable`].
fn sanitized(kind: EventKind) -> EventKind {
    let p = |s: String| crate::stdout::printable(&s).into_owned();
    match kind {
        EventKind::NodeWaiting { node, what } => EventKind::NodeWaiting { node, what: p(what) },
        EventKind::NodeRetrying { node, attempt, delay, error } => {
            EventKind::NodeRetrying { node, attempt, delay, error: p(error) }
        }
        EventKind::NodeFinished { node, outcome, id } => EventKind::NodeFinished { node, outcome, id: id.map(p) },
        EventKind::NodeFailed { node, error } => EventKind::NodeFailed { node, error: p(error) },
        EventKind::NodeKept { node, reason } => EventKind::NodeKept { node, reason: p(reason) },
        EventKind::Note { text } => EventKind::Note { text: p(text) },
        other => other,
    }
}

/// One event as a line of its own (CI logs, pipes): elapsed time, node, what happened.
fn line(elapsed: std::time::Duration, node: &str, text: &str) -> String {
    format!("{:>7.1}s  {node:<34} {text}", elapsed.as_secs_f64())
}

/// (node, text, finished?) for the events a person wants to see.
fn describe(kind: &EventKind) -> Option<(&str, String, bool)> {
    Some(match kind {
        EventKind::NodeStarted { doing: "reading", .. } => return None,
        EventKind::NodeStarted { node, kind, doing } => (node, format!("{doing} {kind}"), false),
        EventKind::NodeWaiting { node, what } => (node, format!("waiting for {what}"), false),
        EventKind::NodeRetrying { node, attempt, delay, error } => {
            (node, format!("retry {attempt} in {:.1}s: {error}", delay.as_secs_f64()), false)
        }
        EventKind::NodeFinished { node, outcome, id } => {
            (node, format!("{}{}", outcome.as_str(), id.as_deref().map(|i| format!(" {i}")).unwrap_or_default()), true)
        }
        EventKind::NodeFailed { node, error } => (node, format!("FAILED: {error}"), true),
        EventKind::NodeKept { node, reason } => (node, format!("keeping: {reason}"), false),
        EventKind::Note { text } => ("", text.clone(), false),
        EventKind::NodePlanned { .. } | EventKind::StateSaved => return None,
    })
}

/// The closing summary of `up` or `down`.
pub fn summary(verb: &str, report: &RunReport) -> String {
    let mut parts = Vec::new();
    for outcome in [
        Outcome::Created,
        Outcome::Updated,
        Outcome::Replaced,
        Outcome::Unchanged,
        Outcome::Deleted,
        Outcome::Absent,
        Outcome::Kept,
        Outcome::Failed,
        Outcome::Skipped,
    ] {
        let n = report.count(outcome);
        if n > 0 {
            parts.push(format!("{n} {}", outcome.as_str()));
        }
    }
    let how = if report.cancelled {
        "interrupted"
    } else if report.ok() {
        "finished"
    } else {
        "failed"
    };
    format!("{verb} {how} in {:.1}s: {}", report.elapsed.as_secs_f64(), parts.join(", "))
}

#[derive(Serialize)]
struct PlanDoc<'a> {
    project: &'a str,
    region: &'a str,
    summary: BTreeMap<&'static str, usize>,
    nodes: &'a [Planned],
    cost: &'a CostChange,
}

/// `plan`'s monthly cost change: deploy.yaml against what the last `up` applied.
#[derive(Debug, Serialize)]
pub struct CostChange {
    pub priced_on: String,
    /// USD a month as last applied; `None` when nothing is recorded as applied.
    pub before_usd: Option<f64>,
    pub after_usd: f64,
    pub delta_usd: f64,
    pub lines: Vec<Delta>,
}

impl CostChange {
    pub fn new(before: Option<Estimate>, after: Estimate) -> Self {
        let (lines, delta_usd) = match &before {
            Some(b) => temporalctl_cost::delta(b, &after),
            None => (Vec::new(), after.total_usd),
        };
        Self {
            priced_on: after.priced_on.clone(),
            before_usd: before.map(|b| b.total_usd),
            after_usd: after.total_usd,
            delta_usd,
            lines,
        }
    }
}

pub fn cost_change_text(c: &CostChange) -> String {
    let usd = |v: Option<f64>| v.map_or("unpriced".to_string(), |v| format!("${v:.2}"));
    let mut out = match c.before_usd {
        None => format!(
            "Cost: ${:.2}/month once applied (nothing applied yet; `temporalctl cost` itemizes it).\n",
            c.after_usd
        ),
        Some(b) if c.lines.is_empty() => format!("Cost: unchanged at ${b:.2}/month.\n"),
        Some(b) => format!("Cost: ${b:.2} -> ${:.2}/month ({:+.2}):\n", c.after_usd, c.delta_usd),
    };
    for l in &c.lines {
        out.push_str(&format!("  {:<34} {} -> {}\n", l.item, usd(l.before_usd), usd(l.after_usd)));
    }
    out
}

pub fn plan_text(project: &str, region: &str, planned: &[Planned]) -> String {
    let mut out = format!("Plan for {project} in {region}:\n");
    for p in planned {
        let (mark, details) = match &p.change {
            Change::Create => ("+", String::new()),
            Change::NoChange => ("=", String::new()),
            Change::Conflict { claimants, recorded } => ("!", conflict_text(claimants, recorded.as_deref())),
            Change::Update { diffs } | Change::Replace { diffs } => {
                let mark = if matches!(p.change, Change::Replace { .. }) { "±" } else { "~" };
                let text = diffs
                    .iter()
                    .map(|d| {
                        let forced = if d.forces_replace { " (forces replacement)" } else { "" };
                        format!("{}: {} -> {}{forced}", d.field, d.from.as_deref().unwrap_or("(unset)"), d.to)
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                (mark, text)
            }
        };
        out.push_str(format!("  {mark} {:<34} {:<10} {details}", p.node, p.change.name()).trim_end());
        out.push('\n');
        if let Some(note) = &p.note {
            out.push_str(&format!("      note: {note}\n"));
        }
    }
    let s = plan_summary(planned);
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to replace, {} unchanged.\n",
        s["create"], s["update"], s["replace"], s["no-change"]
    ));
    if s["conflict"] > 0 {
        out.push_str(&format!(
            "{} resource(s) in conflict (marked !): `up` stops before changing them until they are resolved.\n",
            s["conflict"]
        ));
    }
    out
}

fn plan_summary(planned: &[Planned]) -> BTreeMap<&'static str, usize> {
    let mut s = BTreeMap::from([("create", 0), ("update", 0), ("replace", 0), ("no-change", 0), ("conflict", 0)]);
    for p in planned {
        let key = match p.change {
            Change::Create => "create",
            Change::Update { .. } => "update",
            Change::Replace { .. } => "replace",
            Change::NoChange => "no-change",
            Change::Conflict { .. } => "conflict",
        };
        *s.entry(key).or_default() += 1;
    }
    s
}

pub fn plan_json(project: &str, region: &str, planned: &[Planned], cost: &CostChange) -> String {
    let doc = PlanDoc { project, region, summary: plan_summary(planned), nodes: planned, cost };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[derive(Serialize)]
struct StatusRow<'a> {
    node: &'a str,
    kind: &'a str,
    id: Option<&'a str>,
    /// ok, drifted, missing or conflict.
    state: &'static str,
    /// For a conflict: every resource carrying this node's tags.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    claimants: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    outputs: &'a BTreeMap<String, String>,
    /// What differs, for a drifted resource.
    #[serde(skip_serializing_if = "<[FieldDiff]>::is_empty")]
    changes: &'a [FieldDiff],
}

/// `status --output json`, schema `temporalctl.status/v1` (docs/status.schema.json).
/// Fields are only ever added; a removal or change of meaning bumps the version.
#[derive(Serialize)]
struct StatusDoc<'a> {
    schema: &'static str,
    project: &'a str,
    region: &'a str,
    /// Every resource ok and every service running its desired count.
    healthy: bool,
    resources: Vec<StatusRow<'a>>,
    services: &'a [ServiceRow],
    endpoints: &'a BTreeMap<&'static str, String>,
    commands: &'a [Access],
    /// DSQL's connection quotas at the counts `up` and `scale` set (JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    dsql_connections: Option<DsqlConnections>,
}

/// `dsql_budget::Budget` as the status document carries it.
#[derive(Serialize)]
struct DsqlConnections {
    open: u32,
    max_open: u32,
    new_per_second: f64,
    new_per_second_allowed: f64,
    cold_start: u32,
    burst: u32,
    largest_restart: LargestRestart,
    coordinated: bool,
}

#[derive(Serialize)]
struct LargestRestart {
    service: &'static str,
    connections: u32,
}

impl DsqlConnections {
    fn of(b: &temporalctl_config::dsql_budget::Budget) -> Self {
        use temporalctl_config::dsql_budget::{BURST, Budget, MAX_OPEN};
        DsqlConnections {
            open: b.open,
            max_open: MAX_OPEN,
            new_per_second: (b.steady_per_second * 100.0).round() / 100.0,
            new_per_second_allowed: Budget::steady_limit(),
            cold_start: b.cold_start,
            burst: BURST,
            largest_restart: LargestRestart { service: b.largest_restart.0, connections: b.largest_restart.1 },
            coordinated: b.coordinated,
        }
    }
}

pub const STATUS_SCHEMA: &str = "temporalctl.status/v1";

fn state_of(change: &Change) -> &'static str {
    match change {
        Change::NoChange => "ok",
        Change::Create => "missing",
        Change::Update { .. } | Change::Replace { .. } => "drifted",
        Change::Conflict { .. } => "conflict",
    }
}

/// A conflict in words: the ids, which one the state records, how to resolve it.
fn conflict_text(claimants: &[String], recorded: Option<&str>) -> String {
    let others: Vec<&str> = claimants.iter().map(String::as_str).filter(|c| Some(*c) != recorded).collect();
    match recorded {
        Some(r) if others.len() < claimants.len() => format!(
            "{} carry this node's tags; the state records {r}: delete {} or remove its temporalctl:node tag",
            claimants.join(", "),
            others.join(", ")
        ),
        _ => format!(
            "{} carry this node's tags and the state records none: keep one, delete the others or remove their temporalctl:node tag",
            claimants.join(", ")
        ),
    }
}

fn status_doc<'a>(project: &'a str, region: &'a str, planned: &'a [Planned], runtime: &'a Runtime) -> StatusDoc<'a> {
    let resources: Vec<StatusRow> = planned
        .iter()
        .map(|p| StatusRow {
            node: &p.node,
            kind: p.kind,
            id: p.id.as_deref(),
            state: state_of(&p.change),
            claimants: match &p.change {
                Change::Conflict { claimants, .. } => claimants,
                _ => &[],
            },
            outputs: &p.outputs,
            changes: match &p.change {
                Change::Update { diffs } | Change::Replace { diffs } => diffs,
                _ => &[],
            },
        })
        .collect();
    let healthy = resources.iter().all(|r| r.state == "ok") && runtime.services.iter().all(|s| s.health == "running");
    StatusDoc {
        schema: STATUS_SCHEMA,
        project,
        region,
        healthy,
        resources,
        services: &runtime.services,
        endpoints: &runtime.endpoints,
        commands: &runtime.commands,
        dsql_connections: None,
    }
}

/// Pretty for a person; `compact` is one line per reading (`status --watch`'s stream).
pub fn status_json(
    project: &str,
    region: &str,
    planned: &[Planned],
    runtime: &Runtime,
    budget: &temporalctl_config::dsql_budget::Budget,
    compact: bool,
) -> String {
    let doc = StatusDoc {
        dsql_connections: Some(DsqlConnections::of(budget)),
        ..status_doc(project, region, planned, runtime)
    };
    if compact { serde_json::to_string(&doc) } else { serde_json::to_string_pretty(&doc) }.unwrap_or_default()
}

/// The resource graph in Graphviz dot: an edge from each dependency to what needs it.
pub fn graph_dot(g: &Graph) -> String {
    let mut out = String::from("digraph temporalctl {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for &i in g.topo() {
        let n = g.node(i);
        out.push_str(&format!("  \"{}\" [label=\"{}\\n{}\"];\n", n.id, n.id, n.resource.kind()));
    }
    for &i in g.topo() {
        for d in g.deps_of(i) {
            let style = if g.need(i, d) == Need::Identity { " [style=dashed]" } else { "" };
            out.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", g.node(d).id, g.node(i).id));
        }
    }
    out.push_str("}\n");
    out
}

/// The resource graph as a Mermaid flowchart (renders on GitHub). Node ids carry `/`,
/// which Mermaid does not take, so each node is `n<i>` with the id as its label.
pub fn graph_mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for &i in g.topo() {
        let n = g.node(i);
        out.push_str(&format!("  n{i}[\"{}<br/><i>{}</i>\"]\n", n.id, n.resource.kind()));
    }
    for &i in g.topo() {
        for d in g.deps_of(i) {
            let arrow = if g.need(i, d) == Need::Identity { "-.->" } else { "-->" };
            out.push_str(&format!("  n{d} {arrow} n{i}\n"));
        }
    }
    out
}

/// `status` for a person: first what people ask first (is it healthy, where do workers
/// connect, what runs), then the resources, but only those that are not ok unless `all`,
/// then short hints. The raw AWS CLI lines are in `--output json` and `connect --print` /
/// `exec --print`.
pub fn status_text(project: &str, region: &str, planned: &[Planned], runtime: &Runtime, all: bool) -> String {
    let doc = status_doc(project, region, planned, runtime);
    let ok = doc.resources.iter().filter(|r| r.state == "ok").count();
    let health = if doc.healthy { "healthy" } else { "attention needed" };
    let mut out = format!("{project} in {region}: {health}, {ok} of {} resources ok\n", doc.resources.len());
    // What workers are configured with comes before everything else.
    let mut shown = Vec::new();
    if let Some(address) = doc.endpoints.get(TEMPORAL_ADDRESS) {
        out.push_str(&format!("Temporal address: {address}\n"));
        shown.push(TEMPORAL_ADDRESS);
    }
    if doc.endpoints.contains_key(INGRESS_ADDRESS) {
        for (service, title) in [("ui", "Temporal UI"), ("grafana", "Grafana")] {
            if let Some(url) = doc.endpoints.get(service) {
                out.push_str(&format!("{title}: {url}\n"));
                shown.push(service);
            }
        }
    }
    out.push_str(&format!(
        "\nServices:\n  {:<17} {:<9} {:>7} {:>7} {:>7}  {}\n",
        "SERVICE", "HEALTH", "DESIRED", "RUNNING", "PENDING", "ROLLOUT"
    ));
    for s in doc.services {
        let st = &s.state;
        out.push_str(&format!(
            "  {:<17} {:<9} {:>7} {:>7} {:>7}  {}\n",
            st.service,
            s.health,
            st.desired,
            st.running,
            st.pending,
            st.rollout.as_deref().unwrap_or("-")
        ));
        if s.health != "running"
            && s.health != "absent"
            && let Some(e) = &st.last_event
        {
            out.push_str(&format!("    last event: {e}\n"));
        }
    }
    let runs = |key: &str| doc.services.iter().any(|s| s.state.service == key && s.state.running > 0);
    let mut hints: Vec<(String, String)> = FORWARDS
        .iter()
        .filter(|(_, key, _)| runs(key))
        .map(|(name, _, port)| {
            let what = match *name {
                "ui" => "the Temporal UI",
                "grafana" => "Grafana",
                _ => "the frontend's gRPC port",
            };
            (format!("temporalctl connect {name}"), format!("{what} on localhost:{port}"))
        })
        .collect();
    // A forwarded service's local URL says no more than its hint.
    shown.extend(FORWARDS.iter().filter(|(_, key, _)| runs(key)).map(|(name, _, _)| *name));
    let endpoints: Vec<_> = doc.endpoints.iter().filter(|(name, _)| !shown.contains(*name)).collect();
    if !endpoints.is_empty() {
        out.push_str("\nEndpoints:\n");
        let name_w = endpoints.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, value) in endpoints {
            out.push_str(&format!("  {name:<name_w$}  {value}\n"));
        }
    }
    let listed: Vec<&StatusRow> = doc.resources.iter().filter(|r| all || r.state != "ok").collect();
    if !listed.is_empty() {
        out.push_str(if all { "\nResources:\n" } else { "\nResources that are not ok:\n" });
        // Columns as wide as their longest entry: kinds run to `cluster-capacity-providers`.
        let node_w = listed.iter().map(|r| r.node.len()).max().unwrap_or(0).max(8);
        let kind_w = listed.iter().map(|r| r.kind.len()).max().unwrap_or(0).max(4);
        out.push_str(&format!("  {:<node_w$} {:<kind_w$} {:<8} {}\n", "RESOURCE", "KIND", "STATE", "ID"));
        for r in listed {
            let id = if r.claimants.is_empty() { r.id.unwrap_or("-").to_string() } else { r.claimants.join(" ") };
            out.push_str(&format!("  {:<node_w$} {:<kind_w$} {:<8} {id}\n", r.node, r.kind, r.state));
        }
    }
    out.push_str("\nNext:\n");
    if runs("frontend") {
        hints.push(("temporalctl exec frontend".into(), "a shell in a frontend task (ECS Exec)".into()));
    }
    if ok < doc.resources.len() {
        hints.push(("temporalctl plan".into(), "what `up` would change to repair it".into()));
    }
    if !all {
        hints.push(("temporalctl status --all".into(), "every resource".into()));
    }
    let hint_w = hints.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (command, what) in hints {
        out.push_str(&format!("  {command:<hint_w$}  {what}\n"));
    }
    out
}

/// DSQL's connection quotas against a topology (`plan`, `status`), `whose` naming the
/// counts it was computed for.
pub fn dsql_budget_text(budget: &temporalctl_config::dsql_budget::Budget, whose: &str) -> String {
    let mut out = format!("\nDSQL connections ({whose}):\n");
    for line in budget.lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// `verify`'s report: each flow allowed or blocked, with what carries it or what is
/// missing. `all` false lists the blocked flows only (for `up`'s error).
pub fn verdicts(verdicts: &[temporalctl_aws::verify::Verdict], all: bool) -> String {
    let mut out = String::new();
    let blocked = verdicts.iter().filter(|v| !v.allowed).count();
    for v in verdicts.iter().filter(|v| all || !v.allowed) {
        out.push_str(&format!("{} {}  ({})\n", if v.allowed { "ok     " } else { "BLOCKED" }, v.flow, v.why));
        let detail = if v.allowed { &v.carried_by } else { &v.missing };
        for line in detail {
            out.push_str(&format!("          {}{line}\n", if v.allowed { "via " } else { "missing: " }));
        }
    }
    if all {
        out.push_str(&format!("{} flows: {} allowed, {blocked} blocked\n", verdicts.len(), verdicts.len() - blocked));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(node: &str, change: Change) -> Planned {
        Planned { node: node.into(), kind: "fake", id: None, change, note: None, outputs: Default::default() }
    }

    fn diff(field: &str, from: Option<&str>, to: &str, forces_replace: bool) -> temporalctl_engine::FieldDiff {
        temporalctl_engine::FieldDiff::field(field, from.map(String::from).as_ref(), to, forces_replace)
    }

    #[test]
    fn plan_text_is_pinned() {
        let planned = [
            planned("vpc", Change::NoChange),
            planned("subnet/private-0", Change::Create),
            planned(
                "log-group/history",
                Change::Update { diffs: vec![diff("retention-days", Some("7"), "14", false)] },
            ),
            planned("dsql-cluster", Change::Replace { diffs: vec![diff("region", None, "eu-west-1", true)] }),
            planned(
                "security-group/history",
                Change::Conflict { claimants: vec!["sg-1".into(), "sg-2".into()], recorded: Some("sg-1".into()) },
            ),
        ];
        insta::assert_snapshot!(plan_text("demo", "eu-west-1", &planned));
    }

    #[test]
    fn event_lines_are_pinned() {
        use std::time::Duration;
        let node = |n: &str| n.to_string();
        let events = [
            EventKind::NodeStarted { node: node("vpc"), kind: "vpc", doing: "reading" },
            EventKind::NodeStarted { node: node("nat-gateway"), kind: "nat-gateway", doing: "creating" },
            EventKind::NodeWaiting {
                node: node("nat-gateway"),
                what: "nat-gateway nat-0abc to become ready (now pending)".into(),
            },
            EventKind::NodeRetrying {
                node: node("iam-role/task-history"),
                attempt: 2,
                delay: Duration::from_millis(1500),
                error: "Throttling: Rate exceeded (AWS request id 1-2-3)".into(),
            },
            EventKind::NodeFinished {
                node: node("nat-gateway"),
                outcome: Outcome::Created,
                id: Some("nat-0abc".into()),
            },
            EventKind::NodeKept {
                node: node("dsql-cluster"),
                reason: "holds data; `down --destroy-data` removes it".into(),
            },
            EventKind::NodeFailed { node: node("opensearch-domain"), error: "LimitExceeded: too many domains".into() },
            EventKind::StateSaved,
        ];
        let lines: Vec<String> = events
            .iter()
            .enumerate()
            .filter_map(|(i, kind)| {
                let (node, text, _) = describe(kind)?;
                Some(line(Duration::from_millis(1250 * i as u64), node, &text))
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn status_text_is_pinned() {
        use temporalctl_aws::operate::access::{Access, Runtime, ServiceRow};
        use temporalctl_aws::operate::waves::ServiceState;
        let planned = [
            Planned { id: Some("vpc-0abc".into()), ..planned("vpc", Change::NoChange) },
            planned("subnet/private-0", Change::Create),
        ];
        let state = |service, running, rollout: &str, last_event: Option<&str>| ServiceState {
            service,
            name: format!("demo-{service}"),
            exists: true,
            desired: 1,
            running,
            pending: 1 - running,
            task_definition: Some(format!("demo-{service}:3")),
            rollout: Some(rollout.into()),
            deployments: 1,
            last_event: last_event.map(String::from),
        };
        let runtime = Runtime {
            services: vec![
                ServiceRow { state: state("frontend", 1, "COMPLETED", None), health: "running", tasks: vec![] },
                ServiceRow {
                    state: state("history", 0, "IN_PROGRESS", Some("unable to place a task")),
                    health: "settling",
                    tasks: vec![],
                },
            ],
            endpoints: [
                ("dsql", "abc.dsql.eu-west-1.on.aws".to_string()),
                (TEMPORAL_ADDRESS, "demo-frontend-0123abcd.elb.eu-west-1.amazonaws.com:7233".to_string()),
            ]
            .into(),
            commands: vec![Access {
                name: "ui".into(),
                what: "Temporal UI on localhost:8080".into(),
                command: "temporalctl connect ui".into(),
                note: None,
            }],
        };
        insta::assert_snapshot!(status_text("demo", "eu-west-1", &planned, &runtime, false));
        let all = status_text("demo", "eu-west-1", &planned, &runtime, true);
        assert!(all.contains("  vpc ") && !all.contains("status --all"), "{all}");
    }

    #[test]
    fn json_events_are_pinned() {
        let at = |kind| Event { elapsed: Duration::from_millis(1500), kind };
        let waiting = at(EventKind::NodeWaiting {
            node: "opensearch-domain".into(),
            what: "opensearch-domain d to become ready (now Processing)".into(),
        });
        assert_eq!(
            event_json(&waiting).unwrap(),
            r#"{"schema":"temporalctl.events/v1","elapsed_s":1.5,"event":"waiting","node":"opensearch-domain","what":"opensearch-domain d to become ready (now Processing)","aws_state":"Processing"}"#
        );
        let finished = at(EventKind::NodeFinished { node: "vpc".into(), outcome: Outcome::Created, id: None });
        assert_eq!(
            event_json(&finished).unwrap(),
            r#"{"schema":"temporalctl.events/v1","elapsed_s":1.5,"event":"finished","node":"vpc","outcome":"created"}"#
        );
        assert_eq!(event_json(&at(EventKind::StateSaved)), None);
    }

    #[test]
    fn the_json_result_is_not_ok_when_the_final_phases_failed() {
        let report = RunReport::default();
        let ok: serde_json::Value = serde_json::from_str(&result_line("up", &report, &[], None)).unwrap();
        assert_eq!((ok["ok"].as_bool(), ok["event"].as_str()), (Some(true), Some("result")));
        let failed = result_line("up", &report, &[], Some("scale: history did not become stable".into()));
        let failed: serde_json::Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(failed["ok"], false);
        assert_eq!(failed["failures"][0]["node"], "final phases");
    }

    #[test]
    fn display_mode_table() {
        assert_eq!(display(true, false, false), Display::Rows);
        assert_eq!(display(true, true, false), Display::Lines);
        assert_eq!(display(false, false, false), Display::Lines);
        assert_eq!(display(false, true, false), Display::Lines);
        assert_eq!(display(true, false, true), Display::Quiet);
    }
}

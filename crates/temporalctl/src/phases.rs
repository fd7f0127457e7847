//! What runs around the resource graph: `up`'s final phases (schema steps, scale waves,
//! default namespace), `scale`, and `down`'s draining before anything is deleted. The
//! state file records what each phase finished, after each step.

use std::collections::{BTreeMap, BTreeSet};

use temporalctl_aws::documents::steps;
use temporalctl_aws::operate::access::Runtime;
use temporalctl_aws::operate::{Context, Operator, Store, store_of};
use temporalctl_aws::service_kinds::{ADMIN_TOOLS, SERVICES, ServiceKind};
use temporalctl_aws::verify::{self, Verdict};
use temporalctl_aws::{flows, stack};
use temporalctl_config::Deploy;
use temporalctl_config::capacity::Counts;
use temporalctl_engine::{Beside, Engine, Graph, LockedState, NodeId, Owned, Recorded, ResourceError, StepLog};

use crate::commands::{Failure, failures};
use temporalctl_aws::outputs::Output;

/// `up`'s final phases, `scale` and `down`'s drain, on the shared operating context.
pub struct Phases<'a>(pub Context<'a>);

impl<'a> std::ops::Deref for Phases<'a> {
    type Target = Context<'a>;
    fn deref(&self) -> &Context<'a> {
        &self.0
    }
}

impl Phases<'_> {
    /// `status`'s services, endpoints and access commands.
    pub async fn runtime(&self, nodes: &BTreeMap<NodeId, Recorded>) -> Result<Runtime, ResourceError> {
        self.operator(nodes).runtime().await
    }

    /// A note for the person running it, shown with the progress (above the live view).
    fn note(&self, text: String) {
        let elapsed = self.started.elapsed();
        self.events.emit(temporalctl_engine::Event { elapsed, kind: temporalctl_engine::EventKind::Note { text } });
    }

    /// Every declared flow, proven against the live network (`temporalctl verify`).
    pub async fn verify(&self, nodes: &BTreeMap<NodeId, Recorded>) -> Result<Vec<Verdict>, ResourceError> {
        let network = self.operator(nodes).network().await?;
        Ok(verify::check(&flows::flows_for(self.deploy), &network))
    }

    /// `up`'s final phases, each skipped when its data store's tag says it is done:
    /// 0. `verify`, when the walk changed something or a step is pending (and the steps
    ///    beside the walk did not prove the finished network already);
    /// 1. the DSQL schema and the OpenSearch visibility index, with every service at 0,
    ///    unless they ran beside the walk ([`Self::steps_beside`]);
    /// 2. the scale waves to the recorded counts (deploy.yaml's on the first run);
    /// 3. the default namespace, once the frontend runs;
    /// 4. the end-to-end check, when a step, a wave, a service or a task definition changed.
    ///
    /// Returns lines for the closing summary.
    pub async fn after_up(
        &self,
        locked: &mut LockedState,
        walk_changed: &[&str],
        beside: &StepsBeside,
    ) -> Result<Vec<String>, ResourceError> {
        let d = self.deploy;
        let nodes = locked.state().nodes.clone();
        let op = self.operator(&nodes);
        let mut summary = Vec::new();

        let pending = |store: &str| match beside.ran.contains(&store) {
            true => Ok(None),
            false => store_step(&op, d, store),
        };
        let schema = [pending(stack::DSQL)?, pending(stack::OPENSEARCH)?];
        // Before anything starts a task on a changed network: a blocked flow fails here in
        // seconds, not as a one-off task's 15-minute timeout. A no-op `up` skips it, and so
        // does an `up` whose steps beside the walk proved the finished network already.
        let namespace_pending = op.applied(steps::NAMESPACE).as_deref() != Some(d.temporal.namespace.name.as_str());
        let steps_pending = namespace_pending || schema.iter().any(Option::is_some);
        if (!walk_changed.is_empty() || steps_pending) && beside.verified.is_none() {
            summary.push(format!("verified {} network flows", self.verified(&nodes).await?));
        }
        for step in schema.into_iter().flatten() {
            run_and_record(&op, locked, &step).await?;
            summary.push(format!("ran {}", step.title));
        }
        // A schema applied before the shard count was recorded: record it now, from what
        // that run applied, so a lost state file still knows it.
        let recorded =
            op.applied(steps::HISTORY_SHARDS).is_some() || locked.state().steps.contains_key(steps::HISTORY_SHARDS);
        if !recorded && locked.state().steps.contains_key(steps::DSQL_SCHEMA) {
            let shards = steps::recorded_shards(&locked.state().steps, None, locked.state().applied.as_ref())
                .unwrap_or(d.temporal.history_shards);
            record(&op, locked, steps::HISTORY_SHARDS, shards.to_string()).await?;
        }

        let targets = self.recorded_counts(locked, None)?;
        let changed = op.scale(&targets, false, &counts_of(&targets)).await?;
        if changed > 0 {
            summary.push(format!("scaled {changed} service(s) in waves"));
        }
        let kept: Vec<String> = targets
            .iter()
            .filter(|(k, n)| d.services.get(k.key).is_some_and(|s| s.count != *n))
            .map(|(k, n)| format!("{}={n}", k.key))
            .collect();
        if !kept.is_empty() {
            self.note(format!(
                "note: `up` keeps the counts `scale` set ({}), not deploy.yaml's; `temporalctl scale up` applies deploy.yaml's",
                kept.join(" ")
            ));
        }

        let runs = |key: &str| targets.iter().any(|(k, n)| k.key == key && *n > 0);
        let (frontend_runs, internal_runs) = (runs("frontend"), runs("internal_frontend"));
        let ns = &d.temporal.namespace;
        match op.applied(steps::NAMESPACE) {
            Some(done) if done == ns.name => {}
            _ if !internal_runs => self.note(format!(
                "note: the internal frontend is scaled to 0, so namespace {} waits for a later `up`",
                ns.name
            )),
            _ => {
                let node = format!("step/{}", steps::NAMESPACE);
                let address = op.task_address("internal_frontend", &node).await?;
                if let Some(step) =
                    steps::namespace(&address, &ns.name, ns.retention_days, self.deploy.temporal.tls.enabled, None)
                {
                    run_and_record(&op, locked, &step).await?;
                    summary.push(format!("registered {}", step.title));
                }
            }
        }
        // Proof that the cluster serves, whenever this run changed what serves: a step, a
        // wave, a service or a task definition (not a log retention or a route).
        let serving_changed =
            walk_changed.iter().any(|n| n.starts_with("ecs-service/") || n.starts_with("task-definition/"));
        let steps_ran = steps_pending || !beside.ran.is_empty();
        if frontend_runs && internal_runs && (steps_ran || changed > 0 || serving_changed) {
            summary.push(self.cluster_check(&locked.state().nodes).await?);
        }
        Ok(summary)
    }

    /// `up`'s one-off steps while the graph is still being built: each starts the moment
    /// its data store and what runs it are ready ([`stack::step_needs`]), so the DSQL
    /// schema runs while OpenSearch builds and the index the moment the domain is ready,
    /// with every service still at 0. A step whose walk stops first does not run;
    /// `after_up` runs what is left. The walk goes on whatever a step does.
    pub async fn steps_beside(&self, walk: &Beside<'_, '_>, graph: &Graph) -> StepsBeside {
        let d = self.deploy;
        let step_on = async |store: &'static str| -> Result<Option<(String, usize)>, ResourceError> {
            let Some(nodes) = walk.ready(&stack::step_needs(graph, d, store)).await else { return Ok(None) };
            let op = self.operator(&nodes);
            let Some(step) = store_step(&op, d, store)? else { return Ok(None) };
            // The whole network is among what the step waited for: proven now, as after the walk.
            let flows = self.verified(&nodes).await?;
            run_and_record(&op, &mut { walk }, &step).await?;
            Ok(Some((format!("ran {} while the rest was being built", step.title), flows)))
        };
        let (schema, index) = tokio::join!(step_on(stack::DSQL), step_on(stack::OPENSEARCH));
        // Neither stops the other, and each failure is told under its own step.
        let mut done = StepsBeside::default();
        for (store, result) in [(stack::DSQL, schema), (stack::OPENSEARCH, index)] {
            match result {
                Ok(Some((line, flows))) => {
                    if done.verified.is_none() {
                        done.summary.push(format!("verified {flows} network flows"));
                    }
                    done.verified = Some(flows);
                    done.ran.push(store);
                    done.summary.push(line);
                }
                Ok(None) => {}
                Err(e) => done.failures.push((format!("step/{}", step_of(store)), e)),
            }
        }
        done
    }

    /// How many flows `verify` proved; an error naming the blocked ones otherwise.
    async fn verified(&self, nodes: &BTreeMap<NodeId, Recorded>) -> Result<usize, ResourceError> {
        let verdicts = self.verify(nodes).await?;
        let blocked = verdicts.iter().filter(|v| !v.allowed).count();
        if blocked > 0 {
            return Err(ResourceError::fatal(format!(
                "verify: {blocked} of {} network flows are blocked; no task was started:\n{}run `temporalctl verify` for every flow and what carries it",
                verdicts.len(),
                crate::output::verdicts(&verdicts, false)
            )));
        }
        Ok(verdicts.len())
    }

    /// The end-to-end check (`up`, `status --check`) as a one-off task against a running
    /// frontend and internal frontend; a failure names the stage and shows the task's log
    /// lines.
    pub async fn cluster_check(&self, nodes: &BTreeMap<NodeId, Recorded>) -> Result<String, ResourceError> {
        let op = self.operator(nodes);
        let node = format!("step/{}", steps::CLUSTER_CHECK);
        let public = op.task_address("frontend", &node).await?;
        let internal = op.task_address("internal_frontend", &node).await?;
        let t = &self.deploy.temporal;
        let authorization = t.authorization.enabled();
        let at = steps::Frontends { internal: &internal, public: &public };
        op.run_step(&steps::cluster_check(at, &t.namespace.name, t.tls.enabled, authorization)).await?;
        let frontend = match authorization {
            true => "the frontend refuses calls without a token",
            false => "the frontend serves without authorization",
        };
        Ok(format!(
            "checked the cluster end to end: health, {frontend}, namespace {}, a workflow started, found through visibility and terminated",
            t.namespace.name
        ))
    }

    /// `up` on a stack whose services exist, when `dsql.schema_version` moved on: a new
    /// server refuses an older schema at start, so the schema goes first. Reconcile the
    /// admin-tools task definition (the new `temporal.version`'s tools) and what it needs,
    /// run `update-schema`, and only then let the whole walk roll the services. `None`
    /// when there is nothing to do first (a fresh stack gets its schema beside the walk).
    pub async fn schema_first(&self, engine: &Engine<'_>, locked: &mut LockedState) -> Result<Option<String>, Failure> {
        let d = self.deploy;
        let nodes = locked.state().nodes.clone();
        let services_exist = SERVICES.iter().any(|k| nodes.contains_key(&stack::ecs_service(k.key)));
        let op = self.operator(&nodes);
        // The state's copy is written when the step runs; the data store's tag reaches the
        // recorded outputs only with the next read of the cluster.
        let applied = locked.state().steps.get(steps::DSQL_SCHEMA).cloned().or_else(|| op.applied(steps::DSQL_SCHEMA));
        let Some(endpoint) = op.recorded(stack::DSQL, Output::Endpoint) else { return Ok(None) };
        if !services_exist || applied.is_none() {
            return Ok(None);
        }
        let Some(step) =
            steps::dsql_schema(&endpoint, &d.region, &d.dsql.schema_name, &d.dsql.schema_version, applied.as_deref())
        else {
            return Ok(None);
        };
        let report = engine.apply_only(locked, &[&stack::task_definition(ADMIN_TOOLS.key)]).await;
        if report.cancelled {
            return Err(Failure::Interrupted);
        }
        if !report.ok() {
            return Err(Failure::Runtime(failures(&report)));
        }
        let nodes = locked.state().nodes.clone();
        run_and_record(&self.operator(&nodes), locked, &step).await?;
        Ok(Some(format!("ran {} before any service rolled", step.title)))
    }

    /// `scale`: record the new counts first (so a later `up` keeps them even if this run
    /// is interrupted), then run the waves.
    pub async fn scale(&self, locked: &mut LockedState, change: &Counts, down: bool) -> Result<usize, ResourceError> {
        let before = desired_counts(self.deploy, &locked.state().desired_counts, None);
        let targets = self.recorded_counts(locked, Some(change))?;
        let all = counts_of(&targets);
        let only: Vec<(&'static ServiceKind, u32)> =
            targets.into_iter().filter(|(k, _)| change.contains_key(k.key)).collect();
        let op = self.operator(&locked.state().nodes);
        let changed = op.scale(&only, down, &all).await?;
        op.align_rollouts(&only, &before, &all).await?;
        Ok(changed)
    }

    /// `down`: every service to 0 in reverse wave order, waiting for the tasks to drain,
    /// so nothing is deleted under running tasks. Recorded counts stay for the next `up`.
    pub async fn drain(&self, locked: &LockedState) -> Result<usize, ResourceError> {
        let zero: Vec<(&'static ServiceKind, u32)> = SERVICES.iter().map(|k| (k, 0)).collect();
        self.operator(&locked.state().nodes).scale(&zero, true, &counts_of(&zero)).await
    }

    /// `down`'s sweep, before the graph's deletes: remove our tagged network resources
    /// that the graph and the state do not account for, each delete retried with backoff
    /// while ENIs or dependents linger. Returns what was removed, for the summary.
    pub async fn sweep(
        &self,
        graph_nodes: &BTreeSet<String>,
        locked: &LockedState,
    ) -> Result<Vec<String>, ResourceError> {
        self.operator(&locked.state().nodes).sweep(graph_nodes).await
    }

    /// The counts every service should run: `change` over the recorded counts over
    /// deploy.yaml's. Records them.
    fn recorded_counts(
        &self,
        locked: &mut LockedState,
        change: Option<&Counts>,
    ) -> Result<Vec<(&'static ServiceKind, u32)>, ResourceError> {
        let counts = desired_counts(self.deploy, &locked.state().desired_counts, change);
        let recorded = counts.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        locked.set_desired_counts(recorded).map_err(|e| ResourceError::fatal(e.to_string()))?;
        Ok(SERVICES.iter().map(|k| (k, counts.get(k.key).copied().unwrap_or(0))).collect())
    }
}

/// What `up`'s steps beside the walk did.
#[derive(Debug, Default)]
pub struct StepsBeside {
    /// The data stores whose step ran (`after_up` does not run it again).
    pub ran: Vec<&'static str>,
    /// How many flows `verify` proved before they ran, on the finished network.
    pub verified: Option<usize>,
    pub summary: Vec<String>,
    /// Each failed step, as `step/<name>`, for the run's report.
    pub failures: Vec<(String, ResourceError)>,
}

/// The step a data store's one-off task applies.
fn step_of(store: &str) -> &'static str {
    if store == stack::DSQL { steps::DSQL_SCHEMA } else { steps::VISIBILITY }
}

/// The one-off step `store` still needs (its schema or index), `None` when its tag says
/// it is done.
fn store_step(op: &Operator<'_>, d: &Deploy, store: &str) -> Result<Option<steps::Step>, ResourceError> {
    Ok(match store {
        stack::DSQL => steps::dsql_schema(
            &op.output(stack::DSQL, Output::Endpoint)?,
            &d.region,
            &d.dsql.schema_name,
            &d.dsql.schema_version,
            op.applied(steps::DSQL_SCHEMA).as_deref(),
        ),
        _ => steps::visibility(
            &op.output(stack::OPENSEARCH, Output::Endpoint)?,
            &d.opensearch.visibility_index,
            op.applied(steps::VISIBILITY).as_deref(),
        ),
    })
}

fn counts_of(targets: &[(&'static ServiceKind, u32)]) -> Counts {
    targets.iter().map(|(k, n)| (k.key, *n)).collect()
}

/// `change` over `recorded` over deploy.yaml's counts.
pub fn desired_counts(d: &Deploy, recorded: &BTreeMap<String, u32>, change: Option<&Counts>) -> Counts {
    d.services
        .iter()
        .map(|(key, s)| {
            let n = change.and_then(|c| c.get(key).copied()).or_else(|| recorded.get(key).copied()).unwrap_or(s.count);
            (key, n)
        })
        .collect()
}

/// Run a step against its data store, once the store shows our tags and answers at the
/// endpoint the script names (`Operator::owned_store`); then tag the store with what the
/// step applied and copy that to the state file. The schema step also records the shard
/// count it was created with, which no later `up` may change.
async fn run_and_record(op: &Operator<'_>, log: &mut dyn StepLog, step: &steps::Step) -> Result<(), ResourceError> {
    let store = op.owned_store(&format!("step/{}", step.name), store_of(step.name)).await?;
    op.run_step(step).await?;
    let mut records = vec![(step.name, step.applied.clone())];
    if step.name == steps::DSQL_SCHEMA {
        records.push((steps::HISTORY_SHARDS, op.deploy.temporal.history_shards.to_string()));
    }
    for (name, applied) in records {
        mark(op, log, &store, name, applied).await?;
    }
    Ok(())
}

/// What a step applied, on its own: the store checked, then marked.
async fn record(op: &Operator<'_>, log: &mut dyn StepLog, name: &str, applied: String) -> Result<(), ResourceError> {
    let store = op.owned_store(&format!("step/{name}"), store_of(name)).await?;
    mark(op, log, &store, name, applied).await
}

/// What a step applied: a tag on its data store, then the state file's copy, saved.
async fn mark(
    op: &Operator<'_>,
    log: &mut dyn StepLog,
    store: &Owned<Store>,
    name: &str,
    applied: String,
) -> Result<(), ResourceError> {
    op.mark_done(store, name, &applied).await?;
    log.record_step(name, applied).map_err(|e| ResourceError::fatal(e.to_string()))
}

/// `up` and `plan` refuse, before any AWS call, a change of what the schema fixed.
pub fn check_fixed_settings(d: &Deploy, state: &temporalctl_engine::StateFile) -> Result<(), Failure> {
    let tag = state.nodes.get(stack::DSQL).and_then(|r| r.outputs.get(&format!("step/{}", steps::HISTORY_SHARDS)));
    let recorded = steps::recorded_shards(&state.steps, tag.map(String::as_str), state.applied.as_ref());
    steps::check_shards(recorded, d.temporal.history_shards)
        .and_then(|()| check_tls_switch(d, state))
        .map_err(|e| Failure::Usage(format!("{e}\nNothing was sent to AWS.")))
}

/// Where `up` records, before it changes anything, the TLS mode of the task definitions
/// it registers ([`tls_mode`]): a run that fails half-way still says what it started.
pub const TLS_STEP: &str = "tls";

/// `off`, `on` (our own authority), or `on from <private CA ARN>`.
fn tls_mode(tls: &temporalctl_config::Tls) -> String {
    match (tls.enabled, &tls.private_ca_arn) {
        (false, _) => "off".into(),
        (true, None) => "on".into(),
        (true, Some(arn)) => format!("on from {arn}"),
    }
}

/// What the stack's services were last set to: `up`'s record, else what the last finished
/// `up` applied, else (a stack from before `temporal.tls`) without; `None` before any stack.
fn recorded_tls(state: &temporalctl_engine::StateFile) -> Option<String> {
    let applied = state.applied.as_ref().map(|a| {
        let tls = &a["temporal"]["tls"];
        let arn = tls["private_ca_arn"].as_str().map(String::from);
        tls_mode(&temporalctl_config::Tls { enabled: tls["enabled"].as_bool().unwrap_or(false), private_ca_arn: arn })
    });
    state.steps.get(TLS_STEP).cloned().or(applied).or_else(|| (!state.nodes.is_empty()).then(|| "off".into()))
}

/// `up`'s record of the TLS mode it applies, once the switch is allowed.
pub fn record_tls(d: &Deploy, locked: &mut temporalctl_engine::LockedState) -> Result<(), Failure> {
    let mode = tls_mode(&d.temporal.tls);
    if locked.state().steps.get(TLS_STEP) != Some(&mode) {
        locked.record_step(TLS_STEP, mode)?;
    }
    Ok(())
}

/// TLS cannot be switched, nor its issuer changed, under running services: a member with
/// it and a member without (or trusting another authority) cannot talk, so a rolling
/// change would split the cluster until the last task moved. Stopped services move
/// together.
fn check_tls_switch(d: &Deploy, state: &temporalctl_engine::StateFile) -> Result<(), String> {
    let Some(was) = recorded_tls(state) else { return Ok(()) };
    let running: Vec<&str> = state
        .desired_counts
        .iter()
        // A service runs when the state holds it with a count: `down` removes the service
        // and keeps the counts for the next `up`.
        .filter(|(service, count)| {
            **count > 0 && stack_kind_is_temporal(service) && state.nodes.contains_key(&stack::ecs_service(service))
        })
        .map(|(service, _)| service.as_str())
        .collect();
    let wanted = tls_mode(&d.temporal.tls);
    if was == wanted || running.is_empty() {
        return Ok(());
    }
    let stop_first =
        "Stop the services first: `temporalctl scale down`, then `temporalctl up`, then `temporalctl scale up`";
    let running = running.join(", ");
    let on = |mode: &str| mode != "off";
    if on(&was) && on(&wanted) {
        let issuer = |mode: &str| mode.strip_prefix("on from ").unwrap_or("the deployment's own authority").to_string();
        return Err(format!(
            "temporal.tls.private_ca_arn: the running cluster ({running} run) trusts certificates from {}, and a rolling change to {} would split it: members trusting different authorities cannot talk. {stop_first}",
            issuer(&was),
            issuer(&wanted)
        ));
    }
    let (from, to) = if on(&was) { ("on", "off") } else { ("off", "on") };
    Err(format!(
        "temporal.tls.enabled: TLS is {from} in the running cluster ({running} run), and a rolling switch {to} would split it: members with and without TLS cannot talk. {stop_first}"
    ))
}

fn stack_kind_is_temporal(service: &str) -> bool {
    temporalctl_aws::service_kinds::SERVICES.iter().any(|k| k.key == service && k.is_temporal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_switches_only_while_the_temporal_services_are_stopped() {
        let parse = |extra: &str| -> Deploy {
            temporalctl_config::parse(&format!("version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{extra}"), "t").unwrap()
        };
        let (on, off) = (parse(""), parse("  tls: { enabled: false }\n"));
        let mut state = temporalctl_engine::StateFile::new("demo", "us-east-1");
        assert!(check_tls_switch(&on, &state).is_ok(), "no stack yet");
        // A stack whose first `up` never finished, from before `temporal.tls`: without.
        let recorded = |kind: &str| temporalctl_engine::Recorded {
            kind: kind.into(),
            id: "id-1".into(),
            phase: temporalctl_engine::Phase::Ready,
            outputs: BTreeMap::new(),
        };
        state.nodes.insert("vpc".into(), recorded("vpc"));
        state.desired_counts = BTreeMap::from([("frontend".to_string(), 1)]);
        assert!(check_tls_switch(&on, &state).is_ok(), "no service in the state: nothing runs (after `down`)");
        for service in ["frontend", "history", "ui"] {
            state.nodes.insert(stack::ecs_service(service), recorded("ecs-service"));
        }
        assert!(check_tls_switch(&on, &state).unwrap_err().contains("TLS is off"));
        // A stack from before `temporal.tls`: it ran without.
        state.applied = Some(serde_json::json!({ "temporal": { "version": "1.29.0" } }));
        state.desired_counts = BTreeMap::from([("history".to_string(), 1), ("ui".to_string(), 1)]);
        let e = check_tls_switch(&on, &state).unwrap_err();
        assert!(e.starts_with("temporal.tls.enabled: TLS is off") && e.contains("(history run)"), "{e}");
        assert!(e.contains("`temporalctl scale down`"), "{e}");
        assert!(check_tls_switch(&off, &state).is_ok(), "no switch");
        // Stopped: the switch goes through.
        state.desired_counts = BTreeMap::from([("history".to_string(), 0), ("ui".to_string(), 1)]);
        assert!(check_tls_switch(&on, &state).is_ok());
        // And back off, while running.
        state.applied = Some(serde_json::to_value(&on).unwrap());
        state.desired_counts.insert("frontend".into(), 2);
        assert!(check_tls_switch(&off, &state).unwrap_err().contains("TLS is on"));
        // `up`'s own record wins over the last finished run: a switch that failed half-way
        // is not asked for again.
        state.steps.insert(TLS_STEP.into(), "off".into());
        assert!(check_tls_switch(&off, &state).is_ok());
        assert!(check_tls_switch(&on, &state).unwrap_err().contains("TLS is off"));

        // Another issuer, while running: refused naming both; stopped: allowed.
        let arn = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/0f3c";
        let from_ca = parse(&format!("  tls: {{ private_ca_arn: \"{arn}\" }}\n"));
        state.steps.insert(TLS_STEP.into(), "on".into());
        let e = check_tls_switch(&from_ca, &state).unwrap_err();
        assert!(e.starts_with("temporal.tls.private_ca_arn:"), "{e}");
        assert!(e.contains(&format!("from the deployment's own authority, and a rolling change to {arn}")), "{e}");
        state.steps.insert(TLS_STEP.into(), format!("on from {arn}"));
        assert!(check_tls_switch(&from_ca, &state).is_ok());
        assert!(
            check_tls_switch(&on, &state)
                .unwrap_err()
                .contains(&format!("from {arn}, and a rolling change to the deployment's own authority"))
        );
        assert!(check_tls_switch(&off, &state).unwrap_err().contains("TLS is on"));
        // A finished `up` with the CA, its record read back from what it applied.
        state.steps.clear();
        state.applied = Some(serde_json::to_value(&from_ca).unwrap());
        assert!(check_tls_switch(&from_ca, &state).is_ok());
        assert!(check_tls_switch(&on, &state).is_err());
        state.desired_counts.values_mut().for_each(|c| *c = 0);
        assert!(check_tls_switch(&on, &state).is_ok(), "stopped");
    }

    #[test]
    fn a_change_wins_over_recorded_counts_which_win_over_the_config() {
        let d: Deploy = temporalctl_config::parse(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: { allow_no_auth: true }\n",
            "t",
        )
        .unwrap();
        let none = desired_counts(&d, &BTreeMap::new(), None);
        assert!(none.values().all(|n| *n == 1), "deploy.yaml's counts: {none:?}");
        let recorded = BTreeMap::from([("history".to_string(), 2)]);
        let kept = desired_counts(&d, &recorded, None);
        assert_eq!((kept["history"], kept["matching"]), (2, 1));
        let change: Counts = BTreeMap::from([("history", 3), ("ui", 0)]);
        let changed = desired_counts(&d, &recorded, Some(&change));
        assert_eq!((changed["history"], changed["ui"], changed["frontend"]), (3, 0, 1));
    }
}

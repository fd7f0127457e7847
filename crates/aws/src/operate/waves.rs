//! The ECS services at run time: one batched describe for all of them, whether a wave is
//! stable, and the scale waves themselves (seed 002's order up, the reverse down).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{DesiredStatus, Service, ServiceField, Tag, Task};
use serde::Serialize;
use temporalctl_engine::{Outcome, Owned, ResourceError, wait_for};

use super::Operator;
use temporalctl_config::capacity::{self, Counts};

use crate::documents::service::{deployment, service_name};
use crate::ecs::service::{ROLLOUT_TAG, deployment_configuration, rollout_text};
use crate::errors::aws;
use crate::service_kinds::{ServiceKind, waves};
use crate::stack;
use crate::tags::from_sdk;

/// What `status` and the waits need to know about one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceState {
    pub service: &'static str,
    pub name: String,
    /// False when ECS does not know the service (or it is draining away).
    pub exists: bool,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// `family:revision` of the primary deployment's task definition.
    pub task_definition: Option<String>,
    /// The primary deployment's rollout: COMPLETED, IN_PROGRESS or FAILED.
    pub rollout: Option<String>,
    pub deployments: usize,
    /// ECS's newest service event.
    pub last_event: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stability {
    Stable,
    /// Still moving; the text says how far.
    Settling(String),
    /// The rollout failed (circuit breaker): waiting longer will not help.
    Failed(String),
}

/// The id of a service's PRIMARY deployment (the newest, which ECS rolls towards).
fn primary_deployment(s: &Service) -> Option<&str> {
    s.deployments().iter().find(|d| d.status() == Some("PRIMARY")).and_then(|d| d.id())
}

impl ServiceState {
    fn from_sdk(kind: &'static ServiceKind, name: &str, s: Option<&Service>) -> Self {
        let Some(s) = s.filter(|s| s.status() == Some("ACTIVE")) else {
            return Self {
                service: kind.key,
                name: name.into(),
                exists: false,
                desired: 0,
                running: 0,
                pending: 0,
                task_definition: None,
                rollout: None,
                deployments: 0,
                last_event: None,
            };
        };
        let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
        let task_definition = primary.and_then(|d| d.task_definition()).or(s.task_definition()).map(|arn| {
            // arn:aws:ecs:region:account:task-definition/family:3 → family:3
            arn.rsplit('/').next().unwrap_or(arn).to_string()
        });
        Self {
            service: kind.key,
            name: name.into(),
            exists: true,
            desired: s.desired_count(),
            running: s.running_count(),
            pending: s.pending_count(),
            task_definition,
            rollout: primary.and_then(|d| d.rollout_state()).map(|r| r.as_str().to_string()),
            deployments: s.deployments().len(),
            last_event: s.events().first().and_then(|e| e.message()).map(String::from),
        }
    }

    /// Whether the service runs `want` tasks on one completed deployment.
    pub fn stability(&self, want: i32) -> Stability {
        if !self.exists {
            return if want == 0 {
                Stability::Stable
            } else {
                Stability::Failed(format!("service {} does not exist: run `temporalctl up`", self.name))
            };
        }
        if self.rollout.as_deref() == Some("FAILED") {
            return Stability::Failed(format!("{}: the deployment failed and was rolled back", self.service));
        }
        let mut waiting = Vec::new();
        if self.desired != want || self.running != want {
            waiting.push(format!("{}/{want} running", self.running));
        }
        if self.pending > 0 {
            waiting.push(format!("{} pending", self.pending));
        }
        if self.deployments > 1 {
            waiting.push(format!("{} deployments", self.deployments));
        }
        if let Some(r) = self.rollout.as_deref().filter(|r| *r != "COMPLETED") {
            waiting.push(format!("rollout {}", r.to_lowercase().replace('_', " ")));
        }
        if waiting.is_empty() {
            return Stability::Stable;
        }
        // ECS's newest event says why a wave waits (no instance to place on, an image
        // still pulling, a failed health check): shown with the wait, live.
        if let Some(event) = &self.last_event {
            waiting.push(format!("ECS: {event}"));
        }
        Stability::Settling(format!("{} {}", self.service, waiting.join(", ")))
    }
}

impl Operator<'_> {
    fn service_name(&self, kind: &ServiceKind) -> String {
        service_name(&self.deploy.project, kind)
    }

    /// All the given services in one DescribeServices call (ECS takes up to 10 names).
    pub async fn describe(
        &self,
        kinds: &[&'static ServiceKind],
    ) -> Result<Vec<(ServiceState, Option<Service>)>, ResourceError> {
        let names: Vec<String> = kinds.iter().map(|k| self.service_name(k)).collect();
        let cluster = self.cluster();
        let out = self
            .call("DescribeServices", || async {
                self.aws
                    .ecs
                    .describe_services()
                    .cluster(&cluster)
                    .set_services(Some(names.clone()))
                    // For the ownership check before any change.
                    .include(ServiceField::Tags)
                    .send()
                    .await
                    .map_err(aws("DescribeServices"))
            })
            .await;
        let out = match out {
            Ok(o) => o,
            // No cluster: nothing runs.
            Err(e) if e.is_not_found() => {
                return Ok(kinds.iter().zip(&names).map(|(k, n)| (ServiceState::from_sdk(k, n, None), None)).collect());
            }
            Err(e) => return Err(e),
        };
        Ok(kinds
            .iter()
            .zip(&names)
            .map(|(k, n)| {
                // A deleted service lingers as INACTIVE next to a new ACTIVE one of the same name.
                let s = out
                    .services()
                    .iter()
                    .find(|s| s.service_name() == Some(n.as_str()) && s.status() == Some("ACTIVE"));
                (ServiceState::from_sdk(k, n, s), s.cloned())
            })
            .collect())
    }

    /// Set each service's desired count and wait for it, wave by wave: seed 002's order
    /// going up, the reverse going down. A wave starts only when the one before it is
    /// stable. `all` are every service's counts once this is done: they choose how each
    /// changed service rolls (a surge where its node group has room, else in place), sent
    /// with the count. Returns how many services changed.
    pub async fn scale(
        &self,
        targets: &[(&'static ServiceKind, u32)],
        down: bool,
        all: &Counts,
    ) -> Result<usize, ResourceError> {
        let mut order = waves();
        if down {
            order.reverse();
        }
        // One look at every service first. Each is checked for our tags before the first
        // wave moves (one that is not ours stops the run, not the third wave after two
        // have moved). Until a wave changes something, a wave already settled at its
        // counts in that look is not looked at again; after one did, each wave is read
        // afresh (the first look is minutes old by then).
        let kinds: Vec<&'static ServiceKind> = targets.iter().map(|(k, _)| *k).collect();
        // Settled at its count already: key → whether the service exists.
        let mut settled = BTreeMap::new();
        for ((kind, want), (state, found)) in targets.iter().zip(self.describe(&kinds).await?) {
            if let Some(service) = found {
                self.owned(kind, service).inspect_err(|e| self.failed(&format!("service/{}", kind.key), e))?;
            }
            if state.stability(*want as i32) == Stability::Stable {
                settled.insert(kind.key, state.exists);
            }
        }
        let mut changed = 0;
        for wave in order {
            let wave: Vec<(&'static ServiceKind, i32)> = wave
                .into_iter()
                .filter_map(|k| targets.iter().find(|(t, _)| t.key == k.key).map(|(_, n)| (k, *n as i32)))
                .collect();
            if changed == 0 && wave.iter().all(|(k, _)| settled.contains_key(k.key)) {
                for (kind, want) in wave.iter().filter(|(k, _)| settled[k.key]) {
                    self.finished(
                        &format!("service/{}", kind.key),
                        Outcome::Unchanged,
                        Some(format!("{want} running")),
                    );
                }
                continue;
            }
            changed += self.scale_wave(&wave, all).await?;
        }
        Ok(changed)
    }

    async fn scale_wave(&self, wave: &[(&'static ServiceKind, i32)], all: &Counts) -> Result<usize, ResourceError> {
        let kinds: Vec<&'static ServiceKind> = wave.iter().map(|(k, _)| *k).collect();
        let (mut changing, mut absent) = (Vec::new(), Vec::new());
        // Already there and settled: the wave needs no wait, and no second look.
        let mut settled = true;
        for ((kind, want), (state, found)) in wave.iter().zip(self.describe(&kinds).await?) {
            settled &= state.stability(*want) == Stability::Stable;
            if !state.exists && *want == 0 {
                absent.push(kind.key);
                continue;
            }
            if !state.exists {
                let e =
                    ResourceError::fatal(format!("service {} does not exist: run `temporalctl up` first", state.name));
                self.failed(&format!("service/{}", kind.key), &e);
                return Err(e);
            }
            if let Some(service) = found.filter(|_| state.desired != *want) {
                let node = format!("service/{}", kind.key);
                changing.push((*kind, *want, self.owned(kind, service).inspect_err(|e| self.failed(&node, e))?));
            }
        }
        // A wave going down starts no task, so none can fail it.
        let starting: Vec<&'static ServiceKind> =
            changing.iter().filter(|(_, want, ..)| *want > 0).map(|(k, ..)| *k).collect();
        let before = self.stopped_before(&starting).await?;
        for (kind, want, service) in &changing {
            let node = format!("service/{}", kind.key);
            self.started(&node, "ecs-service", "scaling");
            // Going up, the service is told how to roll at its new count; a service going
            // to 0 rolls no more.
            let percents = (*want > 0).then(|| capacity::rollout(self.deploy, kind.key, all));
            self.update_service(&node, service, Some(*want), percents, false).await?;
        }
        let changed: Vec<&'static str> = changing.iter().map(|(k, ..)| k.key).collect();
        if !(changed.is_empty() && settled) {
            self.wait_stable(wave, &kinds, &changed, &before, &BTreeMap::new()).await?;
        }
        for (kind, want) in wave.iter().filter(|(k, _)| !absent.contains(&k.key)) {
            let outcome = if changed.contains(&kind.key) { Outcome::Updated } else { Outcome::Unchanged };
            self.finished(&format!("service/{}", kind.key), outcome, Some(format!("{want} running")));
        }
        Ok(changed.len())
    }

    /// The stopped tasks from before a wave, taken before it starts any: only the ones it
    /// starts can fail it.
    async fn stopped_before(
        &self,
        kinds: &[&'static ServiceKind],
    ) -> Result<BTreeMap<&'static str, BTreeSet<String>>, ResourceError> {
        let mut before = BTreeMap::new();
        for kind in kinds {
            let arns = self
                .stopped_tasks(kind, usize::MAX)
                .await?
                .iter()
                .filter_map(|t| t.task_arn().map(String::from))
                .collect();
            before.insert(kind.key, arns);
        }
        Ok(before)
    }

    /// Replace every running task of `kinds` (UpdateService `forceNewDeployment`), wave by
    /// wave in seed 002's order, each wave waited until stable and watched for crashing
    /// tasks like a scale wave: a task reads its secrets when it starts (AWS, "Pass
    /// Secrets Manager secrets through Amazon ECS environment variables": a new value
    /// reaches running tasks only through new tasks), so this is how new certificates
    /// reach them. Each service rolls by its own deployment configuration, so its count
    /// keeps serving. A service at 0, or absent, is left alone. Returns how many rolled.
    pub async fn restart(&self, kinds: &[&'static ServiceKind]) -> Result<usize, ResourceError> {
        let mut restarted = 0;
        for wave in waves() {
            let wave: Vec<&'static ServiceKind> =
                wave.into_iter().filter(|k| kinds.iter().any(|x| x.key == k.key)).collect();
            if wave.is_empty() {
                continue;
            }
            let mut running = Vec::new();
            for (kind, (state, found)) in wave.iter().zip(self.describe(&wave).await?) {
                let node = format!("service/{}", kind.key);
                if let Some(service) = found.filter(|_| state.desired > 0) {
                    running.push((
                        *kind,
                        state.desired,
                        self.owned(kind, service).inspect_err(|e| self.failed(&node, e))?,
                    ));
                }
            }
            if running.is_empty() {
                continue;
            }
            let rolling: Vec<&'static ServiceKind> = running.iter().map(|(k, ..)| *k).collect();
            let before = self.stopped_before(&rolling).await?;
            // Stable means stable on the deployment each call started: a read that still
            // shows the old one, settled, must not end the wait.
            let mut started = BTreeMap::new();
            for (kind, _, service) in &running {
                let node = format!("service/{}", kind.key);
                self.started(&node, "ecs-service", "replacing its tasks");
                if let Some(id) = self.update_service(&node, service, None, None, true).await? {
                    started.insert(kind.key, id);
                }
            }
            let targets: Vec<(&'static ServiceKind, i32)> = running.iter().map(|(k, n, _)| (*k, *n)).collect();
            let keys: Vec<&'static str> = rolling.iter().map(|k| k.key).collect();
            self.wait_stable(&targets, &rolling, &keys, &before, &started).await?;
            for (kind, n, _) in &running {
                self.finished(&format!("service/{}", kind.key), Outcome::Updated, Some(format!("{n} new task(s)")));
            }
            restarted += running.len();
        }
        Ok(restarted)
    }

    /// Every existing service of `kinds` shows our ownership tags; a run that will change
    /// something else first (`tls rotate` writes a secret) asks before it does.
    pub async fn check_services_owned(&self, kinds: &[&'static ServiceKind]) -> Result<(), ResourceError> {
        for (kind, (_, found)) in kinds.iter().zip(self.describe(kinds).await?) {
            if let Some(service) = found {
                self.owned(kind, service).inspect_err(|e| self.failed(&format!("service/{}", kind.key), e))?;
            }
        }
        Ok(())
    }

    /// The service of `kind` if it exists, once it shows our ownership tags: `exec` and
    /// `connect` open sessions only into our own tasks.
    pub async fn owned_service(&self, kind: &'static ServiceKind) -> Result<Option<Owned<Service>>, ResourceError> {
        let found = self.describe(&[kind]).await?.pop().and_then(|(_, s)| s);
        found.map(|s| self.owned(kind, s)).transpose()
    }

    /// The service, if it carries our ownership tags (`describe` reads them).
    fn owned(&self, kind: &ServiceKind, service: Service) -> Result<Owned<Service>, ResourceError> {
        let name = service.service_name().unwrap_or_default().to_string();
        let tags = from_sdk(service.tags());
        Owned::verify(&self.deploy.project, &stack::ecs_service(kind.key), &name, &tags, service)
    }

    /// UpdateService with a desired count and/or how the service rolls, or new tasks for
    /// all (`force`); the rollout is also written to the service's ROLLOUT_TAG, which
    /// `up` compares. Returns the primary deployment the call left (ECS's answer).
    async fn update_service(
        &self,
        node: &str,
        service: &Owned<Service>,
        count: Option<i32>,
        percents: Option<(i32, i32)>,
        force: bool,
    ) -> Result<Option<String>, ResourceError> {
        let cluster = self.cluster();
        // Exactly the service checked, in the cluster it was found in.
        let cluster = service.cluster_arn().map_or(cluster, String::from);
        let (name, arn) = (service.service_name().unwrap_or_default(), service.service_arn());
        let rollout = percents.map(|p| deployment_configuration(&deployment(p)));
        let updated = self
            .call(node, || async {
                self.aws
                    .ecs
                    .update_service()
                    .cluster(&cluster)
                    .service(name)
                    .set_desired_count(count)
                    .set_deployment_configuration(rollout.clone())
                    .set_force_new_deployment(force.then_some(true))
                    .send()
                    .await
                    .map_err(aws("UpdateService"))
            })
            .await?;
        if let (Some(p), Some(arn)) = (percents, arn) {
            let tag = Tag::builder().key(ROLLOUT_TAG).value(rollout_text(p)).build();
            self.call(node, || async {
                self.aws.ecs.tag_resource().resource_arn(arn).tags(tag.clone()).send().await.map_err(aws("TagResource"))
            })
            .await?;
        }
        Ok(updated.service().and_then(primary_deployment).map(String::from))
    }

    /// After `scale` changed some counts: the other services of the same node groups roll
    /// differently too when their group's room for a surge changed (`before` → `all`).
    /// Their counts stay; only how they roll, and its tag, change.
    pub async fn align_rollouts(
        &self,
        scaled: &[(&'static ServiceKind, u32)],
        before: &Counts,
        all: &Counts,
    ) -> Result<(), ResourceError> {
        let others: Vec<&'static ServiceKind> = crate::service_kinds::SERVICES
            .iter()
            .filter(|k| !scaled.iter().any(|(s, _)| s.key == k.key))
            .filter(|k| capacity::rollout(self.deploy, k.key, before) != capacity::rollout(self.deploy, k.key, all))
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        for (kind, (_, found)) in others.iter().zip(self.describe(&others).await?) {
            let Some(service) = found else { continue };
            let percents = capacity::rollout(self.deploy, kind.key, all);
            self.update_service(
                &format!("service/{}", kind.key),
                &self.owned(kind, service)?,
                None,
                Some(percents),
                false,
            )
            .await?;
        }
        Ok(())
    }

    /// Wait until every service of the wave is stable at its count; on failure or at the
    /// deadline, the error carries each service's events and stopped tasks.
    async fn wait_stable(
        &self,
        wave: &[(&'static ServiceKind, i32)],
        kinds: &[&'static ServiceKind],
        changed: &[&'static str],
        before: &BTreeMap<&'static str, BTreeSet<String>>,
        deployments: &BTreeMap<&'static str, String>,
    ) -> Result<(), ResourceError> {
        let what: Vec<String> = wave.iter().map(|(k, n)| format!("{} at {n}", k.key)).collect();
        let what = format!("{} to be stable", what.join(", "));
        let lead = format!("service/{}", wave[0].0.key);
        let waited = wait_for(
            &self.policy,
            &self.cancel,
            self.deploy.timeouts.service_stable,
            &what,
            |s| {
                for (k, _) in wave {
                    if changed.contains(&k.key) {
                        self.waiting(&format!("service/{}", k.key), s.to_string());
                    }
                }
            },
            || async {
                let mut settling = Vec::new();
                for ((kind, want), (state, found)) in wave.iter().zip(self.describe(kinds).await?) {
                    // `deployments`: the one each service must be on (ECS's answer to the
                    // call that started it); an older read may not show it yet.
                    let shown = found.as_ref().and_then(primary_deployment);
                    if let Some(id) = deployments.get(kind.key).filter(|id| shown != Some(id.as_str())) {
                        settling.push(format!("{}: deployment {id} not shown yet", kind.key));
                        continue;
                    }
                    match state.stability(*want) {
                        Stability::Stable => {}
                        Stability::Settling(s) => settling.push(s),
                        Stability::Failed(why) => return Err(ResourceError::fatal(why)),
                    }
                }
                if settling.is_empty() {
                    return Ok(Ok(()));
                }
                self.crash_loop(kinds, before).await?;
                Ok(Err(settling.join("; ")))
            },
        )
        .await;
        if let Err(e) = waited {
            let mut message = e.message.clone();
            for (kind, _) in wave {
                message.push_str(&self.diagnose(kind).await);
            }
            let e = ResourceError { message, ..e };
            self.failed(&lead, &e);
            return Err(e);
        }
        Ok(())
    }

    /// The service's stopped tasks that ECS still lists (about an hour after they stop),
    /// at most `limit` of them (ListTasks answers at most 100).
    async fn stopped_tasks(&self, kind: &'static ServiceKind, limit: usize) -> Result<Vec<Task>, ResourceError> {
        let name = self.service_name(kind);
        let node = format!("service/{}", kind.key);
        let mut arns = self.list_tasks(&node, Some(&name), DesiredStatus::Stopped).await?;
        arns.truncate(limit);
        let group = format!("service:{name}");
        let tasks = self.describe_tasks(&node, &arns).await?;
        Ok(tasks.into_iter().filter(|t| t.group() == Some(group.as_str())).collect())
    }

    /// Tasks of the wave's services that failed since `before` was taken; an error once
    /// `rollout.failed_tasks` of one service have, with their stop reasons and the last
    /// log lines of the newest.
    async fn crash_loop(
        &self,
        kinds: &[&'static ServiceKind],
        before: &BTreeMap<&'static str, BTreeSet<String>>,
    ) -> Result<(), ResourceError> {
        let limit = self.deploy.rollout.failed_tasks as usize;
        for kind in kinds {
            let Some(seen) = before.get(kind.key) else { continue };
            let stopped = self.stopped_tasks(kind, usize::MAX).await?;
            let mut failed: Vec<&Task> =
                stopped.iter().filter(|t| !seen.contains(t.task_arn().unwrap_or_default()) && failed(t)).collect();
            // Newest first (ListTasks keeps no order); moto reports no stop time.
            failed.sort_by_key(|t| std::cmp::Reverse(t.stopped_at().map(|d| d.secs())));
            if failed.len() < limit {
                continue;
            }
            let mut message = format!(
                "{}: {} of the tasks this wave started failed (rollout.failed_tasks: {limit}); the service will not become stable by waiting:",
                kind.key,
                failed.len()
            );
            for t in failed.iter().take(5) {
                message.push_str(&format!("\n    {}", stop_line(t)));
            }
            let id = failed[0].task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
            if let Some((group, stream)) = self.log_stream(kind, &id) {
                message.push_str(&format!("\n  last log lines of task {id} ({group} {stream}):\n"));
                message.push_str(&self.last_log_lines(&group, &stream).await);
            }
            message.push_str(&format!(
                "\n  fix the cause (image, configuration, network: `temporalctl verify`), then scale again; `temporalctl logs {}` shows more",
                kind.key
            ));
            return Err(ResourceError::fatal(message));
        }
        Ok(())
    }

    /// Why a service is not stable: its newest events and the stopped reasons of its
    /// recently failed tasks (image pull, no capacity, failing health check…).
    pub async fn diagnose(&self, kind: &'static ServiceKind) -> String {
        let mut text = format!("\n  {}:", kind.key);
        if let Ok(found) = self.describe(&[kind]).await
            && let Some((_, Some(s))) = found.first()
        {
            for e in s.events().iter().take(5) {
                text.push_str(&format!("\n    event: {}", e.message().unwrap_or_default()));
            }
        }
        let stopped = async {
            let tasks = self.stopped_tasks(kind, 5).await?;
            Ok::<_, ResourceError>(tasks.iter().map(stop_line).collect::<Vec<String>>())
        };
        match stopped.await {
            Ok(lines) if lines.is_empty() => text.push_str("\n    no stopped tasks"),
            Ok(lines) => lines.iter().for_each(|l| text.push_str(&format!("\n    {l}"))),
            Err(e) => text.push_str(&format!("\n    (could not list stopped tasks: {e})")),
        }
        text
    }
}

/// Whether a stopped task failed (a crash, a start that never happened), as opposed to
/// being stopped on purpose (a scale-in, a deployment replacing it, a person). ECS's stop
/// codes and reasons: AWS, "Amazon ECS stopped tasks error messages".
pub fn failed(t: &Task) -> bool {
    let reason = t.stopped_reason().unwrap_or_default();
    let code = t.stop_code().map(|c| c.as_str());
    // A container that exits 143 on SIGTERM during a scale-in is no crash; ECS also stops
    // unhealthy tasks as the scheduler, and those did fail.
    if matches!(code, Some("ServiceSchedulerInitiated" | "UserInitiated")) && !reason.contains("health check") {
        return false;
    }
    const FAILED: [&str; 5] = [
        "Essential container in task exited",
        "CannotPullContainerError",
        "failed container health checks",
        "ResourceInitializationError",
        "CannotStartContainerError",
    ];
    code == Some("TaskFailedToStart")
        || t.containers().iter().any(|c| c.exit_code().is_some_and(|e| e != 0))
        || FAILED.iter().any(|f| reason.contains(f))
}

/// `stopped task abc: Essential container in task exited (temporal-history: exit 1)`.
fn stop_line(t: &Task) -> String {
    let containers: Vec<String> = t
        .containers()
        .iter()
        .filter(|c| c.reason().is_some() || c.exit_code().is_some_and(|e| e != 0))
        .map(|c| {
            let exit = c.exit_code().filter(|e| *e != 0).map(|e| format!("exit {e}"));
            let parts: Vec<String> = [c.reason().map(String::from), exit].into_iter().flatten().collect();
            format!("{}: {}", c.name().unwrap_or("container"), parts.join(", "))
        })
        .collect();
    format!(
        "stopped task {}: {}{}",
        t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default(),
        t.stopped_reason().unwrap_or("no reason given"),
        if containers.is_empty() { String::new() } else { format!(" ({})", containers.join("; ")) }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_kinds::service;

    fn state(desired: i32, running: i32, rollout: Option<&str>, deployments: usize) -> ServiceState {
        ServiceState {
            service: "history",
            name: "demo-history".into(),
            exists: true,
            desired,
            running,
            pending: desired - running,
            task_definition: Some("demo-temporal-history:3".into()),
            rollout: rollout.map(String::from),
            deployments,
            last_event: None,
        }
    }

    #[test]
    fn stable_means_running_equals_desired_on_one_completed_deployment() {
        assert_eq!(state(2, 2, Some("COMPLETED"), 1).stability(2), Stability::Stable);
        assert_eq!(state(2, 2, None, 1).stability(2), Stability::Stable, "no rollout state: counts decide");
        assert!(
            matches!(state(2, 1, Some("IN_PROGRESS"), 1).stability(2), Stability::Settling(s) if s.contains("1/2 running") && s.contains("rollout in progress"))
        );
        assert!(
            matches!(state(2, 2, Some("COMPLETED"), 2).stability(2), Stability::Settling(s) if s.contains("2 deployments"))
        );
        assert!(
            matches!(state(1, 1, Some("COMPLETED"), 1).stability(2), Stability::Settling(_)),
            "desired not yet raised"
        );
        assert!(matches!(state(2, 0, Some("FAILED"), 1).stability(2), Stability::Failed(_)));
        // Why it waits, in ECS's words, with the wait.
        let placing = ServiceState {
            last_event: Some("(service demo-history) was unable to place a task".into()),
            ..state(2, 1, Some("IN_PROGRESS"), 1)
        };
        assert!(
            matches!(placing.stability(2), Stability::Settling(s) if s.ends_with("ECS: (service demo-history) was unable to place a task"))
        );
        assert_eq!(
            ServiceState { last_event: Some("steady".into()), ..state(2, 2, Some("COMPLETED"), 1) }.stability(2),
            Stability::Stable,
            "an event alone keeps no stable service waiting"
        );
        let gone = ServiceState::from_sdk(service("history"), "demo-history", None);
        assert!(matches!(gone.stability(1), Stability::Failed(s) if s.contains("temporalctl up")));
        assert_eq!(gone.stability(0), Stability::Stable, "nothing to drain");
    }

    #[test]
    fn a_stopped_task_failed_unless_it_was_stopped_on_purpose() {
        use aws_sdk_ecs::types::{Container, TaskStopCode};
        let task = |code: Option<TaskStopCode>, reason: &str, exit: Option<i32>| {
            Task::builder()
                .set_stop_code(code)
                .stopped_reason(reason)
                .containers(Container::builder().name("temporal-history").set_exit_code(exit).build())
                .build()
        };
        assert!(failed(&task(None, "Essential container in task exited", Some(1))));
        assert!(failed(&task(Some(TaskStopCode::TaskFailedToStart), "CannotPullContainerError: not found", None)));
        assert!(failed(&task(Some(TaskStopCode::EssentialContainerExited), "", Some(2))));
        let scaled_in = task(
            Some(TaskStopCode::ServiceSchedulerInitiated),
            "Scaling activity initiated by (deployment ecs-svc/1)",
            Some(143),
        );
        assert!(!failed(&scaled_in), "SIGTERM on a scale-in is no crash");
        assert!(!failed(&task(Some(TaskStopCode::UserInitiated), "stopped by temporalctl", Some(137))));
        let unhealthy =
            task(Some(TaskStopCode::ServiceSchedulerInitiated), "Task failed container health checks", Some(143));
        assert!(failed(&unhealthy), "ECS stops unhealthy tasks as the scheduler");
        assert!(!failed(&task(None, "", Some(0))), "a clean exit with no reason");
    }

    #[test]
    fn reads_the_primary_deployment() {
        use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, ServiceEvent};
        let s = Service::builder()
            .service_name("demo-history")
            .status("ACTIVE")
            .desired_count(2)
            .running_count(1)
            .pending_count(1)
            .deployments(
                Deployment::builder()
                    .status("PRIMARY")
                    .task_definition("arn:aws:ecs:us-east-1:1:task-definition/demo-temporal-history:4")
                    .rollout_state(DeploymentRolloutState::InProgress)
                    .build(),
            )
            .deployments(Deployment::builder().status("ACTIVE").build())
            .events(ServiceEvent::builder().message("(service demo-history) has started 1 tasks").build())
            .build();
        let st = ServiceState::from_sdk(service("history"), "demo-history", Some(&s));
        assert_eq!(st.task_definition.as_deref(), Some("demo-temporal-history:4"));
        assert_eq!(st.rollout.as_deref(), Some("IN_PROGRESS"));
        assert_eq!(st.deployments, 2);
        assert_eq!(st.last_event.as_deref(), Some("(service demo-history) has started 1 tasks"));
        let draining = Service::builder().service_name("demo-history").status("DRAINING").build();
        assert!(!ServiceState::from_sdk(service("history"), "demo-history", Some(&draining)).exists);
    }
}

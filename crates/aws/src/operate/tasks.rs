//! One-off ECS tasks: wait for the node group's instances to join the cluster, run the
//! admin-tools task with the step's script, wait for it to stop, and judge it by its
//! container's exit code. A failure names the step, ECS's stopped reason and the last
//! lines of the task's log stream.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, DesiredStatus,
    NetworkConfiguration, PlacementConstraint, PlacementConstraintType, Tag, TargetType, Task, TaskField, TaskOverride,
};
use temporalctl_engine::{ErrorClass, Outcome, Owned, ResourceError, RetryReason, ownership_tags, wait_for};

use super::Operator;
use crate::documents::steps::Step;
use crate::errors::aws;
use crate::outputs::Output;
use crate::service_kinds::{ADMIN_TOOLS, ADMIN_TOOLS_SIZE, ONE_OFF_IDENTITY, ONE_OFF_PLACEMENT, ServiceKind};
use crate::stack;
use crate::tags::from_sdk;

/// How many log lines a failed step shows.
const LOG_LINES: i32 = 25;

fn fatal(e: impl std::fmt::Display) -> ResourceError {
    ResourceError::fatal(e.to_string())
}

impl Operator<'_> {
    /// The node group the one-off tasks run on, and its `workload` attribute.
    fn placement(&self) -> Result<(String, String), ResourceError> {
        let group = self.deploy.services.get(ONE_OFF_PLACEMENT).map(|s| s.node_group.clone()).unwrap_or_default();
        let workload =
            self.deploy.node_groups.get(&group).map(|g| g.workload.clone()).ok_or_else(|| {
                fatal(format!("services.{ONE_OFF_PLACEMENT}.node_group `{group}` is not a node group"))
            })?;
        Ok((group, workload))
    }

    /// Wait until at least one ACTIVE, connected container instance carries `workload`:
    /// instances take minutes to boot and register after their Auto Scaling group exists.
    pub async fn wait_for_instances(&self, node: &str, group: &str, workload: &str) -> Result<usize, ResourceError> {
        let cluster = self.cluster();
        let what = format!("node group {group} (workload={workload}) to register with {cluster}");
        let deadline = self.deploy.timeouts.container_instances;
        wait_for(
            &self.policy,
            &self.cancel,
            deadline,
            &what,
            |s| self.waiting(node, s.to_string()),
            || async {
                let active = self.active_instances(&cluster, workload).await?;
                Ok(if active > 0 { Ok(active) } else { Err(format!("node group {group}: 0 container instances")) })
            },
        )
        .await
    }

    /// ACTIVE, connected container instances with `workload=<value>`.
    pub async fn active_instances(&self, cluster: &str, workload: &str) -> Result<usize, ResourceError> {
        let ecs = &self.aws.ecs;
        let attrs = self
            .call("ListAttributes", || async {
                ecs.list_attributes()
                    .cluster(cluster)
                    .target_type(TargetType::ContainerInstance)
                    .attribute_name("workload")
                    .attribute_value(workload)
                    .send()
                    .await
                    .map_err(aws("ListAttributes"))
            })
            .await?;
        let ids: Vec<String> = attrs.attributes().iter().filter_map(|a| a.target_id().map(String::from)).collect();
        let described = self.describe_instances("DescribeContainerInstances", &ids).await?;
        Ok(described.iter().filter(|ci| ci.status() == Some("ACTIVE") && ci.agent_connected()).count())
    }

    /// Run one step to completion. Ok when its container exited 0.
    pub async fn run_step(&self, step: &Step) -> Result<(), ResourceError> {
        let node = format!("step/{}", step.name);
        self.started(&node, "one-off task", "running");
        let result = self.run_step_inner(&node, step).await;
        match &result {
            Ok(task) => self.finished(&node, Outcome::Created, Some(task.clone())),
            Err(e) => self.failed(&node, e),
        }
        result.map(|_| ())
    }

    async fn run_step_inner(&self, node: &str, step: &Step) -> Result<String, ResourceError> {
        let (group, workload) = self.placement()?;
        self.wait_for_instances(node, &group, &workload).await?;
        self.waiting(node, format!("{} to start", step.title));
        let arn = self.start_task(node, step, &group, &workload).await?;
        let id = arn.rsplit('/').next().unwrap_or(&arn).to_string();
        let task = match self.wait_stopped(node, step, &arn).await {
            Ok(task) => task,
            Err(e) => {
                // Past its deadline or interrupted, the task still runs with the step's
                // rights (DSQL admin, OpenSearch writes): stop it, never leave it behind.
                let why = if e.class == ErrorClass::Cancelled { "interrupted" } else { "did not finish in time" };
                let stopped =
                    self.stop_task_anyway(node, &arn, &format!("temporalctl: step {} {why}", step.name)).await;
                let note = match stopped {
                    Ok(()) => format!("; task {id} was stopped"),
                    Err(s) => format!("; stopping task {id} failed too ({s}): stop it by hand"),
                };
                return Err(ResourceError { message: format!("{}{note}", e.message), ..e });
            }
        };
        let container = task.containers().iter().find(|c| c.name() == Some(ADMIN_TOOLS.container));
        let exit = container.and_then(|c| c.exit_code());
        if exit == Some(0) {
            return Ok(id);
        }
        let reason = [
            task.stopped_reason().map(|r| format!("stopped reason: {r}")),
            task.stop_code().map(|c| format!("stop code: {}", c.as_str())),
            container.and_then(|c| c.reason()).map(|r| format!("container: {r}")),
        ];
        let reason: Vec<String> = reason.into_iter().flatten().filter(|s| !s.ends_with(": ")).collect();
        let exit = exit.map_or("no exit code (the container never ran)".to_string(), |c| format!("exit code {c}"));
        let (log_group, stream) = self.log_stream(&ADMIN_TOOLS, &id).ok_or_else(|| {
            fatal(format!(
                "the state file has no id for {}: run `temporalctl up` first",
                stack::log_group(ADMIN_TOOLS.key)
            ))
        })?;
        let logs = self.last_log_lines(&log_group, &stream).await;
        let because = if reason.is_empty() { String::new() } else { format!("; {}", reason.join("; ")) };
        let script = indent(&step.script, "    ");
        Err(fatal(format!(
            "step {} failed: task {id} stopped with {exit}{because}\n  script:\n{script}\n  log stream {log_group} {stream}:\n{logs}\n  fix the cause and run `temporalctl up` again: finished steps are recorded and skipped",
            step.title,
        )))
    }

    async fn start_task(&self, node: &str, step: &Step, group: &str, workload: &str) -> Result<String, ResourceError> {
        let d = self.deploy;
        let subnets: Vec<String> =
            stack::private_subnets(d).iter().map(|n| self.output(n, Output::Id)).collect::<Result<_, _>>()?;
        let groups = vec![
            self.output(&stack::service_sg(ONE_OFF_IDENTITY), Output::Id)?,
            self.output(stack::INSTANCES_SG, Output::Id)?,
        ];
        let task_definition = self.output(&stack::task_definition(ADMIN_TOOLS.key), Output::Arn)?;
        let provider = self.output(&stack::capacity_provider(group), Output::Name)?;
        let tags: Vec<Tag> = ownership_tags(&d.project, node, &format!("{}-{}", d.project, step.name), &d.tags)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(subnets))
                    .set_security_groups(Some(groups))
                    .assign_public_ip(AssignPublicIp::Disabled)
                    .build()
                    .map_err(fatal)?,
            )
            .build();
        let strategy =
            CapacityProviderStrategyItem::builder().capacity_provider(provider).weight(1).build().map_err(fatal)?;
        let placement = PlacementConstraint::builder()
            .r#type(PlacementConstraintType::MemberOf)
            .expression(format!("attribute:workload == {workload}"))
            .build();
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder().name(ADMIN_TOOLS.container).command(step.script.clone()).build(),
            )
            .build();
        let cluster = self.cluster();
        // One token for every attempt: a retried RunTask whose first answer was lost
        // must not start the step twice.
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| fatal(format!("no randomness for the RunTask token: {e}")))?;
        let token = format!("{}-{}", step.name, nonce.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let out = self
            .call(node, || async {
                self.aws
                    .ecs
                    .run_task()
                    .cluster(&cluster)
                    .task_definition(&task_definition)
                    .capacity_provider_strategy(strategy.clone())
                    .placement_constraints(placement.clone())
                    .network_configuration(network.clone())
                    .overrides(overrides.clone())
                    .started_by(format!("temporalctl/{}", step.name))
                    .client_token(&token)
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .map_err(aws("RunTask"))
            })
            .await?;
        if let Some(task) = out.tasks().first() {
            return Ok(task.task_arn().unwrap_or_default().to_string());
        }
        let failures: Vec<String> = out
            .failures()
            .iter()
            .map(|f| format!("{} {}", f.reason().unwrap_or("unknown"), f.detail().unwrap_or_default()))
            .collect();
        let (cpu, memory) = ADMIN_TOOLS_SIZE;
        Err(fatal(format!(
            "ECS placed no task for step {} on node group {group} ({}); the group needs a free instance with {cpu} CPU units and {memory} MiB: raise node_groups.{group}.max_size or desired_capacity",
            step.title,
            if failures.is_empty() { "no failure reported".to_string() } else { failures.join(", ") }
        )))
    }

    /// StopTask, retried on transient errors for up to 30 s, even when the run was
    /// cancelled: this is the clean-up of a cancelled run. The task is read first and
    /// stopped only if it carries the step's ownership tags (RunTask set them).
    async fn stop_task_anyway(&self, node: &str, arn: &str, reason: &str) -> Result<(), ResourceError> {
        let cluster = self.cluster();
        let not_cancelled = temporalctl_engine::CancelToken::default();
        let retrying = temporalctl_engine::Retrying { policy: &self.policy, cancel: &not_cancelled, report: None };
        let stopped = retrying
            .call(node, temporalctl_engine::Retries::Transient, std::time::Duration::from_secs(30), || async {
                let read = self
                    .aws
                    .ecs
                    .describe_tasks()
                    .cluster(&cluster)
                    .tasks(arn)
                    .include(TaskField::Tags)
                    .send()
                    .await
                    .map_err(aws("DescribeTasks"))?;
                // Just after RunTask a task may not be visible yet (eventual consistency):
                // ask again within the 30 s, never take it for stopped.
                let Some(task) = read.tasks().first() else {
                    return Err(ResourceError::new(
                        ErrorClass::Retryable(RetryReason::Propagation),
                        format!("task {arn} is not visible yet"),
                    ));
                };
                let task = Owned::verify(&self.deploy.project, node, arn, &from_sdk(task.tags()), task)?;
                self.aws
                    .ecs
                    .stop_task()
                    .cluster(task.cluster_arn().unwrap_or(&cluster))
                    .task(task.task_arn().unwrap_or(arn))
                    .reason(reason)
                    .send()
                    .await
                    .map(drop)
                    .map_err(aws("StopTask"))
            })
            .await;
        match stopped {
            Ok(()) => {
                self.waiting(node, format!("stopped task {}", arn.rsplit('/').next().unwrap_or(arn)));
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn wait_stopped(&self, node: &str, step: &Step, arn: &str) -> Result<Task, ResourceError> {
        let what = format!("{} (task {}) to finish", step.title, arn.rsplit('/').next().unwrap_or(arn));
        let deadline = self.deploy.timeouts.one_off_task;
        wait_for(
            &self.policy,
            &self.cancel,
            deadline,
            &what,
            |s| self.waiting(node, format!("{}: {s}", step.title)),
            || async {
                let out = self.describe_tasks(node, &[arn.to_string()]).await?;
                let Some(task) = out.first() else {
                    return Ok(Err("not visible yet".to_string()));
                };
                let status = task.last_status().unwrap_or("PROVISIONING");
                Ok(if status == "STOPPED" { Ok(task.clone()) } else { Err(status.to_string()) })
            },
        )
        .await
    }

    /// The awslogs log group and stream of a task of `kind`: `<prefix>/<container>/<task
    /// id>`, the prefix being the container's name. None before `up` recorded the group.
    pub(crate) fn log_stream(&self, kind: &ServiceKind, task_id: &str) -> Option<(String, String)> {
        let group = self.recorded(&stack::log_group(kind.key), Output::Id)?;
        Some((group, format!("{0}/{0}/{task_id}", kind.container)))
    }

    /// The last lines of a log stream, indented; a note instead when there are none.
    pub(crate) async fn last_log_lines(&self, group: &str, stream: &str) -> String {
        let out = self
            .call("GetLogEvents", || async {
                self.aws
                    .logs
                    .get_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream)
                    .start_from_head(false)
                    .limit(LOG_LINES)
                    .send()
                    .await
                    .map_err(aws("GetLogEvents"))
            })
            .await;
        match out {
            Ok(o) if !o.events().is_empty() => o
                .events()
                .iter()
                .filter_map(|e| e.message())
                .map(|m| format!("    | {}", m.trim_end()))
                .collect::<Vec<_>>()
                .join("\n"),
            Ok(_) => "    (the stream is empty)".into(),
            Err(e) if e.is_not_found() => {
                "    (no log stream: the container never started; see the stopped reason)".into()
            }
            Err(e) => format!("    (could not read the log: {e})"),
        }
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}")).collect::<Vec<_>>().join("\n")
}

impl Operator<'_> {
    /// `ip:<grpc port>` of a running task of a service (the frontend, the internal
    /// frontend). One-off tasks cannot use Service Connect names, and the internal
    /// frontend has none, so the steps are given a task's own address.
    pub async fn task_address(&self, service: &str, node: &str) -> Result<String, ResourceError> {
        let kind = crate::service_kinds::service(service);
        let name = crate::documents::service::service_name(&self.deploy.project, kind);
        let port = kind.port("grpc").unwrap_or(7233);
        // Nothing will start at 0: say so now, not after the whole deadline.
        if let Some((state, _)) = self.describe(&[kind]).await?.pop()
            && state.desired == 0
        {
            return Err(ResourceError::fatal(format!(
                "{name} is scaled to 0, so no step can reach it: `temporalctl scale up` first"
            )));
        }
        let what = format!("a running task of {name}");
        wait_for(
            &self.policy,
            &self.cancel,
            self.deploy.timeouts.service_stable,
            &what,
            |s| self.waiting(node, format!("{what} (now {s})")),
            || async {
                let arns = self.list_tasks(node, Some(&name), DesiredStatus::Running).await?;
                if arns.is_empty() {
                    return Ok(Err("none running".to_string()));
                }
                let tasks = self.describe_tasks(node, &arns).await?;
                let group = format!("service:{name}");
                let ip = tasks
                    .iter()
                    .filter(|t| t.group() == Some(group.as_str()) && t.desired_status() == Some("RUNNING"))
                    .find_map(task_ip);
                Ok(ip.map(|ip| format!("{ip}:{port}")).ok_or_else(|| "none with an address yet".to_string()))
            },
        )
        .await
    }
}

/// The private IPv4 address of a task's ENI (awsvpc).
pub fn task_ip(task: &Task) -> Option<String> {
    task.attachments()
        .iter()
        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value())
        .map(String::from)
}

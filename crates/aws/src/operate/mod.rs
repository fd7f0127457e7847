//! Day-2 work on a reconciled stack: the one-off steps (schema, namespace) run as ECS
//! tasks, the scale waves, and the service snapshots `status` shows. Everything it
//! needs to know about the stack comes from the state file's recorded outputs.

pub mod access;
pub mod logs;
pub mod tasks;
pub mod waves;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Instant;

use aws_sdk_ecs::types::{ContainerInstance, DesiredStatus, Task};
use temporalctl_config::Deploy;
use temporalctl_engine::{
    CancelToken, Event, EventKind, EventSink, NodeId, Outcome, Owned, Recorded, Report, ResourceError, Retries,
    RetryPolicy, Retrying,
};

use crate::Aws;
use crate::data::STEP_TAG_PREFIX;
use crate::documents::steps;
use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::{from_map, from_sdk};
use crate::{stack, sweep};

/// The data store a step changes: the schema and the namespace live in DSQL, the
/// visibility index in OpenSearch.
pub fn store_of(step: &str) -> &'static str {
    if step == steps::VISIBILITY { stack::OPENSEARCH } else { stack::DSQL }
}

/// A data store a step works on, as found on AWS.
#[derive(Debug, Clone)]
pub struct Store {
    /// Its node: `stack::DSQL` or `stack::OPENSEARCH`.
    pub node: String,
    pub arn: String,
    pub endpoint: String,
}

/// What the work beside the graph runs with (`up`'s final phases, `scale`, `status`'s
/// runtime half, `down`'s drain): the clients, the deployment, where events go, Ctrl-C.
#[derive(Clone)]
pub struct Context<'a> {
    pub aws: &'a Aws,
    pub deploy: &'a Deploy,
    pub events: &'a dyn EventSink,
    pub cancel: CancelToken,
    pub started: Instant,
}

impl<'a> Context<'a> {
    /// The operations on the stack the state file's `nodes` record.
    pub fn operator<'n>(&'n self, nodes: &'n BTreeMap<NodeId, Recorded>) -> Operator<'n> {
        Operator { cx: self.clone(), nodes, policy: RetryPolicy::default() }
    }
}

/// What the day-2 operations work with: the context and the recorded stack.
pub struct Operator<'a> {
    pub cx: Context<'a>,
    /// The state file's nodes: ids and outputs of everything `up` made.
    pub nodes: &'a BTreeMap<NodeId, Recorded>,
    pub policy: RetryPolicy,
}

impl<'a> std::ops::Deref for Operator<'a> {
    type Target = Context<'a>;
    fn deref(&self) -> &Context<'a> {
        &self.cx
    }
}

impl Operator<'_> {
    /// What a step last applied, as its data store's tag says (read by `up`).
    pub fn applied(&self, step: &str) -> Option<String> {
        self.recorded(store_of(step), format!("step/{step}"))
    }

    /// Tag the data store with what the step `name` applied: `store` is the step's data
    /// store ([`store_of`]) as [`Self::owned_store`] found it.
    pub async fn mark_done(&self, store: &Owned<Store>, name: &str, applied: &str) -> Result<(), ResourceError> {
        let node = format!("step/{name}");
        if store.node != store_of(name) {
            return Err(ResourceError::fatal(format!(
                "step {name} marks {}, not {} (a bug)",
                store_of(name),
                store.node
            )));
        }
        let key = format!("{STEP_TAG_PREFIX}{name}");
        let arn = &store.arn;
        if store_of(name) == stack::OPENSEARCH {
            let tag = aws_sdk_opensearch::types::Tag::builder()
                .key(&key)
                .value(applied)
                .build()
                .map_err(|e| ResourceError::fatal(e.to_string()))?;
            self.call(&node, || async {
                self.aws.opensearch.add_tags().arn(arn).tag_list(tag.clone()).send().await.map_err(aws("AddTags"))
            })
            .await?;
        } else {
            self.call(&node, || async {
                self.aws
                    .dsql
                    .tag_resource()
                    .resource_arn(arn)
                    .tags(&key, applied)
                    .send()
                    .await
                    .map_err(aws("TagResource"))
            })
            .await?;
        }
        Ok(())
    }

    /// A data store (`stack::DSQL` or `stack::OPENSEARCH`) as AWS shows it now, at the ARN
    /// the state records, once its tags show it is ours and it answers at the endpoint
    /// the state records (the one a step's script is given): a state file naming someone
    /// else's cluster, or an endpoint that is not our cluster's, steers no step.
    pub async fn owned_store(&self, node: &str, store: &str) -> Result<Owned<Store>, ResourceError> {
        let arn = self.output(store, Output::Arn)?;
        let name = arn.rsplit('/').next().unwrap_or_default().to_string();
        let (tags, endpoint) = if store == stack::OPENSEARCH {
            let described = self
                .call(node, || async {
                    self.aws.opensearch.describe_domain().domain_name(&name).send().await.map_err(aws("DescribeDomain"))
                })
                .await?;
            let listed = self
                .call(node, || async {
                    self.aws.opensearch.list_tags().arn(&arn).send().await.map_err(aws("ListTags"))
                })
                .await?;
            (from_sdk(listed.tag_list()), described.domain_status().and_then(crate::data::opensearch::endpoint_of))
        } else {
            let c = self
                .call(node, || async {
                    self.aws.dsql.get_cluster().identifier(&name).send().await.map_err(aws("GetCluster"))
                })
                .await?;
            let endpoint = crate::data::dsql::endpoint(c.endpoint(), c.identifier(), &self.deploy.region);
            (from_map(c.tags()), Some(endpoint))
        };
        let recorded = self.output(store, Output::Endpoint)?;
        if endpoint.as_deref() != Some(recorded.as_str()) {
            return Err(ResourceError::fatal(format!(
                "the state file records endpoint {recorded} for {store}, but {arn} answers at {}; no step runs against an endpoint we did not find on our own cluster: run `temporalctl up` again (it re-reads and records the endpoint)",
                endpoint.as_deref().unwrap_or("no endpoint")
            )));
        }
        let found = Store { node: store.to_string(), arn: arn.clone(), endpoint: recorded };
        match (&self.deploy.dsql.existing_cluster, store == stack::DSQL) {
            // The user's cluster carries no ownership tags: deploy.yaml naming it is the check.
            (Some(named), true) => Owned::named_in_config(named, &name, found),
            _ => Owned::verify(&self.deploy.project, store, &arn, &tags, found),
        }
    }

    pub fn cluster(&self) -> String {
        crate::stack::cluster_name(&self.deploy.project)
    }

    /// A recorded output of a node, if there is one.
    pub fn recorded(&self, node: &str, key: impl AsRef<str>) -> Option<String> {
        self.nodes.get(node).and_then(|r| r.outputs.get(key.as_ref())).cloned()
    }

    /// A recorded output of a node, or an error saying to run `up` first.
    pub fn output(&self, node: &str, key: impl AsRef<str>) -> Result<String, ResourceError> {
        let key = key.as_ref();
        self.recorded(node, key).ok_or_else(|| {
            ResourceError::fatal(format!(
                "the state file has no {key} for {node}: run `temporalctl up` first (it creates and records it)"
            ))
        })
    }

    /// One AWS call, retried on throttling and transient errors within the policy's deadline.
    pub async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T, ResourceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ResourceError>>,
    {
        self.retrying().call(what, Retries::Transient, self.policy.deadline, op).await
    }

    /// Task ARNs in the cluster with this desired status, of one service or all (at most
    /// 100: one DescribeTasks call). A missing cluster has none.
    pub async fn list_tasks(
        &self,
        node: &str,
        service: Option<&str>,
        status: DesiredStatus,
    ) -> Result<Vec<String>, ResourceError> {
        let cluster = self.cluster();
        let listed = self
            .call(node, || async {
                self.aws
                    .ecs
                    .list_tasks()
                    .cluster(&cluster)
                    .set_service_name(service.map(String::from))
                    .desired_status(status.clone())
                    .send()
                    .await
                    .map_err(aws("ListTasks"))
            })
            .await;
        match listed {
            Ok(l) => Ok(l.task_arns().iter().take(100).cloned().collect()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// DescribeTasks for up to 100 ARNs (none: no call).
    pub async fn describe_tasks(&self, node: &str, arns: &[String]) -> Result<Vec<Task>, ResourceError> {
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let cluster = self.cluster();
        let out = self
            .call(node, || async {
                self.aws
                    .ecs
                    .describe_tasks()
                    .cluster(&cluster)
                    .set_tasks(Some(arns.to_vec()))
                    .send()
                    .await
                    .map_err(aws("DescribeTasks"))
            })
            .await?;
        Ok(out.tasks().to_vec())
    }

    /// DescribeContainerInstances for up to 100 ids or ARNs (none: no call).
    pub async fn describe_instances(
        &self,
        node: &str,
        ids: &[String],
    ) -> Result<Vec<ContainerInstance>, ResourceError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let cluster = self.cluster();
        let out = self
            .call(node, || async {
                self.aws
                    .ecs
                    .describe_container_instances()
                    .cluster(&cluster)
                    .set_container_instances(Some(ids.to_vec()))
                    .send()
                    .await
                    .map_err(aws("DescribeContainerInstances"))
            })
            .await?;
        Ok(out.container_instances().to_vec())
    }

    /// `down`'s sweep (crate::sweep): find our tagged leftovers that neither the graph
    /// nor the state's ids account for and delete them in order, each retried with
    /// backoff while ENIs or dependents linger. Returns a line per removal.
    pub async fn sweep(&self, graph_nodes: &BTreeSet<String>) -> Result<Vec<String>, ResourceError> {
        let recorded: BTreeMap<String, String> =
            self.nodes.iter().map(|(node, r)| (node.clone(), r.id.clone())).collect();
        let found = self.call("sweep", || sweep::find(self.aws, &self.deploy.project, graph_nodes, &recorded)).await?;
        let cluster = self.cluster();
        let mut removed = Vec::new();
        for l in &found {
            let row = format!("sweep/{}", l.id);
            self.started(&row, l.kind.name(), "deleting leftover");
            let deadline = self.deploy.timeouts.delete_dependencies;
            self.retrying()
                .call(&row, Retries::AlsoDependencies, deadline, || {
                    sweep::remove(self.aws, &self.deploy.project, &cluster, l)
                })
                .await?;
            self.finished(&row, Outcome::Deleted, Some(l.node.clone()));
            removed.push(format!("swept {} {} (tagged {})", l.kind.name(), l.id, l.node));
        }
        Ok(removed)
    }

    pub fn emit(&self, kind: EventKind) {
        self.events.emit(Event { elapsed: self.started.elapsed(), kind });
    }

    /// Calls retried with the operator's policy, retries reported as its events.
    fn retrying(&self) -> Retrying<'_> {
        Retrying { policy: &self.policy, cancel: &self.cancel, report: Some(self) }
    }

    pub fn started(&self, node: &str, kind: &'static str, doing: &'static str) {
        self.emit(EventKind::NodeStarted { node: node.into(), kind, doing });
    }

    pub fn waiting(&self, node: &str, what: String) {
        self.emit(EventKind::NodeWaiting { node: node.into(), what });
    }

    pub fn finished(&self, node: &str, outcome: Outcome, id: Option<String>) {
        self.emit(EventKind::NodeFinished { node: node.into(), outcome, id });
    }

    pub fn failed(&self, node: &str, error: &ResourceError) {
        self.emit(EventKind::NodeFailed {
            node: node.into(),
            error: error.message.lines().next().unwrap_or("").into(),
        });
    }
}

impl Report for Operator<'_> {
    fn report(&self, event: EventKind) {
        self.emit(event)
    }
}

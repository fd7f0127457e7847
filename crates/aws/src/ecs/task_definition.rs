//! A service's task definition family. The document is rendered by
//! `documents::task_definition` (pure, snapshot-tested); the revision carries a tag with
//! the document's hash, so a change of ours, or a revision registered by someone else,
//! shows as a difference without comparing every field AWS fills in by default.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, CpuArchitecture, HealthCheck, KeyValuePair, LinuxParameters, LogConfiguration,
    LogDriver, NetworkMode, OsFamily, PortMapping, RuntimePlatform, Secret, TaskDefinitionFamilyStatus, Tmpfs,
    TransportProtocol,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, owned_by, replaced_not_updated,
};

use temporalctl_config::image::Reference;

use crate::documents::fingerprint;
use crate::documents::task_definition::{self as doc, TaskDefinition as Document};
use crate::documents::temporal::{ServerConfig, server_config};
use crate::ecs::ensure_tags;
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;
use crate::pages::all_pages;
use crate::service_kinds::ServiceKind;
use crate::tags::{from_sdk, sdk_tags};

/// The tag holding the hash of the registered document.
pub const SPEC_TAG: &str = "temporalctl:spec";

/// Where the pieces of the document come from.
pub struct Sources {
    pub execution_role: NodeId,
    pub task_role: NodeId,
    pub log_group: NodeId,
    /// Grafana's secret or ADOT's parameter.
    pub secret: Option<NodeId>,
    /// Grafana: the AMP workspace it is provisioned to query.
    pub prometheus: Option<NodeId>,
    /// Temporal services: the server image repository and the data stores.
    pub repository: Option<NodeId>,
    pub dsql: Option<NodeId>,
    pub opensearch: Option<NodeId>,
    /// With TLS on, for the Temporal services, the UI and the one-off steps: the
    /// certificates' secret.
    pub tls: Option<NodeId>,
    /// Temporal services with `dsql.rate_coordination`: the limiter's table, made first.
    pub rate_table: Option<NodeId>,
}

pub struct TaskDefinition {
    pub ecs: aws_sdk_ecs::Client,
    pub kind: &'static ServiceKind,
    pub project: String,
    pub region: String,
    pub cpu: u32,
    pub memory: u32,
    /// From deploy.yaml; Temporal services default to `<repository>:<version>`.
    pub image: Option<String>,
    /// The digest the image's tag named when `up` pinned it: the task definition then
    /// names `<image>@<digest>`, so a task started later runs what was planned even if
    /// the tag has moved.
    pub digest: Option<String>,
    pub version: String,
    pub environment: BTreeMap<String, String>,
    pub visibility_index: String,
    pub history_shards: u32,
    pub dsql_pool: temporalctl_config::DsqlPool,
    pub authorization: temporalctl_config::Authorization,
    /// Temporal services: the rendered dynamic config file.
    pub dynamic_config: String,
    /// Temporal services: each task's share of DSQL's connection quotas.
    pub dsql_limits: temporalctl_config::dsql_budget::TaskLimits,
    /// Grafana's address for people, with `ingress`.
    pub public_url: Option<String>,
    pub sources: Sources,
}

/// The spec tag's value for a document.
fn spec(d: &Document) -> String {
    fingerprint(d)
}

impl TaskDefinition {
    fn family(&self) -> String {
        doc::family(&self.project, self.kind)
    }

    fn document(&self, inputs: &Inputs) -> Result<Document, ResourceError> {
        let s = &self.sources;
        let get = |node: &Option<NodeId>, key: Output| -> Result<Option<String>, ResourceError> {
            node.as_ref().map(|n| inputs.get(n, key).map(String::from)).transpose()
        };
        let image = match (&self.image, get(&s.repository, Output::Uri)?) {
            (Some(image), _) => image.clone(),
            (None, Some(repo)) => crate::stack::our_image(&repo, &self.version),
            (None, None) => return Err(ResourceError::fatal(format!("services.{}.image is not set", self.kind.key))),
        };
        let image = match &self.digest {
            Some(digest) => Reference::parse(&image).map_err(ResourceError::fatal)?.pinned(digest),
            None => image,
        };
        // The shard count the schema was created with, from the cluster's own tag: even with
        // a lost state file, no task definition ever runs Temporal with another count.
        let recorded = s
            .dsql
            .as_ref()
            .and_then(|n| inputs.get(n, format!("step/{}", crate::documents::steps::HISTORY_SHARDS)).ok());
        crate::documents::steps::check_shards(recorded.and_then(|v| v.parse().ok()), self.history_shards)
            .map_err(ResourceError::fatal)?;
        let config = match (get(&s.dsql, Output::Endpoint)?, get(&s.opensearch, Output::Endpoint)?) {
            (Some(dsql), Some(os)) => Some(server_config(&ServerConfig {
                dsql_endpoint: &dsql,
                opensearch_endpoint: &os,
                visibility_index: &self.visibility_index,
                region: &self.region,
                history_shards: self.history_shards,
                pool: &self.dsql_pool,
                tls: s.tls.is_some(),
                authorization: &self.authorization,
            })),
            _ => None,
        };
        let secret = get(&s.secret, Output::Arn)?;
        let tls = get(&s.tls, Output::Arn)?;
        let prometheus = get(&s.prometheus, Output::PrometheusEndpoint)?;
        // The table's id is its name.
        let rate_table = get(&s.rate_table, Output::Id)?;
        Ok(doc::render(
            self.kind,
            &doc::Inputs {
                project: &self.project,
                region: &self.region,
                cpu: self.cpu,
                memory: self.memory,
                image: &image,
                execution_role_arn: inputs.get(&s.execution_role, Output::Arn)?,
                task_role_arn: inputs.get(&s.task_role, Output::Arn)?,
                log_group: inputs.get(&s.log_group, Output::Id)?,
                environment: &self.environment,
                temporal_config: config.as_deref(),
                dynamic_config: &self.dynamic_config,
                secret_arn: secret.as_deref(),
                prometheus_endpoint: prometheus.as_deref(),
                tls_secret_arn: tls.as_deref(),
                authorization: &self.authorization,
                dsql_limits: self.dsql_limits,
                rate_table: rate_table.as_deref(),
                public_url: self.public_url.as_deref(),
            },
        ))
    }

    async fn register(&self, cx: &Cx<'_>, inputs: &Inputs) -> Result<String, ResourceError> {
        let d = self.document(inputs)?;
        let spec = spec(&d);
        let mut tags = cx.tags.clone();
        tags.insert(SPEC_TAG.into(), spec);
        let out = self
            .ecs
            .register_task_definition()
            .family(&d.family)
            .requires_compatibilities(Compatibility::Ec2)
            .network_mode(NetworkMode::Awsvpc)
            .cpu(&d.cpu)
            .memory(&d.memory)
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .execution_role_arn(&d.execution_role_arn)
            .task_role_arn(&d.task_role_arn)
            .set_container_definitions(Some(d.container_definitions.iter().map(container).collect()))
            .set_tags(Some(sdk_tags!(infallible aws_sdk_ecs::types::Tag, &tags)))
            .send()
            .await
            .map_err(aws("RegisterTaskDefinition"))?;
        Ok(out.task_definition.and_then(|t| t.task_definition_arn).unwrap_or_default())
    }
}

/// The document's container in the SDK's types.
fn container(c: &doc::Container) -> ContainerDefinition {
    let mut linux = LinuxParameters::builder().init_process_enabled(c.linux_parameters.init_process_enabled);
    for t in &c.linux_parameters.tmpfs {
        if let Ok(tmpfs) = Tmpfs::builder()
            .container_path(&t.container_path)
            .size(t.size)
            .set_mount_options(Some(t.mount_options.clone()))
            .build()
        {
            linux = linux.tmpfs(tmpfs);
        }
    }
    let health = c.health_check.as_ref().and_then(|h| {
        HealthCheck::builder()
            .set_command(Some(h.command.clone()))
            .interval(h.interval)
            .timeout(h.timeout)
            .retries(h.retries)
            .start_period(h.start_period)
            .build()
            .ok()
    });
    ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .essential(c.essential)
        .memory_reservation(c.memory_reservation)
        .set_entry_point((!c.entry_point.is_empty()).then(|| c.entry_point.clone()))
        .set_command((!c.command.is_empty()).then(|| c.command.clone()))
        .set_port_mappings(Some(
            c.port_mappings
                .iter()
                .map(|p| {
                    PortMapping::builder()
                        .name(&p.name)
                        .container_port(p.container_port)
                        .set_host_port(p.host_port)
                        .protocol(TransportProtocol::Tcp)
                        .set_app_protocol(p.app_protocol.as_deref().map(Into::into))
                        .build()
                })
                .collect(),
        ))
        .set_environment(Some(
            c.environment.iter().map(|e| KeyValuePair::builder().name(&e.name).value(&e.value).build()).collect(),
        ))
        .set_secrets((!c.secrets.is_empty()).then(|| {
            c.secrets
                .iter()
                .filter_map(|s| Secret::builder().name(&s.name).value_from(&s.value_from).build().ok())
                .collect()
        }))
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .set_options(Some(c.log_configuration.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
                .build()
                .expect("log driver is set"),
        )
        .linux_parameters(linux.build())
        .set_health_check(health)
        .build()
}

attributes! {
    pub struct TaskDefinitionAttrs / TaskDefinitionField {
        Family family: String = "family", replace;
        /// The main container's image, by digest once `up` pinned it: shown by `plan`
        /// when a tag moved (the spec changes with it).
        Image image: String = "image";
        /// The registered document's hash, from the revision's tag.
        Spec spec: String = "spec";
    }
}

#[async_trait]
impl Kind for TaskDefinition {
    type Attrs = TaskDefinitionAttrs;

    fn kind(&self) -> &'static str {
        "task-definition"
    }

    fn references(&self) -> Vec<NodeId> {
        let s = &self.sources;
        [&s.execution_role, &s.task_role, &s.log_group]
            .into_iter()
            .chain(
                [&s.secret, &s.prometheus, &s.repository, &s.dsql, &s.opensearch, &s.tls, &s.rate_table]
                    .into_iter()
                    .flatten(),
            )
            .cloned()
            .collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<TaskDefinitionAttrs, ResourceError> {
        let d = self.document(inputs)?;
        let image = d.container_definitions.iter().find(|c| c.name == self.kind.container).map(|c| c.image.clone());
        Ok(TaskDefinitionAttrs { family: d.family.clone(), image: image.unwrap_or_default(), spec: spec(&d) })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<TaskDefinitionAttrs>>, ResourceError> {
        // Our newest revision: the family's latest when it is ours (the usual case, one
        // call), else the newest active one carrying our tags. A revision someone else
        // registered is not ours to judge or retire.
        if let Some(o) = self.describe(&self.family(), cx).await? {
            return Ok(Some(o));
        }
        for arn in self.active_revisions().await?.iter().rev() {
            if let Some(o) = self.describe(arn, cx).await? {
                return Ok(Some(o));
            }
        }
        Ok(None)
    }

    async fn create(&self, cx: &Cx<'_>, _: &TaskDefinitionAttrs) -> Result<Observed, ResourceError> {
        let arn = self.register(cx, cx.inputs).await?;
        self.read(cx)
            .await?
            .map(|found| found.observed)
            .filter(|o| o.id == arn)
            .ok_or_else(|| ResourceError::fatal(format!("{arn} not found right after registering it")))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Found<TaskDefinitionAttrs>>,
        _: &TaskDefinitionAttrs,
        changed: &[TaskDefinitionField],
    ) -> Result<(), ResourceError> {
        let mut registered = false;
        for field in changed {
            match field {
                // One new revision (with our tags) for any change of the document; our
                // previous one is retired (services move with `up`).
                TaskDefinitionField::Spec | TaskDefinitionField::Image if !registered => {
                    registered = true;
                    self.register(cx, cx.inputs).await?;
                    gone_is_ok(
                        self.ecs
                            .deregister_task_definition()
                            .task_definition(&o.id)
                            .send()
                            .await
                            .map_err(aws("DeregisterTaskDefinition")),
                    )?;
                }
                TaskDefinitionField::Spec | TaskDefinitionField::Image => {}
                TaskDefinitionField::Family => return Err(replaced_not_updated("task-definition", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ecs, &o.id, cx.tags).await
    }

    async fn delete(&self, cx: &Cx<'_>, _: &Owned<Found<TaskDefinitionAttrs>>) -> Result<(), ResourceError> {
        // Our active revisions only: deregister, then delete.
        let mut ours = Vec::new();
        for arn in self.active_revisions().await? {
            if self.describe(&arn, cx).await?.is_some() {
                ours.push(arn);
            }
        }
        for arn in &ours {
            gone_is_ok(
                self.ecs
                    .deregister_task_definition()
                    .task_definition(arn)
                    .send()
                    .await
                    .map_err(aws("DeregisterTaskDefinition")),
            )?;
        }
        // AWS takes at most 10 revisions per call (ECS API reference, DeleteTaskDefinitions).
        for batch in ours.chunks(DELETE_BATCH) {
            self.ecs
                .delete_task_definitions()
                .set_task_definitions(Some(batch.to_vec()))
                .send()
                .await
                .map_err(aws("DeleteTaskDefinitions"))?;
        }
        Ok(())
    }
}

/// Most revisions one `DeleteTaskDefinitions` call takes.
const DELETE_BATCH: usize = 10;

impl TaskDefinition {
    /// The revision (or family's latest), if it carries this node's tags.
    async fn describe(&self, which: &str, cx: &Cx<'_>) -> Result<Option<Found<TaskDefinitionAttrs>>, ResourceError> {
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(which)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(aws("DescribeTaskDefinition"));
        let Some(out) = absent_if_gone(described)? else { return Ok(None) };
        let Some(td) = out.task_definition() else { return Ok(None) };
        let tags = from_sdk(out.tags());
        if !owned_by(&tags, cx.project, cx.node) {
            return Ok(None);
        }
        let arn = td.task_definition_arn().unwrap_or_default();
        let main = td.container_definitions().iter().find(|c| c.name() == Some(self.kind.container));
        let attrs = TaskDefinitionAttrs {
            family: td.family().unwrap_or_default().into(),
            image: main.and_then(|c| c.image()).unwrap_or_default().into(),
            spec: tags.get(SPEC_TAG).cloned().unwrap_or_default(),
        };
        Ok(Some(
            Observed::new(arn)
                .output(Output::Arn, arn)
                .output(Output::Revision, td.revision().to_string())
                .tags(tags)
                .found(attrs),
        ))
    }

    /// The family's active revisions, oldest first.
    async fn active_revisions(&self) -> Result<Vec<String>, ResourceError> {
        let arns = all_pages!(
            self.ecs
                .list_task_definitions()
                .family_prefix(self.family())
                .status(TaskDefinitionFamilyStatus::Active.as_str().into()),
            task_definition_arns,
            "ListTaskDefinitions"
        );
        let family = format!("/{}:", self.family());
        Ok(arns.into_iter().filter(|a| a.contains(&family)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_sensitive() {
        assert_eq!(fingerprint("abc"), fingerprint("abc"));
        assert_ne!(fingerprint("abc"), fingerprint("abd"));
        assert_eq!(fingerprint("").len(), 16);
    }
}

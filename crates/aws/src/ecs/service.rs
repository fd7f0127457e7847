//! An ECS service, rendered by `documents::service` (pure, snapshot-tested). Created at
//! desired count 0 and never scaled here: the count belongs to `scale`, so no update
//! sends it.
//!
//! What is compared: the task definition, subnets and security groups as ECS returns
//! them, and the hash of the whole document, kept in a tag. ECS does not return the
//! Service Connect configuration on the service (only on deployments), so a field-by-field
//! comparison could never be complete; the hash catches every change of ours.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentCircuitBreaker, DeploymentConfiguration,
    LoadBalancer as EcsLoadBalancer, NetworkConfiguration, PlacementConstraint, PlacementConstraintType, PropagateTags,
    Service as EcsService, ServiceConnectClientAlias, ServiceConnectConfiguration, ServiceConnectService,
};
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes};

use crate::documents::fingerprint;
use crate::documents::service::{self as doc, Service as Document};
use crate::ecs::task_definition::SPEC_TAG;

/// The tag holding how the service rolls (`50/100`: minimum healthy and maximum percent).
/// Kept apart from the spec hash because `scale` changes it with the counts, and
/// writes this tag, so `plan` does not call a scaled service drifted.
pub const ROLLOUT_TAG: &str = "temporalctl:rollout";

pub fn rollout_text((min, max): (i32, i32)) -> String {
    format!("{min}/{max}")
}

use std::collections::BTreeSet;

use crate::ecs::ensure_tags;
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::listings::Listings;
use crate::outputs::Output;
use crate::service_kinds::ServiceKind;
use crate::tags::{from_sdk, sdk_tags};

attributes! {
    pub struct ServiceAttrs / ServiceField {
        /// The task definition revision's ARN.
        TaskDefinition task_definition: String = "task-definition";
        Subnets subnets: BTreeSet<String> = "subnets";
        SecurityGroups security_groups: BTreeSet<String> = "security-groups";
        /// Target groups its tasks join, as `<target group ARN> <container>:<port>`.
        LoadBalancers load_balancers: BTreeSet<String> = "load-balancers";
        /// How it rolls, as its tag records it (`50/100`, see ROLLOUT_TAG).
        Rollout rollout: String = "rollout";
        /// The document's hash without the rollout, from the service's tag.
        Spec spec: String = "spec";
    }
}

pub struct Service {
    pub ecs: aws_sdk_ecs::Client,
    pub kind: &'static ServiceKind,
    pub project: String,
    /// The cluster's name (static, so `read` needs no inputs).
    pub cluster: String,
    pub workload: String,
    pub task_definition: NodeId,
    pub capacity_provider: NodeId,
    pub subnets: Vec<NodeId>,
    pub security_groups: Vec<NodeId>,
    pub namespace: NodeId,
    /// (target group, listener or rule): the balancer its tasks join. ECS refuses a target
    /// group no listener or rule forwards to, so that one comes first.
    pub balancer: Option<(NodeId, NodeId)>,
    /// (minimumHealthyPercent, maximumPercent): `capacity::rollout_percents`.
    pub rollout: (i32, i32),
    /// ECS Exec into its tasks (`services.<s>.exec`).
    pub exec: bool,
    /// Every service of the stack (eight: DescribeServices takes ten): one listing
    /// answers all their first looks.
    pub family: Vec<String>,
    pub listings: Listings,
}

/// The document's deployment configuration in the SDK's types (also sent by `scale`).
pub fn deployment_configuration(dc: &doc::Deployment) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(dc.minimum_healthy_percent)
        .maximum_percent(dc.maximum_percent)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(dc.deployment_circuit_breaker.enable)
                .rollback(dc.deployment_circuit_breaker.rollback)
                .build(),
        )
        .build()
}

fn fatal(e: impl std::fmt::Display) -> ResourceError {
    ResourceError::fatal(e.to_string())
}

/// The parts of the document, in the SDK's types.
struct Request {
    strategy: Vec<CapacityProviderStrategyItem>,
    placement: Vec<PlacementConstraint>,
    network: NetworkConfiguration,
    deployment: DeploymentConfiguration,
    connect: Option<ServiceConnectConfiguration>,
    load_balancers: Vec<EcsLoadBalancer>,
}

/// The settings `CreateService` and `UpdateService` share, on either builder.
macro_rules! with_spec {
    ($builder:expr, $d:expr, $r:expr) => {
        $builder
            .set_capacity_provider_strategy(Some($r.strategy))
            .set_placement_constraints(Some($r.placement))
            .network_configuration($r.network)
            .enable_execute_command($d.enable_execute_command)
            .deployment_configuration($r.deployment)
            .set_service_connect_configuration($r.connect)
            .set_health_check_grace_period_seconds($d.health_check_grace_period_seconds)
            .propagate_tags(PropagateTags::from($d.propagate_tags.as_str()))
            .enable_ecs_managed_tags($d.enable_ecs_managed_tags)
    };
}

fn request(d: &Document) -> Result<Request, ResourceError> {
    let strategy = d
        .capacity_provider_strategy
        .iter()
        .map(|s| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&s.capacity_provider)
                .weight(s.weight)
                .base(s.base)
                .build()
                .map_err(fatal)
        })
        .collect::<Result<_, _>>()?;
    let placement = d
        .placement_constraints
        .iter()
        .map(|c| {
            PlacementConstraint::builder()
                .r#type(PlacementConstraintType::from(c.kind.as_str()))
                .expression(&c.expression)
                .build()
        })
        .collect();
    let n = &d.network_configuration;
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(n.subnets.clone()))
                .set_security_groups(Some(n.security_groups.clone()))
                .build()
                .map_err(fatal)?,
        )
        .build();
    let deployment = deployment_configuration(&d.deployment_configuration);
    let connect = match &d.service_connect_configuration {
        None => None,
        Some(sc) => {
            let mut services = Vec::new();
            for s in &sc.services {
                let aliases = s
                    .client_aliases
                    .iter()
                    .map(|a| {
                        ServiceConnectClientAlias::builder().port(a.port).dns_name(&a.dns_name).build().map_err(fatal)
                    })
                    .collect::<Result<_, _>>()?;
                services.push(
                    ServiceConnectService::builder()
                        .port_name(&s.port_name)
                        .discovery_name(&s.discovery_name)
                        .set_client_aliases(Some(aliases))
                        .build()
                        .map_err(fatal)?,
                );
            }
            Some(
                ServiceConnectConfiguration::builder()
                    .enabled(sc.enabled)
                    .namespace(&sc.namespace)
                    .set_services(Some(services))
                    .build(),
            )
        }
    };
    let load_balancers = d
        .load_balancers
        .iter()
        .map(|l| {
            EcsLoadBalancer::builder()
                .target_group_arn(&l.target_group_arn)
                .container_name(&l.container_name)
                .container_port(l.container_port)
                .build()
        })
        .collect();
    Ok(Request { strategy, placement, network, deployment, connect, load_balancers })
}

/// `<target group ARN> <container>:<port>`: one registration, as compared.
fn registration(target_group: &str, container: &str, port: Option<i32>) -> String {
    format!("{target_group} {container}:{}", port.unwrap_or_default())
}

impl Service {
    fn name(&self) -> String {
        doc::service_name(&self.project, self.kind)
    }

    /// The named services, with their tags; none when the cluster is missing.
    async fn describe(&self, names: &[String]) -> Result<Vec<EcsService>, ResourceError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .set_services(Some(names.to_vec()))
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .map_err(aws("DescribeServices"));
        Ok(absent_if_gone(described)?.map(|out| out.services().to_vec()).unwrap_or_default())
    }

    fn document(&self, inputs: &Inputs) -> Result<Document, ResourceError> {
        Ok(doc::render(
            self.kind,
            &doc::Inputs {
                project: &self.project,
                cluster: &self.cluster,
                capacity_provider: inputs.get(&self.capacity_provider, Output::Name)?,
                workload: &self.workload,
                subnets: inputs.each(&self.subnets, Output::Id)?,
                security_groups: inputs.each(&self.security_groups, Output::Id)?,
                namespace_arn: inputs.get(&self.namespace, Output::Arn)?,
                rollout: self.rollout,
                exec: self.exec,
                target_group: self.balancer.as_ref().map(|(tg, _)| inputs.get(tg, Output::Arn)).transpose()?,
            },
        ))
    }
}

#[async_trait]
impl Kind for Service {
    type Attrs = ServiceAttrs;

    fn kind(&self) -> &'static str {
        "ecs-service"
    }

    fn references(&self) -> Vec<NodeId> {
        [&self.task_definition, &self.capacity_provider, &self.namespace]
            .into_iter()
            .chain(&self.subnets)
            .chain(&self.security_groups)
            .chain(self.balancer.iter().flat_map(|(tg, listener)| [tg, listener]))
            .cloned()
            .collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<ServiceAttrs, ResourceError> {
        let d = self.document(inputs)?;
        let n = &d.network_configuration;
        Ok(ServiceAttrs {
            task_definition: inputs.get(&self.task_definition, Output::Arn)?.to_string(),
            subnets: n.subnets.iter().cloned().collect(),
            security_groups: n.security_groups.iter().cloned().collect(),
            load_balancers: d
                .load_balancers
                .iter()
                .map(|l| registration(&l.target_group_arn, &l.container_name, Some(l.container_port)))
                .collect(),
            rollout: rollout_text(self.rollout),
            // The spec hash leaves the rollout out: it is its own field (see ROLLOUT_TAG).
            spec: fingerprint(&Document { deployment_configuration: doc::deployment((0, 0)), ..d }),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ServiceAttrs>>, ResourceError> {
        let name = self.name();
        // DRAINING and INACTIVE services are on their way out or gone.
        let found = self
            .listings
            .find(
                cx.may_read_from_listing,
                "ecs service",
                (self.family.as_slice(), std::slice::from_ref(&name)),
                |names| self.describe(names),
                |s: &EcsService| s.service_name() == Some(name.as_str()) && s.status() == Some("ACTIVE"),
            )
            .await?;
        let Some(s) = found else { return Ok(None) };
        let vpc = s.network_configuration().and_then(|n| n.awsvpc_configuration());
        let tags = from_sdk(s.tags());
        let attrs = ServiceAttrs {
            task_definition: s.task_definition().unwrap_or_default().into(),
            subnets: vpc.map(|v| v.subnets()).unwrap_or_default().iter().cloned().collect(),
            security_groups: vpc.map(|v| v.security_groups()).unwrap_or_default().iter().cloned().collect(),
            load_balancers: s
                .load_balancers()
                .iter()
                .map(|l| {
                    registration(
                        l.target_group_arn().unwrap_or_default(),
                        l.container_name().unwrap_or_default(),
                        l.container_port(),
                    )
                })
                .collect(),
            rollout: tags.get(ROLLOUT_TAG).cloned().unwrap_or_default(),
            spec: tags.get(SPEC_TAG).cloned().unwrap_or_default(),
        };
        Ok(Some(
            Observed::new(s.service_arn().unwrap_or_default())
                .output(Output::Name, s.service_name().unwrap_or_default())
                .output(Output::Arn, s.service_arn().unwrap_or_default())
                .output(Output::DesiredCount, s.desired_count().to_string())
                .tags(tags)
                .found(attrs),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &ServiceAttrs) -> Result<Observed, ResourceError> {
        let d = self.document(cx.inputs)?;
        let r = request(&d)?;
        let tags = with_applied(cx, desired);
        let create = self
            .ecs
            .create_service()
            .cluster(&self.cluster)
            .service_name(&d.service_name)
            .task_definition(&desired.task_definition)
            // Scaling is `scale`'s job: a new service starts empty.
            .desired_count(0)
            .set_tags(Some(sdk_tags!(infallible aws_sdk_ecs::types::Tag, &tags)));
        let balanced = (!r.load_balancers.is_empty()).then(|| r.load_balancers.clone());
        let out = with_spec!(create, d, r).set_load_balancers(balanced).send().await.map_err(aws("CreateService"))?;
        let arn = out.service.and_then(|s| s.service_arn).unwrap_or_default();
        Ok(Observed::new(&arn)
            .output(Output::Name, &d.service_name)
            .output(Output::Arn, &arn)
            .output(Output::DesiredCount, "0")
            .tags(tags))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Found<ServiceAttrs>>,
        desired: &ServiceAttrs,
        changed: &[ServiceField],
    ) -> Result<(), ResourceError> {
        // Every field is sent by one call; a changed spec or rollout is also recorded in
        // its tag, and a changed spec needs a new deployment (ECS requires one for a
        // changed capacity provider strategy).
        let (mut new_deployment, mut record) = (false, false);
        for field in changed {
            match field {
                ServiceField::TaskDefinition
                | ServiceField::Subnets
                | ServiceField::SecurityGroups
                | ServiceField::LoadBalancers => {}
                ServiceField::Spec => (new_deployment, record) = (true, true),
                ServiceField::Rollout => record = true,
            }
        }
        let d = self.document(cx.inputs)?;
        let r = request(&d)?;
        // An empty list removes a balancer the service had; a service that never had one
        // is sent none.
        let balanced =
            (!r.load_balancers.is_empty() || !o.attrs.load_balancers.is_empty()).then(|| r.load_balancers.clone());
        // Never the desired count: that is `scale`'s, and survives every `up`.
        let update = self
            .ecs
            .update_service()
            .cluster(&self.cluster)
            .service(&d.service_name)
            .task_definition(&desired.task_definition)
            .force_new_deployment(new_deployment);
        with_spec!(update, d, r).set_load_balancers(balanced).send().await.map_err(aws("UpdateService"))?;
        if record {
            ensure_tags(&self.ecs, &o.id, &with_applied(cx, desired)).await?;
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ecs, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ServiceAttrs>>) -> Result<(), ResourceError> {
        // `force` stops whatever still runs; `down` scales to zero first where it can.
        gone_is_ok(
            self.ecs
                .delete_service()
                .cluster(&self.cluster)
                .service(self.name())
                .force(true)
                .send()
                .await
                .map_err(aws("DeleteService")),
        )
    }
}

/// Our tags with the spec and rollout tags recording what was applied.
fn with_applied(cx: &Cx<'_>, desired: &ServiceAttrs) -> temporalctl_engine::Tags {
    let mut tags = cx.tags.clone();
    tags.insert(SPEC_TAG.into(), desired.spec.clone());
    tags.insert(ROLLOUT_TAG.into(), desired.rollout.clone());
    tags
}

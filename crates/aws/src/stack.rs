//! The stack: which nodes exist and which depend on which, built from deploy.yaml.
//! Node ids are stable (they are the ownership tag `temporalctl:node`), so renaming one
//! means a new resource.

use temporalctl_config::{Deploy, capacity, network_layout};
use temporalctl_engine::{Graph, GraphBuilder, GraphError};

use std::sync::Arc;

use temporalctl_engine::{Inputs, ResourceError};

use crate::Aws;
use crate::compute::ami::EcsAmi;
use crate::compute::auto_scaling_group::AutoScalingGroup;
use crate::compute::capacity_provider::CapacityProvider;
use crate::compute::cluster_capacity_providers::ClusterCapacityProviders;
use crate::compute::launch_template::LaunchTemplate;
use crate::compute::trunking::AwsvpcTrunking;
use crate::data::dsql::DsqlCluster;
use crate::data::opensearch::Domain;
use crate::data::service_linked_role::ServiceLinkedRole;
use crate::documents::iam as iam_doc;
use crate::documents::node::ECS_AMI_PARAMETER;
use crate::ecs::service::Service;
use crate::ecs::task_definition::{Sources as TaskSources, TaskDefinition};
use crate::flows;
use crate::iam::instance_profile::InstanceProfile;
use crate::iam::role::Role;
use crate::network::elastic_ip::ElasticIp;
use crate::network::internet_gateway::InternetGateway;
use crate::network::nat_gateway::NatGateway;
use crate::network::route_table::{RouteTable, Target};
use crate::network::security_group::{Rule, SecurityGroup, SecurityGroupRules, Source};
use crate::network::subnet::Subnet;
use crate::network::vpc::Vpc;
use crate::network::vpc_endpoint::{Placement, VpcEndpoint};
use crate::platform::cluster::Cluster;
use crate::platform::log_group::LogGroup;
use crate::platform::namespace::Namespace;
use crate::platform::parameter::AdotParameter;
use crate::platform::prometheus::Workspace;
use crate::platform::repository::Repository;
use crate::platform::secret::GrafanaSecret;
use crate::service_kinds::{ADMIN_TOOLS, ADMIN_TOOLS_SIZE, ONE_OFF_IDENTITY, SERVICES, ServiceKind};

pub const VPC: &str = "vpc";
pub const PUBLIC_SUBNET: &str = "subnet/public";
pub const INTERNET_GATEWAY: &str = "internet-gateway";
pub const NAT_EIP: &str = "elastic-ip/nat";
pub const NAT_GATEWAY: &str = "nat-gateway";
pub const PUBLIC_ROUTES: &str = "route-table/public";
pub const PRIVATE_ROUTES: &str = "route-table/private";
pub const ENDPOINTS_SG: &str = "security-group/vpc-endpoints";

pub fn private_subnet(i: usize) -> String {
    format!("subnet/private-{i}")
}

/// The private subnets' node ids, one per availability zone.
pub fn private_subnets(d: &Deploy) -> Vec<String> {
    let layout = network_layout(d).expect("deploy.yaml was validated");
    (0..layout.private_subnets.len()).map(private_subnet).collect()
}

pub fn endpoint(suffix: &str) -> String {
    format!("vpc-endpoint/{suffix}")
}

pub const EXEC_LOG_GROUP: &str = "log-group/ecs-exec";
pub const GRAFANA_SECRET: &str = "secret/grafana-admin";
pub const WORKSPACE: &str = "prometheus-workspace";
pub const ADOT_PARAMETER: &str = "ssm-parameter/adot-config";
pub const NAMESPACE: &str = "cloudmap-namespace";
pub const CLUSTER: &str = "ecs-cluster";
pub const EXECUTION_ROLE: &str = "iam-role/ecs-execution";
pub const INSTANCE_ROLE: &str = "iam-role/ecs-instance";
pub const INSTANCE_PROFILE: &str = "iam-instance-profile/ecs-instance";

pub fn log_group(service: &str) -> String {
    format!("log-group/{service}")
}

/// The CloudWatch log group a service's (or the one-off tasks') containers write to.
pub fn log_group_name(project: &str, kind: &ServiceKind) -> String {
    format!("/ecs/{project}/{}", kind.container)
}

pub fn task_role(service: &str) -> String {
    format!("iam-role/task-{service}")
}

/// Build the whole graph for a validated deployment. `counts` are the services' desired
/// counts (deploy.yaml's, or what `scale` recorded): they choose how each service rolls.
pub fn build(d: &Deploy, aws: &Aws, counts: &capacity::Counts) -> Result<Graph, GraphError> {
    let mut g = GraphBuilder::default();
    network(&mut g, d, aws);
    platform(&mut g, d, aws);
    identities(&mut g, d, aws);
    firewalls(&mut g, d, aws);
    data_stores(&mut g, d, aws);
    workloads(&mut g, d, aws);
    node_groups(&mut g, d, aws);
    services(&mut g, d, aws, counts);
    g.build()
}

pub const ECS_AMI: &str = "ami/ecs-arm64";
pub const CLUSTER_CAPACITY: &str = "ecs-cluster/capacity-providers";
pub const TRUNKING: &str = "ecs-account-setting/awsvpc-trunking";

pub fn launch_template(group: &str) -> String {
    format!("launch-template/{group}")
}

pub fn auto_scaling_group(group: &str) -> String {
    format!("auto-scaling-group/{group}")
}

pub fn capacity_provider(group: &str) -> String {
    format!("capacity-provider/{group}")
}

pub fn ecs_service(key: &str) -> String {
    format!("ecs-service/{key}")
}

pub fn cluster_name(project: &str) -> String {
    format!("{project}-cluster")
}

/// Node groups A, B and C: launch template (ECS AMI, instance profile, the instances'
/// security group, user data joining the cluster with the group's workload attribute),
/// Auto Scaling group in the private subnets, capacity provider; the three providers
/// attached to the cluster.
fn node_groups(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    g.add(
        ECS_AMI,
        ECS_AMI_PARAMETER,
        &[],
        EcsAmi { ssm: aws.ssm.clone(), parameter: ECS_AMI_PARAMETER.into(), region: d.region.clone() },
    );
    let privates = private_subnets(d);
    let mut providers = Vec::new();
    let mut template_deps = vec![ECS_AMI, INSTANCE_PROFILE, INSTANCES_SG, CLUSTER];
    if d.node_groups.awsvpc_trunking {
        g.add(
            TRUNKING,
            "awsvpcTrunking",
            &[INSTANCE_ROLE],
            AwsvpcTrunking { ecs: aws.ecs.clone(), role: INSTANCE_ROLE.into() },
        );
        // Instances launched before the setting would get no trunk interface.
        template_deps.push(TRUNKING);
    }
    // A node group's launch template, Auto Scaling group and capacity provider share a name.
    let name_of = |group: &str| format!("{p}-node-{group}");
    let family: Vec<String> = d.node_groups.iter().map(|(group, _)| name_of(group)).collect();
    for (group, ng) in d.node_groups.iter() {
        let name = name_of(group);
        g.add(
            launch_template(group),
            name.clone(),
            &template_deps,
            LaunchTemplate {
                ec2: aws.ec2.clone(),
                name: name.clone(),
                cluster: cluster_name(p),
                workload: ng.workload.clone(),
                instance_type: ng.instance_type.clone(),
                root_volume_gb: ng.root_volume_gb,
                ami: ECS_AMI.into(),
                instance_profile: INSTANCE_PROFILE.into(),
                security_group: INSTANCES_SG.into(),
            },
        );
        // Instances need the private routes (NAT) to reach ECS and pull images.
        let lt = launch_template(group);
        let mut deps: Vec<&str> = vec![lt.as_str(), PRIVATE_ROUTES];
        deps.extend(privates.iter().map(String::as_str));
        g.add(
            auto_scaling_group(group),
            name.clone(),
            &deps,
            AutoScalingGroup {
                autoscaling: aws.autoscaling.clone(),
                name: name.clone(),
                launch_template: lt.clone(),
                subnets: privates.clone(),
                min_size: ng.min_size,
                max_size: ng.max_size,
                desired_capacity: ng.desired_capacity,
                deadline: d.timeouts.default,
                family: family.clone(),
                listings: aws.listings.clone(),
            },
        );
        g.add(
            capacity_provider(group),
            name.clone(),
            &[auto_scaling_group(group).as_str()],
            CapacityProvider {
                ecs: aws.ecs.clone(),
                name,
                auto_scaling_group: auto_scaling_group(group),
                target_capacity: 100,
                family: family.clone(),
                listings: aws.listings.clone(),
            },
        );
        providers.push(capacity_provider(group));
    }
    let mut deps: Vec<&str> = vec![CLUSTER];
    deps.extend(providers.iter().map(String::as_str));
    g.add(
        CLUSTER_CAPACITY,
        cluster_name(p),
        &deps,
        ClusterCapacityProviders { ecs: aws.ecs.clone(), cluster: cluster_name(p), providers: providers.clone() },
    );
}

/// The seven ECS services, at desired count 0, each on its node group.
fn services(g: &mut GraphBuilder, d: &Deploy, aws: &Aws, counts: &capacity::Counts) {
    let p = &d.project;
    let privates = private_subnets(d);
    let family: Vec<String> = SERVICES.iter().map(|kind| crate::documents::service::service_name(p, kind)).collect();
    for (kind, service) in crate::service_kinds::configured(d) {
        let group = service.node_group.as_str();
        let workload = d.node_groups.get(group).map(|ng| ng.workload.clone());
        let security_groups = vec![service_sg(kind.key), INSTANCES_SG.to_string()];
        let (td, cp) = (task_definition(kind.key), capacity_provider(group));
        // A service may only use providers attached to the cluster: CLUSTER_CAPACITY first.
        let mut deps: Vec<&str> = vec![td.as_str(), cp.as_str(), CLUSTER_CAPACITY, CLUSTER, NAMESPACE];
        deps.extend(privates.iter().map(String::as_str));
        deps.extend(security_groups.iter().map(String::as_str));
        g.add(
            ecs_service(kind.key),
            crate::documents::service::service_name(p, kind),
            &deps,
            Service {
                ecs: aws.ecs.clone(),
                kind,
                project: p.clone(),
                cluster: cluster_name(p),
                workload: workload.unwrap_or_default(),
                task_definition: td.clone(),
                capacity_provider: cp.clone(),
                subnets: privates.clone(),
                security_groups: security_groups.clone(),
                namespace: NAMESPACE.into(),
                rollout: capacity::rollout(d, kind.key, counts),
                family: family.clone(),
                listings: aws.listings.clone(),
            },
        );
    }
}

pub fn task_definition(key: &str) -> String {
    format!("task-definition/{key}")
}

/// A task definition per service, registered from the rendered documents, and one for
/// the one-off steps' admin tools.
fn workloads(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    for (kind, service) in crate::service_kinds::configured(d) {
        let temporal = kind.is_temporal();
        let secret = match kind.key {
            "grafana" => Some(GRAFANA_SECRET.to_string()),
            "adot" => Some(ADOT_PARAMETER.to_string()),
            _ => None,
        };
        let sources = TaskSources {
            execution_role: EXECUTION_ROLE.into(),
            task_role: task_role(kind.key),
            log_group: log_group(kind.key),
            secret,
            repository: (temporal && service.image.is_none()).then(|| SERVER_REPOSITORY.to_string()),
            dsql: temporal.then(|| DSQL.to_string()),
            opensearch: temporal.then(|| OPENSEARCH.to_string()),
        };
        let shape = (service.cpu, service.memory, service.image.clone(), service.environment.clone());
        add_task_definition(g, d, aws, kind, shape, sources);
    }
    let sources = TaskSources {
        execution_role: EXECUTION_ROLE.into(),
        task_role: task_role(ONE_OFF_IDENTITY),
        log_group: log_group(ADMIN_TOOLS.key),
        secret: None,
        repository: Some(ADMIN_TOOLS_REPOSITORY.into()),
        dsql: None,
        opensearch: None,
    };
    let (cpu, memory) = ADMIN_TOOLS_SIZE;
    add_task_definition(g, d, aws, &ADMIN_TOOLS, (cpu, memory, None, Default::default()), sources);
}

/// (cpu, memory, image, extra environment) of a task definition.
type Shape = (u32, u32, Option<String>, std::collections::BTreeMap<String, String>);

fn add_task_definition(
    g: &mut GraphBuilder,
    d: &Deploy,
    aws: &Aws,
    kind: &'static ServiceKind,
    (cpu, memory, image, environment): Shape,
    sources: TaskSources,
) {
    let mut deps: Vec<String> =
        vec![sources.execution_role.clone(), sources.task_role.clone(), sources.log_group.clone()];
    deps.extend(
        [&sources.secret, &sources.repository, &sources.dsql, &sources.opensearch].into_iter().flatten().cloned(),
    );
    let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
    g.add(
        task_definition(kind.key),
        crate::documents::task_definition::family(&d.project, kind),
        &deps,
        TaskDefinition {
            ecs: aws.ecs.clone(),
            kind,
            project: d.project.clone(),
            region: d.region.clone(),
            cpu,
            memory,
            image,
            version: d.temporal.version.clone(),
            environment,
            visibility_index: d.opensearch.visibility_index.clone(),
            history_shards: d.temporal.history_shards,
            dsql_pool: d.dsql.pool.clone(),
            sources,
        },
    );
}

/// The project's two ECR repositories (node, image name): the fork's server image and its
/// admin tools, which carry `temporal-dsql-tool` for the schema step.
pub const SERVER_REPOSITORY: &str = "ecr-repository/server";
pub const ADMIN_TOOLS_REPOSITORY: &str = "ecr-repository/admin-tools";
pub const REPOSITORIES: [(&str, &str); 2] =
    [(SERVER_REPOSITORY, "temporal-server"), (ADMIN_TOOLS_REPOSITORY, "temporal-admin-tools")];

/// `<project>/temporal-server`, `<project>/temporal-admin-tools`.
pub fn repository_name(project: &str, image: &str) -> String {
    format!("{project}/{image}")
}

pub const DSQL: &str = "dsql-cluster";
pub const OPENSEARCH: &str = "opensearch-domain";
pub const OPENSEARCH_SLR: &str = "service-linked-role/opensearch";
/// ECS's service-linked role: ECS makes it itself on a cluster's first create, but on a
/// new account that first `CreateCluster` or `CreateCapacityProvider` can fail before it
/// exists ("Unable to assume the service linked role"); made first, the race is gone
/// (AWS, Amazon ECS Developer Guide, "Using service-linked roles for Amazon ECS").
pub const ECS_SLR: &str = "service-linked-role/ecs";

pub fn opensearch_domain_name(project: &str) -> String {
    format!("{project}-visibility")
}

/// DSQL, OpenSearch, and the Temporal task roles that reach them. OpenSearch is the
/// longest wait of the whole stack, so it depends on nothing it does not need: one
/// private subnet, its security group, the roles it admits and the service-linked role.
fn data_stores(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    g.add(
        DSQL,
        format!("{p}-dsql"),
        &[],
        DsqlCluster {
            dsql: aws.dsql.clone(),
            region: d.region.clone(),
            deletion_protection: d.dsql.deletion_protection,
            deadline: d.timeouts.dsql,
        },
    );
    g.add(
        OPENSEARCH_SLR,
        "AWSServiceRoleForAmazonOpenSearchService",
        &[],
        ServiceLinkedRole { iam: aws.iam.clone(), service: "opensearchservice.amazonaws.com".into() },
    );

    let (partition, region) = (aws.partition(), d.region.clone());
    let domain = opensearch_domain_name(p);
    let temporal: Vec<&'static ServiceKind> = SERVICES.iter().filter(|k| k.is_temporal()).collect();
    for kind in &temporal {
        let (region, domain) = (region.clone(), domain.clone());
        let name = format!("{p}-{}-task", kind.key);
        let kind: &'static ServiceKind = kind;
        g.add(
            task_role(kind.key),
            name.clone(),
            &[DSQL, EXEC_LOG_GROUP],
            Role {
                iam: aws.iam.clone(),
                name,
                trust: iam_doc::trust("ecs-tasks.amazonaws.com"),
                managed: vec![],
                inline: Some(Arc::new(move |inputs: &Inputs| {
                    let dsql_arn = inputs.get(DSQL, "arn")?.to_string();
                    // The account is in the cluster's ARN; the domain's ARN is known by name.
                    let account = dsql_arn.split(':').nth(4).unwrap_or_default().to_string();
                    let arns = iam_doc::Arns {
                        opensearch_domain: crate::data::opensearch::domain_arn(partition, &region, &account, &domain),
                        dsql_cluster: dsql_arn,
                        amp_workspace: String::new(),
                        grafana_secret: String::new(),
                        adot_parameter: String::new(),
                        exec_log_group: inputs.get(EXEC_LOG_GROUP, "arn")?.to_string(),
                    };
                    Ok(iam_doc::task(kind, &arns))
                })),
            },
        );
    }
    let roles: Vec<String> = temporal.iter().map(|k| task_role(k.key)).collect();
    let subnet = private_subnet(0);
    let mut deps: Vec<&str> = vec![subnet.as_str(), OPENSEARCH_SG, OPENSEARCH_SLR];
    deps.extend(roles.iter().map(String::as_str));
    g.add(
        OPENSEARCH,
        domain.clone(),
        &deps,
        Domain {
            os: aws.opensearch.clone(),
            region: d.region.clone(),
            name: domain,
            engine_version: d.opensearch.engine_version.clone(),
            instance_type: d.opensearch.instance_type.clone(),
            instance_count: d.opensearch.instance_count as i32,
            volume_gb: d.opensearch.volume_size_gb as i32,
            subnet: private_subnet(0),
            security_group: OPENSEARCH_SG.into(),
            principals: roles.clone(),
            deadline: d.timeouts.opensearch,
        },
    );
}

pub fn service_sg(key: &str) -> String {
    format!("security-group/{key}")
}

pub const OPENSEARCH_SG: &str = "security-group/opensearch";
pub const INSTANCES_SG: &str = "security-group/instances";

/// One security group per service, one for OpenSearch and one for the instances, with
/// every rule derived from the declared flows (`flows.rs`): ingress only ever from named
/// groups; egress to the VPC's CIDR for flows inside it, and to the internet only on the
/// ports a flow leaves on (443 for AWS APIs, 5432 for DSQL from the Temporal services).
fn firewalls(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let vpc_cidr = network_layout(d).expect("validated").vpc.to_string();
    let flows = flows::flows();
    let egress = |node: &str| {
        let (inside, beyond) = flows::egress_of(node, &flows);
        let mut rules: Vec<Rule> = inside.then(|| Rule::all(Source::Cidr(vpc_cidr.clone()))).into_iter().collect();
        for (from, to) in beyond {
            rules.push(Rule::tcp_range(from, to, Source::Cidr("0.0.0.0/0".into())));
        }
        rules
    };
    let mut groups: Vec<(String, String, String)> =
        SERVICES.iter().map(|k| (service_sg(k.key), k.key.to_string(), format!("{} tasks", k.key))).collect();
    groups.push((OPENSEARCH_SG.into(), "opensearch".into(), "OpenSearch domain".into()));
    groups.push((INSTANCES_SG.into(), "instances".into(), "ECS container instances".into()));
    for (node, key, what) in &groups {
        g.add(
            node,
            format!("{p}-{key}"),
            &[VPC],
            SecurityGroup {
                ec2: aws.ec2.clone(),
                vpc: VPC.into(),
                group_name: format!("{p}-{key}"),
                description: format!("temporalctl: {what}"),
                ingress: vec![],
                egress: egress(node),
            },
        );
    }
    // Ingress names other groups, so it is a node of its own after all of them exist.
    for (node, key, _) in &groups {
        let needed = flows::ingress_of(node, &flows);
        if needed.is_empty() {
            continue;
        }
        let mut deps: Vec<&str> = vec![node.as_str()];
        let mut rules = Vec::new();
        for (from, (lo, hi)) in &needed {
            let source = if from == node { Source::SelfRef } else { Source::Group(from.clone()) };
            rules.push(Rule::tcp_range(*lo, *hi, source));
            if !deps.contains(&from.as_str()) {
                deps.push(from);
            }
        }
        g.add(
            format!("security-group-rules/{key}"),
            format!("{p}-{key}-rules"),
            &deps,
            SecurityGroupRules { ec2: aws.ec2.clone(), group: node.clone(), ingress: rules },
        );
    }
}

/// Logs, the Grafana secret, images, metrics, service discovery and the cluster.
fn platform(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let retention = d.logs.retention_days as i32;
    let (family_prefix, listings) = (|| format!("/ecs/{p}/"), || aws.listings.clone());
    for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
        let name = log_group_name(p, kind);
        g.add(
            log_group(kind.key),
            name.clone(),
            &[],
            LogGroup {
                logs: aws.logs.clone(),
                name,
                retention_days: retention,
                family_prefix: family_prefix(),
                listings: listings(),
            },
        );
    }
    let exec_logs = format!("/ecs/{p}/ecs-exec");
    g.add(
        EXEC_LOG_GROUP,
        exec_logs.clone(),
        &[],
        LogGroup {
            logs: aws.logs.clone(),
            name: exec_logs,
            retention_days: retention,
            family_prefix: family_prefix(),
            listings: listings(),
        },
    );
    let secret = format!("{p}/grafana-admin");
    g.add(
        GRAFANA_SECRET,
        secret.clone(),
        &[],
        GrafanaSecret { sm: aws.secrets.clone(), name: secret, admin_user: d.grafana.admin_user.clone() },
    );
    for (node, image) in REPOSITORIES {
        let name = repository_name(p, image);
        g.add(node, name.clone(), &[], Repository { ecr: aws.ecr.clone(), name });
    }
    let alias = d.prometheus.alias.clone().unwrap_or_else(|| format!("{p}-metrics"));
    g.add(WORKSPACE, alias.clone(), &[], Workspace { amp: aws.amp.clone(), alias });
    let parameter = format!("/{p}/adot/collector-config");
    g.add(
        ADOT_PARAMETER,
        parameter.clone(),
        &[WORKSPACE],
        AdotParameter { ssm: aws.ssm.clone(), name: parameter, region: d.region.clone(), workspace: WORKSPACE.into() },
    );
    g.add(
        ECS_SLR,
        "AWSServiceRoleForECS",
        &[],
        ServiceLinkedRole { iam: aws.iam.clone(), service: "ecs.amazonaws.com".into() },
    );
    g.add(NAMESPACE, p.clone(), &[], Namespace { sd: aws.cloudmap.clone(), name: p.clone() });
    g.add(
        CLUSTER,
        cluster_name(p),
        &[EXEC_LOG_GROUP, NAMESPACE, ECS_SLR],
        Cluster {
            ecs: aws.ecs.clone(),
            name: cluster_name(p),
            exec_log_group: EXEC_LOG_GROUP.into(),
            namespace: NAMESPACE.into(),
        },
    );
}

/// IAM: the task execution role, the instances' role and profile, and the task roles
/// whose policies need no data store (the Temporal services' come with DSQL and OpenSearch).
fn identities(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let partition = aws.partition();
    let managed = |name: &str| format!("arn:{partition}:iam::aws:policy/{name}");
    let arns = |inputs: &Inputs| -> Result<iam_doc::Arns, ResourceError> {
        let output = |node: &str, key: &str| inputs.get(node, key).map(String::from).unwrap_or_default();
        Ok(iam_doc::Arns {
            dsql_cluster: String::new(),
            opensearch_domain: String::new(),
            amp_workspace: output(WORKSPACE, "arn"),
            grafana_secret: output(GRAFANA_SECRET, "arn"),
            adot_parameter: output(ADOT_PARAMETER, "arn"),
            exec_log_group: output(EXEC_LOG_GROUP, "arn"),
        })
    };
    g.add(
        EXECUTION_ROLE,
        format!("{p}-ecs-execution"),
        &[GRAFANA_SECRET, ADOT_PARAMETER],
        Role {
            iam: aws.iam.clone(),
            name: format!("{p}-ecs-execution"),
            trust: iam_doc::trust("ecs-tasks.amazonaws.com"),
            managed: vec![managed("service-role/AmazonECSTaskExecutionRolePolicy")],
            inline: Some(Arc::new(move |inputs: &Inputs| Ok(iam_doc::execution(&arns(inputs)?)))),
        },
    );
    g.add(
        INSTANCE_ROLE,
        format!("{p}-ecs-instance"),
        &[],
        Role {
            iam: aws.iam.clone(),
            name: format!("{p}-ecs-instance"),
            trust: iam_doc::trust("ec2.amazonaws.com"),
            managed: vec![
                managed("service-role/AmazonEC2ContainerServiceforEC2Role"),
                managed("AmazonSSMManagedInstanceCore"),
            ],
            inline: None,
        },
    );
    g.add(
        INSTANCE_PROFILE,
        format!("{p}-ecs-instance"),
        &[INSTANCE_ROLE],
        InstanceProfile { iam: aws.iam.clone(), name: format!("{p}-ecs-instance"), role: INSTANCE_ROLE.into() },
    );
    for kind in SERVICES.iter().filter(|k| !k.is_temporal()) {
        let name = format!("{p}-{}-task", kind.key);
        g.add(
            task_role(kind.key),
            name.clone(),
            &[EXEC_LOG_GROUP, WORKSPACE, GRAFANA_SECRET, ADOT_PARAMETER],
            Role {
                iam: aws.iam.clone(),
                name,
                trust: iam_doc::trust("ecs-tasks.amazonaws.com"),
                managed: vec![],
                inline: Some(Arc::new(move |inputs: &Inputs| Ok(iam_doc::task(kind, &arns(inputs)?)))),
            },
        );
    }
}

fn network(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let layout = network_layout(d).expect("deploy.yaml was validated");
    let ec2 = || aws.ec2.clone();
    let t = &d.timeouts;

    g.add(VPC, format!("{p}-vpc"), &[], Vpc { ec2: ec2(), cidr: layout.vpc.to_string() });
    let privates = private_subnets(d);
    for (i, (zone, cidr)) in layout.private_subnets.iter().enumerate() {
        g.add(
            &privates[i],
            format!("{p}-private-{i}"),
            &[VPC],
            Subnet { ec2: ec2(), vpc: VPC.into(), cidr: cidr.to_string(), zone: zone.clone() },
        );
    }
    let (zone, cidr) = &layout.public_subnet;
    g.add(
        PUBLIC_SUBNET,
        format!("{p}-nat-public"),
        &[VPC],
        Subnet { ec2: ec2(), vpc: VPC.into(), cidr: cidr.to_string(), zone: zone.clone() },
    );
    g.add(INTERNET_GATEWAY, format!("{p}-igw"), &[VPC], InternetGateway { ec2: ec2(), vpc: VPC.into() });
    g.add(NAT_EIP, format!("{p}-nat-eip"), &[], ElasticIp { ec2: ec2() });
    // A public NAT gateway needs the internet gateway attached to its VPC.
    g.add(
        NAT_GATEWAY,
        format!("{p}-nat"),
        &[PUBLIC_SUBNET, NAT_EIP, INTERNET_GATEWAY],
        NatGateway { ec2: ec2(), subnet: PUBLIC_SUBNET.into(), elastic_ip: NAT_EIP.into(), deadline: t.nat_gateway },
    );
    g.add(
        PUBLIC_ROUTES,
        format!("{p}-public"),
        &[VPC, INTERNET_GATEWAY, PUBLIC_SUBNET],
        RouteTable {
            ec2: ec2(),
            vpc: VPC.into(),
            default_route: Target::InternetGateway(INTERNET_GATEWAY.into()),
            subnets: vec![PUBLIC_SUBNET.into()],
        },
    );
    let mut private_deps: Vec<&str> = vec![VPC, NAT_GATEWAY];
    private_deps.extend(privates.iter().map(String::as_str));
    g.add(
        PRIVATE_ROUTES,
        format!("{p}-private"),
        &private_deps,
        RouteTable {
            ec2: ec2(),
            vpc: VPC.into(),
            default_route: Target::NatGateway(NAT_GATEWAY.into()),
            subnets: privates.clone(),
        },
    );
    g.add(
        ENDPOINTS_SG,
        format!("{p}-vpc-endpoints"),
        &[VPC],
        SecurityGroup {
            ec2: ec2(),
            vpc: VPC.into(),
            group_name: format!("{p}-vpc-endpoints"),
            description: "temporalctl: HTTPS from inside the VPC to the interface endpoints".into(),
            ingress: vec![Rule::tcp(443, Source::Cidr(layout.vpc.to_string()))],
            egress: vec![],
        },
    );
    let mut endpoint_deps: Vec<&str> = vec![VPC, ENDPOINTS_SG];
    endpoint_deps.extend(privates.iter().map(String::as_str));
    for suffix in &d.network.interface_endpoints {
        g.add(
            endpoint(suffix),
            format!("{p}-{suffix}-endpoint"),
            &endpoint_deps,
            VpcEndpoint {
                ec2: ec2(),
                vpc: VPC.into(),
                service: format!("com.amazonaws.{}.{suffix}", d.region),
                placement: Placement::Interface { subnets: privates.clone(), security_group: ENDPOINTS_SG.into() },
                deadline: t.vpc_endpoint,
            },
        );
    }
    if d.network.s3_gateway_endpoint {
        g.add(
            endpoint("s3"),
            format!("{p}-s3-endpoint"),
            &[VPC, PRIVATE_ROUTES],
            VpcEndpoint {
                ec2: ec2(),
                vpc: VPC.into(),
                service: format!("com.amazonaws.{}.s3", d.region),
                placement: Placement::Gateway { route_tables: vec![PRIVATE_ROUTES.into()] },
                deadline: t.vpc_endpoint,
            },
        );
    }
}

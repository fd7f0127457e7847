//! DSQL, OpenSearch, and the Temporal task roles that reach them.

use std::sync::Arc;

use temporalctl_config::Deploy;
use temporalctl_engine::{GraphBuilder, Inputs};

use super::ids::*;
use super::names;
use crate::Aws;
use crate::data::dsql::{DsqlCluster, ExistingDsqlCluster};
use crate::data::opensearch::{Domain, GP3_BASELINE_IOPS, GP3_BASELINE_MIBPS, Masters, Volume};
use crate::data::service_linked_role::ServiceLinkedRole;
use crate::documents::iam as iam_doc;
use crate::iam::role::Role;
use crate::outputs::Output;
use crate::platform::log_resource_policy::LogResourcePolicy;
use crate::service_kinds::{ADMIN_TOOLS, SERVICES, ServiceKind};
use aws_sdk_opensearch::types::LogType;

/// DSQL, OpenSearch, and the Temporal task roles that reach them. OpenSearch is the
/// longest wait of the whole stack, so it depends on nothing it does not need: one
/// private subnet, its security group, the roles it admits and the service-linked role.
pub(super) fn data_stores(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    match &d.dsql.existing_cluster {
        Some(identifier) => g.add(
            DSQL,
            identifier.clone(),
            ExistingDsqlCluster {
                dsql: aws.dsql.clone(),
                region: d.region.clone(),
                identifier: identifier.clone(),
                deadline: d.timeouts.dsql,
            },
        ),
        None => g.add(
            DSQL,
            format!("{p}-dsql"),
            DsqlCluster {
                dsql: aws.dsql.clone(),
                region: d.region.clone(),
                deletion_protection: d.dsql.deletion_protection,
                deadline: d.timeouts.dsql,
            },
        ),
    };
    g.add(
        OPENSEARCH_SLR,
        "AWSServiceRoleForAmazonOpenSearchService",
        ServiceLinkedRole { iam: aws.iam.clone(), service: "opensearchservice.amazonaws.com".into() },
    );

    if d.dsql.rate_coordination {
        g.add(
            RATE_TABLE,
            names::rate_table_name(p),
            crate::data::rate_table::RateTable { dynamodb: aws.dynamodb.clone(), name: names::rate_table_name(p) },
        );
    }
    let (partition, region) = (aws.partition(), d.region.clone());
    let domain = names::opensearch_domain_name(p);
    // The Temporal services' roles and the one-off tasks' (schema, index, namespace).
    let temporal: Vec<&'static ServiceKind> =
        SERVICES.iter().chain([&ADMIN_TOOLS]).filter(|k| iam_doc::uses_data_stores(k.key)).collect();
    for kind in &temporal {
        let (region, domain, index) = (region.clone(), domain.clone(), d.opensearch.visibility_index.clone());
        let rate_table = d.dsql.rate_coordination.then(|| names::rate_table_name(p));
        // `admin-tools` is no service of deploy.yaml: the one-off tasks are no Exec target.
        let exec = d.services.exec(kind.key);
        let name = names::task_role_name(p, kind.key);
        let kind: &'static ServiceKind = kind;
        g.add(
            task_role(kind.key),
            name.clone(),
            Role {
                iam: aws.iam.clone(),
                reads: vec![DSQL.into(), EXEC_LOG_GROUP.into()],
                name,
                trust: super::identities::task_trust(partition, &d.region, EXEC_LOG_GROUP),
                managed: vec![],
                inline: Some(Arc::new(move |inputs: &Inputs| {
                    let dsql_arn = inputs.get(DSQL, Output::Arn)?.to_string();
                    // The account is in the cluster's ARN; the domain's ARN is known by name.
                    let account = iam_doc::account_of(&dsql_arn)?.to_string();
                    let arns = iam_doc::Arns {
                        opensearch_domain: crate::data::opensearch::domain_arn(partition, &region, &account, &domain),
                        visibility_index: index.clone(),
                        dsql_cluster: dsql_arn,
                        exec_log_group: inputs.get(EXEC_LOG_GROUP, Output::Arn)?.to_string(),
                        rate_table: rate_table
                            .as_ref()
                            .map(|t| format!("arn:{partition}:dynamodb:{region}:{account}:table/{t}"))
                            .unwrap_or_default(),
                        ..Default::default()
                    };
                    Ok(iam_doc::task(kind, &arns, exec))
                })),
            },
        );
        // The policy names the cluster's ARN, which CreateCluster returns at once; IAM
        // does not check that a policy's resources exist ("IAM JSON policy elements:
        // Resource", IAM User Guide), so the roles do not wait the ~90 s until ACTIVE.
        g.needs_identity_only(&task_role(kind.key), &[DSQL]);
    }
    // The access policy's principals must be usable roles, not only named ones: OpenSearch
    // resolves each ARN to the role's unique id when it sets the policy, and a role made
    // seconds ago is refused (InvalidTypeException, cloudposse/terraform-aws-elasticsearch#57;
    // retried as propagation). So the domain needs the roles ready, which they are a few
    // seconds after CreateRole; what it no longer waits for is DSQL behind them.
    let roles: Vec<String> = temporal.iter().map(|k| task_role(k.key)).collect();
    let os = &d.opensearch;
    let logs = if os.publish_logs { opensearch_logs(g, d, aws, &domain) } else { Vec::new() };
    // CreateDomain checks that OpenSearch may write to the log groups: the policy first.
    let before: &[&str] = if logs.is_empty() { &[OPENSEARCH_SLR] } else { &[OPENSEARCH_SLR, OPENSEARCH_LOG_POLICY] };
    g.add_after(
        OPENSEARCH,
        domain.clone(),
        before,
        Domain {
            os: aws.opensearch.clone(),
            region: d.region.clone(),
            name: domain,
            engine_version: os.engine_version.clone(),
            instance_type: os.instance_type.clone(),
            instance_count: os.instance_count as i32,
            volume: Volume {
                volume_type: "gp3".into(),
                gb: os.volume_size_gb as i32,
                iops: os.iops.map_or(GP3_BASELINE_IOPS, |i| i as i32),
                throughput_mibps: os.throughput_mibps.map_or(GP3_BASELINE_MIBPS, |t| t as i32),
            },
            zones: i32::from(os.zones),
            dedicated_master: os
                .dedicated_master
                .as_ref()
                .map(|m| Masters { count: m.count as i32, instance_type: m.instance_type.clone() }),
            // The first `zones` private subnets: one per zone (validation checks there are enough).
            subnets: (0..usize::from(os.zones)).map(private_subnet).collect(),
            security_group: OPENSEARCH_SG.into(),
            principals: roles.clone(),
            logs,
            deadline: d.timeouts.opensearch,
            change_deadline: d.timeouts.opensearch_change,
            in_flight: Default::default(),
        },
    );
}

/// The domain's three log groups (same retention as the others) and the resource policy
/// that lets OpenSearch write to them; the log types with their groups' nodes.
/// AUDIT_LOGS is left out: it needs fine-grained access control, which this domain does
/// not use (Developer Guide, "Monitoring audit logs").
fn opensearch_logs(g: &mut GraphBuilder, d: &Deploy, aws: &Aws, domain: &str) -> Vec<(LogType, String)> {
    let p = &d.project;
    let prefix = names::opensearch_log_prefix(p);
    let kinds = [
        (LogType::EsApplicationLogs, "application-logs"),
        (LogType::SearchSlowLogs, "search-slow-logs"),
        (LogType::IndexSlowLogs, "index-slow-logs"),
    ];
    let logs: Vec<(LogType, String)> =
        kinds.iter().map(|(kind, suffix)| (kind.clone(), format!("log-group/opensearch-{suffix}"))).collect();
    for ((_, suffix), (_, node)) in kinds.iter().zip(&logs) {
        let name = format!("{prefix}{suffix}");
        // A family of their own (no prefix is common to theirs and the containers' groups
        // that a listing could use): one listing answers these three first looks.
        let group = super::platform::stack_log_group(d, aws, name.clone(), ("opensearch log group", prefix.clone()));
        g.add(node, name, group);
    }
    g.add(
        OPENSEARCH_LOG_POLICY,
        names::opensearch_log_policy(p),
        LogResourcePolicy {
            logs: aws.logs.clone(),
            name: names::opensearch_log_policy(p),
            groups: logs.iter().map(|(_, node)| node.clone()).collect(),
            domain_name: domain.to_string(),
        },
    );
    logs
}

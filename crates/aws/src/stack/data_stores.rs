//! DSQL, OpenSearch, and the Temporal task roles that reach them.

use std::sync::Arc;

use temporalctl_config::Deploy;
use temporalctl_engine::{GraphBuilder, Inputs};

use super::ids::*;
use super::names;
use crate::Aws;
use crate::data::dsql::{DsqlCluster, ExistingDsqlCluster};
use crate::data::opensearch::Domain;
use crate::data::service_linked_role::ServiceLinkedRole;
use crate::documents::iam as iam_doc;
use crate::iam::role::Role;
use crate::outputs::Output;
use crate::service_kinds::{ADMIN_TOOLS, SERVICES, ServiceKind};

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
    g.add_after(
        OPENSEARCH,
        domain.clone(),
        &[OPENSEARCH_SLR],
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

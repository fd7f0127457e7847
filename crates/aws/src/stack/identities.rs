//! IAM that needs no data store: the execution role, the instances' role and profile,
//! and the task roles of the services that are not Temporal's.

use std::sync::Arc;

use temporalctl_config::Deploy;
use temporalctl_engine::{GraphBuilder, Inputs, ResourceError};

use super::ids::*;
use super::names;
use crate::Aws;
use crate::documents::iam as iam_doc;
use crate::iam::instance_profile::InstanceProfile;
use crate::iam::role::Role;
use crate::service_kinds::SERVICES;

/// IAM: the task execution role, the instances' role and profile, and the task roles
/// whose policies need no data store (the Temporal services' come with DSQL and OpenSearch).
pub(super) fn identities(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
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
        names::execution_role(p),
        &[GRAFANA_SECRET, ADOT_PARAMETER],
        Role {
            iam: aws.iam.clone(),
            name: names::execution_role(p),
            trust: iam_doc::trust("ecs-tasks.amazonaws.com"),
            managed: vec![managed("service-role/AmazonECSTaskExecutionRolePolicy")],
            inline: Some(Arc::new(move |inputs: &Inputs| Ok(iam_doc::execution(&arns(inputs)?)))),
        },
    );
    g.add(
        INSTANCE_ROLE,
        names::instance_role(p),
        &[],
        Role {
            iam: aws.iam.clone(),
            name: names::instance_role(p),
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
        names::instance_role(p),
        &[INSTANCE_ROLE],
        InstanceProfile { iam: aws.iam.clone(), name: names::instance_role(p), role: INSTANCE_ROLE.into() },
    );
    for kind in SERVICES.iter().filter(|k| !k.is_temporal()) {
        let name = names::task_role_name(p, kind.key);
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

//! IAM that needs no data store: the execution role, the instances' role and profile,
//! and the task roles of the services that are not Temporal's.

use std::sync::Arc;

use temporalctl_config::Deploy;
use temporalctl_engine::{GraphBuilder, Inputs, NodeId, ResourceError};

use super::ids::*;
use super::names;
use crate::Aws;
use crate::documents::iam as iam_doc;
use crate::iam::instance_profile::InstanceProfile;
use crate::iam::role::Role;
use crate::outputs::Output;
use crate::service_kinds::SERVICES;

/// IAM: the task execution role, the instances' role and profile, and the task roles
/// whose policies need no data store (the Temporal services' come with DSQL and OpenSearch).
pub(super) fn identities(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let partition = aws.partition();
    let managed = |name: &str| format!("arn:{partition}:iam::aws:policy/{name}");
    g.add(
        EXECUTION_ROLE,
        names::execution_role(p),
        Role {
            iam: aws.iam.clone(),
            name: names::execution_role(p),
            trust: iam_doc::trust("ecs-tasks.amazonaws.com"),
            managed: vec![managed("service-role/AmazonECSTaskExecutionRolePolicy")],
            reads: nodes(EXECUTION_READS),
            inline: Some(Arc::new(|inputs: &Inputs| Ok(iam_doc::execution(&arns(inputs, EXECUTION_READS)?)))),
        },
    );
    g.add(
        INSTANCE_ROLE,
        names::instance_role(p),
        Role {
            iam: aws.iam.clone(),
            name: names::instance_role(p),
            trust: iam_doc::trust("ec2.amazonaws.com"),
            managed: vec![
                managed("service-role/AmazonEC2ContainerServiceforEC2Role"),
                managed("AmazonSSMManagedInstanceCore"),
            ],
            reads: vec![],
            inline: None,
        },
    );
    g.add(
        INSTANCE_PROFILE,
        names::instance_role(p),
        InstanceProfile { iam: aws.iam.clone(), name: names::instance_role(p), role: INSTANCE_ROLE.into() },
    );
    for kind in SERVICES.iter().filter(|k| !k.is_temporal()) {
        let name = names::task_role_name(p, kind.key);
        g.add(
            task_role(kind.key),
            name.clone(),
            Role {
                iam: aws.iam.clone(),
                name,
                trust: iam_doc::trust("ecs-tasks.amazonaws.com"),
                managed: vec![],
                reads: nodes(TASK_READS),
                inline: Some(Arc::new(move |inputs: &Inputs| Ok(iam_doc::task(kind, &arns(inputs, TASK_READS)?)))),
            },
        );
    }
}

/// What the execution role's policy names: the secret and the parameter it hands to
/// containers.
const EXECUTION_READS: &[&str] = &[GRAFANA_SECRET, ADOT_PARAMETER];
/// What the task roles of the services that are not Temporal's name.
const TASK_READS: &[&str] = &[EXEC_LOG_GROUP, WORKSPACE, GRAFANA_SECRET, ADOT_PARAMETER];

fn nodes(reads: &[&str]) -> Vec<NodeId> {
    reads.iter().map(|n| n.to_string()).collect()
}

/// The ARNs of the nodes a policy reads; the others stay empty (the policy names none).
fn arns(inputs: &Inputs, reads: &[&str]) -> Result<iam_doc::Arns, ResourceError> {
    let arn = |node: &str| match reads.contains(&node) {
        true => inputs.get(node, Output::Arn).map(String::from),
        false => Ok(String::new()),
    };
    Ok(iam_doc::Arns {
        dsql_cluster: String::new(),
        opensearch_domain: String::new(),
        amp_workspace: arn(WORKSPACE)?,
        grafana_secret: arn(GRAFANA_SECRET)?,
        adot_parameter: arn(ADOT_PARAMETER)?,
        exec_log_group: arn(EXEC_LOG_GROUP)?,
    })
}

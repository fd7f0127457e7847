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
use crate::iam::role::{PolicyFn, Role};
use crate::outputs::Output;
use crate::service_kinds::{ADMIN_TOOLS, SERVICES};

/// IAM: the task execution role, the instances' role and profile, and the task roles
/// whose policies need no data store (the Temporal services' come with DSQL and OpenSearch).
pub(super) fn identities(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let partition = aws.partition();
    let managed = |name: &str| format!("arn:{partition}:iam::aws:policy/{name}");
    let execution_reads = execution_reads(d);
    let ui_client_secret =
        d.temporal.authorization.ui.as_ref().map(|ui| ui.client_secret_arn.clone()).unwrap_or_default();
    g.add(
        EXECUTION_ROLE,
        names::execution_role(p),
        Role {
            iam: aws.iam.clone(),
            name: names::execution_role(p),
            trust: fixed(iam_doc::trust("ecs-tasks.amazonaws.com")),
            managed: vec![managed("service-role/AmazonECSTaskExecutionRolePolicy")],
            reads: nodes(&execution_reads),
            inline: Some(Arc::new(move |inputs: &Inputs| {
                let arns =
                    iam_doc::Arns { ui_client_secret: ui_client_secret.clone(), ..arns(inputs, &execution_reads)? };
                Ok(iam_doc::execution(&arns))
            })),
        },
    );
    // The instances' role: the ECS agent's rights on our cluster only. The node groups that
    // ask for host sessions use a second one, the same plus Session Manager's. That one is
    // always declared, with Session Manager attached only while a group asks: a role that
    // left the graph when the last group stopped asking would never be deleted.
    let host_sessions = d.node_groups.iter().any(|(_, ng)| ng.ssm_sessions);
    let ssm = if host_sessions { vec![managed("AmazonSSMManagedInstanceCore")] } else { vec![] };
    let instance_roles = [
        (INSTANCE_ROLE, INSTANCE_PROFILE, names::instance_role(p), vec![]),
        (HOST_SESSIONS_ROLE, HOST_SESSIONS_PROFILE, names::host_sessions_role(p), ssm),
    ];
    for (role, profile, name, managed) in instance_roles {
        g.add(
            role,
            name.clone(),
            Role {
                iam: aws.iam.clone(),
                name: name.clone(),
                trust: fixed(iam_doc::trust("ec2.amazonaws.com")),
                managed,
                reads: instance_reads(),
                inline: Some(Arc::new(|inputs: &Inputs| Ok(iam_doc::instance(&instance_arns(inputs)?)))),
            },
        );
        g.add(profile, name.clone(), InstanceProfile { iam: aws.iam.clone(), name, role: role.into() });
    }
    for kind in SERVICES.iter().filter(|k| !k.is_temporal()) {
        let name = names::task_role_name(p, kind.key);
        let exec = d.services.exec(kind.key);
        let reads = task_reads(kind.key);
        g.add(
            task_role(kind.key),
            name.clone(),
            Role {
                iam: aws.iam.clone(),
                name,
                trust: task_trust(partition, &d.region, EXEC_LOG_GROUP),
                managed: vec![],
                reads: nodes(reads),
                inline: Some(Arc::new(move |inputs: &Inputs| Ok(iam_doc::task(kind, &arns(inputs, reads)?, exec)))),
            },
        );
    }
}

/// What the execution role's policy names: the secrets and the parameter it hands to
/// containers. Never the TLS authority: only temporalctl reads that.
fn execution_reads(d: &Deploy) -> Vec<&'static str> {
    let tls = d.temporal.tls.enabled.then_some(TLS_CERTIFICATES);
    [GRAFANA_SECRET, ADOT_PARAMETER].into_iter().chain(tls).collect()
}
/// What the instances' role names: the cluster, our repositories, our services' log groups.
fn instance_reads() -> Vec<NodeId> {
    let logs = SERVICES.iter().chain([&ADMIN_TOOLS]).map(|k| log_group(k.key));
    [CLUSTER.to_string()].into_iter().chain(REPOSITORIES.iter().map(|(node, _)| node.to_string())).chain(logs).collect()
}

fn instance_arns(inputs: &Inputs) -> Result<iam_doc::InstanceArns, ResourceError> {
    let reads = instance_reads();
    let arn = |node: &String| inputs.get(node, Output::Arn).map(String::from);
    Ok(iam_doc::InstanceArns {
        cluster: arn(&reads[0])?,
        repositories: reads.iter().filter(|n| n.starts_with("ecr-repository/")).map(arn).collect::<Result<_, _>>()?,
        log_groups: reads.iter().filter(|n| n.starts_with("log-group/")).map(arn).collect::<Result<_, _>>()?,
    })
}

/// What the task roles of the services that are not Temporal's name: ADOT also the
/// cluster, whose tasks it discovers.
fn task_reads(key: &str) -> &'static [&'static str] {
    match key {
        "adot" => &[EXEC_LOG_GROUP, WORKSPACE, CLUSTER],
        _ => &[EXEC_LOG_GROUP, WORKSPACE],
    }
}

/// A trust policy that depends on nothing.
fn fixed(policy: serde_json::Value) -> PolicyFn {
    Arc::new(move |_: &Inputs| Ok(policy.clone()))
}

/// A task role's trust, naming the account of `arn_of`'s ARN (a node the role reads).
pub(super) fn task_trust(partition: &'static str, region: &str, arn_of: &'static str) -> PolicyFn {
    let region = region.to_string();
    Arc::new(move |inputs: &Inputs| {
        let arn = inputs.get(arn_of, Output::Arn)?;
        // (In `plan`, a node yet to be made has no ARN: its account shows as unknown.)
        let account = if arn == temporalctl_engine::KNOWN_AFTER_CREATE { arn } else { iam_doc::account_of(arn)? };
        Ok(iam_doc::task_trust(partition, &region, account))
    })
}

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
        amp_workspace: arn(WORKSPACE)?,
        grafana_secret: arn(GRAFANA_SECRET)?,
        tls_certificates: arn(TLS_CERTIFICATES)?,
        adot_parameter: arn(ADOT_PARAMETER)?,
        exec_log_group: arn(EXEC_LOG_GROUP)?,
        cluster: arn(CLUSTER)?,
        ..Default::default()
    })
}

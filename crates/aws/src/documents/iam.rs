//! IAM policies: least privilege, on the specific ARN wherever AWS allows one.
//!
//! The only `*` resources are where AWS offers no resource-level permission
//! (listed in [`WILDCARD_EXCEPTIONS`]); no statement anywhere grants `*` actions.

use serde_json::{Value, json};

use crate::service_kinds::ServiceKind;

/// Actions AWS only grants on `"Resource": "*"`.
pub const WILDCARD_EXCEPTIONS: &[&str] = &[
    // ECS Exec's Session Manager channels have no resource type.
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    // Listing log groups is account-wide.
    "logs:DescribeLogGroups",
];

/// Who may assume a role: `ecs-tasks.amazonaws.com`, `ec2.amazonaws.com`.
pub fn trust(service_principal: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service_principal },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// ARNs the task policies name.
#[derive(Debug, Clone)]
pub struct Arns {
    pub dsql_cluster: String,
    pub opensearch_domain: String,
    pub amp_workspace: String,
    pub grafana_secret: String,
    pub adot_parameter: String,
    pub exec_log_group: String,
}

/// The task execution role's own policy, beside AWS's `AmazonECSTaskExecutionRolePolicy`:
/// read the two values ECS injects through `secrets`.
pub fn execution(arns: &Arns) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "GrafanaSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arns.grafana_secret] },
            { "Sid": "AdotConfig", "Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": [arns.adot_parameter] }
        ]
    })
}

/// What a service's task role may do.
pub fn task(kind: &ServiceKind, arns: &Arns) -> Value {
    let mut statements = Vec::new();
    if kind.is_temporal() {
        statements.push(json!({ "Sid": "DsqlConnect", "Effect": "Allow", "Action": ["dsql:DbConnectAdmin"], "Resource": [arns.dsql_cluster] }));
        statements.push(json!({ "Sid": "OpenSearchHttp", "Effect": "Allow", "Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"], "Resource": [format!("{}/*", arns.opensearch_domain)] }));
    }
    match kind.key {
        "adot" => statements.push(json!({ "Sid": "PrometheusWrite", "Effect": "Allow", "Action": ["aps:RemoteWrite"], "Resource": [arns.amp_workspace] })),
        "grafana" => {
            statements.push(json!({ "Sid": "PrometheusQuery", "Effect": "Allow", "Action": ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"], "Resource": [arns.amp_workspace] }));
            statements.push(json!({ "Sid": "OwnSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arns.grafana_secret] }));
        }
        _ => {}
    }
    statements.extend(ecs_exec(&arns.exec_log_group));
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// ECS Exec: the Session Manager channels and the exec log group.
fn ecs_exec(exec_log_group: &str) -> Vec<Value> {
    vec![
        json!({ "Sid": "EcsExecChannels", "Effect": "Allow", "Action": WILDCARD_EXCEPTIONS[..4], "Resource": "*" }),
        json!({ "Sid": "EcsExecLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], "Resource": [format!("{exec_log_group}:*")] }),
        json!({ "Sid": "EcsExecLogGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*" }),
    ]
}

/// Every (action, resource) pair a policy grants, for the least-privilege tests.
pub fn grants(policy: &Value) -> Vec<(String, String)> {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
            _ => vec![],
        }
    };
    let mut out = Vec::new();
    for st in policy["Statement"].as_array().into_iter().flatten() {
        for action in list(&st["Action"]) {
            for resource in list(&st["Resource"]) {
                out.push((action.clone(), resource));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_kinds::{SERVICES, service};
    use temporalctl_config::json::sort_keys;

    pub(crate) fn arns() -> Arns {
        Arns {
            dsql_cluster: "arn:aws:dsql:us-east-1:123456789012:cluster/abcdefghijklmnopqrstuvwxyz".into(),
            opensearch_domain: "arn:aws:es:us-east-1:123456789012:domain/demo-visibility".into(),
            amp_workspace: "arn:aws:aps:us-east-1:123456789012:workspace/ws-1234".into(),
            grafana_secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/grafana-admin-AbCdEf".into(),
            adot_parameter: "arn:aws:ssm:us-east-1:123456789012:parameter/demo/adot/collector-config".into(),
            exec_log_group: "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/demo/ecs-exec".into(),
        }
    }

    #[test]
    fn snapshots() {
        insta::assert_json_snapshot!("trust-ecs-tasks", sort_keys(trust("ecs-tasks.amazonaws.com")));
        insta::assert_json_snapshot!("execution", sort_keys(execution(&arns())));
        for kind in ["history", "ui", "grafana", "adot"] {
            insta::assert_json_snapshot!(format!("task-{kind}"), sort_keys(task(service(kind), &arns())));
        }
    }

    #[test]
    fn least_privilege_no_star_action_and_star_resources_only_where_aws_requires() {
        let mut policies = vec![execution(&arns())];
        policies.extend(SERVICES.iter().map(|k| task(k, &arns())));
        for p in &policies {
            for (action, resource) in grants(p) {
                assert!(!action.contains('*'), "wildcard action {action}");
                assert_ne!(action, "*");
                if resource == "*" {
                    assert!(WILDCARD_EXCEPTIONS.contains(&action.as_str()), "{action} on * is not a listed exception");
                }
            }
        }
        // DSQL and OpenSearch only for the four Temporal services.
        let ui = grants(&task(service("ui"), &arns()));
        assert!(!ui.iter().any(|(a, _)| a.starts_with("dsql:") || a.starts_with("es:")));
        let history = grants(&task(service("history"), &arns()));
        assert!(history.contains(&("dsql:DbConnectAdmin".into(), arns().dsql_cluster)));
    }
}

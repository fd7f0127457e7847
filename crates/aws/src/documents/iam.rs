//! IAM policies: least privilege, on the specific ARN wherever AWS allows one.
//!
//! The only `*` resources are where AWS offers no resource-level permission
//! (listed in [`WILDCARD_EXCEPTIONS`]); no statement anywhere grants `*` actions.

use serde_json::{Value, json};

use crate::service_kinds::ServiceKind;

/// Actions AWS only grants on `"Resource": "*"`.
pub const WILDCARD_EXCEPTIONS: &[&str] = &[
    // The ECS agent asks where to poll before its instance has an ARN; the ECR token is
    // account-wide (Service Authorization Reference: neither has a resource type).
    "ecs:DiscoverPollEndpoint",
    "ecr:GetAuthorizationToken",
    // ECS Exec's Session Manager channels have no resource type (EXEC_CHANNELS).
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    // Listing log groups is account-wide.
    "logs:DescribeLogGroups",
    // ADOT's task discovery: neither has a resource type nor the `ecs:cluster` condition
    // (Service Authorization Reference, ECS and EC2 tables).
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeInstances",
    // Grafana's CloudWatch data source: metric reads have no resource type and no
    // condition key for the namespace (Service Authorization Reference, CloudWatch).
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
];

/// What ADOT's `ecs_observer` calls on every refresh (collector-contrib v0.131.0,
/// `extension/observer/ecsobserver/fetcher.go`): the tasks and their definitions, and for
/// tasks of the EC2 launch type, whatever their network mode, the container instances and
/// their EC2 instances. `ListServices` is called even without a service filter. The four
/// that take the `ecs:cluster` condition are held to our cluster by it.
fn task_discovery(cluster: &str) -> Vec<Value> {
    vec![
        json!({ "Sid": "EcsDiscoveryOurCluster", "Effect": "Allow", "Action": ["ecs:ListTasks", "ecs:ListServices", "ecs:DescribeTasks", "ecs:DescribeContainerInstances"], "Resource": "*", "Condition": { "ArnEquals": { "ecs:cluster": cluster } } }),
        json!({ "Sid": "EcsDiscoveryDefinitions", "Effect": "Allow", "Action": ["ecs:DescribeTaskDefinition", "ec2:DescribeInstances"], "Resource": "*" }),
    ]
}

/// ECS Exec's Session Manager channels, granted on `*` to the task roles with Exec on.
const EXEC_CHANNELS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// Who may assume a role: `ecs-tasks.amazonaws.com` (the execution role),
/// `ec2.amazonaws.com` (the instances). No condition: AWS documents none for these, and
/// a condition on a key the service does not send denies the assume (nothing would
/// start).
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

/// A task role's trust: ECS tasks of this account and region only (the confused-deputy
/// guard of "Amazon ECS task IAM role": `aws:SourceAccount`, and `aws:SourceArn` with a
/// wildcard, since ECS does not support naming one cluster there).
pub fn task_trust(partition: &str, region: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "ecs-tasks.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnLike": { "aws:SourceArn": format!("arn:{partition}:ecs:{region}:{account}:*") },
                "StringEquals": { "aws:SourceAccount": account }
            }
        }]
    })
}

/// The account an ARN belongs to (its fifth field); an ARN without one is refused, not
/// turned into a trust policy no task could ever assume.
pub fn account_of(arn: &str) -> Result<&str, temporalctl_engine::ResourceError> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| temporalctl_engine::ResourceError::fatal(format!("no account in the ARN `{arn}` (a bug)")))
}

/// What the instances' role may name: the cluster they join, our image repositories and
/// our log groups.
#[derive(Debug, Clone)]
pub struct InstanceArns {
    /// `arn:<partition>:ecs:<region>:<account>:cluster/<name>`
    pub cluster: String,
    pub repositories: Vec<String>,
    pub log_groups: Vec<String>,
}

/// The ECS agent's rights on our instances, in place of the account-wide
/// `AmazonEC2ContainerServiceforEC2Role` (every cluster, every repository, every log group).
///
/// Sources: the actions are that managed policy's; the scoping follows AWS's own scoped
/// agent policy `AmazonECSInstanceRolePolicyForManagedInstances` (register and submit on
/// the cluster, poll and telemetry on its container instances). `ecs:Poll` is also allowed
/// on the cluster's task sets, without an `ecs:cluster` condition: the Service Connect
/// agent polls as a task set, and a condition on the cluster denies it (aws/aws-cdk#28594,
/// aws/amazon-ecs-service-connect-agent#142). Left out: `ecs:CreateCluster` (the cluster
/// exists), `ec2:DescribeTags` and tagging on register (the agent registers with
/// attributes, not tags), and SSM (host sessions are `node_groups.<g>.ssm_sessions`).
/// With an execution role on every task the agent pulls our images and writes `awslogs`
/// with that role (the ECS-optimized AMI turns `ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE`
/// on); the pull and log rights here are the documented fallback, scoped to what is ours.
/// Container-instance, task and task-set ARNs are named in ECS's long format
/// (`…:container-instance/<cluster>/<id>`), the default for every account since 2019; an
/// account that still had `containerInstanceLongArnFormat` off for this role would be
/// denied the poll (not checked by preflight yet).
pub fn instance(arns: &InstanceArns) -> Value {
    let under = |kind: &str| arns.cluster.replacen(":cluster/", &format!(":{kind}/"), 1) + "/*";
    let log_streams: Vec<String> = arns.log_groups.iter().map(|g| format!("{g}:*")).collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "FindEndpoints", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecs:DiscoverPollEndpoint"], "Resource": "*" },
            { "Sid": "JoinOurCluster", "Effect": "Allow", "Action": ["ecs:DeregisterContainerInstance", "ecs:RegisterContainerInstance", "ecs:SubmitAttachmentStateChanges", "ecs:SubmitContainerStateChange", "ecs:SubmitTaskStateChange"], "Resource": [arns.cluster] },
            { "Sid": "AgentChannel", "Effect": "Allow", "Action": ["ecs:Poll", "ecs:StartTelemetrySession", "ecs:UpdateContainerInstancesState"], "Resource": [under("container-instance")] },
            { "Sid": "ServiceConnectChannel", "Effect": "Allow", "Action": ["ecs:Poll"], "Resource": [under("task-set")] },
            { "Sid": "TaskMetadataTags", "Effect": "Allow", "Action": ["ecs:ListTagsForResource"], "Resource": [under("container-instance"), under("task")] },
            { "Sid": "PullOurImages", "Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": arns.repositories },
            { "Sid": "OurLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": log_streams }
        ]
    })
}

/// ARNs the task policies name; empty where a policy names none.
#[derive(Debug, Clone, Default)]
pub struct Arns {
    pub dsql_cluster: String,
    pub opensearch_domain: String,
    /// The visibility index's name (matching's one path).
    pub visibility_index: String,
    pub amp_workspace: String,
    pub grafana_secret: String,
    /// The TLS certificates' secret; empty when TLS is off.
    pub tls_certificates: String,
    pub adot_parameter: String,
    pub exec_log_group: String,
    /// The ECS cluster, whose tasks ADOT discovers.
    pub cluster: String,
    /// The UI's OIDC client secret, the user's own (`temporal.authorization.ui`); empty
    /// without UI login.
    pub ui_client_secret: String,
    /// The DSQL fork's connection limiter's table (`dsql.rate_coordination`); empty when off.
    pub rate_table: String,
}

/// The task execution role's own policy, beside AWS's `AmazonECSTaskExecutionRolePolicy`:
/// read the values ECS injects through `secrets` (Grafana's admin, the TLS certificates,
/// ADOT's config, the UI's OIDC client secret), and nothing else: not the TLS authority.
/// The user's secret may be named by its full ARN or without the six characters Secrets
/// Manager appends (AWS, "Permissions policy examples": `<name>-??????`); both match.
pub fn execution(arns: &Arns) -> Value {
    let user_secret = (!arns.ui_client_secret.is_empty())
        .then(|| [arns.ui_client_secret.clone(), format!("{}-??????", arns.ui_client_secret)]);
    let secrets: Vec<String> = [&arns.grafana_secret, &arns.tls_certificates]
        .into_iter()
        .filter(|a| !a.is_empty())
        .cloned()
        .chain(user_secret.into_iter().flatten())
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "InjectedSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets },
            { "Sid": "AdotConfig", "Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": [arns.adot_parameter] }
        ]
    })
}

/// The OpenSearch requests each Temporal role makes, by HTTP method (es:ESHttp<Method>),
/// and on which paths under the domain. From Temporal's code (v1.29, olivere/elastic v7):
/// only history writes, through `POST /_bulk` (deletes too), and reads one document with
/// `GET`; the frontend and the worker list and count with `POST …/_search|_count`, and add
/// search attributes with `PUT …/_mapping` then `GET /_cluster/health/…`; matching only
/// counts (`POST <index>/_count`: build-id reachability). No server process sends HTTP
/// DELETE, HEAD (health checks off) or touches `_template`. The one-off tasks' tool
/// (`temporal-elasticsearch-tool`: ping, setup-schema, create-index) sends `GET /`, `HEAD`
/// and `PUT`; it never drops an index.
fn opensearch_requests(key: &str, arns: &Arns) -> Option<(&'static [&'static str], Vec<String>)> {
    let everywhere = vec![format!("{}/*", arns.opensearch_domain)];
    Some(match key {
        "history" => (&["es:ESHttpGet", "es:ESHttpPost"], everywhere),
        // The internal frontend serves the worker's visibility calls: the frontend's job.
        "frontend" | "internal_frontend" | "worker" => (&["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"], everywhere),
        "matching" => {
            (&["es:ESHttpPost"], vec![format!("{}/{}/_count", arns.opensearch_domain, arns.visibility_index)])
        }
        "admin-tools" => (&["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPut"], everywhere),
        _ => return None,
    })
}

/// Whether a role connects to DSQL: the Temporal services and the one-off tasks.
pub fn uses_data_stores(key: &str) -> bool {
    key == crate::service_kinds::ADMIN_TOOLS.key
        || crate::service_kinds::SERVICES.iter().any(|k| k.key == key && k.is_temporal())
}

/// What a service's task role may do (`admin-tools`: the one-off tasks' role); `exec`:
/// ECS Exec reaches its tasks (`services.<s>.exec`).
///
/// DSQL: every Temporal role needs `dsql:DbConnectAdmin`, not only the schema's. The DSQL
/// fork's persistence plugin connects as `admin` whatever the configured user
/// (`iw/temporal`, `common/persistence/sql/sqlplugin/dsql/plugin.go`; its
/// `docs/dsql/overview.md`: "the plugin currently uses admin authentication"), so a
/// database role with `dsql:DbConnect` cannot be used until the fork honours `sql.user`.
pub fn task(kind: &ServiceKind, arns: &Arns, exec: bool) -> Value {
    let mut statements = Vec::new();
    if uses_data_stores(kind.key) {
        statements.push(json!({ "Sid": "DsqlConnect", "Effect": "Allow", "Action": ["dsql:DbConnectAdmin"], "Resource": [arns.dsql_cluster] }));
    }
    // The fork's cluster-wide limiter counts connection opens with one `UpdateItem` each
    // (`distributed_rate_limiter.go`); the servers alone open pooled connections.
    if kind.is_temporal() && !arns.rate_table.is_empty() {
        statements.push(json!({ "Sid": "DsqlRateLimiter", "Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": [arns.rate_table] }));
    }
    if let Some((actions, resources)) = opensearch_requests(kind.key, arns) {
        statements
            .push(json!({ "Sid": "OpenSearchHttp", "Effect": "Allow", "Action": actions, "Resource": resources }));
    }
    match kind.key {
        "adot" => {
            statements.push(json!({ "Sid": "PrometheusWrite", "Effect": "Allow", "Action": ["aps:RemoteWrite"], "Resource": [arns.amp_workspace] }));
            statements.extend(task_discovery(&arns.cluster));
        }
        // The admin password reaches the container through the execution role (a
        // `secrets` reference): the running Grafana has no need to read it again.
        "grafana" => {
            statements.push(json!({ "Sid": "PrometheusQuery", "Effect": "Allow", "Action": ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"], "Resource": [arns.amp_workspace] }));
            // The ECS dashboard's CloudWatch data source (documents::grafana): reads only.
            statements.push(json!({ "Sid": "CloudWatchRead", "Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], "Resource": "*" }));
        }
        _ => {}
    }
    if exec {
        statements.extend(ecs_exec(&arns.exec_log_group));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// ECS Exec: the Session Manager channels and the exec log group.
fn ecs_exec(exec_log_group: &str) -> Vec<Value> {
    vec![
        json!({ "Sid": "EcsExecChannels", "Effect": "Allow", "Action": EXEC_CHANNELS, "Resource": "*" }),
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
    use crate::service_kinds::{ADMIN_TOOLS, SERVICES, service};
    use temporalctl_config::EXEC_BY_DEFAULT;
    use temporalctl_config::json::sort_keys;

    pub(crate) fn arns() -> Arns {
        Arns {
            dsql_cluster: "arn:aws:dsql:us-east-1:123456789012:cluster/abcdefghijklmnopqrstuvwxyz".into(),
            opensearch_domain: "arn:aws:es:us-east-1:123456789012:domain/demo-visibility".into(),
            visibility_index: "temporal_visibility_v1".into(),
            amp_workspace: "arn:aws:aps:us-east-1:123456789012:workspace/ws-1234".into(),
            grafana_secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/grafana-admin-AbCdEf".into(),
            tls_certificates: "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/temporal-tls-GhIjKl".into(),
            adot_parameter: "arn:aws:ssm:us-east-1:123456789012:parameter/demo/adot/collector-config".into(),
            exec_log_group: "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/demo/ecs-exec".into(),
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster".into(),
            ..Default::default()
        }
    }

    /// Issue 27: with `dsql.rate_coordination`, the five Temporal servers, and nothing else,
    /// may count connection opens in the limiter's table: `UpdateItem` on it alone.
    #[test]
    fn only_the_temporal_servers_update_the_rate_limiters_table() {
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-dsql-rate-limiter";
        let with = Arns { rate_table: table.into(), ..arns() };
        for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
            let granted: Vec<(String, String)> =
                grants(&task(kind, &with, false)).into_iter().filter(|(a, _)| a.starts_with("dynamodb:")).collect();
            let wanted: Vec<(String, String)> =
                if kind.is_temporal() { vec![("dynamodb:UpdateItem".into(), table.into())] } else { vec![] };
            assert_eq!(granted, wanted, "{}", kind.key);
            assert!(grants(&task(kind, &arns(), false)).iter().all(|(a, _)| !a.starts_with("dynamodb:")));
        }
    }

    /// The UI's OIDC client secret is the user's: the execution role reads that secret (by
    /// its ARN, with or without Secrets Manager's suffix) to inject it, and no task role
    /// reads it.
    #[test]
    fn the_ui_client_secret_is_read_by_the_execution_role_alone() {
        let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/temporal-ui";
        let a = Arns { ui_client_secret: secret.into(), ..arns() };
        let read: Vec<String> = grants(&execution(&a))
            .into_iter()
            .filter(|(action, _)| action == "secretsmanager:GetSecretValue")
            .map(|(_, resource)| resource)
            .collect();
        assert!(read.contains(&secret.to_string()) && read.contains(&format!("{secret}-??????")), "{read:?}");
        assert_eq!(read.len(), 4, "grafana's, the certificates', the UI's two forms: {read:?}");
        let without = grants(&execution(&arns()));
        assert!(without.iter().all(|(_, r)| !r.contains("temporal-ui")));
        for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
            assert!(!task(kind, &a, true).to_string().contains("temporal-ui"), "{}", kind.key);
        }
    }

    #[test]
    fn snapshots() {
        insta::assert_json_snapshot!("trust-ecs-tasks", sort_keys(trust("ecs-tasks.amazonaws.com")));
        insta::assert_json_snapshot!("trust-task-role", sort_keys(task_trust("aws", "us-east-1", "123456789012")));
        let instance_arns = InstanceArns {
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster".into(),
            repositories: vec!["arn:aws:ecr:us-east-1:123456789012:repository/demo/temporal-server".into()],
            log_groups: vec!["arn:aws:logs:us-east-1:123456789012:log-group:/ecs/demo/temporal-history".into()],
        };
        insta::assert_json_snapshot!("instance", sort_keys(instance(&instance_arns)));
        insta::assert_json_snapshot!("execution", sort_keys(execution(&arns())));
        for kind in ["history", "matching", "frontend", "worker", "admin-tools", "ui", "grafana", "adot"] {
            let exec = EXEC_BY_DEFAULT.contains(&kind);
            insta::assert_json_snapshot!(format!("task-{kind}"), sort_keys(task(service(kind), &arns(), exec)));
        }
    }

    #[test]
    fn least_privilege_no_star_action_and_star_resources_only_where_aws_requires() {
        let mut policies = vec![execution(&arns())];
        policies.extend(SERVICES.iter().chain([&ADMIN_TOOLS]).map(|k| task(k, &arns(), true)));
        for p in &policies {
            for statement in p["Statement"].as_array().unwrap() {
                // `*` held to our cluster by ECS's condition is scoped all the same.
                let scoped = statement["Condition"]["ArnEquals"]["ecs:cluster"] == arns().cluster.as_str();
                let single = json!({ "Statement": [statement] });
                for (action, resource) in grants(&single) {
                    assert!(!action.contains('*'), "wildcard action {action}");
                    if resource == "*" && !scoped {
                        assert!(
                            WILDCARD_EXCEPTIONS.contains(&action.as_str()),
                            "{action} on * is not a listed exception"
                        );
                    }
                }
            }
        }
        // ADOT discovers the tasks of our cluster alone.
        let adot = task(service("adot"), &arns(), false);
        let discovery =
            adot["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "EcsDiscoveryOurCluster").unwrap();
        assert_eq!(
            discovery["Condition"]["ArnEquals"]["ecs:cluster"],
            "arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster"
        );
        // DSQL and OpenSearch only for the five Temporal services.
        let ui = grants(&task(service("ui"), &arns(), true));
        assert!(!ui.iter().any(|(a, _)| a.starts_with("dsql:") || a.starts_with("es:")));
        let history = grants(&task(service("history"), &arns(), false));
        assert!(history.contains(&("dsql:DbConnectAdmin".into(), arns().dsql_cluster)));
    }

    /// Issue 19: each role can do its job and no more (docs/security.md).
    #[test]
    fn each_role_has_its_jobs_rights_and_no_more() {
        let a = arns();
        let of = |key: &str, exec: bool| {
            let kind = if key == ADMIN_TOOLS.key { &ADMIN_TOOLS } else { service(key) };
            grants(&task(kind, &a, exec))
        };
        let actions = |grants: &[(String, String)], prefix: &str| -> Vec<String> {
            let mut v: Vec<String> =
                grants.iter().filter(|(x, _)| x.starts_with(prefix)).map(|(x, _)| x.clone()).collect();
            v.dedup();
            v
        };
        // Only the roles of Temporal's processes and the one-off tasks reach the data.
        for key in ["ui", "grafana", "adot"] {
            assert!(actions(&of(key, true), "dsql:").is_empty() && actions(&of(key, true), "es:").is_empty(), "{key}");
        }
        // OpenSearch: nobody deletes; only the one-off tool sends HEAD; matching only counts.
        for key in ["history", "matching", "frontend", "worker", "admin-tools"] {
            let es = actions(&of(key, false), "es:");
            assert!(!es.contains(&"es:ESHttpDelete".to_string()), "{key}: {es:?}");
            assert_eq!(es.contains(&"es:ESHttpHead".to_string()), key == "admin-tools", "{key}: {es:?}");
        }
        assert_eq!(actions(&of("history", false), "es:"), ["es:ESHttpGet", "es:ESHttpPost"]);
        let matching: Vec<(String, String)> =
            of("matching", false).into_iter().filter(|(x, _)| x.starts_with("es:")).collect();
        assert_eq!(
            matching,
            [("es:ESHttpPost".to_string(), format!("{}/temporal_visibility_v1/_count", a.opensearch_domain))]
        );
        assert!(!actions(&of("admin-tools", false), "es:").contains(&"es:ESHttpPost".to_string()));
        // The password reaches Grafana through the execution role only.
        assert!(actions(&of("grafana", true), "secretsmanager:").is_empty());
        assert_eq!(actions(&grants(&execution(&a)), "secretsmanager:"), ["secretsmanager:GetSecretValue"]);
        // Exec's channels only where Exec is on.
        for key in ["history", "ui", "admin-tools"] {
            assert!(actions(&of(key, false), "ssmmessages:").is_empty(), "{key}");
        }
        assert_eq!(actions(&of("ui", true), "ssmmessages:").len(), 4);
    }

    #[test]
    fn a_task_role_trusts_only_ecs_tasks_of_our_account_and_region() {
        let t = task_trust("aws", "eu-west-1", "123456789012");
        let st = &t["Statement"][0];
        assert_eq!(st["Principal"]["Service"], "ecs-tasks.amazonaws.com");
        assert_eq!(st["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(st["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:ecs:eu-west-1:123456789012:*");
        assert_eq!(account_of("arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/x").unwrap(), "123456789012");
        assert!(account_of("arn:aws:s3:::bucket").is_err() && account_of("not-an-arn").is_err());
    }

    #[test]
    fn the_instance_role_reaches_only_our_cluster_repositories_and_logs() {
        let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster";
        let policy = instance(&InstanceArns {
            cluster: cluster.into(),
            repositories: vec!["arn:aws:ecr:us-east-1:123456789012:repository/demo/temporal-server".into()],
            log_groups: vec!["arn:aws:logs:us-east-1:123456789012:log-group:/ecs/demo/temporal-history".into()],
        });
        let mut poll_targets = Vec::new();
        for (action, resource) in grants(&policy) {
            assert!(!action.starts_with("ssm") && !action.starts_with("ec2messages"), "{action}: no host sessions");
            if resource == "*" {
                assert!(WILDCARD_EXCEPTIONS.contains(&action.as_str()), "{action} on *");
                continue;
            }
            let ours = resource == cluster
                || resource.contains(":container-instance/demo-cluster/")
                || resource.contains(":task-set/demo-cluster/")
                || resource.contains(":task/demo-cluster/")
                || resource.contains(":repository/demo/")
                || resource.contains(":log-group:/ecs/demo/");
            assert!(ours, "{action} on {resource}");
            if action == "ecs:Poll" {
                poll_targets.push(resource);
            }
        }
        // The Service Connect agent polls as a task set (aws/aws-cdk#28594).
        assert!(poll_targets.iter().any(|r| r.ends_with(":task-set/demo-cluster/*")), "{poll_targets:?}");
        assert!(policy["Statement"].as_array().unwrap().iter().all(|s| s.get("Condition").is_none()));
    }
}

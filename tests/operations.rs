//! Issue 5: `up`'s final phases (schema tasks, scale waves, default namespace), `scale`,
//! `status` and the ordered `down`, against moto through the recording proxy. The test
//! harness stands in for the ECS agent and scheduler (support/agent.rs).

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::Harness;
use temporalctl_proxy::Script;

const PROJECT: &str = "itops";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

/// The services named in UpdateService calls, with the desired count sent, in order.
fn scaled(h: &Harness) -> Vec<(String, i64)> {
    h.sent("UpdateService")
        .iter()
        .filter_map(|b| {
            let n = b.get("desiredCount")?.as_i64()?;
            // Service names are `<project>-<container>`: itops-temporal-history, itops-adot-collector.
            let name = b["service"].as_str()?.trim_start_matches(&format!("{PROJECT}-"));
            let key = name.trim_start_matches("temporal-").trim_end_matches("-collector").to_string();
            Some((key, n))
        })
        .collect()
}

/// The one-off steps' scripts, in the order RunTask was called.
fn steps_run(h: &Harness) -> Vec<String> {
    h.sent("RunTask")
        .iter()
        .map(|b| b["overrides"]["containerOverrides"][0]["command"][0].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A DescribeTasks rewrite: every stopped task's container exited 1, as ECS reports a
/// failed step (moto always reports exit code 0).
fn stopped_with_exit_1() -> Script {
    Script::rewrite_json(|v| {
        for task in v["tasks"].as_array_mut().into_iter().flatten() {
            if task["lastStatus"] == "STOPPED" {
                task["stoppedReason"] = json!("Essential container in task exited");
                task["containers"][0]["exitCode"] = json!(1);
            }
        }
    })
}

/// A GetLogEvents answer holding `lines` (moto keeps no container logs).
fn log_lines(lines: &[&str]) -> Script {
    let events: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| json!({ "timestamp": i + 1, "ingestionTime": i + 1, "message": m }))
        .collect();
    let body = json!({ "events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1" });
    Script::Respond { status: 200, content_type: "application/x-amz-json-1.1", body: body.to_string() }
}

fn position(ops: &[String], op: &str) -> usize {
    ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("{op} not called: {ops:?}"))
}

#[test]
fn fresh_up_runs_schema_before_any_scaling_then_waves_in_order_then_the_namespace() {
    let h = Harness::new("ops-fresh", &deploy());
    let run = h.run(&["up"]).ok();
    let ops = h.proxy.operations();
    let scripts = steps_run(&h);
    assert_eq!(scripts.len(), 4, "schema, index, namespace, then the end-to-end check: {scripts:#?}");
    assert!(scripts[3].contains("cli workflow start"), "{}", scripts[3]);
    // The schema and the index run beside the walk, each when its store is ready: in
    // either order here, where moto makes both ready at once.
    let schema = scripts.iter().position(|s| {
        s.contains("temporal-dsql-tool")
            && s.contains("setup-schema --schema-name 'dsql/v12/temporal' --version '1.12'")
    });
    let index = scripts.iter().position(|s| {
        s.contains("temporal-elasticsearch-tool") && s.contains("create-index --index 'temporal_visibility_v1_dev'")
    });
    let mut first_two = [schema, index];
    first_two.sort();
    assert_eq!(first_two, [Some(0), Some(1)], "{scripts:#?}");
    assert!(scripts[2].contains("cli operator namespace create") && scripts[2].contains("--retention 72h"));
    // Schema tasks run while every service is at 0: both RunTasks come before any scaling.
    let runs: Vec<usize> = ops.iter().enumerate().filter(|(_, o)| *o == "RunTask").map(|(i, _)| i).collect();
    let first_scale = ops
        .iter()
        .zip(h.proxy.calls())
        .position(|(o, c)| o == "UpdateService" && c.body.contains("desiredCount"))
        .expect("a scale-up");
    assert!(runs[1] < first_scale && first_scale < runs[2], "schema, waves, namespace: {ops:?}");
    // seed 002's waves.
    let order: Vec<String> = scaled(&h).into_iter().map(|(s, n)| format!("{s}={n}")).collect();
    assert_eq!(
        order,
        ["history=1", "matching=1", "frontend=1", "internal-frontend=1", "worker=1", "ui=1", "grafana=1", "adot=1"]
    );
    // Each one-off task ran in the private subnets, on the worker's node group, without a public IP.
    let state = h.state(PROJECT);
    let run_task = &h.sent("RunTask")[0];
    let vpc = &run_task["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(vpc["assignPublicIp"], "DISABLED");
    assert_eq!(vpc["subnets"][0], state["nodes"]["subnet/private-0"]["id"]);
    assert_eq!(run_task["placementConstraints"][0]["expression"], "attribute:workload == worker");
    assert_eq!(run_task["capacityProviderStrategy"][0]["capacityProvider"], format!("{PROJECT}-node-c"));
    // Recorded: what each step applied and the counts.
    assert_eq!(state["steps"]["dsql-schema"], "dsql/v12/temporal@1.12");
    assert_eq!(state["steps"]["opensearch-visibility"], "temporal_visibility_v1_dev");
    assert_eq!(state["steps"]["namespace"], "default");
    assert_eq!(state["desired-counts"]["history"], 1);
    assert!(run.stdout.contains("ran DSQL schema"), "{}", run.stdout);
    let _ = position(&ops, "DescribeServices");

    // A second up runs no step and scales nothing.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.sent("RunTask").is_empty(), "no schema task on a re-run");
    assert!(scaled(&h).is_empty(), "{:?}", scaled(&h));
    let mutating: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    assert!(mutating.is_empty(), "no-op up changed something: {mutating:?}");
}

#[test]
fn scale_up_to_two_in_waves_survives_up_and_scale_down_goes_in_reverse() {
    let h = Harness::new("ops-scale", &deploy());
    h.run(&["up"]).ok();
    h.proxy.clear();
    let run = h.run(&["scale", "up", "--count", "2"]).ok();
    assert!(run.stdout.contains("8 service(s) changed"), "{}", run.stdout);
    // Twice the tasks outgrow the ENIs of the default groups without trunking: said
    // before the waves (on AWS the extra tasks would never be placed).
    assert!(run.stderr.contains("note: node group b runs 8 awsvpc tasks"), "{}", run.stderr);
    assert!(run.stderr.contains("awsvpcTrunking is off for the instance role arn:"), "{}", run.stderr);
    let order: Vec<String> = scaled(&h).into_iter().map(|(s, n)| format!("{s}={n}")).collect();
    assert_eq!(
        order,
        ["history=2", "matching=2", "frontend=2", "internal-frontend=2", "worker=2", "ui=2", "grafana=2", "adot=2"]
    );
    assert_eq!(h.state(PROJECT)["desired-counts"]["adot"], 2);
    // Each scaled service is told how to roll at its new count: group a (history and the
    // internal frontend) and group c (worker and adot) fill 4 of 4 ENI slots, so their
    // services replace one task at a time.
    let rollout = |service: &str| {
        let sent = h.sent("UpdateService");
        let body = sent.iter().find(|b| b["service"] == format!("{PROJECT}-{service}")).unwrap().clone();
        let dc = &body["deploymentConfiguration"];
        (
            dc["minimumHealthyPercent"].as_i64().unwrap(),
            dc["maximumPercent"].as_i64().unwrap(),
            dc["deploymentCircuitBreaker"]["rollback"].clone(),
        )
    };
    assert_eq!(rollout("temporal-history"), (50, 100, json!(true)));
    assert_eq!(rollout("temporal-worker"), (50, 100, json!(true)));

    // A later up keeps 2.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(scaled(&h).is_empty(), "up must not touch the counts: {:?}", scaled(&h));
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let names: Vec<String> = ["temporal-history", "adot-collector"].iter().map(|s| format!("{PROJECT}-{s}")).collect();
    let out = support::block_on(
        ecs.describe_services().cluster(format!("{PROJECT}-cluster")).set_services(Some(names)).send(),
    )
    .unwrap();
    let counts: Vec<i32> = out.services().iter().map(|s| s.desired_count()).collect();
    assert_eq!(counts, [2, 2], "both services found, both at 2");

    // Down, in reverse wave order; one service only when named.
    h.proxy.clear();
    h.run(&["scale", "down", "--service", "ui"]).ok();
    assert_eq!(scaled(&h), [("ui".to_string(), 0)]);
    h.proxy.clear();
    h.run(&["scale", "down"]).ok();
    let order: Vec<String> = scaled(&h).into_iter().map(|(s, n)| format!("{s}={n}")).collect();
    assert_eq!(
        order,
        ["grafana=0", "adot=0", "worker=0", "frontend=0", "internal-frontend=0", "history=0", "matching=0"]
    );
    let counts: Value = h.state(PROJECT)["desired-counts"].clone();
    assert!(counts.as_object().unwrap().values().all(|n| n == 0), "{counts}");
}

#[test]
fn scale_checks_capacity_and_names_before_any_call() {
    let h = Harness::new("ops-scale-bad", &deploy());
    let run = h.run(&["scale", "up", "--count", "9"]).code(2);
    assert!(run.stderr.contains("node_groups.b.max_size") && run.stderr.contains("raise max_size"), "{}", run.stderr);
    // DSQL takes 1,000 new connections at once: 5 services × 11 × 20 is over.
    let run = h.run(&["scale", "up", "--count", "11"]).code(2);
    assert!(
        run.stderr.contains("dsql.pool.max_conns")
            && run.stderr.contains("open 1100 connections when every service starts at once"),
        "{}",
        run.stderr
    );
    let run = h.run(&["scale", "up", "--service", "histroy"]).code(2);
    assert!(run.stderr.contains("--service histroy: no such service"), "{}", run.stderr);
    assert!(h.proxy.calls().is_empty(), "no AWS call for bad input: {:?}", h.proxy.operations());
}

#[test]
fn a_failing_schema_task_stops_up_with_its_log_lines_and_the_next_up_runs_it_again() {
    let h = Harness::new("ops-schema-fail", &deploy());
    // moto always reports exit code 0 and keeps no container logs: script what ECS and
    // CloudWatch say when temporal-dsql-tool fails.
    h.proxy.script("DescribeTasks", None, stopped_with_exit_1());
    h.proxy.script(
        "GetLogEvents",
        None,
        log_lines(&["setup-schema dsql/v12/temporal 1.12", "FATAL: unable to connect to DSQL: access denied"]),
    );
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("step DSQL schema dsql/v12/temporal 1.12 (setup-schema) failed"), "{}", run.stderr);
    assert!(run.stderr.contains("exit code 1; stopped reason: Essential container in task exited"), "{}", run.stderr);
    assert!(run.stderr.contains("| FATAL: unable to connect to DSQL: access denied"), "{}", run.stderr);
    assert!(run.stderr.contains("temporal-admin-tools/temporal-admin-tools/"), "names the log stream: {}", run.stderr);
    // The index step is independent of the schema and ran beside it (failing the same way
    // here); nothing after them starts.
    assert_eq!(h.sent("RunTask").len(), 2, "the two steps beside the walk, and no namespace step");
    assert!(run.stderr.contains("step OpenSearch"), "both failures are reported: {}", run.stderr);
    assert!(scaled(&h).is_empty(), "no service is scaled after a failed schema step");
    let steps = h.state(PROJECT)["steps"].clone();
    assert!(
        steps.get("dsql-schema").is_none() && steps.get("namespace").is_none(),
        "nothing recorded as applied: {steps}"
    );

    h.proxy.unscript();
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(steps_run(&h).len(), 4, "the next up runs the schema steps again, the namespace and the check");
}

#[test]
fn down_drains_in_reverse_waves_then_waits_out_lingering_enis() {
    let h = Harness::new("ops-down", &deploy());
    h.run(&["up"]).ok();
    h.proxy.clear();
    // ENIs of stopped tasks linger on real AWS; moto never says so.
    h.proxy.script(
        "DeleteSubnet",
        Some(2),
        Script::query_error(400, "DependencyViolation", "The subnet has dependencies and cannot be deleted."),
    );
    let run = h.run(&["down", "--yes", "--destroy-data"]).ok();
    let order: Vec<String> = scaled(&h).into_iter().map(|(s, n)| format!("{s}={n}")).collect();
    assert_eq!(
        order,
        ["grafana=0", "adot=0", "worker=0", "ui=0", "frontend=0", "internal-frontend=0", "history=0", "matching=0"]
    );
    let ops = h.proxy.operations();
    let last_scale = ops.iter().rposition(|o| o == "UpdateService").unwrap();
    assert!(last_scale < position(&ops, "DeleteService"), "drained before any service is deleted");
    assert!(run.stderr.contains("DependencyViolation") && run.stderr.contains("blocked by eni-"), "{}", run.stderr);
    let deletes = ops.iter().filter(|o| *o == "DeleteSubnet").count();
    assert!(deletes >= 4, "two subnets, one retried twice: {deletes}");
    let subnets = support::block_on(
        h.ec2()
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build())
            .send(),
    )
    .unwrap();
    assert!(subnets.subnets().is_empty(), "every subnet deleted in the end");
    // Idempotent: a second down finds nothing to do.
    h.proxy.clear();
    h.run(&["down", "--yes", "--destroy-data"]).ok();
    assert!(scaled(&h).is_empty());
    assert!(h.state(PROJECT).get("steps").is_none(), "the schema went with DSQL: nothing recorded as applied");
}

#[test]
fn status_shows_services_endpoints_and_commands_in_its_published_schema_without_changing_anything() {
    let h = Harness::new("ops-status", &deploy());
    h.run(&["up"]).ok();
    h.run(&["scale", "up", "--count", "2", "--service", "frontend", "--service", "ui"]).ok();
    h.proxy.clear();
    let run = h.run(&["status", "--output", "json"]).ok();
    assert!(h.proxy.mutating().is_empty(), "status changed something: {:?}", h.proxy.mutating());
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(support::repo().join("docs/status.schema.json")).unwrap())
            .unwrap();
    let broken = support::schema::violations(&schema, &doc);
    assert!(broken.is_empty(), "status JSON breaks docs/status.schema.json: {broken:#?}");
    let not_ok: Vec<String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "ok")
        .chain(doc["services"].as_array().unwrap().iter().filter(|s| s["health"] != "running"))
        .map(|v| v.to_string())
        .collect();
    assert!(not_ok.is_empty() && doc["healthy"] == true, "{not_ok:#?}");
    // DSQL's quotas at the counts set (issue 27): two frontends and one of each other server.
    let budget = &doc["dsql_connections"];
    assert_eq!((budget["open"].as_i64(), budget["max_open"].as_i64()), (Some(121), Some(10000)), "{budget}");
    assert_eq!((budget["cold_start"].as_i64(), budget["burst"].as_i64()), (Some(120), Some(1000)), "{budget}");
    let frontend = doc["services"].as_array().unwrap().iter().find(|s| s["service"] == "frontend").unwrap().clone();
    assert_eq!((frontend["desired"].as_i64(), frontend["running"].as_i64()), (Some(2), Some(2)));
    assert_eq!(frontend["tasks"].as_array().unwrap().len(), 2, "{frontend:#}");
    let task = &frontend["tasks"][0];
    let (task_id, instance) = (task["id"].as_str().unwrap(), task["instance"].as_str().unwrap());
    assert!(instance.starts_with("i-"), "{task}");
    let commands = doc["commands"].as_array().unwrap();
    let shell = commands.iter().find(|c| c["name"] == "shell").unwrap()["command"].as_str().unwrap();
    assert!(
        shell.contains(&format!("aws ecs execute-command --region us-east-1 --cluster {PROJECT}-cluster --task ")),
        "{shell}"
    );
    let ui = commands.iter().find(|c| c["name"] == "ui").unwrap()["command"].as_str().unwrap();
    assert!(ui.contains("--document-name AWS-StartPortForwardingSession ") && ui.contains("portNumber=8080"), "{ui}");
    let grafana = commands.iter().find(|c| c["name"] == "grafana").unwrap();
    assert!(grafana["command"].as_str().unwrap().contains("portNumber=3000"));
    assert!(doc["endpoints"]["dsql"].as_str().unwrap().contains(":5432"));
    assert!(doc["endpoints"]["opensearch"].as_str().unwrap().starts_with("https://"));
    assert!(!task_id.is_empty());
    // Batched: the eight services' resource reads are one listing, the runtime half one
    // DescribeServices more for all eight, and ListTasks, DescribeTasks,
    // DescribeContainerInstances once each.
    let ops = h.proxy.operations();
    let count = |op: &str| ops.iter().filter(|o| *o == op).count();
    assert_eq!(count("DescribeServices"), 1 + 1, "{ops:?}");
    for op in ["ListTasks", "DescribeTasks", "DescribeContainerInstances"] {
        assert_eq!(count(op), 1, "{op}: {ops:?}");
    }
    // The text form says the same for a person.
    let text = h.run(&["status"]).ok().stdout;
    assert!(
        text.contains("Services:")
            && text.contains("frontend          running")
            && !text.contains("aws ssm start-session"),
        "{text}"
    );
    // DSQL's quotas at the counts set: two frontends and one of each other Temporal service.
    assert!(
        text.contains("DSQL connections (the counts up and scale set):\n  open connections 121 of 10000 (9879 left)"),
        "{text}"
    );
}

/// Issue 19: a service of our name without our tags (another tool's, or ours with its
/// tags stripped) is never scaled or drained: `scale` and `down` stop before any change,
/// naming it, and it keeps its count; `exec` opens no session into its tasks.
#[test]
fn a_same_named_service_without_our_tags_is_never_scaled_or_drained() {
    let h = Harness::new("ops-foreign-service", &deploy());
    h.run(&["up"]).ok();
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let (cluster, name) = (format!("{PROJECT}-cluster"), format!("{PROJECT}-temporal-frontend"));
    let describe = || {
        let out = support::block_on(ecs.describe_services().cluster(&cluster).services(&name).send()).unwrap();
        out.services().first().cloned().expect("the service is there")
    };
    let arn = describe().service_arn().unwrap().to_string();
    support::block_on(
        ecs.untag_resource().resource_arn(&arn).tag_keys("temporalctl:project").tag_keys("temporalctl:node").send(),
    )
    .unwrap();
    let refused = format!("{name} is not owned by this deployment");
    for verb in [&["scale", "up", "--count", "2"][..], &["scale", "down"], &["down", "--yes"]] {
        h.proxy.clear();
        let run = h.run(verb).code(1);
        assert!(run.stderr.contains(&refused), "{verb:?}: {}", run.stderr);
        let ops = h.proxy.operations();
        let changes: Vec<&String> =
            ops.iter().filter(|o| ["Update", "Delete", "Tag", "Put"].iter().any(|p| o.starts_with(p))).collect();
        assert!(changes.is_empty(), "{verb:?} changed nothing at all: {changes:?}");
    }
    assert_eq!(describe().desired_count(), 1, "the service keeps its count");
    let run = h.run(&["exec", "frontend", "--print"]).code(1);
    assert!(run.stderr.contains(&refused) && !run.stdout.contains("execute-command"), "{}", run.stderr);
}

#[test]
fn down_sweeps_tagged_leftovers_the_state_does_not_know_and_nothing_untagged() {
    let h = Harness::new("ops-sweep", &deploy());
    h.run(&["up"]).ok();
    let vpc = h.state(PROJECT)["nodes"]["vpc"]["id"].as_str().unwrap().to_string();
    let ec2 = h.ec2();
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let group = |name: &str, tags: Vec<aws_sdk_ec2::types::Tag>| {
        let spec = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
            .set_tags(Some(tags))
            .build();
        support::block_on(
            ec2.create_security_group().group_name(name).description("x").vpc_id(&vpc).tag_specifications(spec).send(),
        )
        .unwrap()
        .group_id()
        .unwrap()
        .to_string()
    };
    // Left by an interrupted run of an older config: both ownership tags, no node in the graph.
    let leftover =
        group("itops-old", vec![tag("temporalctl:project", PROJECT), tag("temporalctl:node", "security-group/old")]);
    // A second gateway for the graph's own node, as a retried create once left: a duplicate.
    let ours = vec![tag("temporalctl:project", PROJECT), tag("temporalctl:node", "internet-gateway")];
    let spec = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::InternetGateway)
        .set_tags(Some(ours))
        .build();
    let duplicate = support::block_on(ec2.create_internet_gateway().tag_specifications(spec).send()).unwrap();
    let duplicate = duplicate.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap().to_string();
    // Someone else's, with only half of our tags: never touched.
    let foreign = group("someone-elses", vec![tag("temporalctl:project", PROJECT)]);
    let run = h.run(&["down", "--yes", "--destroy-data"]).ok();
    assert!(
        run.stdout.contains(&format!("swept security-group {leftover} (tagged security-group/old)")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("swept internet-gateway {duplicate} (tagged internet-gateway)")),
        "{}",
        run.stdout
    );
    let left = support::block_on(ec2.describe_security_groups().group_ids(&foreign).send()).unwrap();
    assert_eq!(left.security_groups().len(), 1, "the half-tagged group stays");
    let deleted: Vec<String> =
        h.proxy.calls().into_iter().filter(|c| c.operation == "DeleteSecurityGroup").map(|c| c.body).collect();
    assert!(deleted.iter().any(|b| b.contains(&leftover)) && !deleted.iter().any(|b| b.contains(&foreign)));
    let ops = h.proxy.operations();
    let swept_at = h
        .proxy
        .calls()
        .iter()
        .position(|c| c.body.contains(&leftover) && c.operation == "DeleteSecurityGroup")
        .unwrap();
    assert!(swept_at < position(&ops, "DeleteVpc"), "swept before the VPC goes");
}

#[test]
fn down_sweeps_a_leftover_node_group_still_on_the_cluster() {
    let h = Harness::new("ops-sweep-group", &deploy());
    h.run(&["up"]).ok();
    // A node group an older run left: Auto Scaling group and capacity provider with both
    // ownership tags and nodes the graph does not have, the provider still on the cluster.
    let name = format!("{PROJECT}-node-old");
    let (asg, ecs) = (aws_sdk_autoscaling::Client::new(&h.sdk()), aws_sdk_ecs::Client::new(&h.sdk()));
    let subnet = h.state(PROJECT)["nodes"]["subnet/private-0"]["id"].as_str().unwrap().to_string();
    let asg_tag = |k: &str, v: &str| {
        aws_sdk_autoscaling::types::Tag::builder()
            .key(k)
            .value(v)
            .resource_id(&name)
            .resource_type("auto-scaling-group")
            .build()
    };
    let template = aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
        .launch_template_name(format!("{PROJECT}-node-a"))
        .build();
    support::block_on(
        asg.create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .launch_template(template)
            .min_size(1)
            .max_size(1)
            .vpc_zone_identifier(&subnet)
            .tags(asg_tag("temporalctl:project", PROJECT))
            .tags(asg_tag("temporalctl:node", "auto-scaling-group/old"))
            .send(),
    )
    .unwrap();
    let group_arn = support::block_on(asg.describe_auto_scaling_groups().auto_scaling_group_names(&name).send())
        .unwrap()
        .auto_scaling_groups()[0]
        .auto_scaling_group_arn()
        .unwrap()
        .to_string();
    let ecs_tag = |k: &str, v: &str| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
    support::block_on(
        ecs.create_capacity_provider()
            .name(&name)
            .auto_scaling_group_provider(
                aws_sdk_ecs::types::AutoScalingGroupProvider::builder()
                    .auto_scaling_group_arn(group_arn)
                    .build()
                    .unwrap(),
            )
            .tags(ecs_tag("temporalctl:project", PROJECT))
            .tags(ecs_tag("temporalctl:node", "capacity-provider/old"))
            .send(),
    )
    .unwrap();
    let cluster = format!("{PROJECT}-cluster");
    let on_cluster = |names: Vec<String>| {
        support::block_on(
            ecs.put_cluster_capacity_providers()
                .cluster(&cluster)
                .set_capacity_providers(Some(names))
                .set_default_capacity_provider_strategy(Some(vec![]))
                .send(),
        )
        .unwrap();
    };
    let mut providers: Vec<String> = ["a", "b", "c"].iter().map(|g| format!("{PROJECT}-node-{g}")).collect();
    providers.push(name.clone());
    on_cluster(providers);

    h.proxy.clear();
    let run = h.run(&["down", "--yes", "--destroy-data"]).ok();
    for kind in ["capacity-provider", "auto-scaling-group"] {
        assert!(run.stdout.contains(&format!("swept {kind} {name} (tagged {kind}/old)")), "{kind}: {}", run.stdout);
    }
    let ops = h.proxy.operations();
    let swept = |op: &str| {
        h.proxy
            .calls()
            .iter()
            .position(|c| c.operation == op && c.body.contains(&name))
            .unwrap_or_else(|| panic!("{op}"))
    };
    assert!(
        position(&ops, "PutClusterCapacityProviders") < swept("DeleteCapacityProvider"),
        "leaves the cluster first"
    );
    assert!(swept("DeleteCapacityProvider") < swept("DeleteAutoScalingGroup"), "the provider before its group");
    assert!(swept("DeleteAutoScalingGroup") < position(&ops, "DeleteSubnet"), "its instances go before the network");
    let left = support::block_on(asg.describe_auto_scaling_groups().send()).unwrap();
    assert!(left.auto_scaling_groups().is_empty(), "{:?}", left.auto_scaling_groups());
}

/// A DescribeTasks rewrite: every stopped task failed to pull its image, as ECS reports it.
fn image_pull_failures() -> Script {
    Script::rewrite_json(|v| {
        for t in v["tasks"].as_array_mut().into_iter().flatten() {
            if t["lastStatus"] == "STOPPED" {
                t["stoppedReason"] = "CannotPullContainerError: pull image manifest has been retried 5 time(s)".into();
                for c in t["containers"].as_array_mut().into_iter().flatten() {
                    c["reason"] = "CannotPullContainerError: ref not found".into();
                }
            }
        }
    })
}

/// A DescribeServices rewrite for the frontend: what `f` makes of it, and one event.
fn frontend_answer(f: impl Fn(&mut Value) + Send + Sync + 'static, event: &'static str) -> Script {
    Script::rewrite_json(move |v| {
        for s in v["services"].as_array_mut().into_iter().flatten() {
            if s["serviceName"] == format!("{PROJECT}-temporal-frontend") {
                f(s);
                s["events"] = serde_json::json!([{ "id": "e1", "message": event }]);
            }
        }
    })
}

/// DescribeServices calls that asked about the frontend.
fn frontend_reads(h: &Harness) -> usize {
    let name = format!("{PROJECT}-temporal-frontend");
    h.sent("DescribeServices").iter().filter(|b| b["services"].to_string().contains(&name)).count()
}

#[test]
fn a_wave_that_never_settles_or_fails_its_rollout_stops_with_events_and_stopped_reasons() {
    let h = Harness::new("ops-unstable", &deploy());
    h.run(&["up"]).ok();
    // A stopped task of the service for the diagnosis: stop frontend's tasks now rather
    // than wait for the stand-in scheduler's next pass (the rewrite gives the reason).
    h.run(&["scale", "down", "--service", "frontend"]).ok();
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let cluster = format!("{PROJECT}-cluster");
    let group = format!("service:{PROJECT}-temporal-frontend");
    support::block_on(async {
        let listed = ecs.list_tasks().cluster(&cluster).send().await.unwrap();
        let tasks =
            ecs.describe_tasks().cluster(&cluster).set_tasks(Some(listed.task_arns().to_vec())).send().await.unwrap();
        for t in tasks.tasks().iter().filter(|t| t.group() == Some(group.as_str())) {
            ecs.stop_task().cluster(&cluster).task(t.task_arn().unwrap()).send().await.unwrap();
        }
    });
    h.proxy.script("DescribeTasks", None, image_pull_failures());

    // 1. Never settles: running stays 0, so the wave's deadline (3 s here) ends the wait.
    std::fs::write(h.dir.join("deploy.yaml"), format!("{}timeouts: {{ service_stable: 3s }}\n", deploy())).unwrap();
    h.proxy.script(
        "DescribeServices",
        None,
        frontend_answer(
            |s| s["runningCount"] = 0.into(),
            "(service itops-temporal-frontend) was unable to place a task because no container instance met all of its requirements.",
        ),
    );
    h.proxy.clear();
    let run = h.run(&["scale", "up", "--count", "2"]).code(1);
    for expected in [
        "frontend 0/2 running",
        "event: (service itops-temporal-frontend) was unable to place a task",
        "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
    ] {
        assert!(run.stderr.contains(expected), "missing {expected:?}:\n{}", run.stderr);
    }
    let scaled: Vec<String> = scaled(&h).into_iter().map(|(k, _)| k).collect();
    assert_eq!(scaled, ["history", "matching", "frontend", "internal-frontend"], "later waves wait for frontend");
    assert!(
        frontend_reads(&h) < 12,
        "3 s of waiting is a few backed-off reads, not a busy loop: {}",
        frontend_reads(&h)
    );

    // 2. The rollout fails (circuit breaker): no point waiting out the deadline.
    std::fs::write(h.dir.join("deploy.yaml"), deploy()).unwrap();
    h.proxy.unscript();
    h.proxy.script("DescribeTasks", None, image_pull_failures());
    h.proxy.script(
        "DescribeServices",
        None,
        frontend_answer(
            |s| {
                let task_definition = s["taskDefinition"].clone();
                s["deployments"] = json!([{ "id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "FAILED",
                    "taskDefinition": task_definition, "desiredCount": 2, "runningCount": 0 }]);
            },
            "(service itops-temporal-frontend) (deployment ecs-svc/1) deployment failed: tasks failed to start.",
        ),
    );
    h.proxy.clear();
    let run = h.run(&["scale", "up", "--count", "2"]).code(1);
    for expected in
        ["frontend: the deployment failed", "deployment failed: tasks failed to start", "CannotPullContainerError"]
    {
        assert!(run.stderr.contains(expected), "missing {expected:?}:\n{}", run.stderr);
    }
    // The ownership check before any wave moves, the wave's first look, one wait read
    // that sees FAILED, one for the diagnosis.
    assert_eq!(frontend_reads(&h), 4, "a failed rollout ends the wait at its first read");
}

#[test]
fn an_upgrade_with_a_new_schema_runs_update_schema_before_any_service_rolls() {
    let h = Harness::new("ops-upgrade", &deploy());
    h.run(&["up"]).ok();
    let upgraded = format!(
        "{}dsql:\n  schema_version: '1.13'\n",
        deploy().replace("temporal:\n", "temporal:\n  version: 1.29.1\n")
    );
    std::fs::write(h.dir.join("deploy.yaml"), upgraded).unwrap();
    // A new version is new images first, as the upgrade runbook says.
    h.build_images().0.ok();
    h.proxy.clear();
    let run = h.run(&["up"]).ok();
    let calls = h.proxy.calls();
    let at = |pred: &dyn Fn(&temporalctl_proxy::Call) -> bool| -> Vec<usize> {
        calls.iter().enumerate().filter(|(_, c)| pred(c)).map(|(i, _)| i).collect()
    };
    // The task definitions name the new images by digest.
    let ecr = aws_sdk_ecr::Client::new(&h.sdk());
    let digest = |repo: &str| {
        let id = aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("1.29.1").build();
        let out =
            support::block_on(ecr.describe_images().repository_name(format!("{PROJECT}/{repo}")).image_ids(id).send());
        out.unwrap().image_details()[0].image_digest().unwrap().to_string()
    };
    let (tools_digest, server_digest) = (digest("temporal-admin-tools"), digest("temporal-server"));
    let tools = at(&|c| c.operation == "RegisterTaskDefinition" && c.body.contains(&tools_digest));
    let update = at(&|c| c.operation == "RunTask" && c.body.contains("update-schema"));
    let servers = at(&|c| c.operation == "RegisterTaskDefinition" && c.body.contains(&server_digest));
    let rolls = at(&|c| c.operation == "UpdateService" && c.body.contains("taskDefinition"));
    assert_eq!((tools.len(), update.len()), (1, 1), "{:?}", h.proxy.operations());
    assert_eq!(servers.len(), 5, "the five server task definitions move to the new version");
    assert!(rolls.len() >= 5, "{:?}", h.proxy.operations());
    assert!(tools[0] < update[0], "the new tools run the update");
    assert!(
        update[0] < servers[0] && update[0] < rolls[0],
        "the schema is updated before any server task definition or rollout: {:?}",
        h.proxy.operations()
    );
    assert!(
        steps_run(&h).iter().any(|s| s.contains("update-schema --schema-name 'dsql/v12/temporal' --version '1.13'"))
    );
    assert!(
        run.stdout.contains("ran DSQL schema dsql/v12/temporal 1.13 (update-schema) before any service rolled"),
        "{}",
        run.stdout
    );
    // Recorded once: the next up has nothing to run.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
}

/// The shard count is fixed once the schema exists: `up` and `plan` refuse a change with
/// exit 2 before any AWS call, naming the field and the count to keep.
#[test]
fn history_shards_cannot_change_once_the_schema_exists() {
    let h = Harness::new("ops-shards", &deploy());
    h.run(&["up"]).ok();
    assert_eq!(h.state(PROJECT)["steps"]["history-shards"], "4");
    std::fs::write(h.dir.join("deploy.yaml"), deploy().replace("temporal:\n", "temporal:\n  history_shards: 8\n"))
        .unwrap();
    for verb in ["up", "plan"] {
        h.proxy.clear();
        let refused = h.run(&[verb]).code(2);
        assert!(
            refused.stderr.contains("temporal.history_shards: the schema was created with 4"),
            "{}",
            refused.stderr
        );
        assert!(refused.stderr.contains("set it back to 4"), "{}", refused.stderr);
        assert!(h.proxy.calls().is_empty(), "{verb} sent {:?}", h.proxy.operations());
    }
    // A lost state file: the DSQL cluster's tag still knows, and `up` stops before any
    // task or service is touched.
    std::fs::remove_file(h.state_path(PROJECT)).unwrap();
    h.proxy.clear();
    let adopted = h.run(&["up"]);
    assert_ne!(adopted.code, 0, "{}", adopted.stdout);
    assert!(adopted.stderr.contains("the schema was created with 4"), "{}", adopted.stderr);
    assert!(!h.proxy.operations().iter().any(|o| o == "RunTask" || o == "UpdateService"), "{:?}", h.proxy.operations());
}

/// The stopped tasks of the frontend, rewritten the way ECS reports a crash: exit code 1.
fn crashed_tasks() -> Script {
    Script::rewrite_json(|v| {
        for t in v["tasks"].as_array_mut().into_iter().flatten() {
            if t["lastStatus"] == "STOPPED" && t["stoppedReason"] == "Essential container in task exited" {
                for c in t["containers"].as_array_mut().into_iter().flatten() {
                    c["exitCode"] = 1.into();
                    c["reason"] = Value::Null;
                }
            }
        }
    })
}

/// A service that crash-loops fails its wave after `rollout.failed_tasks` failed tasks,
/// not at the 20-minute deadline: scaling the count starts no deployment, so ECS's
/// circuit breaker never trips for it.
#[test]
fn a_crash_looping_wave_fails_after_three_failed_tasks_with_their_reasons() {
    let h = Harness::new("ops-crashloop", &deploy());
    h.run(&["up"]).ok();
    // Never stable, as on AWS while the tasks keep dying (moto reports running = desired).
    h.proxy.script(
        "DescribeServices",
        None,
        frontend_answer(|s| s["runningCount"] = 0.into(), "(service) has started 1 tasks"),
    );
    h.proxy.script("DescribeTasks", None, crashed_tasks());
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let (cluster, group) = (format!("{PROJECT}-cluster"), format!("service:{PROJECT}-temporal-frontend"));
    let mut child = h
        .command(&["scale", "up", "--count", "2", "--service", "frontend"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The stand-in scheduler starts the tasks; each one "crashes" as soon as it runs.
    let started = std::time::Instant::now();
    let (mut crashed, mut first_crash) = (0, None);
    while child.try_wait().unwrap().is_none() && started.elapsed() < std::time::Duration::from_secs(300) {
        support::block_on(async {
            let listed = ecs
                .list_tasks()
                .cluster(&cluster)
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                .send()
                .await
                .unwrap();
            if listed.task_arns().is_empty() {
                return;
            }
            let tasks = ecs
                .describe_tasks()
                .cluster(&cluster)
                .set_tasks(Some(listed.task_arns().to_vec()))
                .send()
                .await
                .unwrap();
            for t in tasks.tasks().iter().filter(|t| t.group() == Some(group.as_str())) {
                ecs.stop_task()
                    .cluster(&cluster)
                    .task(t.task_arn().unwrap())
                    .reason("Essential container in task exited")
                    .send()
                    .await
                    .unwrap();
                crashed += 1;
                first_crash.get_or_insert_with(std::time::Instant::now);
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let to_error = first_crash.map(|t| t.elapsed()).unwrap_or_default();
    eprintln!("crash loop: {crashed} tasks crashed; error {:.1}s after the first", to_error.as_secs_f64());
    // At least 3: the stand-in scheduler restarts tasks two at a time.
    assert!(stderr.contains("of the tasks this wave started failed (rollout.failed_tasks: 3)"), "{stderr}");
    assert!(crashed >= 3, "{crashed} tasks crashed");
    assert!(stderr.contains("Essential container in task exited (temporal-frontend: exit 1)"), "{stderr}");
    assert!(stderr.contains("last log lines of task"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(300), "stopped by the failures, not by a deadline");
}

/// A one-off task that outlives its deadline is stopped, never left running with the
/// step's rights.
#[test]
fn a_one_off_task_past_its_deadline_is_stopped() {
    let h = Harness::new("ops-stoptask", &format!("{}timeouts: {{ one_off_task: 3s }}\n", deploy()));
    // Tasks stay RUNNING on every describe.
    h.emulator.moto_api(
        "/moto-api/state-manager/set-transition",
        r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#,
    );
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("was stopped"), "{}", run.stderr);
    let run_task = h.proxy.calls().into_iter().filter(|c| c.operation == "RunTask").count();
    let stops = h.sent("StopTask");
    // The schema and the index steps ran beside the walk; each was stopped at its deadline.
    assert_eq!((run_task, stops.len()), (2, 2), "{:?}", h.proxy.operations());
    for step in ["dsql-schema", "opensearch-visibility"] {
        let reason = format!("step {step} did not finish in time");
        assert!(stops.iter().any(|s| s["reason"].as_str().unwrap().contains(&reason)), "{stops:?}");
    }
}

/// `up` ends with the end-to-end check when it changed something, and `status --check`
/// runs it on demand; a failing check names its stage from the task's log and exits 1.
#[test]
fn the_end_to_end_check_runs_after_up_and_on_demand_and_names_a_failing_stage() {
    let h = Harness::new("ops-check", &deploy());
    let up = h.run(&["up"]).ok();
    assert!(up.stdout.contains("checked the cluster end to end"), "{}", up.stdout);
    let scripts = steps_run(&h);
    assert!(
        scripts.last().unwrap().contains("stage '1/6 the frontend is healthy'"),
        "the check runs last: {scripts:#?}"
    );
    let check = scripts.last().unwrap();
    // At task addresses: the frontend's (7233) and the internal frontend's (7236).
    assert!(check.contains(":7233' ") && check.contains(":7236' "), "{check}");
    // The namespace step goes to the internal frontend, which needs no token.
    let namespace = scripts.iter().find(|s| s.contains("operator namespace create")).expect("the namespace step");
    assert!(namespace.contains(":7236' --namespace 'default'"), "{namespace}");

    // A no-op up proves nothing new and starts no task.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.sent("RunTask").is_empty());

    h.proxy.clear();
    let on_demand = h.run(&["status", "--check"]).ok();
    assert!(on_demand.stdout.contains("checked the cluster end to end"), "{}", on_demand.stdout);
    assert_eq!(h.sent("RunTask").len(), 1);

    h.proxy.script("DescribeTasks", None, stopped_with_exit_1());
    h.proxy.script(
        "GetLogEvents",
        None,
        log_lines(&["check 5/6 find it through visibility (OpenSearch)", "check failed at stage 5/6 visibility"]),
    );
    let failed = h.run(&["status", "--check"]).code(1);
    assert!(failed.stderr.contains("step end-to-end check through"), "{}", failed.stderr);
    assert!(failed.stderr.contains("check failed at stage 5/6 visibility"), "{}", failed.stderr);
}

/// `up --output json` streams one JSON object per line on stdout (docs/events.schema.json),
/// the way CI systems read `terraform apply -json`: every node ends exactly once, the last
/// line is the result, and nothing else is on stdout.
#[test]
fn up_streams_one_json_event_per_line_ending_every_node_once() {
    let h = Harness::new("ops-json", &deploy());
    let run = h.run(&["up", "--output", "json"]).ok();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(support::repo().join("docs/events.schema.json")).unwrap())
            .unwrap();
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}")))
        .collect();
    for line in &lines {
        let broken = support::schema::violations(&schema, line);
        assert!(broken.is_empty(), "{line} breaks docs/events.schema.json: {broken:#?}");
    }
    let result = lines.last().unwrap();
    assert_eq!(
        (result["event"].as_str(), result["command"].as_str(), result["ok"].as_bool()),
        (Some("result"), Some("up"), Some(true))
    );
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines.iter().filter(|l| l["event"] == "finished" || l["event"] == "failed") {
        *ends.entry(line["node"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert!(ends.values().all(|n| *n == 1), "a node ended twice: {ends:?}");
    let state = h.state(PROJECT);
    for node in state["nodes"].as_object().unwrap().keys() {
        assert_eq!(ends.get(node), Some(&1), "{node} has no final event");
        assert!(result["outcomes"][node].is_string(), "{node} is not in the result");
    }
    // The final phases are in the same stream: the steps beside the walk and the waves.
    for node in ["step/dsql-schema", "step/opensearch-visibility", "service/history"] {
        assert_eq!(ends.get(node), Some(&1), "{node}: {ends:?}");
    }
    assert!(lines.iter().any(|l| l["event"] == "started" && l["action"] == "creating"));
}

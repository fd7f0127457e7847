//! Node groups (launch templates, Auto Scaling groups, capacity providers) and the ECS
//! services on them, against moto through the recording proxy.

mod support;

use support::{Harness, block_on};

const PROJECT: &str = "itcomp";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

fn cluster() -> String {
    format!("{PROJECT}-cluster")
}

fn asgs(h: &Harness) -> Vec<aws_sdk_autoscaling::types::AutoScalingGroup> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&h.sdk());
    let names: Vec<String> = ["a", "b", "c"].iter().map(|g| format!("{PROJECT}-node-{g}")).collect();
    block_on(autoscaling.describe_auto_scaling_groups().set_auto_scaling_group_names(Some(names)).send())
        .unwrap()
        .auto_scaling_groups()
        .to_vec()
}

fn running_instances(h: &Harness) -> usize {
    let ec2 = h.ec2();
    let ours = aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build();
    let running = aws_sdk_ec2::types::Filter::builder().name("instance-state-name").values("running").build();
    let out = block_on(ec2.describe_instances().filters(ours).filters(running).send()).unwrap();
    out.reservations().iter().map(|r| r.instances().len()).sum()
}

#[test]
fn node_groups_join_the_cluster_with_their_workload() {
    let h = Harness::new("comp-nodes", &deploy());
    h.run(&["up"]).ok();
    let ec2 = h.ec2();
    let state = h.state(PROJECT);
    let profile = state["nodes"]["iam-instance-profile/ecs-instance"]["outputs"]["arn"].as_str().unwrap().to_string();
    let instances_sg = state["nodes"]["security-group/instances"]["id"].as_str().unwrap().to_string();
    for (group, workload) in [("a", "history"), ("b", "frontend"), ("c", "worker")] {
        let id = state["nodes"][format!("launch-template/{group}")]["id"].as_str().unwrap().to_string();
        let v = block_on(ec2.describe_launch_template_versions().launch_template_id(&id).versions("$Latest").send())
            .unwrap();
        let data = v.launch_template_versions()[0].launch_template_data().unwrap();
        let user_data =
            String::from_utf8(aws_smithy_types::base64::decode(data.user_data().unwrap()).unwrap()).unwrap();
        assert!(user_data.contains(&format!("ECS_CLUSTER={}\n", cluster())), "{user_data}");
        assert!(user_data.contains(&format!(r#"ECS_INSTANCE_ATTRIBUTES={{"workload":"{workload}"}}"#)), "{user_data}");
        let metadata = data.metadata_options().unwrap();
        assert_eq!(metadata.http_tokens().map(|t| t.as_str()), Some("required"), "IMDSv2 only");
        let root = &data.block_device_mappings()[0];
        assert_eq!(root.ebs().and_then(|e| e.encrypted()), Some(true));
        assert_eq!(data.iam_instance_profile().and_then(|p| p.arn()), Some(profile.as_str()));
        assert_eq!(data.network_interfaces()[0].groups(), std::slice::from_ref(&instances_sg));
    }
    // Auto Scaling groups in both private subnets, on the latest template, tags propagated.
    let subnets: Vec<String> =
        (0..2).map(|i| state["nodes"][format!("subnet/private-{i}")]["id"].as_str().unwrap().to_string()).collect();
    let groups = asgs(&h);
    assert_eq!(groups.len(), 3);
    for g in &groups {
        let mut zones: Vec<&str> = g.vpc_zone_identifier().unwrap().split(',').collect();
        zones.sort();
        let mut expected: Vec<&str> = subnets.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(zones, expected);
        assert_eq!(g.launch_template().and_then(|t| t.version()), Some("$Latest"));
        assert!(
            g.tags().iter().any(|t| t.key() == Some("temporalctl:project") && t.propagate_at_launch() == Some(true))
        );
        assert_eq!((g.min_size(), g.max_size(), g.desired_capacity()), (Some(1), Some(2), Some(1)));
    }
    assert_eq!(running_instances(&h), 3, "instances carry the project tag");
    // Capacity providers with managed scaling at 100%, all three attached to the cluster.
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let names: Vec<String> = ["a", "b", "c"].iter().map(|g| format!("{PROJECT}-node-{g}")).collect();
    let cps = block_on(ecs.describe_capacity_providers().set_capacity_providers(Some(names.clone())).send()).unwrap();
    assert_eq!(cps.capacity_providers().len(), 3);
    for cp in cps.capacity_providers() {
        let scaling = cp.auto_scaling_group_provider().unwrap().managed_scaling().unwrap();
        assert_eq!(scaling.status().map(|s| s.as_str()), Some("ENABLED"));
        assert_eq!(scaling.target_capacity(), Some(100));
    }
    let c = block_on(ecs.describe_clusters().clusters(cluster()).send()).unwrap();
    let mut attached = c.clusters()[0].capacity_providers().to_vec();
    attached.sort();
    assert_eq!(attached, names);
}

#[test]
fn services_follow_their_node_group_and_drift_is_repaired() {
    let h = Harness::new("comp-svc", &deploy());
    h.run(&["up"]).ok();
    // Placement and strategy as sent (moto drops both from CreateService).
    let created = h.sent("CreateService");
    assert_eq!(created.len(), 8);
    for b in &created {
        let service = b["serviceName"].as_str().unwrap().trim_start_matches(&format!("{PROJECT}-"));
        let (group, workload) = match service {
            "temporal-history" | "temporal-internal-frontend" => ("a", "history"),
            "temporal-worker" | "adot-collector" => ("c", "worker"),
            _ => ("b", "frontend"),
        };
        assert_eq!(
            b["capacityProviderStrategy"][0]["capacityProvider"],
            format!("{PROJECT}-node-{group}"),
            "{service}"
        );
        assert_eq!(
            b["placementConstraints"][0]["expression"],
            format!("attribute:workload == {workload}"),
            "{service}"
        );
        assert_eq!(b["desiredCount"], 0);
        assert_eq!(
            b["deploymentConfiguration"]["deploymentCircuitBreaker"],
            serde_json::json!({"enable": true, "rollback": true})
        );
    }

    // Out of band: the matching service pointed at a hand-made revision, a node group's
    // maximum changed. `up` puts both back and touches nothing else.
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let family = format!("{PROJECT}-temporal-matching");
    let ours = block_on(ecs.describe_task_definition().task_definition(&family).send()).unwrap();
    let ours = ours.task_definition().unwrap().clone();
    let other = block_on(
        ecs.register_task_definition()
            .family(&family)
            .set_container_definitions(Some(ours.container_definitions().to_vec()))
            .memory("2048")
            .send(),
    )
    .unwrap();
    let other_arn = other.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    block_on(ecs.update_service().cluster(cluster()).service(&family).task_definition(&other_arn).send()).unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&h.sdk());
    block_on(
        autoscaling.update_auto_scaling_group().auto_scaling_group_name(format!("{PROJECT}-node-b")).max_size(5).send(),
    )
    .unwrap();
    h.proxy.clear();
    let run = h.run(&["up"]).ok();
    let mut ops: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    ops.sort();
    // The repaired service rolls: `up` then proves the cluster still serves (RunTask).
    assert_eq!(ops, ["RunTask", "UpdateAutoScalingGroup", "UpdateService"], "{}", run.stdout);
    let s = block_on(ecs.describe_services().cluster(cluster()).services(&family).send()).unwrap();
    assert_eq!(s.services()[0].task_definition(), ours.task_definition_arn());
    let b = asgs(&h).into_iter().find(|g| g.auto_scaling_group_name() == Some(&format!("{PROJECT}-node-b"))).unwrap();
    assert_eq!(b.max_size(), Some(2));
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
}

#[test]
fn down_removes_services_before_node_groups_and_leaves_no_instance() {
    let h = Harness::new("comp-down", &deploy());
    h.run(&["up"]).ok();
    h.proxy.clear();
    h.run(&["down", "--yes", "--destroy-data"]).ok();
    let ops = h.proxy.operations();
    let first = |op: &str| ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("{op} not called"));
    let last = |op: &str| ops.iter().rposition(|o| o == op).unwrap();
    // Services, then the providers' attachment, the providers, the groups, the templates,
    // and the cluster last.
    assert!(last("DeleteService") < first("PutClusterCapacityProviders"));
    assert!(first("PutClusterCapacityProviders") < first("DeleteCapacityProvider"));
    assert!(last("DeleteCapacityProvider") < first("DeleteAutoScalingGroup"));
    assert!(last("DeleteAutoScalingGroup") < first("DeleteLaunchTemplate"));
    assert!(last("DeleteLaunchTemplate") < first("DeleteCluster"));
    assert!(asgs(&h).is_empty());
    assert_eq!(running_instances(&h), 0);
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let c = block_on(ecs.describe_clusters().clusters(cluster()).send()).unwrap();
    assert!(c.clusters().iter().all(|c| c.status() != Some("ACTIVE")));
    let names: Vec<String> = ["a", "b", "c"].iter().map(|g| format!("{PROJECT}-node-{g}")).collect();
    let cps = block_on(ecs.describe_capacity_providers().set_capacity_providers(Some(names)).send()).unwrap();
    assert!(cps.capacity_providers().iter().all(|c| c.status().map(|s| s.as_str()) == Some("INACTIVE")));
    let ec2 = h.ec2();
    let ours = aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build();
    let templates = block_on(ec2.describe_launch_templates().filters(ours).send()).unwrap();
    assert!(templates.launch_templates().is_empty());
}

/// Five awsvpc tasks on node group B need more ENIs than two m7g.large have (2 each):
/// `plan` says so and how to turn on trunking; once it is on, the note is gone.
#[test]
fn preflight_explains_when_a_group_needs_awsvpc_trunking() {
    let yaml = format!("{}services:\n  frontend: {{ cpu: 512, memory: 1024, count: 2, node_group: b }}\n", deploy());
    let h = Harness::new("comp-trunk", &yaml);
    let plan = h.run(&["plan"]).ok();
    assert!(plan.stderr.contains("awsvpcTrunking"), "{}", plan.stderr);
    assert!(plan.stderr.contains("node group b runs 5 awsvpc tasks"), "{}", plan.stderr);
    // And what deploy.yaml's counts ask of DSQL (issue 27): six pools of 20.
    assert!(
        plan.stdout.contains("DSQL connections (deploy.yaml's counts):\n  open connections 121 of 10000"),
        "{}",
        plan.stdout
    );
    assert!(h.proxy.mutating().is_empty(), "plan changes nothing");
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    block_on(ecs.put_account_setting().name(aws_sdk_ecs::types::SettingName::AwsvpcTrunking).value("enabled").send())
        .unwrap();
    let plan = h.run(&["plan"]).ok();
    assert!(!plan.stderr.contains("awsvpcTrunking"), "{}", plan.stderr);
}

/// ECS decides trunking by the principal that registers the instances: the instance role.
/// Preflight asks about that role once it exists; `node_groups.awsvpc_trunking: true`
/// turns it on for that role (and only then), before any launch template.
/// Issue 19: the instances' role carries no managed policy (its own scoped one only), and
/// Session Manager's host shell reaches only the node groups that ask for it.
#[test]
fn host_sessions_only_for_the_node_groups_that_ask() {
    let asked = "node_groups:\n  b: { workload: frontend, ssm_sessions: true }\n";
    let h = Harness::new("comp-host-sessions", &format!("{}{asked}", deploy()));
    h.run(&["up"]).ok();
    let iam = aws_sdk_iam::Client::new(&h.sdk());
    let managed = |role: &str| -> Vec<String> {
        let out = block_on(iam.list_attached_role_policies().role_name(role).send()).unwrap();
        out.attached_policies().iter().filter_map(|p| p.policy_name()).map(String::from).collect()
    };
    assert!(managed(&format!("{PROJECT}-ecs-instance")).is_empty());
    assert_eq!(managed(&format!("{PROJECT}-ecs-instance-ssm")), ["AmazonSSMManagedInstanceCore"]);
    let state = h.state(PROJECT);
    let profile = |node: &str| state["nodes"][node]["outputs"]["arn"].as_str().unwrap().to_string();
    let ec2 = h.ec2();
    for (group, expected) in [
        ("a", profile("iam-instance-profile/ecs-instance")),
        ("b", profile("iam-instance-profile/ecs-instance-ssm")),
        ("c", profile("iam-instance-profile/ecs-instance")),
    ] {
        let id = state["nodes"][format!("launch-template/{group}")]["id"].as_str().unwrap().to_string();
        let v = block_on(ec2.describe_launch_template_versions().launch_template_id(&id).versions("$Latest").send())
            .unwrap();
        let data = v.launch_template_versions()[0].launch_template_data().unwrap();
        assert_eq!(data.iam_instance_profile().and_then(|p| p.arn()), Some(expected.as_str()), "group {group}");
    }
    // Asked no more: the role stays declared, `plan` takes Session Manager off it, and
    // `down` deletes it; it is never left behind with its rights. (`up` would also move
    // group b's launch template back, which moto cannot show: its DescribeLaunchTemplates
    // keeps the tags a template was created with, whatever CreateTags wrote since.)
    std::fs::write(h.dir.join("deploy.yaml"), deploy()).unwrap();
    let plan = h.run(&["plan"]).ok().stdout;
    let line = plan.lines().find(|l| l.contains("iam-role/ecs-instance-ssm")).unwrap_or_default();
    assert!(line.contains("managed"), "{plan}");
    h.run(&["down", "--yes", "--destroy-data"]).ok();
    let roles = block_on(iam.list_roles().send()).unwrap();
    assert!(!roles.roles().iter().any(|r| r.role_name().starts_with(PROJECT)), "down deletes both instance roles");
}

#[test]
fn trunking_is_checked_for_the_instance_role_and_turned_on_only_when_asked() {
    let services = "services:\n  frontend: { cpu: 512, memory: 1024, count: 2, node_group: b }\n";
    let h = Harness::new("comp-trunk-role", &format!("{}{services}", deploy()));
    h.run(&["up"]).ok();
    assert!(h.sent("PutAccountSetting").is_empty(), "never turned on unasked");
    let role = h.state(PROJECT)["nodes"]["iam-role/ecs-instance"]["outputs"]["arn"].as_str().unwrap().to_string();
    h.proxy.clear();
    let plan = h.run(&["plan"]).ok();
    assert_eq!(h.sent("ListAccountSettings")[0]["principalArn"], role.as_str(), "asks about the instance role");
    assert!(plan.stderr.contains(&format!("awsvpcTrunking is off for the instance role {role}")), "{}", plan.stderr);

    let asked = format!("{}{services}node_groups:\n  awsvpc_trunking: true\n", deploy());
    std::fs::write(h.dir.join("deploy.yaml"), asked).unwrap();
    h.proxy.clear();
    h.run(&["up"]).ok();
    let put = h.sent("PutAccountSetting");
    assert_eq!(put.len(), 1, "{put:?}");
    assert_eq!((put[0]["name"].as_str(), put[0]["value"].as_str()), (Some("awsvpcTrunking"), Some("enabled")));
    assert_eq!(put[0]["principalArn"], role.as_str());
    h.proxy.clear();
    let plan = h.run(&["plan"]).ok();
    assert!(!plan.stderr.contains("awsvpcTrunking is off"), "{}", plan.stderr);
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().iter().all(|c| c.operation != "PutAccountSetting"), "set once");
}

/// Call counts of a fresh and a no-op `up` of the whole stack, for docs/performance.md:
/// `cargo test --test compute -- --ignored --nocapture call_counts`.
#[test]
#[ignore = "measurement, not a check"]
fn call_counts() {
    let h = Harness::new("comp-count", &deploy());
    let started = std::time::Instant::now();
    h.run(&["up"]).ok();
    let fresh = (h.proxy.calls().len(), h.proxy.mutating().len(), started.elapsed());
    h.proxy.clear();
    let started = std::time::Instant::now();
    h.run(&["up"]).ok();
    let noop = (h.proxy.calls().len(), h.proxy.mutating().len(), started.elapsed());
    let nodes = h.state(PROJECT)["nodes"].as_object().map(|n| n.len()).unwrap_or(0);
    println!("nodes {nodes}; fresh up: {fresh:?} (calls, mutating, wall); no-op up: {noop:?}");
}

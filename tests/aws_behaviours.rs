//! What AWS does that the emulator does not, through the real binary: resources that
//! claim one node twice, asynchronous creates, eventual consistency, a new account.
//! Each scenario is scripted in the recording proxy (or planted beside the stack) and
//! listed in docs/reliability.md.

mod support;

use std::time::{Duration, Instant};

use support::{Harness, block_on};
use temporalctl_proxy::Script;

const PROJECT: &str = "itaws";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

fn recorded_id(h: &Harness, node: &str) -> String {
    h.state(PROJECT)["nodes"][node]["id"].as_str().unwrap_or_else(|| panic!("{node} not recorded")).to_string()
}

/// A second DSQL cluster carrying the stack's tags for `dsql-cluster`, as an earlier run
/// that created one more would leave it.
fn plant_twin_cluster(h: &Harness) -> String {
    let dsql = aws_sdk_dsql::Client::new(&h.sdk());
    let out = block_on(
        dsql.create_cluster()
            .deletion_protection_enabled(true)
            .tags("temporalctl:project", PROJECT)
            .tags("temporalctl:node", "dsql-cluster")
            .tags("Name", format!("{PROJECT}-dsql"))
            .send(),
    )
    .unwrap();
    out.identifier().to_string()
}

/// As AWS: the operation is PENDING for a while, and the namespace is not listed until it
/// succeeds (and once more after, as listings lag). moto answers SUCCESS at once.
fn cloud_map_namespace_pending_for_a_while(h: &Harness) {
    h.proxy.script("GetOperation", Some(3), Script::rewrite_json(|v| v["Operation"]["Status"] = "PENDING".into()));
    h.proxy.script("ListNamespaces", Some(2), Script::rewrite_json(|v| v["Namespaces"] = serde_json::json!([])));
}

/// AWS's eventual consistency: the first calls on a just-created id answer "not found".
fn new_ec2_ids_not_visible_at_first(h: &Harness) {
    let not_yet = |code: &str| Script::query_error(400, code, "The ID does not exist");
    h.proxy.script("AuthorizeSecurityGroupEgress", Some(2), not_yet("InvalidGroup.NotFound"));
    h.proxy.script("ModifyVpcAttribute", Some(1), not_yet("InvalidVpcID.NotFound"));
    h.proxy.script("AttachInternetGateway", Some(1), not_yet("InvalidInternetGatewayID.NotFound"));
    h.proxy.script("CreateRoute", Some(1), not_yet("InvalidRouteTableID.NotFound"));
}

/// As AWS: a new balancer is `provisioning` for minutes (moto answers `active` at its
/// first describe), and ECS refuses a target group whose listener ELBv2 has not made
/// visible to it yet (the same eventual consistency as hashicorp/terraform-provider-aws
/// #15214). The first of the three describes is the walk's first look, before the create.
fn balancer_provisioning_for_a_while(h: &Harness) {
    let provisioning = Script::replace("<Code>active</Code>", "<Code>provisioning</Code>");
    h.proxy.script("DescribeLoadBalancers", Some(3), provisioning);
    let refused = format!(
        "The target group with targetGroupArn arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{PROJECT}-frontend/0123456789abcdef does not have an associated load balancer."
    );
    h.proxy.script("CreateService", Some(1), Script::json_error(400, "InvalidParameterException", &refused));
}

/// A new account: ECS has not made its service-linked role yet.
fn no_ecs_service_linked_role_yet(h: &Harness) {
    let missing = "Unable to assume the service linked role. Please verify that the ECS service linked role exists.";
    h.proxy.script("CreateCluster", Some(1), Script::json_error(400, "InvalidParameterException", missing));
}

/// Listings moto answers in one page, answered as an empty first page pointing to a second.
fn security_groups_and_roles_in_two_pages(h: &Harness) {
    h.proxy.script(
        "DescribeSecurityGroups",
        Some(1),
        Script::first_page_xml("securityGroupInfo", "<nextToken>page-2</nextToken>", &[]),
    );
    h.proxy.script(
        "ListRoles",
        Some(1),
        Script::first_page_xml(
            "Roles",
            "<Marker>page-2</Marker>",
            &[("<IsTruncated>false</IsTruncated>", "<IsTruncated>true</IsTruncated>")],
        ),
    );
}

#[test]
fn a_second_dsql_cluster_claiming_the_node_is_reported_and_down_deletes_only_the_recorded_one() {
    let h = Harness::new("aws-twin-dsql", &deploy());
    h.run(&["up"]).ok();
    let recorded = recorded_id(&h, "dsql-cluster");
    let twin = plant_twin_cluster(&h);

    // status: a state of its own, with both ids.
    let status = h.run(&["status", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap_or_else(|_| panic!("{}", status.stderr));
    let row = doc["resources"].as_array().unwrap().iter().find(|r| r["node"] == "dsql-cluster").unwrap().clone();
    assert_eq!(row["state"], "conflict", "{row}");
    assert_eq!(row["id"], recorded.as_str(), "the recorded one is named as such: {row}");
    let claimants: Vec<&str> = row["claimants"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
    assert!(claimants.contains(&recorded.as_str()) && claimants.contains(&twin.as_str()), "{row}");
    let plan = h.run(&["plan"]);
    assert!(plan.stdout.contains(&format!("the state records {recorded}")), "{}", plan.stdout);

    // up: stops at the node, before any change, saying what to do.
    h.proxy.clear();
    let up = h.run(&["up"]).code(1);
    assert!(up.stderr.contains(&twin) && up.stderr.contains(&recorded), "{}", up.stderr);
    assert!(h.proxy.mutating().is_empty(), "nothing changed: {:?}", h.proxy.mutating());

    // down --destroy-data: the recorded cluster goes, the twin is reported, no long wait.
    h.proxy.clear();
    let started = Instant::now();
    let down = h.run(&["down", "--yes", "--destroy-data"]).ok();
    let took = started.elapsed();
    println!("down with a planted twin took {took:?}");
    assert!(took < Duration::from_secs(120), "down waited {took:?}:\n{}", down.stderr);
    let deleted: Vec<String> =
        h.proxy.calls().into_iter().filter(|c| c.operation.starts_with("DELETE /cluster/")).map(|c| c.path).collect();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(deleted[0].contains(&recorded), "{deleted:?}");
    assert!(down.stderr.contains(&twin), "the twin is reported:\n{}", down.stderr);
    let dsql = aws_sdk_dsql::Client::new(&h.sdk());
    assert!(block_on(dsql.get_cluster().identifier(&twin).send()).is_ok(), "the twin is never deleted");
}

#[test]
fn a_second_security_group_claiming_a_node_stops_up_before_that_node_is_touched() {
    let h = Harness::new("aws-twin-sg", &deploy());
    h.run(&["up"]).ok();
    let state = h.state(PROJECT);
    let node = state["nodes"].as_object().unwrap().keys().find(|k| k.starts_with("security-group/")).unwrap().clone();
    let vpc = recorded_id(&h, "vpc");
    let ec2 = h.ec2();
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
        .tags(aws_sdk_ec2::types::Tag::builder().key("temporalctl:project").value(PROJECT).build())
        .tags(aws_sdk_ec2::types::Tag::builder().key("temporalctl:node").value(&node).build())
        .build();
    let twin = block_on(
        ec2.create_security_group()
            .group_name("left-by-hand")
            .description("x")
            .vpc_id(vpc)
            .tag_specifications(tags)
            .send(),
    )
    .unwrap()
    .group_id()
    .unwrap()
    .to_string();
    h.proxy.clear();
    let up = h.run(&["up"]).code(1);
    assert!(up.stderr.contains(&node) && up.stderr.contains(&twin), "{}", up.stderr);
    assert!(up.stderr.contains(&recorded_id(&h, &node)), "{}", up.stderr);
    assert!(h.proxy.mutating().is_empty(), "nothing changed: {:?}", h.proxy.mutating());
}

#[test]
fn a_cloud_map_namespace_is_waited_for_through_its_operation_not_taken_for_gone() {
    let h = Harness::new("aws-cloudmap-async", &deploy());
    cloud_map_namespace_pending_for_a_while(&h);
    let up = h.run(&["up"]).ok();
    assert!(
        up.stderr.lines().any(|l| l.contains("cloudmap-namespace") && l.contains("pending")),
        "the wait shows the operation's state:\n{}",
        up.stderr
    );
    assert!(h.proxy.operations().iter().filter(|o| *o == "GetOperation").count() >= 4);
    assert_eq!(h.proxy.operations().iter().filter(|o| *o == "CreateHttpNamespace").count(), 1);
    let recorded = recorded_id(&h, "cloudmap-namespace");
    assert!(recorded.starts_with("ns-"), "the namespace's own id is recorded, not the operation's: {recorded}");
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
}

#[test]
fn calls_on_a_new_ec2_id_wait_for_it_to_become_visible() {
    let h = Harness::new("aws-ec2-consistency", &deploy());
    new_ec2_ids_not_visible_at_first(&h);
    h.run(&["up"]).ok();
    let count = |op: &str| h.proxy.operations().iter().filter(|o| *o == op).count();
    assert_eq!((count("CreateVpc"), count("CreateInternetGateway")), (1, 1), "nothing made twice");
    assert_eq!(count("CreateSecurityGroup"), 12, "nothing made twice");
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "converged: {:?}", h.proxy.mutating());
}

/// Issue 20: the listener waits for an active balancer, and the frontend's service for
/// ELBv2 to show ECS the listener: both are waits, neither a failure nor a duplicate.
#[test]
fn a_provisioning_balancer_is_waited_for_and_a_listener_ecs_cannot_see_yet_is_retried() {
    let h = Harness::new("aws-nlb", &deploy());
    balancer_provisioning_for_a_while(&h);
    let up = h.run(&["up"]).ok();
    let ops = h.proxy.operations();
    let at = |op: &str| ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("no {op}"));
    let (made, listener) = (at("CreateLoadBalancer"), at("CreateListener"));
    let waited = ops[made..listener].iter().filter(|o| *o == "DescribeLoadBalancers").count();
    assert!(waited >= 3, "the listener came after the balancer was active: {:?}", &ops[made..=listener]);
    assert!(up.stderr.contains("provisioning"), "the wait shows AWS's state:\n{}", up.stderr);
    let calls = h.proxy.calls();
    let count = |op: &str, status: u16| calls.iter().filter(|c| c.operation == op && c.status == status).count();
    assert_eq!((count("CreateLoadBalancer", 200), count("CreateListener", 200)), (1, 1), "nothing made twice");
    assert_eq!((count("CreateService", 400), count("CreateService", 200)), (1, 8), "the refusal was retried");
}

#[test]
fn a_new_account_without_the_ecs_service_linked_role_gets_it_first() {
    let h = Harness::new("aws-ecs-slr", &deploy());
    no_ecs_service_linked_role_yet(&h);
    let up = h.run(&["up"]).ok();
    let made: Vec<String> =
        h.proxy.calls().into_iter().filter(|c| c.operation == "CreateServiceLinkedRole").map(|c| c.body).collect();
    assert!(made.iter().any(|b| b.contains("ecs.amazonaws.com")), "{made:?}");
    let ops = h.proxy.operations();
    let role = ops.iter().position(|o| o == "CreateServiceLinkedRole").unwrap();
    let cluster = ops.iter().position(|o| o == "CreateCluster").unwrap();
    assert!(role < cluster, "the role comes before the cluster");
    assert_eq!(ops.iter().filter(|o| *o == "CreateCluster").count(), 2, "the not-yet-usable answer was retried");
    assert!(up.stderr.contains("service linked role"), "the retry is shown:\n{}", up.stderr);
    // `down` leaves the account's role in place.
    h.proxy.clear();
    h.run(&["down", "--yes"]).ok();
    assert!(!h.proxy.operations().iter().any(|o| o.starts_with("DeleteServiceLinkedRole")));
}

#[test]
fn an_inactive_dsql_cluster_still_holds_the_data_and_is_never_replaced() {
    let h = Harness::new("aws-dsql-inactive", &deploy());
    h.run(&["up"]).ok();
    // Scaled to zero after a quiet spell; the data stays (AWS, Aurora DSQL cluster lifecycle).
    h.proxy.script("GET /cluster/*", None, Script::replace("\"ACTIVE\"", "\"INACTIVE\""));
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "no new cluster: {:?}", h.proxy.mutating());
    let status = h.run(&["status", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap_or_else(|_| panic!("{}", status.stderr));
    let row = doc["resources"].as_array().unwrap().iter().find(|r| r["node"] == "dsql-cluster").unwrap().clone();
    assert_eq!(row["state"], "ok", "{row}");
}

#[test]
fn instance_types_not_offered_and_root_volumes_below_the_ami_stop_up_before_any_change() {
    let h = Harness::new("aws-preflight", &deploy());
    // The region offers none of the node groups' types in the configured zones.
    h.proxy.script(
        "DescribeInstanceTypeOfferings",
        None,
        Script::xml(r#"<DescribeInstanceTypeOfferingsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>s</requestId><instanceTypeOfferingSet/></DescribeInstanceTypeOfferingsResponse>"#),
    );
    let up = h.run(&["up"]).code(1);
    assert!(up.stderr.contains("node_groups.a.instance_type") && up.stderr.contains("not offered in"), "{}", up.stderr);
    assert!(h.proxy.mutating().is_empty(), "nothing changed: {:?}", h.proxy.mutating());

    // The AMI's root snapshot is larger than the configured root volume (30 GiB).
    h.proxy.unscript();
    h.proxy.clear();
    h.proxy.script(
        "DescribeImages",
        None,
        Script::xml(r#"<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>s</requestId><imagesSet><item><imageId>ami-1</imageId><rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><volumeSize>40</volumeSize></ebs></item></blockDeviceMapping></item></imagesSet></DescribeImagesResponse>"#),
    );
    let up = h.run(&["up"]).code(1);
    assert!(up.stderr.contains("root_volume_gb") && up.stderr.contains("40 GiB"), "{}", up.stderr);
    assert!(h.proxy.mutating().is_empty(), "nothing changed: {:?}", h.proxy.mutating());
}

#[test]
fn listings_that_come_in_pages_are_read_to_the_last_page() {
    let h = Harness::new("aws-pages", &deploy());
    h.run(&["up"]).ok();
    h.proxy.clear();
    // Each listing's first answer is an empty page pointing to a second.
    h.proxy.script("ListNamespaces", Some(1), Script::first_page_json("Namespaces", "NextToken"));
    // DSQL checks its tokens, so the second page is answered here, with what moto holds.
    let dsql = aws_sdk_dsql::Client::new(&h.sdk());
    let clusters = block_on(dsql.list_clusters().send()).unwrap();
    let listed: Vec<serde_json::Value> = clusters
        .clusters()
        .iter()
        .map(|c| serde_json::json!({ "identifier": c.identifier(), "arn": c.arn() }))
        .collect();
    h.proxy.script("GET /cluster", Some(1), Script::first_page_json("clusters", "nextToken"));
    h.proxy.script(
        "GET /cluster",
        Some(1),
        Script::Respond {
            status: 200,
            content_type: "application/json",
            body: serde_json::json!({ "clusters": listed }).to_string(),
        },
    );
    security_groups_and_roles_in_two_pages(&h);
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "everything found on its second page: {:?}", h.proxy.mutating());
    let calls = h.proxy.calls();
    for (op, token) in [("ListNamespaces", "page-2"), ("DescribeSecurityGroups", "page-2"), ("ListRoles", "page-2")] {
        assert!(calls.iter().any(|c| c.operation == op && c.body.contains(token)), "{op} asked for page 2");
    }
    assert!(calls.iter().any(|c| c.operation == "GET /cluster" && c.path.contains("page-2")), "ListClusters page 2");
}

#[test]
fn requests_aws_would_refuse_are_caught_by_its_own_api_model() {
    let h = Harness::new("aws-model", &deploy());
    // A request the emulator accepts and AWS refuses, sent through the proxy: a tag key
    // longer than ECS's 128 characters, and an unknown enum value.
    let through_proxy = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(support::REGION))
        .endpoint_url(h.proxy.url())
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .build();
    let ecs = aws_sdk_ecs::Client::new(&through_proxy);
    let long_key = "k".repeat(129);
    let tag = aws_sdk_ecs::types::Tag::builder().key(&long_key).value("v").build();
    let setting = aws_sdk_ecs::types::ClusterSetting::builder()
        .name(aws_sdk_ecs::types::ClusterSettingName::from("containerInsightz"))
        .value("enabled")
        .build();
    let _ = block_on(ecs.create_cluster().cluster_name("probe").tags(tag).settings(setting).send());
    let violations = h.proxy.take_violations();
    let text = violations.join("\n");
    assert!(text.contains("CreateCluster") && text.contains("tags[0].key") && text.contains("length 129"), "{text}");
    assert!(text.contains("`containerInsightz` is not one of the enum"), "{text}");
    // The form-encoded protocols too: EC2 (`LocationType=…`) and the query protocol of IAM.
    let ec2 = aws_sdk_ec2::Client::new(&through_proxy);
    let zone = aws_sdk_ec2::types::LocationType::from("zone");
    let _ = block_on(ec2.describe_instance_type_offerings().location_type(zone).send());
    let iam = aws_sdk_iam::Client::new(&through_proxy);
    let _ = block_on(iam.create_role().role_name("r".repeat(65)).assume_role_policy_document("{}").send());
    let text = h.proxy.take_violations().join("\n");
    assert!(text.contains("DescribeInstanceTypeOfferings.LocationType: `zone` is not one of the enum"), "{text}");
    assert!(text.contains("CreateRole.RoleName: length 65 outside 1..64"), "{text}");
    // And the binary's own requests pass: a whole `up` and `down`.
    h.run(&["up"]).ok();
    h.run(&["down", "--yes", "--destroy-data"]).ok();
    let (checked, found) = h.proxy.validation();
    assert!(checked > 200, "{checked} requests checked");
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_fresh_account_first_deploy_converges_in_one_go_with_every_aws_behaviour_switched_on() {
    // The README's first deploy on a new account: the images first, then one `up`.
    let h = Harness::without_images("aws-fresh-account", &deploy());
    let (built, _) = h.build_images();
    built.ok();
    h.proxy.clear();
    // What AWS does that moto does not, all at once: an asynchronous Cloud Map namespace,
    // new EC2 ids not yet visible, no ECS service-linked role yet, listings in pages.
    cloud_map_namespace_pending_for_a_while(&h);
    new_ec2_ids_not_visible_at_first(&h);
    no_ecs_service_linked_role_yet(&h);
    security_groups_and_roles_in_two_pages(&h);
    balancer_provisioning_for_a_while(&h);

    let up = h.run(&["up"]).ok();
    let count = |op: &str| h.proxy.operations().iter().filter(|o| *o == op).count();
    assert_eq!((count("CreateVpc"), count("CreateInternetGateway"), count("CreateNatGateway")), (1, 1, 1));
    assert_eq!((count("CreateSecurityGroup"), count("CreateHttpNamespace")), (12, 1), "nothing made twice");
    assert_eq!(count("CreateCluster"), 2, "the cluster's one refusal was retried, not duplicated");
    assert_eq!(count("CreateRepository"), 0, "`images build` made the repositories; `up` adopted them");
    // It serves: the schema steps and the namespace ran as one-off tasks, every wave rose.
    assert!(count("RunTask") >= 3, "{:?}", h.proxy.operations());
    assert!(up.stdout.contains("registered"), "{}", up.stdout);
    let state = h.state(PROJECT);
    assert!(state["steps"]["dsql-schema"].is_string(), "{:#}", state["steps"]);

    // Converged: the next `up` changes nothing.
    h.proxy.unscript();
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
}

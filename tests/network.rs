//! The network slice against moto, through the recording proxy, with the real binary.

mod support;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use support::{Harness, block_on};

const PROJECT: &str = "itnet";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntags:\n  team: platform\nnetwork:\n  availability_zones: [us-east-1a, us-east-1b]\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

fn ours() -> Filter {
    Filter::builder().name("tag:temporalctl:project").values(PROJECT).build()
}

/// Live resources carrying our project tag, by kind (gone-but-listed states excluded).
fn inventory(h: &Harness) -> BTreeMap<&'static str, usize> {
    let ec2 = h.ec2();
    block_on(async {
        let mut n = BTreeMap::new();
        n.insert("vpc", ec2.describe_vpcs().filters(ours()).send().await.unwrap().vpcs().len());
        n.insert("subnet", ec2.describe_subnets().filters(ours()).send().await.unwrap().subnets().len());
        n.insert(
            "internet-gateway",
            ec2.describe_internet_gateways().filters(ours()).send().await.unwrap().internet_gateways().len(),
        );
        n.insert("elastic-ip", ec2.describe_addresses().filters(ours()).send().await.unwrap().addresses().len());
        let nats = ec2.describe_nat_gateways().filter(ours()).send().await.unwrap();
        n.insert(
            "nat-gateway",
            nats.nat_gateways().iter().filter(|g| g.state().map(|s| s.as_str()) != Some("deleted")).count(),
        );
        n.insert("route-table", ec2.describe_route_tables().filters(ours()).send().await.unwrap().route_tables().len());
        n.insert(
            "security-group",
            ec2.describe_security_groups().filters(ours()).send().await.unwrap().security_groups().len(),
        );
        let eps = ec2.describe_vpc_endpoints().filters(ours()).send().await.unwrap();
        n.insert(
            "vpc-endpoint",
            eps.vpc_endpoints().iter().filter(|e| e.state().map(|s| s.as_str()) != Some("deleted")).count(),
        );
        n
    })
}

/// How many network nodes the state file records.
fn network_nodes(state: &serde_json::Value) -> usize {
    const KINDS: &[&str] = &[
        "vpc",
        "subnet",
        "internet-gateway",
        "elastic-ip",
        "nat-gateway",
        "route-table",
        "security-group/vpc-endpoints",
        "vpc-endpoint",
    ];
    state["nodes"].as_object().unwrap().keys().filter(|k| KINDS.iter().any(|kind| k.starts_with(kind))).count()
}

fn expected_full() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("vpc", 1),
        ("subnet", 3),
        ("internet-gateway", 1),
        ("elastic-ip", 1),
        ("nat-gateway", 1),
        ("route-table", 2),
        ("security-group", 12),
        ("vpc-endpoint", 9),
    ])
}

#[test]
fn fresh_up_creates_the_network_with_ownership_tags_and_safe_settings() {
    let h = Harness::new("fresh", &deploy());
    let run = h.run(&["up"]).ok();
    assert!(run.stdout.contains("up finished") && !run.stdout.contains("updated"), "{}", run.stdout);
    assert_eq!(inventory(&h), expected_full());

    let ec2 = h.ec2();
    block_on(async {
        let vpcs = ec2.describe_vpcs().filters(ours()).send().await.unwrap();
        let vpc = &vpcs.vpcs()[0];
        let tags: BTreeMap<_, _> = vpc.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
        assert_eq!(tags["temporalctl:node"], "vpc");
        assert_eq!(tags["Name"], "itnet-vpc");
        assert_eq!(tags["team"], "platform");
        let id = vpc.vpc_id().unwrap();
        for attr in [
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        ] {
            let out = ec2.describe_vpc_attribute().vpc_id(id).attribute(attr.clone()).send().await.unwrap();
            let on = out.enable_dns_hostnames().or(out.enable_dns_support()).and_then(|v| v.value());
            assert_eq!(on, Some(true), "{attr:?}");
        }
        // Every resource we made carries both ownership tags.
        let subnets = ec2.describe_subnets().filters(ours()).send().await.unwrap();
        for s in subnets.subnets() {
            assert!(s.tags().iter().any(|t| t.key() == Some("temporalctl:node")));
            assert_eq!(s.map_public_ip_on_launch(), Some(false));
        }
        // The endpoints' security group: HTTPS from the VPC only, nothing from anywhere.
        let endpoints_sg =
            Filter::builder().name("tag:temporalctl:node").values("security-group/vpc-endpoints").build();
        let sgs = ec2.describe_security_groups().filters(ours()).filters(endpoints_sg).send().await.unwrap();
        let sg = &sgs.security_groups()[0];
        let ingress: Vec<(Option<i32>, Vec<&str>)> = sg
            .ip_permissions()
            .iter()
            .map(|p| (p.from_port(), p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect()))
            .collect();
        assert_eq!(ingress, vec![(Some(443), vec!["10.0.0.0/16"])]);
        assert!(sg.ip_permissions_egress().is_empty(), "endpoints need no egress");
        // Interface endpoints sit in both private subnets with private DNS.
        let eps = ec2.describe_vpc_endpoints().filters(ours()).send().await.unwrap();
        let services: Vec<&str> = eps.vpc_endpoints().iter().filter_map(|e| e.service_name()).collect();
        for s in [
            "ecr.api",
            "ecr.dkr",
            "logs",
            "ssm",
            "ssmmessages",
            "ec2messages",
            "secretsmanager",
            "aps-workspaces",
            "s3",
        ] {
            assert!(
                services.contains(&format!("com.amazonaws.us-east-1.{s}").as_str()),
                "{s} missing from {services:?}"
            );
        }
        for e in eps.vpc_endpoints().iter().filter(|e| e.service_name() != Some("com.amazonaws.us-east-1.s3")) {
            assert_eq!(e.subnet_ids().len(), 2);
            assert_eq!(e.private_dns_enabled(), Some(true));
        }
    });
    // Every node is in the state file, which only its owner can read.
    let state = h.state(PROJECT);
    assert_eq!(network_nodes(&state), 19);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(h.state_path(PROJECT)).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_second_up_makes_zero_mutating_calls() {
    let h = Harness::new("noop", &deploy());
    h.run(&["up"]).ok();
    h.proxy.clear();
    let run = h.run(&["up"]).ok();
    assert!(!run.stdout.contains("created") && !run.stdout.contains("updated"), "{}", run.stdout);
    assert_eq!(h.proxy.mutating().iter().map(|c| c.operation.clone()).collect::<Vec<_>>(), Vec::<String>::new());
    assert!(!h.proxy.calls().is_empty());
}

#[test]
fn drift_is_repaired_and_only_the_drift() {
    let h = Harness::new("drift", &deploy());
    h.run(&["up"]).ok();
    let state = h.state(PROJECT);
    let route_table = state["nodes"]["route-table/private"]["id"].as_str().unwrap().to_string();
    let endpoint = state["nodes"]["vpc-endpoint/ssm"]["id"].as_str().unwrap().to_string();
    let ec2 = h.ec2();
    block_on(async {
        ec2.delete_route().route_table_id(&route_table).destination_cidr_block("0.0.0.0/0").send().await.unwrap();
        ec2.delete_vpc_endpoints().vpc_endpoint_ids(&endpoint).send().await.unwrap();
    });
    let plan = h.run(&["plan"]).ok();
    assert!(plan.stdout.contains("1 to create, 1 to update, 0 to replace"), "{}", plan.stdout);
    h.proxy.clear();
    h.run(&["up"]).ok();
    let mut repaired: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    repaired.sort();
    assert_eq!(repaired, vec!["CreateRoute", "CreateVpcEndpoint"]);
    let route = block_on(ec2.describe_route_tables().route_table_ids(&route_table).send()).unwrap();
    let default =
        route.route_tables()[0].routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).cloned();
    assert_eq!(
        default.and_then(|r| r.nat_gateway_id().map(String::from)),
        state["nodes"]["nat-gateway"]["id"].as_str().map(String::from)
    );
}

#[test]
fn a_lost_state_file_is_recovered_by_adoption_without_duplicates() {
    let h = Harness::new("adopt", &deploy());
    h.run(&["up"]).ok();
    std::fs::remove_dir_all(h.dir.join("state")).unwrap();
    h.proxy.clear();
    let run = h.run(&["up"]).ok();
    assert!(!run.stdout.contains("created"), "{}", run.stdout);
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
    assert_eq!(inventory(&h), expected_full());
    assert_eq!(network_nodes(&h.state(PROJECT)), 19, "adopted ids are recorded again");
}

#[test]
fn down_destroying_data_leaves_nothing_tagged_and_a_second_down_does_nothing() {
    let h = Harness::new("down", &deploy());
    h.run(&["up"]).ok();
    let run = h.run(&["down", "--yes", "--destroy-data"]).ok();
    assert!(run.stdout.contains("down finished"), "{}", run.stdout);
    assert!(inventory(&h).values().all(|n| *n == 0), "{:?}", inventory(&h));
    // The NAT gateway went before its Elastic IP, endpoints before their subnets.
    let ops = h.proxy.operations();
    let pos = |op: &str| ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("{op} not called"));
    assert!(pos("DeleteNatGateway") < pos("ReleaseAddress"));
    assert!(pos("DeleteVpcEndpoints") < pos("DeleteSubnet"));
    assert!(ops.iter().rposition(|o| o == "DeleteSubnet").unwrap() < pos("DeleteVpc"));
    h.proxy.clear();
    let again = h.run(&["down", "--yes", "--destroy-data"]).ok();
    assert!(!again.stdout.contains("deleted"), "{}", again.stdout);
    assert!(h.proxy.mutating().is_empty());
}

/// Keeping the OpenSearch domain means keeping what it sits in: its subnet, its security
/// group and the VPC, said out loud, instead of failing on DependencyViolation.
#[test]
fn default_down_keeps_the_network_the_search_domain_sits_in() {
    let h = Harness::new("downkeep", &deploy());
    h.run(&["up"]).ok();
    let run = h.run(&["down", "--yes"]).ok();
    let mut left = inventory(&h);
    left.retain(|_, n| *n > 0);
    assert_eq!(left, BTreeMap::from([("security-group", 1), ("subnet", 1), ("vpc", 1)]));
    assert!(run.stderr.contains("opensearch-domain sits in it"), "{}", run.stderr);
    let vpc_kept = run
        .stderr
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("vpc") && l.contains("keeping:") && l.contains("sits in it"));
    assert!(vpc_kept, "{}", run.stderr);
}

#[test]
fn bad_config_exits_2_naming_the_fields_and_sends_nothing() {
    let bad = "version: 1\nproject: itnet\nregion: us-east-1\nnetwork:\n  vpc_cidr: 10.0.0.0/33\n  availabilty_zones: [us-east-1a]\n";
    let h = Harness::new("badcfg", bad);
    for verb in [&["up"][..], &["plan"], &["status"], &["down", "--yes"], &["validate"]] {
        let run = h.run(verb).code(2);
        assert!(run.stderr.contains("network.vpc_cidr"), "{}", run.stderr);
        assert!(run.stderr.contains("did you mean `availability_zones`?"), "{}", run.stderr);
        assert!(run.stderr.contains("deploy.yaml:5:3"), "{}", run.stderr);
    }
    assert!(h.proxy.calls().is_empty(), "{:?}", h.proxy.operations());
    assert!(!h.dir.join("state").exists(), "not even a state directory");
}

#[test]
fn down_without_yes_off_a_terminal_is_refused_before_any_call() {
    let h = Harness::new("confirm", &deploy());
    let run = h.run(&["down"]).code(2);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert!(h.proxy.calls().is_empty());
}

#[test]
fn a_second_concurrent_run_is_refused_by_the_lock() {
    let h = Harness::new("lock", &deploy());
    let store = temporalctl_engine::StateStore::new(h.dir.join("state"), PROJECT, "us-east-1");
    let held = store.lock("up").unwrap();
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("another temporalctl holds the lock"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("pid {}", std::process::id())), "{}", run.stderr);
    assert!(h.proxy.calls().is_empty());
    drop(held);
    h.run(&["up"]).ok();
}

#[test]
fn an_immutable_change_plans_as_replace_and_up_refuses_to_cascade() {
    let h = Harness::new("replace", &deploy());
    h.run(&["up"]).ok();
    std::fs::write(
        h.dir.join("deploy.yaml"),
        deploy().replace("availability_zones", "vpc_cidr: 10.1.0.0/16\n  availability_zones"),
    )
    .unwrap();
    h.proxy.clear();
    let plan = h.run(&["plan", "--output", "json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let vpc = doc["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "vpc").unwrap();
    assert_eq!(vpc["action"], "replace");
    assert_eq!(vpc["diffs"][0]["field"], "cidr");
    assert_eq!(vpc["diffs"][0]["forces_replace"], true);
    assert!(h.proxy.mutating().is_empty());
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("temporalctl does not cascade replacements"), "{}", run.stderr);
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
}

#[test]
fn status_reports_ok_then_missing_and_its_json_is_stable() {
    let h = Harness::new("status", &deploy());
    h.run(&["up"]).ok();
    let state = h.state(PROJECT);
    let igw = state["nodes"]["elastic-ip/nat"]["id"].as_str().unwrap().to_string();
    let ok = h.run(&["status", "--output", "json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(doc["healthy"], true);
    assert!(doc["resources"].as_array().unwrap().len() >= 19);
    // For a person, healthy: the stack in one line, the address and the services first,
    // hints last, no resource rows and no raw AWS CLI lines, within one 80×40 screen.
    let text = h.run(&["status"]).ok().stdout;
    // `STATUS_CAPTURE=DIR` keeps it, for the README.
    if let Some(dir) = std::env::var_os("STATUS_CAPTURE") {
        std::fs::write(std::path::Path::new(&dir).join("status.txt"), &text).unwrap();
    }
    let rows = |t: &str| t.lines().map(|l| l.chars().count().max(1).div_ceil(80)).sum::<usize>();
    assert!(rows(&text) <= 40, "{} rows at 80 columns:\n{text}", rows(&text));
    let resources = doc["resources"].as_array().unwrap().len();
    assert!(
        text.starts_with(&format!("{PROJECT} in us-east-1: healthy, {resources} of {resources} resources ok\n")),
        "{text}"
    );
    assert!(text.contains("\nTemporal address: ") && text.contains("\nServices:\n"), "{text}");
    for service in ["history", "matching", "frontend", "worker", "ui"] {
        assert!(text.contains(&format!("\n  {service} ")), "{service}: {text}");
    }
    assert!(!text.contains("RESOURCE") && !text.contains("aws ssm start-session"), "{text}");
    assert!(text.contains("temporalctl status --all"), "{text}");
    let all = h.run(&["status", "--all"]).ok().stdout;
    assert!(all.contains("\nResources:\n") && all.contains("\n  vpc "), "{all}");
    // Remove one resource out of band: status names it missing and changes nothing.
    let ec2 = h.ec2();
    let nat = state["nodes"]["nat-gateway"]["id"].as_str().unwrap().to_string();
    block_on(async {
        ec2.delete_nat_gateway().nat_gateway_id(&nat).send().await.unwrap();
        ec2.release_address().allocation_id(&igw).send().await.unwrap();
    });
    h.proxy.clear();
    let run = h.run(&["status", "--output", "json"]).ok();
    assert!(h.proxy.mutating().is_empty());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["healthy"], false);
    let states: BTreeMap<String, String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["node"].as_str().unwrap().to_string(), r["state"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(states["elastic-ip/nat"], "missing");
    assert_eq!(states["nat-gateway"], "missing");
    assert_eq!(states["vpc"], "ok");
    // The text lists exactly what is not ok.
    let text = h.run(&["status"]).ok().stdout;
    let listed = text.split("\nResources that are not ok:\n").nth(1).expect("a list of what is not ok");
    let listed = listed.split("\n\n").next().unwrap();
    assert!(listed.contains("\n  nat-gateway ") && listed.contains("\n  elastic-ip/nat "), "{text}");
    assert_eq!(listed.lines().count(), 1 + states.values().filter(|s| *s != "ok").count(), "{text}");
}

/// `verify` proves every declared flow on the account `up` built, with no mutating call;
/// broken out of band (the DSQL egress revoked, then the NAT route deleted), it exits 1
/// and names the flows and what is missing. moto enforces no rule or route, so this is
/// the only place such a break can show before a real task times out.
#[test]
fn verify_proves_every_flow_and_names_what_breaks_out_of_band() {
    let h = Harness::new("net-verify", &deploy());
    let up = h.run(&["up"]).ok();
    assert!(up.stdout.contains("verified") && up.stdout.contains("network flows"), "{}", up.stdout);

    h.proxy.clear();
    let started = std::time::Instant::now();
    let ok = h.run(&["verify"]).ok();
    eprintln!("verify: {} calls in {:.2}s", h.proxy.calls().len(), started.elapsed().as_secs_f64());
    assert!(ok.stdout.contains("0 blocked"), "{}", ok.stdout);
    assert!(ok.stdout.contains("ok      history -> dsql tcp/5432"), "{}", ok.stdout);
    assert!(h.proxy.mutating().is_empty(), "verify changed something");
    let reads: Vec<String> = h.proxy.calls().into_iter().map(|c| c.operation).collect();
    assert!(reads.len() <= 7, "one call per kind of network resource (and the credentials check): {reads:?}");

    let ec2 = h.ec2();
    let state = h.state(PROJECT);
    let id = |node: &str| state["nodes"][node]["id"].as_str().unwrap().to_string();
    let history = id("security-group/history");
    let dsql_egress = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(5432)
        .to_port(5432)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    block_on(ec2.revoke_security_group_egress().group_id(&history).ip_permissions(dsql_egress).send()).unwrap();
    let broken = h.run(&["verify"]).code(1);
    assert!(broken.stdout.contains("BLOCKED history -> dsql tcp/5432"), "{}", broken.stdout);
    assert!(
        broken.stdout.contains(&format!("{history} (security-group/history) has no egress rule for tcp/(5432, 5432)"))
    );
    assert!(broken.stdout.contains("ok      matching -> dsql tcp/5432"), "only the group changed breaks");
    assert!(broken.stdout.contains("1 blocked"), "{}", broken.stdout);

    let routes = id("route-table/private");
    block_on(ec2.delete_route().route_table_id(&routes).destination_cidr_block("0.0.0.0/0").send()).unwrap();
    let json = h.run(&["verify", "--output", "json"]).code(1);
    let verdicts: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let dsql = verdicts.iter().find(|v| v["flow"] == "matching -> dsql tcp/5432").unwrap();
    assert_eq!(dsql["allowed"], false);
    assert!(dsql["missing"][0].as_str().unwrap().contains(&format!("route table {routes}")), "{dsql}");
    let inside = verdicts.iter().find(|v| v["flow"] == "history -> frontend tcp/7233-7239").unwrap();
    assert_eq!(inside["allowed"], true, "traffic inside the VPC needs no NAT route");

    // `up` repairs both (drift), then proves the flows again before anything else.
    let repaired = h.run(&["up"]).ok();
    assert!(repaired.stdout.contains("verified"), "{}", repaired.stdout);
    h.run(&["verify"]).ok();
}

/// Interface endpoints admit only our account where the service takes an endpoint policy
/// (EC2's own answer, `VpcEndpointPolicySupported`); a service that takes none is sent
/// none (AWS refuses it); the S3 gateway keeps AWS's full access (ECR's layers come with
/// URLs ECR's own account signs). A second `up` finds every policy as it wants it.
#[test]
fn interface_endpoints_admit_only_our_account_where_the_service_takes_a_policy() {
    // moto says cloudformation's endpoint takes no policy: the branch AWS has for some.
    let yaml = deploy().replace(
        "us-east-1b]\n",
        "us-east-1b]\n  interface_endpoints: [ecr.api, logs, cloudformation]\n  s3_gateway_endpoint: true\n",
    );
    let h = Harness::new("net-endpoint-policy", &yaml);
    h.run(&["up"]).ok();
    let ec2 = h.ec2();
    let vpc = block_on(ec2.describe_vpcs().filters(ours()).send()).unwrap();
    let account = vpc.vpcs()[0].owner_id().unwrap().to_string();
    let endpoints = block_on(ec2.describe_vpc_endpoints().filters(ours()).send()).unwrap();
    let policies: BTreeMap<String, serde_json::Value> = endpoints
        .vpc_endpoints()
        .iter()
        .map(|e| {
            let service = e.service_name().unwrap().rsplit('.').next().unwrap().to_string();
            (service, serde_json::from_str(e.policy_document().unwrap_or("null")).unwrap())
        })
        .collect();
    for service in ["api", "logs"] {
        let policy = &policies[service];
        assert_eq!(policy["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalAccount"], account, "{policy}");
    }
    for service in ["cloudformation", "s3"] {
        // The emulator's stand-in for AWS's default: one full-access statement, no condition.
        let statements = policies[service]["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 1, "{service}: {:?}", policies[service]);
        assert!(statements[0].get("Condition").is_none(), "{service}: AWS's default: {statements:?}");
    }
    let creates: Vec<String> =
        h.proxy.calls().into_iter().filter(|c| c.operation == "CreateVpcEndpoint").map(|c| c.body).collect();
    let cloudformation = creates.iter().find(|b| b.contains("cloudformation")).unwrap();
    assert!(!cloudformation.contains("PolicyDocument"), "a policy sent to a service that takes none: {cloudformation}");
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>());
}

/// Issue 20 part 4: the address workers connect to. An internal Network Load Balancer in
/// the private subnets with its own group admitting `frontend.clients` (the VPC by
/// default) on 7233 alone; a TCP 7233 target group of `ip` targets with a TCP health check
/// and the deregistration delay above a long poll; a TCP listener; the frontend's service
/// registered in it and its group admitting the balancer's. `status` leads with the
/// address; a second `up` changes nothing; a listener deleted out of band is made again
/// and nothing else; `frontend.endpoint: none` plans and then removes all of it.
#[test]
fn the_frontend_balancer_is_made_repaired_and_removed_when_turned_off() {
    use aws_sdk_elasticloadbalancingv2::Client as Elb;
    let h = Harness::new("net-nlb", &deploy());
    h.run(&["up"]).ok();
    let mut made: Vec<String> =
        h.proxy.mutating().into_iter().filter(|c| c.service == "elasticloadbalancing").map(|c| c.operation).collect();
    made.sort();
    assert_eq!(made, ["CreateListener", "CreateLoadBalancer", "CreateTargetGroup", "ModifyTargetGroupAttributes"]);
    let state = h.state(PROJECT);
    let id = |node: &str| state["nodes"][node]["id"].as_str().unwrap_or_default().to_string();
    let elb = Elb::new(&h.sdk());
    let name = format!("{PROJECT}-frontend");
    let dns = block_on(async {
        let lbs = elb.describe_load_balancers().names(&name).send().await.unwrap();
        let lb = &lbs.load_balancers()[0];
        assert_eq!(lb.r#type().map(|t| t.as_str()), Some("network"));
        assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internal"));
        let mut subnets: Vec<&str> = lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
        subnets.sort();
        let mut private = vec![id("subnet/private-0"), id("subnet/private-1")];
        private.sort();
        assert_eq!(subnets, private, "the private subnets, one per zone");
        assert_eq!(lb.security_groups(), [id("security-group/frontend-balancer")]);
        let tg = &elb.describe_target_groups().names(&name).send().await.unwrap().target_groups()[0].clone();
        let tg_arn = tg.target_group_arn().unwrap();
        assert_eq!(
            (tg.protocol().map(|p| p.as_str()), tg.port(), tg.target_type().map(|t| t.as_str())),
            (Some("TCP"), Some(7233), Some("ip"))
        );
        assert_eq!(
            (tg.health_check_protocol().map(|p| p.as_str()), tg.health_check_port()),
            (Some("TCP"), Some("traffic-port"))
        );
        let attrs = elb.describe_target_group_attributes().target_group_arn(tg_arn).send().await.unwrap();
        let attr =
            |k: &str| attrs.attributes().iter().find(|a| a.key() == Some(k)).and_then(|a| a.value().map(String::from));
        assert_eq!(attr("deregistration_delay.timeout_seconds").as_deref(), Some("90"));
        assert_eq!(attr("preserve_client_ip.enabled").as_deref(), Some("false"));
        assert_eq!(attr("load_balancing.cross_zone.enabled").as_deref(), Some("true"));
        let listeners =
            elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
        let l = &listeners.listeners()[0];
        assert_eq!((l.protocol().map(|p| p.as_str()), l.port()), (Some("TCP"), Some(7233)));
        assert_eq!(l.default_actions()[0].target_group_arn(), Some(tg_arn));
        let tags =
            elb.describe_tags().resource_arns(lb.load_balancer_arn().unwrap()).resource_arns(tg_arn).send().await;
        for d in tags.unwrap().tag_descriptions() {
            assert!(
                d.tags().iter().any(|t| t.key() == Some("temporalctl:project") && t.value() == Some(PROJECT)),
                "{d:?}"
            );
        }

        // Who may connect: the VPC on 7233; the frontend admits the balancer's group.
        let ec2 = h.ec2();
        let groups = ec2
            .describe_security_groups()
            .group_ids(id("security-group/frontend-balancer"))
            .group_ids(id("security-group/frontend"))
            .send()
            .await
            .unwrap();
        let group =
            |node: &str| groups.security_groups().iter().find(|g| g.group_id() == Some(&id(node))).unwrap().clone();
        let balancer_in: Vec<(Option<i32>, Vec<String>)> = group("security-group/frontend-balancer")
            .ip_permissions()
            .iter()
            .map(|p| (p.from_port(), p.ip_ranges().iter().filter_map(|r| r.cidr_ip().map(String::from)).collect()))
            .collect();
        assert_eq!(balancer_in, [(Some(7233), vec!["10.0.0.0/16".to_string()])]);
        let frontend = group("security-group/frontend");
        assert!(
            frontend.ip_permissions().iter().any(|p| p.from_port() == Some(7233)
                && p.user_id_group_pairs()
                    .iter()
                    .any(|g| g.group_id() == Some(&id("security-group/frontend-balancer")))),
            "{:?}",
            frontend.ip_permissions()
        );

        // The frontend's tasks join the target group.
        let ecs = aws_sdk_ecs::Client::new(&h.sdk());
        let svc = ecs
            .describe_services()
            .cluster(format!("{PROJECT}-cluster"))
            .services(format!("{PROJECT}-temporal-frontend"))
            .send()
            .await
            .unwrap();
        let registered: Vec<(Option<&str>, Option<&str>, Option<i32>)> = svc.services()[0]
            .load_balancers()
            .iter()
            .map(|l| (l.target_group_arn(), l.container_name(), l.container_port()))
            .collect();
        assert_eq!(registered, [(Some(tg_arn), Some("temporal-frontend"), Some(7233))]);
        lb.dns_name().unwrap().to_string()
    });

    let status = h.run(&["status"]).ok();
    assert_eq!(
        status.stdout.lines().nth(1),
        Some(format!("Temporal address: {dns}:7233").as_str()),
        "{}",
        status.stdout
    );

    h.proxy.clear();
    h.run(&["up"]).ok();
    let mutating: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    assert!(mutating.is_empty(), "a second up changed something: {mutating:?}");

    block_on(elb.delete_listener().listener_arn(id("listener/frontend")).send()).unwrap();
    h.proxy.clear();
    h.run(&["up"]).ok();
    let mutating: Vec<String> = h.proxy.mutating().into_iter().map(|c| c.operation).collect();
    assert_eq!(mutating, ["CreateListener"], "the listener again, and nothing else");

    std::fs::write(h.dir.join("deploy.yaml"), format!("{}frontend: {{ endpoint: none }}\n", deploy())).unwrap();
    let plan = h.run(&["plan"]).ok();
    assert!(
        plan.stdout.contains("To delete, no longer in deploy.yaml: listener/frontend, load-balancer/frontend, security-group/frontend-balancer, target-group/frontend."),
        "{}",
        plan.stdout
    );
    h.run(&["up"]).ok();
    let state = h.state(PROJECT);
    for node in
        ["load-balancer/frontend", "target-group/frontend", "listener/frontend", "security-group/frontend-balancer"]
    {
        assert!(state["nodes"].get(node).is_none(), "{node} still recorded");
    }
    assert!(block_on(elb.describe_load_balancers().names(&name).send()).is_err(), "the balancer is gone");
    assert!(block_on(elb.describe_target_groups().names(&name).send()).is_err(), "the target group is gone");
    let ecs = aws_sdk_ecs::Client::new(&h.sdk());
    let svc = block_on(
        ecs.describe_services()
            .cluster(format!("{PROJECT}-cluster"))
            .services(format!("{PROJECT}-temporal-frontend"))
            .send(),
    )
    .unwrap();
    assert!(svc.services()[0].load_balancers().is_empty(), "the frontend left the target group first");
    assert_eq!(inventory(&h)["security-group"], 11, "the balancer's group went with it");
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert!(h.proxy.mutating().is_empty(), "and stays gone: {:?}", h.proxy.operations());
}

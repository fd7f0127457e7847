//! Issue 22: deploying into what the user already has, against moto through the
//! recording proxy with the real binary: their VPC and private subnets
//! (`network.existing`), their DSQL cluster (`dsql.existing_cluster`). Nothing of theirs
//! is created, changed, tagged or deleted, and `down --destroy-data` leaves it all.

mod support;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter};
use support::{Harness, block_on};

const PROJECT: &str = "itown";

/// A network of the user's, made out of band the way a platform team's would be: a VPC
/// with DNS on, a public subnet holding a NAT gateway, two private subnets in two zones
/// routed to it.
struct UserNetwork {
    vpc: String,
    private: Vec<String>,
    /// The public subnet, the route tables, the internet and NAT gateways.
    others: Vec<String>,
}

/// What a private subnet's default route goes to.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    Nat,
    InternetGateway,
    Nothing,
}

fn user_network(h: &Harness, ways: [Way; 2]) -> UserNetwork {
    let ec2 = h.ec2();
    block_on(async {
        let vpc = ec2.create_vpc().cidr_block("10.20.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
        let on = || AttributeBooleanValue::builder().value(true).build();
        ec2.modify_vpc_attribute().vpc_id(&vpc).enable_dns_support(on()).send().await.unwrap();
        ec2.modify_vpc_attribute().vpc_id(&vpc).enable_dns_hostnames(on()).send().await.unwrap();
        let igw =
            ec2.create_internet_gateway().send().await.unwrap().internet_gateway.unwrap().internet_gateway_id.unwrap();
        ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
        let subnet = |cidr: &'static str, zone: &'static str| {
            let (ec2, vpc) = (ec2.clone(), vpc.clone());
            async move {
                let out =
                    ec2.create_subnet().vpc_id(vpc).cidr_block(cidr).availability_zone(zone).send().await.unwrap();
                out.subnet.unwrap().subnet_id.unwrap()
            }
        };
        let public = subnet("10.20.255.0/24", "us-east-1a").await;
        let table = |subnet: String, route: Option<(bool, String)>| {
            let (ec2, vpc) = (ec2.clone(), vpc.clone());
            async move {
                let t = ec2.create_route_table().vpc_id(vpc).send().await.unwrap().route_table.unwrap();
                let t = t.route_table_id.unwrap();
                if let Some((nat, target)) = route {
                    let r = ec2.create_route().route_table_id(&t).destination_cidr_block("0.0.0.0/0");
                    let r = if nat { r.nat_gateway_id(target) } else { r.gateway_id(target) };
                    r.send().await.unwrap();
                }
                ec2.associate_route_table().route_table_id(&t).subnet_id(subnet).send().await.unwrap();
                t
            }
        };
        let public_routes = table(public.clone(), Some((false, igw.clone()))).await;
        let eip = ec2.allocate_address().send().await.unwrap().allocation_id.unwrap();
        let nat = ec2.create_nat_gateway().subnet_id(&public).allocation_id(eip).send().await.unwrap();
        let nat = nat.nat_gateway.unwrap().nat_gateway_id.unwrap();
        let mut private = Vec::new();
        let mut others = vec![public, public_routes, igw.clone(), nat.clone()];
        for ((cidr, zone), way) in
            [("10.20.0.0/20", "us-east-1a"), ("10.20.16.0/20", "us-east-1b")].into_iter().zip(ways)
        {
            let id = subnet(cidr, zone).await;
            let route = match way {
                Way::Nat => Some((true, nat.clone())),
                Way::InternetGateway => Some((false, igw.clone())),
                Way::Nothing => None,
            };
            others.push(table(id.clone(), route).await);
            private.push(id);
        }
        UserNetwork { vpc, private, others }
    })
}

fn deploy(network: &UserNetwork, extra: &str) -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\nnetwork:\n  existing:\n    vpc_id: {}\n    private_subnet_ids: [{}]\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{extra}",
        network.vpc,
        network.private.join(", ")
    )
}

/// EC2 operations that would change a network: none may ever be sent in the user's.
const NETWORK_CHANGES: &[&str] = &[
    "CreateVpc",
    "DeleteVpc",
    "ModifyVpcAttribute",
    "CreateSubnet",
    "DeleteSubnet",
    "ModifySubnetAttribute",
    "CreateRouteTable",
    "DeleteRouteTable",
    "CreateRoute",
    "ReplaceRoute",
    "DeleteRoute",
    "AssociateRouteTable",
    "DisassociateRouteTable",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "DetachInternetGateway",
    "CreateNatGateway",
    "DeleteNatGateway",
    "AllocateAddress",
    "ReleaseAddress",
];

/// The user's resources a mutating call names: only ours may be changed, tagged or
/// deleted (our security groups, endpoints and instances name the VPC and subnets as
/// where they go, which is what they are for).
fn touches_theirs(h: &Harness, n: &UserNetwork) -> Vec<String> {
    let theirs: Vec<&String> = std::iter::once(&n.vpc).chain(&n.private).chain(&n.others).collect();
    h.proxy
        .mutating()
        .into_iter()
        .filter(|c| {
            NETWORK_CHANGES.contains(&c.operation.as_str())
                || (matches!(c.operation.as_str(), "CreateTags" | "DeleteTags")
                    && theirs.iter().any(|id| c.body.contains(id.as_str())))
        })
        .map(|c| format!("{} {}", c.operation, c.body))
        .collect()
}

fn still_there(h: &Harness, n: &UserNetwork) {
    let ec2 = h.ec2();
    block_on(async {
        assert_eq!(ec2.describe_vpcs().vpc_ids(&n.vpc).send().await.unwrap().vpcs().len(), 1);
        assert_eq!(
            ec2.describe_subnets().set_subnet_ids(Some(n.private.clone())).send().await.unwrap().subnets().len(),
            2
        );
        let tables = ec2.describe_route_tables().filters(by_vpc(&n.vpc)).send().await.unwrap();
        let routes_to_nat = tables
            .route_tables()
            .iter()
            .flat_map(|t| t.routes())
            .filter(|r| r.nat_gateway_id().is_some() && r.destination_cidr_block() == Some("0.0.0.0/0"))
            .count();
        assert_eq!(routes_to_nat, 2, "both private default routes untouched");
        let nats = ec2.describe_nat_gateways().filter(by_vpc(&n.vpc)).send().await.unwrap();
        assert!(nats.nat_gateways().iter().all(|g| g.state().map(|s| s.as_str()) == Some("available")));
    });
}

fn by_vpc(vpc: &str) -> Filter {
    Filter::builder().name("vpc-id").values(vpc).build()
}

#[test]
fn up_in_the_users_network_changes_nothing_of_theirs_and_down_leaves_it() {
    let h = Harness::without_images("existing-net", "");
    let n = user_network(&h, [Way::Nat, Way::Nat]);
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&n, "")).unwrap();
    let _ = h.build_images();
    h.proxy.clear();

    let plan = h.run(&["plan"]).ok();
    for gone in ["nat-gateway", "internet-gateway", "route-table/", "subnet/public", "elastic-ip"] {
        assert!(!plan.stdout.contains(gone), "no {gone} in the user's network:\n{}", plan.stdout);
    }
    h.run(&["up"]).ok();
    assert_eq!(touches_theirs(&h, &n), Vec::<String>::new());
    let state = h.state(PROJECT);
    assert_eq!(state["nodes"]["vpc"]["id"], n.vpc.as_str());
    assert_eq!(state["nodes"]["subnet/private-1"]["id"], n.private[1].as_str());
    assert_eq!(state["nodes"]["subnet/private-1"]["outputs"]["cidr"], "10.20.16.0/20");

    // Rules that mean "inside the VPC" name the user's block, not our default one.
    let ec2 = h.ec2();
    let groups = block_on(ec2.describe_security_groups().filters(by_vpc(&n.vpc)).send()).unwrap();
    let endpoints_sg = groups
        .security_groups()
        .iter()
        .find(|g| g.group_name().is_some_and(|name| name.ends_with("vpc-endpoints")))
        .expect("the endpoints' group, in the user's VPC");
    let cidrs: Vec<&str> =
        endpoints_sg.ip_permissions().iter().flat_map(|p| p.ip_ranges()).filter_map(|r| r.cidr_ip()).collect();
    assert_eq!(cidrs, ["10.20.0.0/16"]);
    let endpoints = block_on(ec2.describe_vpc_endpoints().filters(by_vpc(&n.vpc)).send()).unwrap();
    assert!(!endpoints.vpc_endpoints().is_empty());
    assert!(
        endpoints.vpc_endpoints().iter().all(|e| e.vpc_endpoint_type().map(|t| t.as_str()) == Some("Interface")),
        "no gateway endpoint: it would write into their route tables"
    );

    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(
        h.proxy.mutating().len(),
        0,
        "{:?}",
        h.proxy.mutating().iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    // Still one read per resource (nodes + support::FIXED_READS), plus preflight's
    // look at the user's network (its two DNS attributes, the subnets, route tables and
    // ACLs: 5), plus 1: the stack lacks the S3 gateway endpoint, a node whose read the
    // interface endpoints' listing paid for in ours.
    let nodes = h.state(PROJECT)["nodes"].as_object().map(|n| n.len()).unwrap();
    let reads = h.proxy.calls().len();
    assert!(reads <= nodes + support::FIXED_READS + 5 + 1, "{reads} reads for {nodes} resources");
    eprintln!("no-op up in the user's network: {reads} reads for {nodes} resources");

    h.proxy.clear();
    let down = h.run(&["down", "--yes", "--destroy-data"]).ok();
    assert_eq!(touches_theirs(&h, &n), Vec::<String>::new());
    still_there(&h, &n);
    let ours = Filter::builder().name("tag:temporalctl:project").values(PROJECT).build();
    let left = block_on(ec2.describe_security_groups().filters(ours).send()).unwrap();
    assert!(left.security_groups().is_empty(), "our groups are gone");
    let said = format!("{}{}", down.stdout, down.stderr);
    assert!(said.contains("yours, named in deploy.yaml"), "{said}");
}

#[test]
fn preflight_names_a_public_subnet_and_one_without_a_way_out_before_any_change() {
    let h = Harness::without_images("existing-net-bad", "");
    let n = user_network(&h, [Way::InternetGateway, Way::Nothing]);
    // A network ACL of their own on the first subnet, with no entry but the final deny.
    let ec2 = h.ec2();
    block_on(async {
        let acl = ec2.create_network_acl().vpc_id(&n.vpc).send().await.unwrap().network_acl.unwrap();
        let by_subnet = Filter::builder().name("association.subnet-id").values(&n.private[0]).build();
        let current = ec2.describe_network_acls().filters(by_subnet).send().await.unwrap();
        let association = current.network_acls()[0]
            .associations()
            .iter()
            .find(|a| a.subnet_id() == Some(n.private[0].as_str()))
            .and_then(|a| a.network_acl_association_id())
            .unwrap()
            .to_string();
        ec2.replace_network_acl_association()
            .association_id(association)
            .network_acl_id(acl.network_acl_id().unwrap())
            .send()
            .await
            .unwrap();
    });
    std::fs::write(h.dir.join("deploy.yaml"), deploy(&n, "")).unwrap();
    h.proxy.clear();
    let run = h.run(&["up"]).code(1);
    assert!(run.stderr.contains("private_subnet_ids[0]") && run.stderr.contains("so it is public"), "{}", run.stderr);
    assert!(run.stderr.contains("private_subnet_ids[1]") && run.stderr.contains("no default route"), "{}", run.stderr);
    let acl_lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("network ACL")).collect();
    assert!(
        acl_lines.iter().any(|l| l.contains(&n.private[0]) && l.contains("5432")),
        "DSQL's way out through their ACL is named:\n{}",
        run.stderr
    );
    assert!(!acl_lines.iter().any(|l| l.contains(&n.private[1])), "the default ACL lets everything through");
    assert!(h.proxy.mutating().is_empty(), "nothing changed");
}

#[test]
fn an_existing_dsql_cluster_is_used_and_never_created_changed_or_deleted() {
    let h = Harness::without_images("existing-dsql", "");
    let dsql = aws_sdk_dsql::Client::new(&h.sdk());
    let cluster = block_on(dsql.create_cluster().deletion_protection_enabled(true).send()).unwrap();
    let (id, arn) = (cluster.identifier().to_string(), cluster.arn().to_string());
    let yaml = format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ndsql:\n  existing_cluster: {id}\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    );
    std::fs::write(h.dir.join("deploy.yaml"), yaml).unwrap();
    let _ = h.build_images();
    h.proxy.clear();

    h.run(&["up"]).ok();
    let dsql_calls = |h: &Harness| -> Vec<temporalctl_proxy::Call> {
        h.proxy.mutating().into_iter().filter(|c| c.service == "dsql").collect()
    };
    // The steps' records, tags (TagResource is `POST /tags/<arn>`), are the only writes to it.
    let writes = dsql_calls(&h);
    assert!(!writes.is_empty());
    for c in &writes {
        let body: serde_json::Value = serde_json::from_str(&c.body).unwrap();
        let keys: Vec<&String> = body["tags"].as_object().unwrap().keys().collect();
        assert!(
            c.operation.starts_with("POST /tags/") && keys.iter().all(|k| k.starts_with("temporalctl:step/")),
            "{c:?}"
        );
    }
    let state = h.state(PROJECT);
    assert_eq!(state["nodes"]["dsql-cluster"]["id"], id.as_str());
    // The task roles are granted its ARN.
    let granted = h.proxy.calls().into_iter().filter(|c| c.operation == "PutRolePolicy").any(|c| {
        let decoded = c.body.replace("%3A", ":").replace("%2F", "/");
        decoded.contains(&arn)
    });
    assert!(granted, "no task role names {arn}");
    // The schema ran in it and is recorded on it, as on a cluster of ours.
    let tags = block_on(dsql.get_cluster().identifier(&id).send()).unwrap().tags.unwrap_or_default();
    assert!(tags.keys().any(|k| k.starts_with("temporalctl:step/")), "{tags:?}");

    h.proxy.clear();
    let down = h.run(&["down", "--yes", "--destroy-data"]).ok();
    assert!(dsql_calls(&h).is_empty(), "down --destroy-data sends it nothing: {:?}", dsql_calls(&h));
    let after = block_on(dsql.get_cluster().identifier(&id).send()).unwrap();
    assert!(after.deletion_protection_enabled(), "its settings untouched");
    let said = format!("{}{}", down.stdout, down.stderr);
    assert!(said.contains("dsql-cluster") && said.contains("yours, named in deploy.yaml"), "{said}");
}

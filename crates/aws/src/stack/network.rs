//! The network: VPC, subnets, internet and NAT gateways, route tables, the endpoints'
//! security group and the VPC endpoints; or, with `network.existing`, the user's VPC and
//! subnets and only the endpoints in them.

use std::collections::BTreeSet;

use temporalctl_config::{Deploy, ExistingNetwork, network_layout};
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::network::elastic_ip::ElasticIp;
use crate::network::existing::{ExistingSubnet, ExistingVpc};
use crate::network::internet_gateway::InternetGateway;
use crate::network::nat_gateway::NatGateway;
use crate::network::route_table::{RouteTable, Target};
use crate::network::security_group::{Rule, SecurityGroup, Source};
use crate::network::subnet::Subnet;
use crate::network::vpc::Vpc;
use crate::network::vpc_endpoint::{Placement, VpcEndpoint};

/// `com.amazonaws.<region>.<suffix>`: an endpoint service's full name.
pub fn endpoint_service(region: &str, suffix: &str) -> String {
    format!("com.amazonaws.{region}.{suffix}")
}

pub(super) fn network(g: &mut GraphBuilder, d: &Deploy, aws: &Aws, endpoint_policies: &BTreeSet<String>) {
    match &d.network.existing {
        Some(existing) => borrowed_network(g, existing, aws),
        None => own_network(g, d, aws),
    }
    endpoints(g, d, aws, endpoint_policies);
}

/// The user's VPC and private subnets (`network.existing`), looked up by id; their routes
/// and gateways are theirs and are no nodes at all.
fn borrowed_network(g: &mut GraphBuilder, existing: &ExistingNetwork, aws: &Aws) {
    g.add(VPC, existing.vpc_id.clone(), ExistingVpc { ec2: aws.ec2.clone(), vpc_id: existing.vpc_id.clone() });
    let named: Vec<String> = existing.private_subnet_ids.iter().chain(&existing.public_subnet_ids).cloned().collect();
    let subnets = [
        ("network.existing.private_subnet_ids", &existing.private_subnet_ids, private_subnet as fn(usize) -> String),
        ("network.existing.public_subnet_ids", &existing.public_subnet_ids, existing_public_subnet),
    ];
    for (field, ids, node) in subnets {
        for (i, id) in ids.iter().enumerate() {
            g.add(
                node(i),
                id.clone(),
                ExistingSubnet {
                    ec2: aws.ec2.clone(),
                    subnet_id: id.clone(),
                    named: named.clone(),
                    vpc: VPC.into(),
                    field,
                },
            );
        }
    }
}

/// Seed 002's network: the VPC, private subnets, a public subnet holding the NAT
/// gateway, the internet gateway and both route tables; with an internet-facing ingress,
/// a second public subnet for the balancer's second zone.
fn own_network(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let layout = network_layout(d).expect("deploy.yaml was validated");
    let ec2 = || aws.ec2.clone();
    let t = &d.timeouts;

    g.add(VPC, format!("{p}-vpc"), Vpc { ec2: ec2(), cidr: layout.vpc.to_string() });
    let privates = private_subnets(d);
    for (i, (zone, cidr)) in layout.private_subnets.iter().enumerate() {
        g.add(
            &privates[i],
            format!("{p}-private-{i}"),
            Subnet { ec2: ec2(), vpc: VPC.into(), cidr: cidr.to_string(), zone: zone.clone() },
        );
    }
    let (zone, cidr) = &layout.public_subnet;
    g.add(
        PUBLIC_SUBNET,
        format!("{p}-nat-public"),
        Subnet { ec2: ec2(), vpc: VPC.into(), cidr: cidr.to_string(), zone: zone.clone() },
    );
    let mut public_subnets = vec![PUBLIC_SUBNET.into()];
    if let Some((zone, cidr)) = &layout.ingress_public_subnet {
        g.add(
            INGRESS_PUBLIC_SUBNET,
            format!("{p}-ingress-public"),
            Subnet { ec2: ec2(), vpc: VPC.into(), cidr: cidr.to_string(), zone: zone.clone() },
        );
        public_subnets.push(INGRESS_PUBLIC_SUBNET.into());
    }
    g.add(INTERNET_GATEWAY, format!("{p}-igw"), InternetGateway { ec2: ec2(), vpc: VPC.into() });
    g.add(NAT_EIP, format!("{p}-nat-eip"), ElasticIp { ec2: ec2() });
    // A public NAT gateway needs the internet gateway attached to its VPC.
    g.add_after(
        NAT_GATEWAY,
        format!("{p}-nat"),
        &[INTERNET_GATEWAY],
        NatGateway { ec2: ec2(), subnet: PUBLIC_SUBNET.into(), elastic_ip: NAT_EIP.into(), deadline: t.nat_gateway },
    );
    g.add(
        PUBLIC_ROUTES,
        format!("{p}-public"),
        RouteTable {
            ec2: ec2(),
            vpc: VPC.into(),
            default_route: Target::InternetGateway(INTERNET_GATEWAY.into()),
            subnets: public_subnets,
        },
    );
    g.add(
        PRIVATE_ROUTES,
        format!("{p}-private"),
        RouteTable {
            ec2: ec2(),
            vpc: VPC.into(),
            default_route: Target::NatGateway(NAT_GATEWAY.into()),
            subnets: privates,
        },
    );
}

/// The interface endpoints and their security group, in either network; the S3 gateway
/// endpoint only in ours (it writes routes into the private route table).
fn endpoints(g: &mut GraphBuilder, d: &Deploy, aws: &Aws, endpoint_policies: &BTreeSet<String>) {
    let p = &d.project;
    let ec2 = || aws.ec2.clone();
    let t = &d.timeouts;
    let privates = private_subnets(d);
    g.add(
        ENDPOINTS_SG,
        names::security_group(p, "vpc-endpoints"),
        SecurityGroup {
            ec2: ec2(),
            vpc: VPC.into(),
            group_name: names::security_group(p, "vpc-endpoints"),
            description: "temporalctl: HTTPS from inside the VPC to the interface endpoints".into(),
            ingress: vec![Rule::tcp(443, Source::VpcCidr(VPC.into()))],
            egress: vec![],
        },
    );
    for suffix in &d.network.interface_endpoints {
        let service = endpoint_service(&d.region, suffix);
        g.add(
            endpoint(suffix),
            format!("{p}-{suffix}-endpoint"),
            VpcEndpoint {
                ec2: ec2(),
                vpc: VPC.into(),
                policy_supported: endpoint_policies.contains(&service),
                service,
                placement: Placement::Interface { subnets: privates.clone(), security_group: ENDPOINTS_SG.into() },
                deadline: t.vpc_endpoint,
            },
        );
    }
    if d.network.s3_gateway() && d.network.existing.is_none() {
        g.add(
            endpoint("s3"),
            format!("{p}-s3-endpoint"),
            VpcEndpoint {
                ec2: ec2(),
                vpc: VPC.into(),
                service: endpoint_service(&d.region, "s3"),
                placement: Placement::Gateway { route_tables: vec![PRIVATE_ROUTES.into()] },
                deadline: t.vpc_endpoint,
                policy_supported: false,
            },
        );
    }
}

//! Cheap checks before `plan` and `up` touch anything, each explaining what to do:
//! the ECS AMI parameter resolves in the region, the OpenSearch service-linked role
//! exists (or will be made), and node groups whose tasks need more ENIs than the
//! instances have are covered by `awsvpcTrunking` for the principal that registers the
//! instances (the instance role), or by `node_groups.awsvpc_trunking`; a network of the
//! user's (`network.existing`) can carry the stack. What needs no AWS call (DSQL region,
//! CPU and memory per node group) is checked with the configuration.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{ArchitectureType, Filter, InstanceType, LocationType, VpcAttributeName};
use aws_sdk_ecs::types::SettingName;
use temporalctl_config::Deploy;
use temporalctl_config::capacity::{counts_from_config, needs_trunking};
use temporalctl_engine::{CancelToken, ResourceError, Retries, RetryPolicy, Retrying};

use crate::Aws;
use crate::documents::node::ECS_AMI_PARAMETER;
use crate::errors::aws;
use crate::pages::all_pages;

#[derive(Debug, Default)]
pub struct Findings {
    /// Stop: `up` would fail partway through.
    pub blockers: Vec<String>,
    /// Worth knowing; nothing fails because of them now.
    pub notes: Vec<String>,
}

/// A read outside the graph (preflight, image look-ups), retried on throttling and
/// transient errors like every other call.
pub(crate) async fn retried<T, Fut>(cancel: &CancelToken, op: impl FnMut() -> Fut) -> Result<T, ResourceError>
where
    Fut: std::future::Future<Output = Result<T, ResourceError>>,
{
    let policy = RetryPolicy::default();
    let retrying = Retrying { policy: &policy, cancel, report: None };
    retrying.call("preflight", Retries::Transient, policy.deadline, op).await
}

/// `instance_role`: the instance role's ARN when the state file records it.
pub async fn run(
    clients: &Aws,
    d: &Deploy,
    instance_role: Option<&str>,
    cancel: &CancelToken,
) -> Result<Findings, ResourceError> {
    let mut f = Findings::default();
    let ami = retried(cancel, || async {
        clients.ssm.get_parameter().name(ECS_AMI_PARAMETER).send().await.map_err(aws("GetParameter"))
    })
    .await;
    match ami {
        Ok(found) => {
            let image = found.parameter.and_then(|p| p.value).unwrap_or_default();
            f.blockers.extend(root_volume_problems(clients, d, &image, cancel).await?);
        }
        Err(e) if e.is_not_found() => f.blockers.push(format!(
            "{} publishes no ECS-optimized AL2023 arm64 AMI (SSM parameter {ECS_AMI_PARAMETER} is missing); choose a region with Graviton ECS support",
            d.region
        )),
        Err(e) => return Err(e),
    }

    let prefix = "/aws-service-role/opensearchservice.amazonaws.com/";
    let roles =
        retried(cancel, || async { Ok(all_pages!(clients.iam.list_roles().path_prefix(prefix), roles, "ListRoles")) })
            .await?;
    if roles.is_empty() {
        f.notes.push(
            "the account has no OpenSearch service-linked role yet; `up` creates it (needs iam:CreateServiceLinkedRole) and never deletes it"
                .into(),
        );
    }

    let zones = match &d.network.existing {
        Some(existing) => {
            let found = existing_network(clients, d, existing, cancel).await?;
            f.blockers.extend(found.blockers);
            f.notes.extend(found.notes);
            found.zones
        }
        None => temporalctl_config::availability_zones(d),
    };
    if !zones.is_empty() {
        f.blockers.extend(instance_type_problems(clients, d, &zones, cancel).await?);
    }

    if let Some(ingress) = &d.ingress {
        if let Some(arn) = &ingress.certificate_arn {
            f.blockers.extend(certificate_problems(clients, ingress, arn, cancel).await?);
        }
        if let Some(zone) = &ingress.hosted_zone_id {
            f.blockers.extend(hosted_zone_problems(clients, ingress, zone, cancel).await?);
        }
    }
    f.notes.extend(trunking_notes(clients, d, &counts_from_config(d), instance_role, cancel).await?);
    Ok(f)
}

/// The ingress's hosted zone must exist, hold both host names, and be public when the
/// certificate is ours to validate: ACM resolves the validation records in public DNS
/// only (ACM user guide, "DNS validation").
async fn hosted_zone_problems(
    clients: &Aws,
    ingress: &temporalctl_config::Ingress,
    zone: &str,
    cancel: &CancelToken,
) -> Result<Vec<String>, ResourceError> {
    let read = retried(cancel, || async {
        clients.route53.get_hosted_zone().id(zone).send().await.map_err(aws("GetHostedZone"))
    })
    .await;
    let found = match read {
        Ok(out) => out.hosted_zone,
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    let Some(found) = found else {
        return Ok(vec![format!(
            "ingress.hosted_zone_id: {zone} does not exist in this account; check it (`aws route53 list-hosted-zones`)"
        )]);
    };
    let name = crate::balancing::dns::normalized(found.name());
    let mut problems = Vec::new();
    for (field, host) in [("ingress.ui_host", &ingress.ui_host), ("ingress.grafana_host", &ingress.grafana_host)] {
        if host != &name && !host.ends_with(&format!(".{name}")) {
            problems.push(format!(
                "{field}: {host} is not in the zone ingress.hosted_zone_id names ({name}); use a host name under {name}, or another zone"
            ));
        }
    }
    let private = found.config().is_some_and(|c| c.private_zone());
    if private && ingress.certificate_arn.is_none() {
        problems.push(format!(
            "ingress.hosted_zone_id: {zone} ({name}) is a private zone, and ACM validates a certificate through public DNS only; name a public zone, or give ingress.certificate_arn"
        ));
    }
    Ok(problems)
}

/// The ingress's certificate must exist, be issued, and cover both host names: AWS refuses
/// a listener with a certificate not yet issued (`UnsupportedCertificate`), and a browser
/// refuses a name the certificate does not cover, long after `up` reported success.
async fn certificate_problems(
    clients: &Aws,
    ingress: &temporalctl_config::Ingress,
    arn: &str,
    cancel: &CancelToken,
) -> Result<Vec<String>, ResourceError> {
    let described = retried(cancel, || async {
        clients.acm.describe_certificate().certificate_arn(arn).send().await.map_err(aws("DescribeCertificate"))
    })
    .await;
    let certificate = match described {
        Ok(out) => match out.certificate {
            Some(c) => c,
            None => return Ok(vec![format!("ingress.certificate_arn: ACM describes {arn} as nothing; check it")]),
        },
        Err(e) if e.is_not_found() => {
            return Ok(vec![format!(
                "ingress.certificate_arn: {arn} does not exist in this account and region; check it (`aws acm list-certificates`)"
            )]);
        }
        Err(e) => return Err(e),
    };
    let mut problems = Vec::new();
    let status = certificate.status().map(|s| s.as_str()).unwrap_or("unknown");
    if status != "ISSUED" {
        problems.push(format!(
            "ingress.certificate_arn: {arn} is {status}, not ISSUED; a load balancer only takes an issued certificate (finish its validation, or name another)"
        ));
    }
    let names: Vec<&str> = certificate
        .domain_name()
        .into_iter()
        .chain(certificate.subject_alternative_names().iter().map(String::as_str))
        .collect();
    for (field, host) in [("ingress.ui_host", &ingress.ui_host), ("ingress.grafana_host", &ingress.grafana_host)] {
        if !names.iter().any(|name| covers(name, host)) {
            problems.push(format!(
                "{field}: {host} is not among the names of {arn} ({}); browsers would refuse it: name a certificate that covers it",
                names.join(", ")
            ));
        }
    }
    Ok(problems)
}

/// Whether a certificate name covers a host: equal, or a wildcard of exactly one label
/// (`*.example.com` covers `a.example.com`, not `example.com` or `a.b.example.com`).
fn covers(name: &str, host: &str) -> bool {
    let (name, host) = (name.to_ascii_lowercase(), host.to_ascii_lowercase());
    match name.strip_prefix("*.") {
        Some(parent) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

/// Node groups whose tasks at `counts` need more network interfaces than their instances
/// have without `awsvpcTrunking`, when trunking is off for the principal that registers
/// the instances (the instance role): `up` says so before it starts, `scale` before it
/// asks for more tasks than can be placed.
pub async fn trunking_notes(
    clients: &Aws,
    d: &Deploy,
    counts: &temporalctl_config::capacity::Counts,
    instance_role: Option<&str>,
    cancel: &CancelToken,
) -> Result<Vec<String>, ResourceError> {
    let mut notes = Vec::new();
    let short = needs_trunking(d, counts);
    if !short.is_empty() && !d.node_groups.awsvpc_trunking {
        // ECS decides by the setting of the principal that registers the instances: the
        // instance role (recorded once `up` made it), not whoever runs temporalctl.
        let settings = retried(cancel, || async {
            clients
                .ecs
                .list_account_settings()
                .name(SettingName::AwsvpcTrunking)
                .set_principal_arn(instance_role.map(String::from))
                .effective_settings(true)
                .send()
                .await
                .map_err(aws("ListAccountSettings"))
        })
        .await?;
        let enabled = settings.settings().iter().any(|s| s.value() == Some("enabled"));
        let whose = match instance_role {
            Some(arn) => format!("the instance role {arn}"),
            None => "your own principal (the instance role does not exist yet; it inherits the account default)".into(),
        };
        if !enabled {
            for (_, why) in short {
                notes.push(format!(
                    "{why}: awsvpcTrunking is off for {whose}, so the services scale only partly; set node_groups.awsvpc_trunking: true (temporalctl turns it on for the instance role), or run `aws ecs put-account-setting-default --name awsvpcTrunking --value enabled --region {}` for the whole account, or raise the group's max_size",
                    d.region
                ));
            }
        }
    }
    Ok(notes)
}

/// Each node group's instance type must be offered in every configured zone and be arm64
/// like the ECS AMI (AWS answers `Unsupported` only when the Auto Scaling group launches,
/// minutes into `up`). The shape of the name is checked offline with the configuration.
async fn instance_type_problems(
    clients: &Aws,
    d: &Deploy,
    zones: &[String],
    cancel: &CancelToken,
) -> Result<Vec<String>, ResourceError> {
    let types: BTreeSet<&str> = d.node_groups.iter().map(|(_, g)| g.instance_type.as_str()).collect();
    let mut offered: BTreeSet<(String, String)> = BTreeSet::new();
    let filters = [
        Filter::builder().name("instance-type").set_values(Some(types.iter().map(|t| t.to_string()).collect())).build(),
        Filter::builder().name("location").set_values(Some(zones.to_vec())).build(),
    ];
    let mut token: Option<String> = None;
    loop {
        let page = retried(cancel, || async {
            clients
                .ec2
                .describe_instance_type_offerings()
                .location_type(LocationType::AvailabilityZone)
                .set_filters(Some(filters.to_vec()))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(aws("DescribeInstanceTypeOfferings"))
        })
        .await?;
        for o in page.instance_type_offerings() {
            let (Some(t), Some(zone)) = (o.instance_type(), o.location()) else { continue };
            offered.insert((t.as_str().to_string(), zone.to_string()));
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let described = retried(cancel, || async {
        clients
            .ec2
            .describe_instance_types()
            .set_instance_types(Some(types.iter().map(|t| InstanceType::from(*t)).collect()))
            .send()
            .await
            .map_err(aws("DescribeInstanceTypes"))
    })
    .await;
    let mut problems = Vec::new();
    let architectures: Vec<(String, bool)> = match described {
        Ok(out) => out
            .instance_types()
            .iter()
            .filter_map(|t| {
                let arm =
                    t.processor_info().is_some_and(|p| p.supported_architectures().contains(&ArchitectureType::Arm64));
                Some((t.instance_type()?.as_str().to_string(), arm))
            })
            .collect(),
        // EC2 names an unknown type as invalid: the offerings below say the rest.
        Err(e) if e.class == temporalctl_engine::ErrorClass::Fatal => Vec::new(),
        Err(e) => return Err(e),
    };
    for (name, g) in d.node_groups.iter() {
        let t = g.instance_type.as_str();
        let missing: Vec<&str> =
            zones.iter().filter(|z| !offered.contains(&(t.to_string(), z.to_string()))).map(String::as_str).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "node_groups.{name}.instance_type: {t} is not offered in {} ({}); choose a type offered in every zone (`aws ec2 describe-instance-type-offerings --location-type availability-zone --region {}`), or other zones",
                missing.join(", "),
                d.region,
                d.region
            ));
        } else if architectures.iter().any(|(n, arm)| n == t && !arm) {
            problems.push(format!(
                "node_groups.{name}.instance_type: {t} is not arm64, and the ECS-optimized AMI and the task definitions are; choose a Graviton type such as m7g.large"
            ));
        }
    }
    Ok(problems)
}

/// The launch template's root volume may not be smaller than the AMI's root snapshot
/// (EC2 refuses the launch: "Volume of size … is smaller than snapshot").
async fn root_volume_problems(
    clients: &Aws,
    d: &Deploy,
    image: &str,
    cancel: &CancelToken,
) -> Result<Vec<String>, ResourceError> {
    if image.is_empty() {
        return Ok(Vec::new());
    }
    let out = retried(cancel, || async {
        clients.ec2.describe_images().image_ids(image).send().await.map_err(aws("DescribeImages"))
    })
    .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let Some(img) = out.images().first() else { return Ok(Vec::new()) };
    let root = img.root_device_name().unwrap_or_default();
    let snapshot_gb = img
        .block_device_mappings()
        .iter()
        .find(|b| b.device_name() == Some(root))
        .and_then(|b| b.ebs())
        .and_then(|e| e.volume_size());
    let Some(snapshot_gb) = snapshot_gb else { return Ok(Vec::new()) };
    Ok(d.node_groups
        .iter()
        .filter(|(_, g)| i64::from(g.root_volume_gb) < i64::from(snapshot_gb))
        .map(|(name, g)| {
            format!(
                "node_groups.{name}.root_volume_gb: {} GiB is smaller than the ECS AMI's root snapshot ({image}, {snapshot_gb} GiB); set at least {snapshot_gb}",
                g.root_volume_gb
            )
        })
        .collect())
}

/// What preflight found in the user's network (`network.existing`), and the zones of its
/// private subnets.
#[derive(Debug, Default)]
struct ExistingNetworkFindings {
    blockers: Vec<String>,
    notes: Vec<String>,
    zones: Vec<String>,
}

/// The user's network, read (never changed): the VPC exists with DNS support and
/// hostnames on (interface endpoints' private DNS needs both: AWS, "DNS attributes for
/// your VPC"); every subnet exists, sits in that VPC, in a zone of its own, and is
/// private with a way out: a default route to a NAT gateway, transit gateway or other
/// appliance, not to an internet gateway (that makes it public) and not missing (DSQL on
/// 5432 and the public image registries have no interface endpoint on our list); and its
/// network ACL lets every flow of the stack through (`verify::acl_blockers`).
async fn existing_network(
    clients: &Aws,
    d: &Deploy,
    existing: &temporalctl_config::ExistingNetwork,
    cancel: &CancelToken,
) -> Result<ExistingNetworkFindings, ResourceError> {
    let ec2 = &clients.ec2;
    let vpc_id = existing.vpc_id.as_str();
    let mut f = ExistingNetworkFindings::default();
    let by_vpc = || Filter::builder().name("vpc-id").values(vpc_id).build();
    let missing = format!(
        "network.existing.vpc_id: {vpc_id} does not exist in {} for this account; check the id (`aws ec2 describe-vpcs --region {}`)",
        d.region, d.region
    );
    if d.network.interface_endpoints.is_empty() {
        let vpcs = retried(cancel, || async {
            ec2.describe_vpcs().filters(by_vpc()).send().await.map_err(aws("DescribeVpcs"))
        })
        .await?;
        if vpcs.vpcs().is_empty() {
            f.blockers.push(missing);
            return Ok(f);
        }
    } else {
        // The attributes' answers also say whether the VPC exists (InvalidVpcID.NotFound).
        for (attribute, name) in [
            (VpcAttributeName::EnableDnsSupport, "enableDnsSupport"),
            (VpcAttributeName::EnableDnsHostnames, "enableDnsHostnames"),
        ] {
            let out = retried(cancel, || async {
                ec2.describe_vpc_attribute()
                    .vpc_id(vpc_id)
                    .attribute(attribute.clone())
                    .send()
                    .await
                    .map_err(aws("DescribeVpcAttribute"))
            })
            .await;
            let out = match out {
                Ok(out) => out,
                Err(e) if e.is_not_found() => {
                    f.blockers.push(missing);
                    return Ok(f);
                }
                Err(e) => return Err(e),
            };
            let on = out.enable_dns_support().or(out.enable_dns_hostnames()).and_then(|v| v.value()).unwrap_or(false);
            if !on {
                f.blockers.push(format!(
                    "network.existing.vpc_id: {vpc_id} has {name} off, and the interface endpoints' private DNS needs it on; turn it on (`aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --{} '{{\"Value\":true}}'`) or set network.interface_endpoints: []",
                    if name == "enableDnsSupport" { "enable-dns-support" } else { "enable-dns-hostnames" }
                ));
            }
        }
    }
    let named = existing.private_subnet_ids.iter().chain(&existing.public_subnet_ids).cloned().collect();
    let by_id = Filter::builder().name("subnet-id").set_values(Some(named)).build();
    let subnets = retried(cancel, || async {
        ec2.describe_subnets().filters(by_id.clone()).send().await.map_err(aws("DescribeSubnets"))
    })
    .await?;
    let tables = retried(cancel, || async {
        ec2.describe_route_tables().filters(by_vpc()).send().await.map_err(aws("DescribeRouteTables"))
    })
    .await?;
    // Zone → the first subnet named in it.
    let mut by_zone = std::collections::BTreeMap::new();
    // The subnets found in the VPC: id → block.
    let mut found = std::collections::BTreeMap::new();
    for (i, id) in existing.private_subnet_ids.iter().enumerate() {
        let field = format!("network.existing.private_subnet_ids[{i}]");
        let Some(subnet) = subnets.subnets().iter().find(|s| s.subnet_id() == Some(id.as_str())) else {
            f.blockers.push(format!(
                "{field}: {id} does not exist in {}; check the id (`aws ec2 describe-subnets`)",
                d.region
            ));
            continue;
        };
        if subnet.vpc_id() != Some(vpc_id) {
            f.blockers.push(format!(
                "{field}: {id} is in {}, not in {vpc_id}; name private subnets of network.existing.vpc_id",
                subnet.vpc_id().unwrap_or("another VPC")
            ));
            continue;
        }
        let zone = subnet.availability_zone().unwrap_or_default().to_string();
        if let Some(other) = by_zone.get(&zone) {
            f.blockers.push(format!(
                "{field}: {id} is in {zone} like {other}; name one private subnet per availability zone"
            ));
        } else {
            by_zone.insert(zone, id.clone());
        }
        if subnet.map_public_ip_on_launch() == Some(true) {
            f.notes.push(format!(
                "{field}: {id} gives instances public IPv4 addresses on launch; our launch templates ask for none, but a private subnet should not offer them"
            ));
        }
        found.insert(id.clone(), subnet.cidr_block().unwrap_or_default().to_string());
        match default_route(tables.route_tables(), id) {
            Some(target) if target.starts_with("igw-") => f.blockers.push(format!(
                "{field}: {id} routes 0.0.0.0/0 to the internet gateway {target}, so it is public; name private subnets (a default route to a NAT gateway)"
            )),
            Some(_) => {}
            None => f.blockers.push(format!(
                "{field}: {id} has no default route (0.0.0.0/0), so DSQL (5432) and the public image registries (443) are out of reach; route it to a NAT gateway or transit gateway"
            )),
        }
    }
    f.zones = by_zone.into_keys().collect();
    f.blockers.extend(public_subnet_problems(existing, subnets.subnets(), tables.route_tables()));
    // Their network ACLs, judged as `verify` judges them, for every flow of the stack.
    let acls = retried(cancel, || async {
        ec2.describe_network_acls().filters(by_vpc()).send().await.map_err(aws("DescribeNetworkAcls"))
    })
    .await?;
    let network = crate::verify::Network {
        region: d.region.clone(),
        acls: crate::verify::subnet_acls(acls.network_acls(), found.keys()),
        subnets: found,
        ..Default::default()
    };
    for blocked in crate::verify::acl_blockers(&crate::flows::flows_for(d), &network) {
        f.blockers.push(format!("network.existing.private_subnet_ids: {blocked}"));
    }
    Ok(f)
}

/// An internet-facing ingress balancer's subnets (`network.existing.public_subnet_ids`):
/// each in the VPC, in a zone of its own, and public, its default route going to an
/// internet gateway. ELBv2 checks only that the VPC has an internet gateway; a balancer
/// in a subnet without that route answers no one.
fn public_subnet_problems(
    existing: &temporalctl_config::ExistingNetwork,
    subnets: &[aws_sdk_ec2::types::Subnet],
    tables: &[aws_sdk_ec2::types::RouteTable],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut zones = std::collections::BTreeMap::new();
    for (i, id) in existing.public_subnet_ids.iter().enumerate() {
        let field = format!("network.existing.public_subnet_ids[{i}]");
        let Some(subnet) = subnets.iter().find(|s| s.subnet_id() == Some(id.as_str())) else {
            problems.push(format!("{field}: {id} does not exist here; check the id (`aws ec2 describe-subnets`)"));
            continue;
        };
        if subnet.vpc_id() != Some(existing.vpc_id.as_str()) {
            problems.push(format!("{field}: {id} is not in {}; name public subnets of that VPC", existing.vpc_id));
            continue;
        }
        let zone = subnet.availability_zone().unwrap_or_default();
        if let Some(other) = zones.insert(zone.to_string(), id) {
            problems.push(format!("{field}: {id} is in {zone} like {other}; name public subnets of distinct zones"));
        }
        match default_route(tables, id) {
            Some(target) if target.starts_with("igw-") => {}
            other => problems.push(format!(
                "{field}: {id} {}, so an internet-facing balancer there is unreachable; name subnets whose route table sends 0.0.0.0/0 to an internet gateway",
                match other {
                    Some(target) => format!("routes 0.0.0.0/0 to {target}, not to an internet gateway"),
                    None => "has no default route".to_string(),
                }
            )),
        }
    }
    problems
}

/// The target of a subnet's default route: its route table's (explicit association, else
/// the VPC's main table), as EC2 applies them.
fn default_route(tables: &[aws_sdk_ec2::types::RouteTable], subnet: &str) -> Option<String> {
    let associated =
        |t: &&aws_sdk_ec2::types::RouteTable| t.associations().iter().any(|a| a.subnet_id() == Some(subnet));
    let main = |t: &&aws_sdk_ec2::types::RouteTable| t.associations().iter().any(|a| a.main() == Some(true));
    let table = tables.iter().find(associated).or_else(|| tables.iter().find(main))?;
    table.routes().iter().filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).find_map(|r| {
        [
            r.nat_gateway_id(),
            r.gateway_id(),
            r.transit_gateway_id(),
            r.network_interface_id(),
            r.vpc_peering_connection_id(),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(String::from)
    })
}

#[cfg(test)]
mod tests {
    use super::{covers, public_subnet_problems};
    use aws_sdk_ec2::types::{Route, RouteTable, RouteTableAssociation, Subnet};

    fn subnet(id: &str, vpc: &str, zone: &str) -> Subnet {
        Subnet::builder().subnet_id(id).vpc_id(vpc).availability_zone(zone).build()
    }

    fn table(subnet: &str, gateway: &str) -> RouteTable {
        let route = Route::builder().destination_cidr_block("0.0.0.0/0");
        let route = if gateway.starts_with("nat-") { route.nat_gateway_id(gateway) } else { route.gateway_id(gateway) };
        RouteTable::builder()
            .associations(RouteTableAssociation::builder().subnet_id(subnet).build())
            .routes(route.build())
            .build()
    }

    /// An internet-facing balancer's subnets must each exist in the VPC, sit in zones of
    /// their own and route to an internet gateway: ELBv2 itself checks only that the VPC
    /// has one.
    #[test]
    fn public_subnets_must_be_in_the_vpc_in_distinct_zones_and_routed_to_an_internet_gateway() {
        let existing = temporalctl_config::ExistingNetwork {
            vpc_id: "vpc-1".into(),
            private_subnet_ids: Vec::new(),
            public_subnet_ids: ["subnet-a", "subnet-b", "subnet-c", "subnet-d", "subnet-e"].map(String::from).to_vec(),
        };
        let subnets = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-b", "vpc-1", "us-east-1a"),
            subnet("subnet-c", "vpc-1", "us-east-1b"),
            subnet("subnet-d", "vpc-2", "us-east-1c"),
        ];
        let tables = [table("subnet-a", "igw-1"), table("subnet-b", "igw-1"), table("subnet-c", "nat-1")];
        let problems = public_subnet_problems(&existing, &subnets, &tables);
        let blamed: Vec<&str> = problems.iter().map(|p| p.split(':').next().unwrap()).collect();
        assert_eq!(
            blamed,
            [
                "network.existing.public_subnet_ids[1]",
                "network.existing.public_subnet_ids[2]",
                "network.existing.public_subnet_ids[3]",
                "network.existing.public_subnet_ids[4]"
            ],
            "{problems:#?}"
        );
        assert!(problems[0].contains("like subnet-a") && problems[1].contains("not to an internet gateway"));
        assert!(problems[2].contains("is not in vpc-1") && problems[3].contains("does not exist"));
    }

    #[test]
    fn a_wildcard_covers_one_label_only() {
        assert!(covers("temporal.example.com", "temporal.example.com"));
        assert!(covers("*.example.com", "grafana.example.com"));
        assert!(covers("*.Example.com", "grafana.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.grafana.example.com"));
        assert!(!covers("temporal.example.com", "grafana.example.com"));
    }
}

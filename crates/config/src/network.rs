//! The network layout a deployment resolves to: one source for validation and the stack.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::{Deploy, IngressScheme, Problem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkLayout {
    pub vpc: Ipv4Net,
    /// (availability zone, CIDR) per private subnet, in configured order.
    pub private_subnets: Vec<(String, Ipv4Net)>,
    /// The NAT gateway's subnet sits in the first availability zone.
    pub public_subnet: (String, Ipv4Net),
    /// An internet-facing ingress balancer's second public subnet, in the second zone.
    pub ingress_public_subnet: Option<(String, Ipv4Net)>,
}

/// AWS accepts VPC blocks from /16 to /28.
const VPC_PREFIX: std::ops::RangeInclusive<u8> = 16..=28;

pub fn network_layout(deploy: &Deploy) -> Result<NetworkLayout, Vec<Problem>> {
    let net = &deploy.network;
    let mut problems = Vec::new();
    let vpc = match parse_net(&net.vpc_cidr, "network.vpc_cidr", &mut problems) {
        Some(v) if !VPC_PREFIX.contains(&v.prefix_len()) => {
            problems.push(Problem::new(
                "network.vpc_cidr",
                format!("a VPC block must be between /16 and /28, not /{}; use e.g. 10.0.0.0/16", v.prefix_len()),
            ));
            None
        }
        other => other,
    };

    let zones = availability_zones(deploy);
    let private: Vec<Option<Ipv4Net>> = if net.private_subnet_cidrs.is_empty() {
        // Seed 002: cidrsubnet(vpc, 4, i).
        zones.iter().enumerate().map(|(i, _)| vpc.and_then(|v| nth_subnet(v, 4, i as u32))).collect()
    } else {
        if net.private_subnet_cidrs.len() != zones.len() {
            problems.push(Problem::new(
                "network.private_subnet_cidrs",
                format!(
                    "{} CIDRs for {} availability zones; give one per zone or leave the list out to derive them",
                    net.private_subnet_cidrs.len(),
                    zones.len()
                ),
            ));
        }
        net.private_subnet_cidrs
            .iter()
            .enumerate()
            .map(|(i, c)| parse_net(c, &format!("network.private_subnet_cidrs[{i}]"), &mut problems))
            .collect()
    };
    if let Some(v) = vpc
        && net.private_subnet_cidrs.is_empty()
        && private.iter().any(Option::is_none)
    {
        problems.push(Problem::new(
            "network.vpc_cidr",
            format!("{v} is too small to derive {} /{} private subnets; use a larger VPC or set network.private_subnet_cidrs", zones.len(), v.prefix_len() + 4),
        ));
    }
    let public = match &net.public_subnet_cidr {
        Some(c) => parse_net(c, "network.public_subnet_cidr", &mut problems),
        // Seed 002: cidrsubnet(vpc, 8, 255), the last /24 of a /16.
        None => vpc.and_then(|v| nth_subnet(v, 8, 255)).or_else(|| vpc.and_then(|v| subnet_from_end(v, 28, 0))),
    };

    let internet_facing = deploy.ingress.as_ref().is_some_and(|i| i.scheme == IngressScheme::InternetFacing);
    let ingress_public = match &net.ingress_public_subnet_cidr {
        Some(c) if internet_facing => parse_net(c, "network.ingress_public_subnet_cidr", &mut problems),
        Some(_) => {
            problems.push(Problem::new(
                "network.ingress_public_subnet_cidr",
                "only an internet-facing ingress balancer uses a second public subnet; leave it out or set ingress.scheme: internet-facing",
            ));
            None
        }
        // The /24 before the NAT gateway's, or the /28 before it in a small VPC.
        None if internet_facing => {
            vpc.and_then(|v| nth_subnet(v, 8, 254)).or_else(|| vpc.and_then(|v| subnet_from_end(v, 28, 1)))
        }
        None => None,
    };

    // Every subnet inside the VPC, none overlapping another, each big enough for AWS.
    // (field to blame, how to name the subnet, block)
    let mut named: Vec<(String, String, Ipv4Net)> = Vec::new();
    for (i, p) in private.iter().enumerate() {
        if let Some(p) = p {
            if net.private_subnet_cidrs.is_empty() {
                named.push(("network.vpc_cidr".into(), format!("the private subnet derived for {}", zones[i]), *p));
            } else {
                let path = format!("network.private_subnet_cidrs[{i}]");
                named.push((path.clone(), path, *p));
            }
        }
    }
    if let Some(p) = public {
        if net.public_subnet_cidr.is_some() {
            named.push(("network.public_subnet_cidr".into(), "network.public_subnet_cidr".into(), p));
        } else {
            named.push(("network.vpc_cidr".into(), "the public subnet derived from the VPC".into(), p));
        }
    }
    if let Some(p) = ingress_public {
        let field = match net.ingress_public_subnet_cidr {
            Some(_) => "network.ingress_public_subnet_cidr",
            None => "network.vpc_cidr",
        };
        named.push((field.into(), "the ingress balancer's second public subnet".into(), p));
    }
    // ELBv2 guide, "Subnets for your load balancer": an Application Load Balancer's
    // subnets need a /27 bitmask at least and eight free addresses.
    if internet_facing {
        for (p, field) in
            [(public, "network.public_subnet_cidr"), (ingress_public, "network.ingress_public_subnet_cidr")]
        {
            if let Some(p) = p.filter(|p| p.prefix_len() > 27) {
                problems.push(Problem::new(
                    field,
                    format!("{p} is smaller than /27, and an internet-facing ingress balancer sits in the public subnets: give a /27 or larger (a larger VPC derives /24s)"),
                ));
            }
        }
    }
    for (i, (field, _, subnet)) in named.iter().enumerate() {
        if subnet.prefix_len() > 28 {
            problems.push(Problem::new(
                field.clone(),
                format!("{subnet} is smaller than /28, the smallest subnet AWS allows"),
            ));
        }
        if let Some(v) = vpc
            && !v.contains(subnet)
        {
            problems.push(Problem::new(field.clone(), format!("{subnet} is not inside the VPC block {v}")));
        }
        for (_, other_label, other) in &named[..i] {
            if subnet.contains(&other.network()) || other.contains(&subnet.network()) {
                problems.push(Problem::new(field.clone(), format!("{subnet} overlaps {other}, {other_label}")));
            }
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    match (vpc, public) {
        (Some(vpc), Some(public)) => Ok(NetworkLayout {
            vpc,
            private_subnets: zones.iter().cloned().zip(private.into_iter().flatten()).collect(),
            public_subnet: (zones.first().cloned().unwrap_or_default(), public),
            ingress_public_subnet: ingress_public.map(|p| (zones.get(1).cloned().unwrap_or_default(), p)),
        }),
        _ => Err(vec![Problem::new("network.vpc_cidr", "no usable VPC block")]),
    }
}

pub fn availability_zones(deploy: &Deploy) -> Vec<String> {
    if deploy.network.availability_zones.is_empty() {
        vec![format!("{}a", deploy.region), format!("{}b", deploy.region)]
    } else {
        deploy.network.availability_zones.clone()
    }
}

/// Who may connect to the frontend's balancer (`frontend.clients`), resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendClient {
    /// The deployment's VPC, whatever its block (the default).
    Vpc,
    Cidr(Ipv4Net),
    /// A security group id: its members may connect.
    Group(String),
}

/// `frontend.clients`, or the VPC's CIDR when it names none; problems name the entry.
pub fn frontend_clients(deploy: &Deploy) -> Result<Vec<FrontendClient>, Vec<Problem>> {
    clients(&deploy.frontend.clients, "frontend.clients", true, Anyone::Refused)
}

/// `ingress.allowed_cidrs`, or the VPC's CIDR when an internal balancer names none (nothing
/// without `ingress`). Only an internet-facing balancer with login may admit everyone:
/// each person still signs in.
pub fn ingress_clients(deploy: &Deploy) -> Result<Vec<FrontendClient>, Vec<Problem>> {
    let Some(ingress) = &deploy.ingress else { return Ok(Vec::new()) };
    let public = ingress.scheme == IngressScheme::InternetFacing;
    if public && ingress.allowed_cidrs.is_empty() {
        return Err(vec![Problem::new(
            "ingress.allowed_cidrs",
            "an internet-facing balancer admits no one by default: name who may connect (your offices' or VPN's CIDRs), or 0.0.0.0/0 for anyone (each person still signs in through ingress.login)",
        )]);
    }
    let anyone = if public && ingress.login.is_some() { Anyone::Allowed } else { Anyone::Refused };
    clients(&ingress.allowed_cidrs, "ingress.allowed_cidrs", false, anyone)
}

/// Whether a client list may hold `0.0.0.0/0`.
#[derive(PartialEq)]
enum Anyone {
    Allowed,
    Refused,
}

/// Who may connect to a balancer: `list` at `field`, CIDRs and, where `groups`, security
/// group ids; the VPC when the list is empty.
fn clients(list: &[String], field: &str, groups: bool, anyone: Anyone) -> Result<Vec<FrontendClient>, Vec<Problem>> {
    let mut problems = Vec::new();
    if list.is_empty() {
        return Ok(vec![FrontendClient::Vpc]);
    }
    let mut out = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let path = format!("{field}[{i}]");
        if let Some(id) = text.strip_prefix("sg-").filter(|_| groups) {
            if matches!(id.len(), 8 | 17) && id.chars().all(|c| c.is_ascii_hexdigit()) {
                out.push(FrontendClient::Group(text.clone()));
            } else {
                problems.push(Problem::new(
                    &path,
                    format!("`{text}` is not a security group id; they look like sg-0123456789abcdef0"),
                ));
            }
            continue;
        }
        match text.parse::<Ipv4Net>() {
            Ok(n) if n.prefix_len() == 0 && anyone == Anyone::Refused => problems.push(Problem::new(
                &path,
                if groups {
                    "admitting every address defeats the balancer's security group; name the networks your workers run in (a VPC's or VPN's CIDR) or their security group"
                } else {
                    "admitting every address defeats the balancer's security group and puts the UI and Grafana before the whole internet; name the networks that should reach them (your VPN's, offices' or a peered VPC's CIDR), or make the balancer internet-facing with ingress.login"
                },
            )),
            Ok(_) => {
                if let Some(n) = parse_net(text, &path, &mut problems) {
                    out.push(FrontendClient::Cidr(n));
                }
            }
            Err(_) if groups => problems.push(Problem::new(
                &path,
                format!("`{text}` is neither an IPv4 CIDR block (10.1.0.0/16) nor a security group id (sg-…)"),
            )),
            Err(_) => problems.push(Problem::new(
                &path,
                format!("`{text}` is not an IPv4 CIDR block; write it like 10.1.0.0/16"),
            )),
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

fn parse_net(text: &str, path: &str, problems: &mut Vec<Problem>) -> Option<Ipv4Net> {
    match text.parse::<Ipv4Net>() {
        Ok(n) if n.network() != n.addr() => {
            problems.push(Problem::new(path, format!("`{text}` has host bits set; the block is {}", n.trunc())));
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(Problem::new(path, format!("`{text}` is not an IPv4 CIDR block; write it like 10.0.0.0/16")));
            None
        }
    }
}

/// Terraform's `cidrsubnet(base, bits, index)`.
fn nth_subnet(base: Ipv4Net, bits: u8, index: u32) -> Option<Ipv4Net> {
    let prefix = base.prefix_len().checked_add(bits).filter(|p| *p <= 28)?;
    if bits < 32 && index >= (1u32 << bits) {
        return None;
    }
    let start = u32::from(base.network()) + (index << (32 - prefix));
    Ipv4Net::new(Ipv4Addr::from(start), prefix).ok()
}

/// The `prefix` block `back` places before the end of `base` (0: the last one).
fn subnet_from_end(base: Ipv4Net, prefix: u8, back: u32) -> Option<Ipv4Net> {
    let bits = prefix.checked_sub(base.prefix_len())?;
    nth_subnet(base, bits, (1u32 << bits).checked_sub(1 + back)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrsubnet_matches_terraform() {
        let base: Ipv4Net = "10.0.0.0/16".parse().unwrap();
        assert_eq!(nth_subnet(base, 4, 0).unwrap().to_string(), "10.0.0.0/20");
        assert_eq!(nth_subnet(base, 4, 1).unwrap().to_string(), "10.0.16.0/20");
        assert_eq!(nth_subnet(base, 8, 255).unwrap().to_string(), "10.0.255.0/24");
        assert_eq!(nth_subnet(base, 4, 16), None);
        assert_eq!(nth_subnet("10.0.0.0/26".parse().unwrap(), 4, 0), None);
    }
}

//! The security groups of the services, OpenSearch and the instances, with every rule
//! derived from the declared flows (`flows.rs`).

use temporalctl_config::{Deploy, network_layout};
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::flows;
use crate::network::security_group::{Rule, SecurityGroup, SecurityGroupRules, Source};
use crate::service_kinds::SERVICES;

/// One security group per service, one for OpenSearch and one for the instances, with
/// every rule derived from the declared flows (`flows.rs`): ingress only ever from named
/// groups; egress only on the ports of its flows, to the VPC's CIDR for flows inside it and
/// to the internet for those that leave (443 for AWS APIs, 5432 for DSQL).
pub(super) fn firewalls(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let vpc_cidr = network_layout(d).expect("validated").vpc.to_string();
    let flows = flows::flows();
    let mut groups: Vec<(String, String, String)> =
        SERVICES.iter().map(|k| (service_sg(k.key), k.key.to_string(), format!("{} tasks", k.key))).collect();
    groups.push((OPENSEARCH_SG.into(), "opensearch".into(), "OpenSearch domain".into()));
    groups.push((INSTANCES_SG.into(), "instances".into(), "ECS container instances".into()));
    for (node, key, what) in &groups {
        g.add(
            node,
            names::security_group(p, key),
            SecurityGroup {
                ec2: aws.ec2.clone(),
                vpc: VPC.into(),
                group_name: names::security_group(p, key),
                description: format!("temporalctl: {what}"),
                ingress: vec![],
                egress: egress(node, &flows, &vpc_cidr),
            },
        );
    }
    // Ingress names other groups, so it is a node of its own after all of them exist.
    for (node, key, _) in &groups {
        let rules = ingress(node, &flows);
        if rules.is_empty() {
            continue;
        }
        g.add(
            security_group_rules(key),
            format!("{}-rules", names::security_group(p, key)),
            SecurityGroupRules { ec2: aws.ec2.clone(), group: node.clone(), ingress: rules },
        );
    }
}

/// A group's egress: exactly the ports of its flows, TCP only: to the VPC's CIDR for
/// flows to the stack's groups (whose ingress then admits only the named source group),
/// and to anywhere for those that leave through an endpoint or the NAT gateway (443, and
/// 5432 for DSQL). A group without flows has no egress at all.
fn egress(group: &str, flows: &[flows::Flow], vpc_cidr: &str) -> Vec<Rule> {
    flows::egress_of(group, flows)
        .into_iter()
        .map(|((from, to), leaves)| {
            let to_where = if leaves { "0.0.0.0/0" } else { vpc_cidr };
            Rule::tcp_range(from, to, Source::Cidr(to_where.into()))
        })
        .collect()
}

/// A group's ingress: only ever from named groups (itself included), one rule per flow
/// arriving at it.
fn ingress(group: &str, flows: &[flows::Flow]) -> Vec<Rule> {
    flows::ingress_of(group, flows)
        .into_iter()
        .map(|(from, (lo, hi))| {
            let source = if from == group { Source::SelfRef } else { Source::Group(from) };
            Rule::tcp_range(lo, hi, source)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VPC_CIDR: &str = "10.0.0.0/16";

    fn internet_ports(rules: &[Rule]) -> Vec<(i32, i32)> {
        rules
            .iter()
            .filter(|r| matches!(&r.source, Source::Cidr(c) if c == "0.0.0.0/0"))
            .map(|r| (r.from, r.to))
            .collect()
    }

    #[test]
    fn no_group_admits_anything_but_named_groups() {
        let flows = flows::flows();
        for group in SERVICES.iter().map(|k| service_sg(k.key)).chain([OPENSEARCH_SG.into(), INSTANCES_SG.into()]) {
            for rule in ingress(&group, &flows) {
                assert!(matches!(rule.source, Source::Group(_) | Source::SelfRef), "{group}: {rule:?}");
            }
        }
    }

    #[test]
    fn temporal_services_leave_the_vpc_on_443_and_dsql_s_5432_only() {
        let flows = flows::flows();
        let history = egress(&service_sg("history"), &flows, VPC_CIDR);
        assert_eq!(internet_ports(&history), vec![(443, 443), (5432, 5432)]);
    }

    /// Issue 19: egress is the declared flows' ports and nothing more: TCP only, no
    /// all-protocol rule, and each rule backed by a flow of the group.
    #[test]
    fn egress_is_exactly_the_ports_of_the_declared_flows() {
        let flows = flows::flows();
        for group in SERVICES.iter().map(|k| service_sg(k.key)).chain([OPENSEARCH_SG.into(), INSTANCES_SG.into()]) {
            let mine: Vec<&flows::Flow> = flows.iter().filter(|f| f.from == group).collect();
            for rule in egress(&group, &flows, VPC_CIDR) {
                assert_eq!(rule.protocol, "tcp", "{group}: {rule:?}");
                assert!(mine.iter().any(|f| f.ports == (rule.from, rule.to)), "{group}: no flow for {rule:?}");
            }
        }
        let ui = egress(&service_sg("ui"), &flows, VPC_CIDR);
        let inside: Vec<(i32, i32)> = ui
            .iter()
            .filter(|r| matches!(&r.source, Source::Cidr(c) if c == VPC_CIDR))
            .map(|r| (r.from, r.to))
            .collect();
        assert_eq!(inside, [(7233, 7233)], "the UI reaches into the VPC only for the frontend");
    }

    #[test]
    fn a_group_without_flows_has_no_egress_at_all() {
        assert!(egress("security-group/nobody", &flows::flows(), VPC_CIDR).is_empty());
    }

    #[test]
    fn temporal_peers_admit_each_other_and_themselves_on_their_ranges() {
        let flows = flows::flows();
        let history = ingress(&service_sg("history"), &flows);
        assert!(history.iter().any(|r| matches!(r.source, Source::SelfRef)), "membership within history: {history:?}");
        assert!(
            history.iter().any(|r| matches!(&r.source, Source::Group(g) if g == &service_sg("frontend"))),
            "frontend reaches history: {history:?}"
        );
    }
}

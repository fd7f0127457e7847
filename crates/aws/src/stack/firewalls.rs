//! The security groups of the services, OpenSearch and the instances, with every rule
//! derived from the declared flows (`flows.rs`).

use temporalctl_config::{Deploy, FrontendClient, FrontendEndpoint, frontend_clients, ingress_clients};
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::flows;
use crate::network::security_group::{Rule, SecurityGroup, SecurityGroupRules, Source};
use crate::service_kinds::{FRONTEND_GRPC_PORT, SERVICES};

/// One security group per service, one for OpenSearch and one for the instances, with
/// every rule derived from the declared flows (`flows.rs`): ingress only ever from named
/// groups; egress only on the ports of its flows, to the VPC's CIDR for flows inside it and
/// to the internet for those that leave (443 for AWS APIs, 5432 for DSQL). The frontend's
/// balancer, when there is one, admits `frontend.clients` on 7233 and nothing else; the
/// ingress balancer (`ingress`) admits `ingress.allowed_cidrs` on 443 and 80.
pub(super) fn firewalls(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let flows = flows::flows_for(d);
    let mut groups: Vec<(String, String, String)> =
        SERVICES.iter().map(|k| (service_sg(k.key), k.key.to_string(), format!("{} tasks", k.key))).collect();
    groups.push((OPENSEARCH_SG.into(), "opensearch".into(), "OpenSearch domain".into()));
    groups.push((INSTANCES_SG.into(), "instances".into(), "ECS container instances".into()));
    let clients = match d.frontend.endpoint {
        FrontendEndpoint::LoadBalancer => {
            groups.push((BALANCER_SG.into(), "frontend-balancer".into(), "frontend load balancer".into()));
            client_rules(&frontend_clients(d).expect("validated"))
        }
        FrontendEndpoint::None => Vec::new(),
    };
    let people = if d.ingress.is_some() {
        groups.push((INGRESS_SG.into(), "ingress-balancer".into(), "ingress load balancer".into()));
        ingress_rules(&ingress_clients(d).expect("validated"))
    } else {
        Vec::new()
    };
    // A CIDR rule lives on its group; a rule naming another group on the rules node.
    let (client_groups, client_cidrs): (Vec<Rule>, Vec<Rule>) =
        clients.into_iter().partition(|r| matches!(r.source, Source::GroupId(_)));
    for (node, key, what) in &groups {
        g.add(
            node,
            names::security_group(p, key),
            SecurityGroup {
                ec2: aws.ec2.clone(),
                vpc: VPC.into(),
                group_name: names::security_group(p, key),
                description: format!("temporalctl: {what}"),
                ingress: match node.as_str() {
                    BALANCER_SG => client_cidrs.clone(),
                    INGRESS_SG => people.clone(),
                    _ => vec![],
                },
                egress: egress(node, &flows),
            },
        );
    }
    // Ingress names other groups, so it is a node of its own after all of them exist.
    for (node, key, _) in &groups {
        let mut rules = ingress(node, &flows);
        if node == BALANCER_SG {
            rules.extend(client_groups.iter().cloned());
        }
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
fn egress(group: &str, flows: &[flows::Flow]) -> Vec<Rule> {
    flows::egress_of(group, flows)
        .into_iter()
        .map(|((from, to), leaves)| {
            let to_where = if leaves { Source::Cidr("0.0.0.0/0".into()) } else { Source::VpcCidr(VPC.into()) };
            Rule::tcp_range(from, to, to_where)
        })
        .collect()
}

fn source(c: &FrontendClient) -> Source {
    match c {
        FrontendClient::Vpc => Source::VpcCidr(VPC.into()),
        FrontendClient::Cidr(net) => Source::Cidr(net.to_string()),
        FrontendClient::Group(id) => Source::GroupId(id.clone()),
    }
}

/// Who may call the frontend through its balancer, on 7233 only.
fn client_rules(clients: &[FrontendClient]) -> Vec<Rule> {
    clients.iter().map(|c| Rule::tcp(FRONTEND_GRPC_PORT, source(c))).collect()
}

/// Who may reach the ingress balancer: HTTPS, and HTTP, which only redirects to it.
fn ingress_rules(clients: &[FrontendClient]) -> Vec<Rule> {
    clients.iter().flat_map(|c| [Rule::tcp(443, source(c)), Rule::tcp(80, source(c))]).collect()
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
        let history = egress(&service_sg("history"), &flows);
        assert_eq!(internet_ports(&history), vec![(443, 443), (5432, 5432)]);
    }

    /// Issue 19: egress is the declared flows' ports and nothing more: TCP only, no
    /// all-protocol rule, and each rule backed by a flow of the group.
    #[test]
    fn egress_is_exactly_the_ports_of_the_declared_flows() {
        let flows = flows::flows();
        for group in SERVICES.iter().map(|k| service_sg(k.key)).chain([OPENSEARCH_SG.into(), INSTANCES_SG.into()]) {
            let mine: Vec<&flows::Flow> = flows.iter().filter(|f| f.from == group).collect();
            for rule in egress(&group, &flows) {
                assert_eq!(rule.protocol, "tcp", "{group}: {rule:?}");
                assert!(mine.iter().any(|f| f.ports == (rule.from, rule.to)), "{group}: no flow for {rule:?}");
            }
        }
        let ui = egress(&service_sg("ui"), &flows);
        let inside: Vec<(i32, i32)> = ui
            .iter()
            .filter(|r| matches!(&r.source, Source::VpcCidr(node) if node == VPC))
            .map(|r| (r.from, r.to))
            .collect();
        assert_eq!(inside, [(7233, 7233)], "the UI reaches into the VPC only for the frontend");
    }

    fn deploy(extra: &str) -> Deploy {
        let text = format!(
            "version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{extra}"
        );
        temporalctl_config::parse(&text, "deploy.yaml").unwrap()
    }

    /// Issue 20: the balancer admits `frontend.clients` (the VPC by default) on 7233 alone,
    /// reaches only the frontend on 7233, and the frontend admits it; with `endpoint: none`
    /// no flow names it.
    #[test]
    fn the_balancer_admits_its_clients_on_7233_only_and_only_reaches_the_frontend() {
        let by_default = client_rules(&frontend_clients(&deploy("")).unwrap());
        let texts: Vec<String> =
            by_default.iter().map(|r| format!("{}:{}-{}:{:?}", r.protocol, r.from, r.to, r.source)).collect();
        assert_eq!(texts, ["tcp:7233-7233:VpcCidr(\"vpc\")"], "the VPC's own block, whatever it is");
        let named = deploy("frontend: { clients: [10.8.0.0/16, sg-0123456789abcdef0] }\n");
        let rules = client_rules(&frontend_clients(&named).unwrap());
        assert!(matches!(&rules[1].source, Source::GroupId(id) if id == "sg-0123456789abcdef0"), "{rules:?}");
        assert!(rules.iter().all(|r| (r.from, r.to) == (7233, 7233)));

        let flows = flows::flows_for(&deploy(""));
        assert_eq!(egress(BALANCER_SG, &flows).len(), 1, "7233 into the VPC, nothing else");
        assert!(internet_ports(&egress(BALANCER_SG, &flows)).is_empty());
        let frontend_in = ingress(&service_sg("frontend"), &flows);
        assert!(
            frontend_in.iter().any(|r| matches!(&r.source, Source::Group(g) if g == BALANCER_SG) && r.from == 7233)
        );
        let off = flows::flows_for(&deploy("frontend: { endpoint: none }\n"));
        assert!(off.iter().all(|f| f.from != BALANCER_SG && f.to != flows::Peer::Group(BALANCER_SG.into())));
    }

    #[test]
    fn a_group_without_flows_has_no_egress_at_all() {
        assert!(egress("security-group/nobody", &flows::flows()).is_empty());
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

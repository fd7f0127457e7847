//! Every network flow the deployment needs, declared once: who talks to whom, on which
//! port, and why. The security group rules are derived from this list (`ingress_of`,
//! `egress_of`), and `temporalctl verify` proves each flow against the live account
//! (`verify`). docs/network-flows.md is this list as a table.
//!
//! Sources for what each flow needs:
//! - Temporal services reach each other on their gRPC ports (7233-7239) and their ringpop
//!   membership ports (6933-6939): temporal-notes, and Temporal's `config/development*.yaml`.
//! - Aurora DSQL speaks the PostgreSQL protocol on TCP 5432 at its public endpoint (AWS,
//!   "Connecting to Aurora DSQL clusters"), reached here through the NAT gateway; the
//!   reference deployment `iw/temporal-dsql-deploy-ecs` opens exactly this egress.
//! - The OpenSearch VPC domain answers HTTPS on 443 inside the VPC.
//! - With awsvpc on EC2, the ECS agent on the instance pulls images, fetches `secrets` and
//!   ships awslogs over the instance's own network interface; the task's interface
//!   carries what the containers themselves send (AMP remote write, Grafana's queries,
//!   ECS Exec's Session Manager channel, DSQL, OpenSearch).

use serde::Serialize;

use crate::service_kinds::{
    FRONTEND_GRPC_PORT, METRICS_PORT, SERVICES, TEMPORAL_GRPC_RANGE, TEMPORAL_MEMBERSHIP_RANGE,
};
use crate::stack::{BALANCER_SG, INGRESS_SG, INSTANCES_SG, OPENSEARCH_SG, service_sg};

/// The far end of a flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// A security group of the stack, by node id.
    Group(String),
    /// An AWS API on 443: through its interface endpoint when the VPC has one for this
    /// service (`ecr.dkr`, `logs`, …), else through the NAT gateway.
    AwsApi(&'static str),
    /// A public endpoint that is not an interface endpoint here: DSQL's PostgreSQL port.
    Public(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// The security group node the traffic leaves from.
    pub from: String,
    pub to: Peer,
    pub ports: (i32, i32),
    pub why: &'static str,
}

impl Flow {
    fn new(from: impl Into<String>, to: Peer, ports: (i32, i32), why: &'static str) -> Self {
        Flow { from: from.into(), to, ports, why }
    }

    /// `temporal-history → temporal-frontend tcp 7233-7239`, for messages.
    pub fn label(&self) -> String {
        let to = match &self.to {
            Peer::Group(g) => short(g).to_string(),
            Peer::AwsApi(s) => format!("aws:{s}"),
            Peer::Public(what) => what.to_string(),
        };
        let ports = if self.ports.0 == self.ports.1 {
            self.ports.0.to_string()
        } else {
            format!("{}-{}", self.ports.0, self.ports.1)
        };
        format!("{} -> {to} tcp/{ports}", short(&self.from))
    }
}

/// `security-group/history` → `history`.
fn short(node: &str) -> &str {
    node.strip_prefix("security-group/").unwrap_or(node)
}

/// The AWS APIs the ECS agent on each instance calls (registration, image pulls from ECR
/// and the S3 layers behind it, secrets, logs) and Session Manager for `connect`.
const INSTANCE_APIS: &[&str] = &["ecs", "ecr.api", "ecr.dkr", "s3", "logs", "secretsmanager", "ssm", "ssmmessages"];

/// Every flow the deployment needs. Order is the order of the docs' table.
pub fn flows() -> Vec<Flow> {
    let temporal: Vec<&str> = SERVICES.iter().filter(|k| k.is_temporal()).map(|k| k.key).collect();
    let mut out = Vec::new();
    for from in &temporal {
        for to in &temporal {
            out.push(Flow::new(
                service_sg(from),
                Peer::Group(service_sg(to)),
                TEMPORAL_GRPC_RANGE,
                "Temporal gRPC between services",
            ));
            out.push(Flow::new(
                service_sg(from),
                Peer::Group(service_sg(to)),
                TEMPORAL_MEMBERSHIP_RANGE,
                "ringpop membership between services",
            ));
        }
    }
    out.push(Flow::new(
        service_sg("ui"),
        Peer::Group(service_sg("frontend")),
        (7233, 7233),
        "the UI calls the frontend",
    ));
    // With `frontend.endpoint: load_balancer`: `ip` targets over TCP see the balancer's
    // address, not the worker's, so the frontend admits the balancer's group (its health
    // checks come the same way); who may reach the balancer is its own group's ingress
    // (`frontend.clients`).
    out.push(Flow::new(
        BALANCER_SG,
        Peer::Group(service_sg("frontend")),
        (FRONTEND_GRPC_PORT, FRONTEND_GRPC_PORT),
        "workers' calls and health checks through the balancer",
    ));
    // With `ingress`: the Application Load Balancer sends people's requests (and its health
    // checks) to the UI and Grafana; who may reach it is its own group's ingress
    // (`ingress.allowed_cidrs`).
    for (to, why) in [
        ("ui", "people's browsers through the ingress balancer"),
        ("grafana", "dashboards through the ingress balancer"),
    ] {
        let port = crate::service_kinds::service(to).port("http").expect("the UI and Grafana serve HTTP");
        out.push(Flow::new(INGRESS_SG, Peer::Group(service_sg(to)), (port, port), why));
    }
    // With `ingress.login`: the balancer itself trades the sign-in code for tokens and
    // reads the person's claims at the provider, over IPv4 on 443; an internal balancer
    // gets there through the NAT gateway (ELBv2 guide, "Authenticate users using an
    // Application Load Balancer": "If you have an internal-facing load balancer, use a
    // NAT gateway").
    out.push(Flow::new(
        INGRESS_SG,
        Peer::Public("identity provider"),
        (443, 443),
        "sign-in: the provider's token and user-info endpoints, with ingress.login (internet-facing: from the balancer's public addresses)",
    ));
    for to in &temporal {
        out.push(Flow::new(
            service_sg("adot"),
            Peer::Group(service_sg(to)),
            (METRICS_PORT, METRICS_PORT),
            "ADOT scrapes Prometheus metrics",
        ));
    }
    for from in &temporal {
        out.push(Flow::new(
            service_sg(from),
            Peer::Group(OPENSEARCH_SG.into()),
            (443, 443),
            "visibility reads and writes",
        ));
        out.push(Flow::new(
            service_sg(from),
            Peer::Public("dsql"),
            (5432, 5432),
            "persistence: DSQL's PostgreSQL endpoint through the NAT gateway",
        ));
    }
    // With `temporal.authorization`: the frontend refreshes the token keys from the JWKS
    // URL, and the UI server talks to the OIDC issuer (discovery, code exchange); both are
    // the user's identity provider, outside AWS. Declared always: the rule is the 443 the
    // services have for AWS APIs, and `verify` proves the path either way.
    out.push(Flow::new(
        service_sg("frontend"),
        Peer::Public("identity provider"),
        (443, 443),
        "token keys (JWKS), with temporal.authorization",
    ));
    out.push(Flow::new(
        service_sg("ui"),
        Peer::Public("identity provider"),
        (443, 443),
        "OIDC login, with temporal.authorization.ui",
    ));
    out.push(Flow::new(service_sg("adot"), Peer::AwsApi("aps-workspaces"), (443, 443), "remote write to Prometheus"));
    // Its task discovery: ECS for the tasks, EC2 for the instances of EC2-launch tasks
    // (documents::adot).
    out.push(Flow::new(service_sg("adot"), Peer::AwsApi("ecs"), (443, 443), "ADOT finds the Temporal tasks"));
    out.push(Flow::new(service_sg("adot"), Peer::AwsApi("ec2"), (443, 443), "ADOT reads the tasks' instances"));
    out.push(Flow::new(
        service_sg("grafana"),
        Peer::AwsApi("aps-workspaces"),
        (443, 443),
        "Grafana queries Prometheus",
    ));
    out.push(Flow::new(
        service_sg("grafana"),
        Peer::AwsApi("monitoring"),
        (443, 443),
        "Grafana reads the ECS services' CloudWatch metrics",
    ));
    for kind in SERVICES {
        out.push(Flow::new(service_sg(kind.key), Peer::AwsApi("ssmmessages"), (443, 443), "ECS Exec session channel"));
    }
    for api in INSTANCE_APIS {
        out.push(Flow::new(
            INSTANCES_SG,
            Peer::AwsApi(api),
            (443, 443),
            "ECS agent: registration, images, secrets, logs",
        ));
    }
    out
}

/// The flows of this deployment: every declared one, but the frontend balancer's only when
/// `frontend.endpoint` makes one, the ingress balancer's only with `ingress`, and its way
/// to the identity provider only with `ingress.login`.
pub fn flows_for(d: &temporalctl_config::Deploy) -> Vec<Flow> {
    let balancer = d.frontend.endpoint == temporalctl_config::FrontendEndpoint::LoadBalancer;
    let ingress = d.ingress.is_some();
    let login = d.ingress.as_ref().is_some_and(|i| i.login.is_some());
    flows()
        .into_iter()
        .filter(|f| balancer || f.from != BALANCER_SG)
        .filter(|f| ingress || f.from != INGRESS_SG)
        .filter(|f| login || f.from != INGRESS_SG || matches!(f.to, Peer::Group(_)))
        .collect()
}

/// A TCP port range, both ends included.
pub type Ports = (i32, i32);

/// Ingress `group` needs: (source group, ports), one per flow arriving at it. A source
/// equal to `group` means members of the group itself.
pub fn ingress_of(group: &str, flows: &[Flow]) -> Vec<(String, Ports)> {
    let mut out: Vec<(String, Ports)> =
        flows.iter().filter(|f| f.to == Peer::Group(group.to_string())).map(|f| (f.from.clone(), f.ports)).collect();
    out.sort();
    out.dedup();
    out
}

/// Egress `group` needs: (ports, whether they leave the VPC), one per distinct flow
/// leaving it. Flows to a group of the stack stay inside the VPC (the destination's
/// ingress names the source group); AWS APIs and DSQL are reached on 443 and 5432, through
/// an interface endpoint or the NAT gateway. Nothing else: the Amazon DNS resolver, the
/// instance and task metadata endpoints and Time Sync are not filtered by security groups
/// (AWS, "Control traffic to your AWS resources using security groups").
pub fn egress_of(group: &str, flows: &[Flow]) -> Vec<(Ports, bool)> {
    let mut out: Vec<(Ports, bool)> =
        flows.iter().filter(|f| f.from == group).map(|f| (f.ports, !matches!(f.to, Peer::Group(_)))).collect();
    out.sort();
    out.dedup();
    out
}

/// `443` or `7233-7239`.
fn ports_text((from, to): Ports) -> String {
    if from == to { from.to_string() } else { format!("{from}-{to}") }
}

/// The flows as the Markdown table of docs/network-flows.md.
pub fn table() -> String {
    let mut out = String::from("| from | to | tcp port(s) | why |\n| --- | --- | --- | --- |\n");
    for f in flows() {
        let to = match &f.to {
            Peer::Group(g) => format!("`{g}`"),
            Peer::AwsApi(s) => format!("AWS API `{s}` (endpoint or NAT)"),
            Peer::Public(what) => format!("{what} public endpoint (NAT)"),
        };
        out.push_str(&format!("| `{}` | {to} | {} | {} |\n", f.from, ports_text(f.ports), f.why));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/network-flows.md carries this list between its markers; UPDATE_DOCS=1 rewrites it.
    #[test]
    fn the_docs_table_is_the_declared_list() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/network-flows.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        let (begin, end) = ("<!-- flows:begin -->\n", "<!-- flows:end -->");
        let (Some(a), Some(b)) = (doc.find(begin), doc.find(end)) else {
            panic!("docs/network-flows.md lacks the {begin:?} and {end:?} markers");
        };
        let fresh = format!("{}{begin}{}{}", &doc[..a], table(), &doc[b..]);
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        assert!(
            doc == fresh,
            "docs/network-flows.md is out of date: run `UPDATE_DOCS=1 cargo test -p temporalctl-aws flows` and commit it"
        );
    }

    #[test]
    fn every_group_reaches_what_it_must_and_nothing_more() {
        let f = flows();
        let leaving = |group: &str| -> Vec<Ports> {
            egress_of(group, &f).into_iter().filter(|(_, leaves)| *leaves).map(|(p, _)| p).collect()
        };
        assert_eq!(leaving(&service_sg("history")), [(443, 443), (5432, 5432)], "DSQL on 5432 and AWS APIs on 443");
        assert_eq!(leaving(&service_sg("ui")), [(443, 443)], "no DSQL from the UI");
        assert_eq!(egress_of(&service_sg("ui"), &f), [((443, 443), true), ((7233, 7233), false)]);
        assert!(egress_of(OPENSEARCH_SG, &f).is_empty(), "OpenSearch starts no flow");
        let frontend_in = ingress_of(&service_sg("frontend"), &f);
        assert!(frontend_in.contains(&(service_sg("ui"), (7233, 7233))));
        assert!(frontend_in.contains(&(service_sg("adot"), (9090, 9090))));
        assert_eq!(
            ingress_of(&service_sg("grafana"), &f),
            [(INGRESS_SG.to_string(), (3000, 3000))],
            "nothing calls Grafana but Session Manager and, with `ingress`, its balancer"
        );
        let os_in = ingress_of(OPENSEARCH_SG, &f);
        assert_eq!(os_in.len(), 5, "the five Temporal services: {os_in:?}");
        // The internal frontend answers no token: only Temporal's own members reach its
        // gRPC port (the one-off steps use the frontend's group), ADOT its metrics.
        let internal_in = ingress_of(&service_sg("internal_frontend"), &f);
        let temporal = ["history", "matching", "frontend", "internal_frontend", "worker"].map(service_sg);
        for (from, ports) in &internal_in {
            let allowed = temporal.contains(from) || (from == &service_sg("adot") && *ports == (9090, 9090));
            assert!(allowed, "{from} reaches the internal frontend on {ports:?}");
        }
        assert!(internal_in.iter().all(|(from, _)| from != &service_sg("ui")));
    }

    #[test]
    fn labels_read_like_the_docs_table() {
        let f = flows();
        assert!(f.iter().any(|f| f.label() == "history -> dsql tcp/5432"));
        assert!(f.iter().any(|f| f.label() == "matching -> frontend tcp/6933-6939"));
    }
}

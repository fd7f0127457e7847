//! The people's entrance (`ingress`): an Application Load Balancer with its own security
//! group, internal in the private subnets or internet-facing in public ones, HTTPS on 443
//! with the user's certificate (any host but ours: 404), HTTP on 80 redirecting to it, and
//! per browser service (the UI, Grafana) a target group and the HTTPS listener's rule for
//! its host name, which signs people in first with `ingress.login` (the client secret's
//! Secrets Manager secret is looked up as a node of its own). The services register their
//! tasks in their target groups (`workloads`), after their rules exist.

use temporalctl_config::Deploy;
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::balancing::Family;
use crate::balancing::certificate::{CertificateValidation, RequestedCertificate};
use crate::balancing::dns::{AliasRecords, ValidationRecords, Zone};
use crate::balancing::listener::{CertificateSource, Listener};
use crate::balancing::load_balancer::LoadBalancer;
use crate::balancing::login::LoginSecret;
use crate::balancing::rule::{ListenerRule, RuleLogin};
use crate::balancing::target_group::TargetGroup;
use crate::documents::balancer::ingress as spec;

/// The browser services the ingress serves, with their host names.
fn routes(d: &Deploy) -> Vec<(&'static str, String)> {
    match &d.ingress {
        Some(i) => vec![("ui", i.ui_host.clone()), ("grafana", i.grafana_host.clone())],
        None => Vec::new(),
    }
}

pub(super) fn ingress(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let Some(ingress) = &d.ingress else { return };
    let p = &d.project;
    let spec = spec(ingress);
    let name = names::ingress_balancer(p);
    let family = Family {
        balancer: name.clone(),
        target_groups: spec.routes.keys().map(|service| names::ingress_target_group_name(p, service)).collect(),
    };
    g.add(
        INGRESS_BALANCER,
        &name,
        LoadBalancer {
            elb: aws.elb.clone(),
            listings: aws.listings.clone(),
            family: family.clone(),
            r#type: spec.r#type,
            scheme: spec.scheme,
            subnets: ingress_subnets(d),
            security_group: INGRESS_SG.into(),
            deadline: d.timeouts.load_balancer,
        },
    );
    let listener = |spec: crate::documents::balancer::Listener, certificate: Option<CertificateSource>| Listener {
        elb: aws.elb.clone(),
        listings: aws.listings.clone(),
        load_balancer: INGRESS_BALANCER.into(),
        family: family.clone(),
        spec,
        target_group: None,
        certificate,
    };
    let https_port = spec.https.port;
    if let Some(login) = &ingress.login {
        g.add(
            LOGIN_SECRET,
            &login.client_secret_id,
            LoginSecret { sm: aws.secrets.clone(), secret_id: login.client_secret_id.clone() },
        );
    }
    let hosts: Vec<String> = routes(d).into_iter().map(|(_, host)| host).collect();
    let zone = ingress.hosted_zone_id.as_ref().map(|id| Zone {
        r53: aws.route53.clone(),
        listings: aws.listings.clone(),
        id: id.clone(),
    });
    let certificate = match &ingress.certificate_arn {
        Some(arn) => CertificateSource::Given(arn.clone()),
        None => {
            g.add(
                INGRESS_CERTIFICATE,
                &ingress.ui_host,
                RequestedCertificate {
                    acm: aws.acm.clone(),
                    domain: ingress.ui_host.clone(),
                    other_names: vec![ingress.grafana_host.clone()],
                },
            );
            let mut after = Vec::new();
            if let Some(zone) = &zone {
                g.add(
                    INGRESS_VALIDATION_RECORDS,
                    &zone.id,
                    ValidationRecords {
                        zone: zone.clone(),
                        hosts: hosts.clone(),
                        certificate: INGRESS_CERTIFICATE.into(),
                    },
                );
                after.push(INGRESS_VALIDATION_RECORDS);
            }
            g.add_after(
                INGRESS_CERTIFICATE_ISSUED,
                &ingress.ui_host,
                &after,
                CertificateValidation {
                    acm: aws.acm.clone(),
                    certificate: INGRESS_CERTIFICATE.into(),
                    hosted_zone: ingress.hosted_zone_id.clone(),
                    deadline: d.timeouts.certificate,
                },
            );
            CertificateSource::Node(INGRESS_CERTIFICATE_ISSUED.into())
        }
    };
    if let Some(zone) = zone {
        g.add(
            INGRESS_ALIASES,
            zone.id.clone(),
            AliasRecords {
                zone,
                hosts,
                balancer: INGRESS_BALANCER.into(),
                balancer_name: name.clone(),
                region: d.region.clone(),
            },
        );
    }
    g.add(INGRESS_HTTPS, format!("{name}-443"), listener(spec.https, Some(certificate)));
    g.add(INGRESS_HTTP, format!("{name}-80"), listener(spec.http, None));
    for (service, host) in routes(d) {
        let route = &spec.routes[service];
        let tg_name = names::ingress_target_group_name(p, service);
        g.add(
            ingress_target_group(service),
            &tg_name,
            TargetGroup {
                elb: aws.elb.clone(),
                listings: aws.listings.clone(),
                family: family.clone(),
                name: tg_name.clone(),
                spec: route.target_group.clone(),
                vpc: VPC.into(),
            },
        );
        g.add(
            ingress_rule(service),
            format!("{name}-{service}"),
            ListenerRule {
                elb: aws.elb.clone(),
                listings: aws.listings.clone(),
                family: family.clone(),
                listener: INGRESS_HTTPS.into(),
                listener_port: https_port,
                priority: route.priority,
                hosts: vec![host],
                target_group: ingress_target_group(service),
                login: spec.login.clone().zip(ingress.login.as_ref()).map(|(settings, login)| RuleLogin {
                    sm: aws.secrets.clone(),
                    settings,
                    secret: LOGIN_SECRET.into(),
                    key: login.client_secret_key.clone(),
                }),
            },
        );
    }
}

//! Logs, the Grafana secret, images, metrics, service discovery and the cluster.

use temporalctl_config::Deploy;
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::data::service_linked_role::ServiceLinkedRole;
use crate::platform::cluster::Cluster;
use crate::platform::log_group::LogGroup;
use crate::platform::namespace::Namespace;
use crate::platform::parameter::AdotParameter;
use crate::platform::prometheus::Workspace;
use crate::platform::repository::Repository;
use crate::platform::secret::{Contents, Issuer, Secret};
use crate::service_kinds::{ADMIN_TOOLS, SERVICES};

/// A log group of the stack, with the logs' retention; `family`: the listing whose first
/// look finds it (its name among the run's listings and the prefix all its groups share).
pub(super) fn stack_log_group(d: &Deploy, aws: &Aws, name: String, family: (&'static str, String)) -> LogGroup {
    LogGroup {
        logs: aws.logs.clone(),
        name,
        retention_days: d.logs.retention_days as i32,
        family_prefix: family.1,
        family: family.0,
        listings: aws.listings.clone(),
    }
}

/// Logs, the Grafana secret, images, metrics, service discovery and the cluster.
pub(super) fn platform(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let containers = SERVICES.iter().chain([&ADMIN_TOOLS]).map(|k| (log_group(k.key), names::log_group_name(p, k)));
    for (node, name) in containers.chain([(EXEC_LOG_GROUP.to_string(), names::exec_log_group(p))]) {
        g.add(&node, name.clone(), stack_log_group(d, aws, name, ("log group", names::log_prefix(p))));
    }
    let secret = names::grafana_secret(p);
    g.add(
        GRAFANA_SECRET,
        secret.clone(),
        Secret {
            sm: aws.secrets.clone(),
            name: secret,
            contents: Contents::GrafanaAdmin { admin_user: d.grafana.admin_user.clone() },
        },
    );
    if d.temporal.tls.enabled {
        let project = p.to_string();
        let issuer = match &d.temporal.tls.private_ca_arn {
            Some(arn) => Issuer::PrivateCa(aws.private_ca(arn)),
            None => {
                let authority = names::tls_authority_secret(p);
                g.add(
                    TLS_AUTHORITY,
                    authority.clone(),
                    Secret {
                        sm: aws.secrets.clone(),
                        name: authority,
                        contents: Contents::TlsAuthority { project: project.clone() },
                    },
                );
                Issuer::Own(TLS_AUTHORITY.into())
            }
        };
        let certificates = names::tls_certificates_secret(p);
        g.add(
            TLS_CERTIFICATES,
            certificates.clone(),
            Secret {
                sm: aws.secrets.clone(),
                name: certificates,
                contents: Contents::TlsCertificates { project, issuer },
            },
        );
    }
    for (node, image) in REPOSITORIES {
        let name = names::repository_name(p, image);
        g.add(node, name.clone(), Repository { ecr: aws.ecr.clone(), name });
    }
    let alias = names::workspace_alias(d);
    g.add(WORKSPACE, alias.clone(), Workspace { amp: aws.amp.clone(), alias });
    let parameter = names::adot_parameter(p);
    g.add(
        ADOT_PARAMETER,
        parameter.clone(),
        AdotParameter {
            ssm: aws.ssm.clone(),
            name: parameter,
            region: d.region.clone(),
            project: p.clone(),
            cluster: names::cluster_name(p),
            workspace: WORKSPACE.into(),
        },
    );
    g.add(
        ECS_SLR,
        "AWSServiceRoleForECS",
        ServiceLinkedRole { iam: aws.iam.clone(), service: "ecs.amazonaws.com".into() },
    );
    g.add(NAMESPACE, p.clone(), Namespace { sd: aws.cloudmap.clone(), name: p.clone() });
    g.add_after(
        CLUSTER,
        names::cluster_name(p),
        &[ECS_SLR],
        Cluster {
            ecs: aws.ecs.clone(),
            name: names::cluster_name(p),
            exec_log_group: EXEC_LOG_GROUP.into(),
            namespace: NAMESPACE.into(),
        },
    );
}

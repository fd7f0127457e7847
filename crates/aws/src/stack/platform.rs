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

/// Logs, the Grafana secret, images, metrics, service discovery and the cluster.
pub(super) fn platform(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    let retention = d.logs.retention_days as i32;
    let (family_prefix, listings) = (|| names::log_prefix(p), || aws.listings.clone());
    for kind in SERVICES.iter().chain([&ADMIN_TOOLS]) {
        let name = names::log_group_name(p, kind);
        g.add(
            log_group(kind.key),
            name.clone(),
            LogGroup {
                logs: aws.logs.clone(),
                name,
                retention_days: retention,
                family_prefix: family_prefix(),
                family: "log group",
                listings: listings(),
            },
        );
    }
    let exec_logs = names::exec_log_group(p);
    g.add(
        EXEC_LOG_GROUP,
        exec_logs.clone(),
        LogGroup {
            logs: aws.logs.clone(),
            name: exec_logs,
            retention_days: retention,
            family_prefix: family_prefix(),
            family: "log group",
            listings: listings(),
        },
    );
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

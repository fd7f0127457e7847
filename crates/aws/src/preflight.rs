//! Cheap checks before `plan` and `up` touch anything, each explaining what to do:
//! the ECS AMI parameter resolves in the region, the OpenSearch service-linked role
//! exists (or will be made), and node groups whose tasks need more ENIs than the
//! instances have are covered by `awsvpcTrunking` for the principal that registers the
//! instances (the instance role), or by `node_groups.awsvpc_trunking`. What needs no AWS call (DSQL region,
//! CPU and memory per node group) is checked with the configuration.

use aws_sdk_ecs::types::SettingName;
use temporalctl_config::Deploy;
use temporalctl_config::capacity::{counts_from_config, needs_trunking};
use temporalctl_engine::{CancelToken, ResourceError, Retries, RetryPolicy, retry_when};

use crate::Aws;
use crate::documents::node::ECS_AMI_PARAMETER;
use crate::errors::aws;

#[derive(Debug, Default)]
pub struct Findings {
    /// Stop: `up` would fail partway through.
    pub blockers: Vec<String>,
    /// Worth knowing; nothing fails because of them now.
    pub notes: Vec<String>,
}

/// A preflight read, retried on throttling and transient errors like every other call.
async fn retried<T, Fut>(cancel: &CancelToken, op: impl FnMut() -> Fut) -> Result<T, ResourceError>
where
    Fut: std::future::Future<Output = Result<T, ResourceError>>,
{
    let policy = RetryPolicy::default();
    retry_when(&policy, cancel, policy.deadline, Retries::Transient, |_, _, _| {}, op).await
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
        Ok(_) => {}
        Err(e) if e.is_not_found() => f.blockers.push(format!(
            "{} publishes no ECS-optimized AL2023 arm64 AMI (SSM parameter {ECS_AMI_PARAMETER} is missing); choose a region with Graviton ECS support",
            d.region
        )),
        Err(e) => return Err(e),
    }

    let prefix = "/aws-service-role/opensearchservice.amazonaws.com/";
    let roles = retried(cancel, || async {
        clients.iam.list_roles().path_prefix(prefix).send().await.map_err(aws("ListRoles"))
    })
    .await?;
    if roles.roles().is_empty() {
        f.notes.push(
            "the account has no OpenSearch service-linked role yet; `up` creates it (needs iam:CreateServiceLinkedRole) and never deletes it"
                .into(),
        );
    }

    let short = needs_trunking(d, &counts_from_config(d));
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
                f.notes.push(format!(
                    "{why}: awsvpcTrunking is off for {whose}, so the services scale only partly; set node_groups.awsvpc_trunking: true (temporalctl turns it on for the instance role), or run `aws ecs put-account-setting-default --name awsvpcTrunking --value enabled --region {}` for the whole account, or raise the group's max_size",
                    d.region
                ));
            }
        }
    }
    Ok(f)
}

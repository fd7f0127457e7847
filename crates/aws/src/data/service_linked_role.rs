//! A service-linked role an AWS service needs in the account (OpenSearch in a VPC needs
//! `AWSServiceRoleForAmazonOpenSearchService`). It belongs to the account, not to us:
//! created if missing, never modified, never deleted.

use async_trait::async_trait;
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes};

use crate::errors::aws;
use crate::outputs::Output;
use crate::pages::all_pages;

pub struct ServiceLinkedRole {
    pub iam: aws_sdk_iam::Client,
    /// `opensearchservice.amazonaws.com`.
    pub service: String,
}

attributes! {
    pub struct ServiceLinkedRoleAttrs / ServiceLinkedRoleField {
        /// The service it is linked to.
        Service service: String = "service";
    }
}

/// The account's, not ours: never modified, tagged or deleted.
#[async_trait]
impl Kind for ServiceLinkedRole {
    type Attrs = ServiceLinkedRoleAttrs;

    fn kind(&self) -> &'static str {
        "service-linked-role"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<ServiceLinkedRoleAttrs, ResourceError> {
        Ok(ServiceLinkedRoleAttrs { service: self.service.clone() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ServiceLinkedRoleAttrs>>, ResourceError> {
        // Found by its path, whatever name the service gave it.
        let prefix = format!("/aws-service-role/{}/", self.service);
        let roles = all_pages!(self.iam.list_roles().path_prefix(&prefix), roles, "ListRoles");
        // The account's, not ours to tag: it stands as ours so it is never "drifted".
        Ok(roles.first().map(|r| {
            Observed::new(r.role_name())
                .output(Output::Arn, r.arn())
                .tags(cx.tags.clone())
                .found(ServiceLinkedRoleAttrs { service: self.service.clone() })
        }))
    }

    async fn create(&self, cx: &Cx<'_>, _: &ServiceLinkedRoleAttrs) -> Result<Observed, ResourceError> {
        match self
            .iam
            .create_service_linked_role()
            .aws_service_name(&self.service)
            .send()
            .await
            .map_err(aws("CreateServiceLinkedRole"))
        {
            Ok(out) => {
                let role = out.role.ok_or_else(|| ResourceError::fatal("CreateServiceLinkedRole returned no role"))?;
                Ok(Observed::new(role.role_name()).output(Output::Arn, role.arn()).tags(cx.tags.clone()))
            }
            // Made meanwhile by someone else: fine, it is the account's.
            Err(e) if e.class == temporalctl_engine::ErrorClass::Conflict => {
                self.read(cx).await?.map(|found| found.observed).ok_or_else(|| {
                    ResourceError::fatal(format!(
                        "the service-linked role for {} exists but cannot be listed",
                        self.service
                    ))
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Found by the service it is linked to, so the service always matches.
    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<ServiceLinkedRoleAttrs>>,
        _: &ServiceLinkedRoleAttrs,
        changed: &[ServiceLinkedRoleField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                ServiceLinkedRoleField::Service => {}
            }
        }
        Ok(())
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<ServiceLinkedRoleAttrs>>) -> Result<(), ResourceError> {
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Always
    }
}

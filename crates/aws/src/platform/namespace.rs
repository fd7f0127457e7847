//! The Cloud Map HTTP namespace Service Connect uses. Creating and deleting it are
//! asynchronous operations; the engine waits on the namespace itself.

use async_trait::async_trait;
use aws_sdk_servicediscovery::types::{
    FilterCondition, OperationStatus, OperationTargetType, ServiceFilter, ServiceFilterName, Tag,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, claim, owned_by,
    replaced_not_updated,
};

use crate::errors::{aws, gone_is_ok};
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags, tag_by_arn};

pub struct Namespace {
    pub sd: aws_sdk_servicediscovery::Client,
    pub name: String,
}

attributes! {
    pub struct NamespaceAttrs / NamespaceField {
        Name name: String = "name", replace;
    }
}

/// Recorded while the create operation runs, before the namespace has an id.
const OPERATION: &str = "operation:";

impl Namespace {
    /// Every namespace of our name that carries this node's tags.
    async fn tagged(&self, cx: &Cx<'_>) -> Result<Vec<Found<NamespaceAttrs>>, ResourceError> {
        let mut ours = Vec::new();
        let mut pages = self.sd.list_namespaces().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws("ListNamespaces"))?;
            for ns in page.namespaces().iter().filter(|n| n.name() == Some(self.name.as_str())) {
                let arn = ns.arn().unwrap_or_default();
                let t = self
                    .sd
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .map_err(aws("ListTagsForResource"))?;
                let tags = from_sdk(t.tags());
                if owned_by(&tags, cx.project, cx.node) {
                    ours.push(
                        Observed::new(ns.id().unwrap_or_default())
                            .output(Output::Arn, arn)
                            .output(Output::Name, &self.name)
                            .tags(tags)
                            .found(self.attrs()),
                    );
                }
            }
        }
        Ok(ours)
    }

    /// A create in flight. `CreateHttpNamespace` only starts an operation; the namespace
    /// exists once `GetOperation` says SUCCESS and names it (AWS, Cloud Map API reference,
    /// "CreateHttpNamespace" and "GetOperation"). Until then it is pending, not missing.
    async fn operation(&self, cx: &Cx<'_>, operation: &str) -> Result<Option<Found<NamespaceAttrs>>, ResourceError> {
        let out = self.sd.get_operation().operation_id(operation).send().await.map_err(aws("GetOperation"))?;
        let op = out.operation.ok_or_else(|| ResourceError::fatal("GetOperation returned no operation"))?;
        let status = op.status.as_ref().map(|s| s.as_str()).unwrap_or("UNKNOWN").to_string();
        let namespace = op.targets.as_ref().and_then(|t| t.get(&OperationTargetType::Namespace)).cloned();
        match (op.status, namespace) {
            (Some(OperationStatus::Fail), _) => Err(ResourceError::fatal(format!(
                "Cloud Map could not create namespace {}: {} {}",
                self.name,
                op.error_code.unwrap_or_default(),
                op.error_message.unwrap_or_default()
            ))),
            (Some(OperationStatus::Success), Some(id)) => {
                let found = self.read(&Cx { recorded_id: Some(&id), follow_id: true, ..*cx }).await?;
                // Listings can lag the operation by a moment: still pending, not gone.
                Ok(Some(found.unwrap_or_else(|| self.in_flight(cx, "created, not listed yet"))))
            }
            _ => Ok(Some(self.in_flight(cx, &status.to_lowercase()))),
        }
    }

    fn in_flight(&self, cx: &Cx<'_>, state: &str) -> Found<NamespaceAttrs> {
        Observed::new(cx.recorded_id.unwrap_or_default())
            .tags(cx.tags.clone())
            .status(Status::Pending(state.into()))
            .found(self.attrs())
    }

    fn attrs(&self) -> NamespaceAttrs {
        NamespaceAttrs { name: self.name.clone() }
    }
}

#[async_trait]
impl Kind for Namespace {
    type Attrs = NamespaceAttrs;

    fn kind(&self) -> &'static str {
        "cloudmap-namespace"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<NamespaceAttrs, ResourceError> {
        Ok(self.attrs())
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<NamespaceAttrs>>, ResourceError> {
        if let Some(operation) = cx.recorded_id.and_then(|id| id.strip_prefix(OPERATION)) {
            match self.operation(cx, operation).await {
                Err(e) if e.is_not_found() && !cx.follow_id => {}
                found => return found,
            }
        }
        // Names are not unique in Cloud Map: ours is the one carrying our tags.
        let ours = self.tagged(cx).await?;
        if cx.follow_id {
            return Ok(ours.into_iter().find(|o| Some(o.id.as_str()) == cx.recorded_id));
        }
        claim(ours, "Cloud Map namespace", cx, |o| Some(o.id.as_str()))
    }

    async fn create(&self, cx: &Cx<'_>, _: &NamespaceAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .sd
            .create_http_namespace()
            .name(&self.name)
            .description("Service Connect namespace (temporalctl)")
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateHttpNamespace"))?;
        let operation = out.operation_id().unwrap_or_default();
        Ok(Observed::new(format!("{OPERATION}{operation}"))
            .tags(cx.tags.clone())
            .status(Status::Pending("creating".into())))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<NamespaceAttrs>>,
        _: &NamespaceAttrs,
        changed: &[NamespaceField],
    ) -> Result<(), ResourceError> {
        match changed.first() {
            Some(field @ NamespaceField::Name) => Err(replaced_not_updated("cloudmap-namespace", field)),
            None => Ok(()),
        }
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        tag_by_arn!(self.sd, o, sdk_tags!(Tag, cx.tags)?)
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<NamespaceAttrs>>) -> Result<(), ResourceError> {
        // ECS Service Connect made a Cloud Map service in our namespace for each of our
        // discoverable services; AWS refuses to delete a namespace that still holds them.
        // They exist only inside a namespace we own, so they go with it.
        let filter = ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(&o.id)
            .condition(FilterCondition::Eq)
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        let services = self.sd.list_services().filters(filter).send().await.map_err(aws("ListServices"))?;
        for service in services.services() {
            let Some(id) = service.id() else { continue };
            gone_is_ok(self.sd.delete_service().id(id).send().await.map_err(aws("DeleteService")))?;
        }
        self.sd.delete_namespace().id(&o.id).send().await.map_err(aws("DeleteNamespace"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }
}

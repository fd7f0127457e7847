//! The Amazon Managed Prometheus workspace the ADOT collector writes to.

use async_trait::async_trait;
use aws_sdk_amp::types::{WorkspaceStatus, WorkspaceStatusCode};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, attributes, claim, owned_by,
};

use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::{from_map, tag_by_arn, to_map};

pub struct Workspace {
    pub amp: aws_sdk_amp::Client,
    pub alias: String,
}

fn status(s: Option<&WorkspaceStatus>) -> Option<Status> {
    match s.map(|s| s.status_code()) {
        Some(WorkspaceStatusCode::CreationFailed) => None,
        Some(WorkspaceStatusCode::Active | WorkspaceStatusCode::Updating) | None => Some(Status::Ready),
        Some(other) => Some(Status::Pending(other.as_str().to_lowercase())),
    }
}

attributes! {
    pub struct WorkspaceAttrs / WorkspaceField {
        Alias alias: String = "alias";
    }
}

#[async_trait]
impl Kind for Workspace {
    type Attrs = WorkspaceAttrs;

    fn kind(&self) -> &'static str {
        "prometheus-workspace"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<WorkspaceAttrs, ResourceError> {
        Ok(WorkspaceAttrs { alias: self.alias.clone() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<WorkspaceAttrs>>, ResourceError> {
        // Aliases are not unique: the id we recorded, else the workspace carrying our tags;
        // a second one carrying them is a conflict (a wait reads its id alone).
        let id = match (cx.recorded_id, cx.follow_id) {
            (Some(id), true) => Some(id.to_string()),
            (recorded, false) => {
                let mut ours = Vec::new();
                let mut pages = self.amp.list_workspaces().alias(&self.alias).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(aws("ListWorkspaces"))?;
                    ours.extend(
                        page.workspaces()
                            .iter()
                            .filter(|w| w.tags().is_some_and(|t| owned_by(t, cx.project, cx.node)))
                            .map(|w| w.workspace_id().to_string()),
                    );
                }
                let tagged = claim(ours, "Prometheus workspace", cx, |id| Some(id.as_str()))?;
                recorded.map(String::from).or(tagged)
            }
            (None, true) => None,
        };
        let Some(id) = id else { return Ok(None) };
        let w = match self.amp.describe_workspace().workspace_id(&id).send().await.map_err(aws("DescribeWorkspace")) {
            Ok(out) => out.workspace.ok_or_else(|| ResourceError::fatal("DescribeWorkspace returned nothing"))?,
            Err(e) if e.is_not_found() && cx.recorded_id.is_some() && !cx.follow_id => {
                return self.read(&Cx { recorded_id: None, ..*cx }).await;
            }
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(status) = status(w.status()) else { return Ok(None) };
        Ok(Some(
            Observed::new(w.workspace_id())
                .output(Output::Arn, w.arn())
                .output(Output::PrometheusEndpoint, w.prometheus_endpoint().unwrap_or_default())
                .tags(from_map(w.tags()))
                .status(status)
                .found(WorkspaceAttrs { alias: w.alias().unwrap_or_default().into() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &WorkspaceAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .amp
            .create_workspace()
            .alias(&self.alias)
            .set_tags(Some(to_map(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateWorkspace"))?;
        let status = status(out.status()).unwrap_or(Status::Pending("creating".into()));
        if status == Status::Ready {
            // Already active: one read for the endpoint dependents need.
            if let Some(o) = self.read(&Cx { recorded_id: Some(out.workspace_id()), ..*cx }).await? {
                return Ok(o.observed);
            }
        }
        Ok(Observed::new(out.workspace_id()).output(Output::Arn, out.arn()).tags(cx.tags.clone()).status(status))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<WorkspaceAttrs>>,
        _: &WorkspaceAttrs,
        changed: &[WorkspaceField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                WorkspaceField::Alias => {
                    self.amp
                        .update_workspace_alias()
                        .workspace_id(&o.id)
                        .alias(&self.alias)
                        .send()
                        .await
                        .map_err(aws("UpdateWorkspaceAlias"))?;
                }
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        tag_by_arn!(self.amp, o, to_map(cx.tags))
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<WorkspaceAttrs>>) -> Result<(), ResourceError> {
        self.amp.delete_workspace().workspace_id(&o.id).send().await.map_err(aws("DeleteWorkspace"))?;
        Ok(())
    }

    fn delete_is_async(&self) -> bool {
        true
    }
}

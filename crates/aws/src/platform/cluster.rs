//! The ECS cluster: Container Insights, ECS Exec logging to its own log group, and the
//! Cloud Map namespace as the Service Connect default.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    ClusterConfiguration, ClusterField, ClusterServiceConnectDefaultsRequest, ClusterSetting, ClusterSettingName,
    ExecuteCommandConfiguration, ExecuteCommandLogConfiguration, ExecuteCommandLogging,
};
use temporalctl_engine::{
    AttrValue, Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use crate::ecs::ensure_tags;
use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

pub struct Cluster {
    pub ecs: aws_sdk_ecs::Client,
    pub name: String,
    pub exec_log_group: NodeId,
    pub namespace: NodeId,
}

/// Where ECS Exec sessions are logged: `OVERRIDE:<log group>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecLogging {
    pub mode: String,
    pub log_group: String,
}

impl AttrValue for ExecLogging {
    fn text(&self) -> String {
        format!("{}:{}", self.mode, self.log_group)
    }
}

attributes! {
    pub struct EcsClusterAttrs / EcsClusterField {
        Name name: String = "name", replace;
        ContainerInsights container_insights: String = "container-insights";
        ExecLogging exec_logging: ExecLogging = "exec-logging";
        /// The Cloud Map namespace's ARN, Service Connect's default.
        ServiceConnectNamespace service_connect_namespace: String = "service-connect-namespace";
    }
}

const INSIGHTS_ON: &str = "enabled";

#[async_trait]
impl Kind for Cluster {
    type Attrs = EcsClusterAttrs;

    fn kind(&self) -> &'static str {
        "ecs-cluster"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.exec_log_group.clone(), self.namespace.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<EcsClusterAttrs, ResourceError> {
        Ok(EcsClusterAttrs {
            name: self.name.clone(),
            container_insights: INSIGHTS_ON.into(),
            exec_logging: ExecLogging {
                mode: ExecuteCommandLogging::Override.as_str().into(),
                log_group: inputs.get(&self.exec_log_group, Output::Id)?.into(),
            },
            service_connect_namespace: inputs.get(&self.namespace, Output::Arn)?.to_string(),
        })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<EcsClusterAttrs>>, ResourceError> {
        let out = self
            .ecs
            .describe_clusters()
            .clusters(&self.name)
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .include(ClusterField::Configurations)
            .send()
            .await
            .map_err(aws("DescribeClusters"))?;
        // Deleted clusters stay visible as INACTIVE.
        let Some(c) = out.clusters().iter().find(|c| c.status() == Some("ACTIVE")) else { return Ok(None) };
        let insights = c
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .unwrap_or("disabled");
        let exec = c.configuration().and_then(|cfg| cfg.execute_command_configuration());
        let exec_logging = ExecLogging {
            mode: exec.and_then(|e| e.logging()).map_or("DEFAULT", |l| l.as_str()).into(),
            log_group: exec
                .and_then(|e| e.log_configuration())
                .and_then(|l| l.cloud_watch_log_group_name())
                .unwrap_or_default()
                .into(),
        };
        let namespace = c.service_connect_defaults().and_then(|d| d.namespace()).unwrap_or_default();
        Ok(Some(
            Observed::new(c.cluster_name().unwrap_or_default())
                .output(Output::Arn, c.cluster_arn().unwrap_or_default())
                .tags(from_sdk(c.tags()))
                .found(EcsClusterAttrs {
                    name: c.cluster_name().unwrap_or_default().into(),
                    container_insights: insights.into(),
                    exec_logging,
                    service_connect_namespace: namespace.into(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &EcsClusterAttrs) -> Result<Observed, ResourceError> {
        let (settings, configuration, defaults) = settings(desired)?;
        let out = self
            .ecs
            .create_cluster()
            .cluster_name(&self.name)
            .settings(settings)
            .configuration(configuration)
            .service_connect_defaults(defaults)
            .set_tags(Some(sdk_tags!(infallible aws_sdk_ecs::types::Tag, cx.tags)))
            .send()
            .await
            .map_err(aws("CreateCluster"))?;
        let arn = out.cluster.and_then(|c| c.cluster_arn).unwrap_or_default();
        Ok(Observed::new(&self.name).output(Output::Arn, arn).tags(cx.tags.clone()))
    }

    /// One call sets every field; the field list only says that it is needed.
    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<EcsClusterAttrs>>,
        desired: &EcsClusterAttrs,
        changed: &[EcsClusterField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                EcsClusterField::ContainerInsights
                | EcsClusterField::ExecLogging
                | EcsClusterField::ServiceConnectNamespace => {}
                EcsClusterField::Name => return Err(replaced_not_updated("ecs-cluster", field)),
            }
        }
        let (settings, configuration, defaults) = settings(desired)?;
        self.ecs
            .update_cluster()
            .cluster(&self.name)
            .settings(settings)
            .configuration(configuration)
            .service_connect_defaults(defaults)
            .send()
            .await
            .map_err(aws("UpdateCluster"))?;
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ecs, o.outputs.get(Output::Arn.as_ref()).map_or("", String::as_str), cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<EcsClusterAttrs>>) -> Result<(), ResourceError> {
        self.ecs.delete_cluster().cluster(&self.name).send().await.map_err(aws("DeleteCluster"))?;
        Ok(())
    }
}

fn settings(
    desired: &EcsClusterAttrs,
) -> Result<(ClusterSetting, ClusterConfiguration, ClusterServiceConnectDefaultsRequest), ResourceError> {
    let settings = ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(&desired.container_insights)
        .build();
    let exec = ExecuteCommandConfiguration::builder()
        .logging(ExecuteCommandLogging::from(desired.exec_logging.mode.as_str()))
        .log_configuration(
            ExecuteCommandLogConfiguration::builder()
                .cloud_watch_log_group_name(&desired.exec_logging.log_group)
                .build(),
        )
        .build();
    let configuration = ClusterConfiguration::builder().execute_command_configuration(exec).build();
    let defaults = ClusterServiceConnectDefaultsRequest::builder()
        .namespace(&desired.service_connect_namespace)
        .build()
        .map_err(|e| ResourceError::fatal(e.to_string()))?;
    Ok((settings, configuration, defaults))
}

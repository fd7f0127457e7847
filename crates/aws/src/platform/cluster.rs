//! The ECS cluster: Container Insights, ECS Exec logging to its own log group, and the
//! Cloud Map namespace as the Service Connect default.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    ClusterConfiguration, ClusterField, ClusterServiceConnectDefaultsRequest, ClusterSetting, ClusterSettingName,
    ExecuteCommandConfiguration, ExecuteCommandLogConfiguration, ExecuteCommandLogging,
};
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError};

use crate::ecs::{ensure_tags, tag_map, to_tags};
use crate::errors::aws;
use crate::network::ec2::attr;

pub struct Cluster {
    pub ecs: aws_sdk_ecs::Client,
    pub name: String,
    pub exec_log_group: NodeId,
    pub namespace: NodeId,
}

#[async_trait]
impl Resource for Cluster {
    fn kind(&self) -> &'static str {
        "ecs-cluster"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("container-insights".into(), "enabled".into()),
            ("exec-logging".into(), format!("OVERRIDE:{}", inputs.get(&self.exec_log_group, "id")?)),
            ("service-connect-namespace".into(), inputs.get(&self.namespace, "arn")?.to_string()),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
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
        let exec_logging = format!(
            "{}:{}",
            exec.and_then(|e| e.logging()).map(|l| l.as_str()).unwrap_or("DEFAULT"),
            exec.and_then(|e| e.log_configuration()).and_then(|l| l.cloud_watch_log_group_name()).unwrap_or_default()
        );
        let namespace = c.service_connect_defaults().and_then(|d| d.namespace()).unwrap_or_default();
        Ok(Some(
            Observed::new(c.cluster_name().unwrap_or_default())
                .attr("name", c.cluster_name().unwrap_or_default())
                .attr("container-insights", insights)
                .attr("exec-logging", exec_logging)
                .attr("service-connect-namespace", namespace)
                .output("arn", c.cluster_arn().unwrap_or_default())
                .tags(tag_map(c.tags())),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let (settings, configuration, defaults) = self.settings(desired)?;
        let out = self
            .ecs
            .create_cluster()
            .cluster_name(&self.name)
            .settings(settings)
            .configuration(configuration)
            .service_connect_defaults(defaults)
            .set_tags(Some(to_tags(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateCluster"))?;
        let arn = out.cluster.and_then(|c| c.cluster_arn).unwrap_or_default();
        Ok(Observed::new(&self.name).output("arn", arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        if changed.iter().any(|c| c != "tags") {
            let (settings, configuration, defaults) = self.settings(desired)?;
            self.ecs
                .update_cluster()
                .cluster(&self.name)
                .settings(settings)
                .configuration(configuration)
                .service_connect_defaults(defaults)
                .send()
                .await
                .map_err(aws("UpdateCluster"))?;
        }
        if changed.iter().any(|c| c == "tags") {
            ensure_tags(&self.ecs, o.outputs.get("arn").map_or("", String::as_str), cx.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        self.ecs.delete_cluster().cluster(&self.name).send().await.map_err(aws("DeleteCluster"))?;
        Ok(())
    }
}

impl Cluster {
    fn settings(
        &self,
        desired: &Attrs,
    ) -> Result<(ClusterSetting, ClusterConfiguration, ClusterServiceConnectDefaultsRequest), ResourceError> {
        let log_group = attr(desired, "exec-logging")?.trim_start_matches("OVERRIDE:").to_string();
        let settings = ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("enabled").build();
        let exec = ExecuteCommandConfiguration::builder()
            .logging(ExecuteCommandLogging::Override)
            .log_configuration(ExecuteCommandLogConfiguration::builder().cloud_watch_log_group_name(log_group).build())
            .build();
        let configuration = ClusterConfiguration::builder().execute_command_configuration(exec).build();
        let defaults = ClusterServiceConnectDefaultsRequest::builder()
            .namespace(attr(desired, "service-connect-namespace")?)
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        Ok((settings, configuration, defaults))
    }
}

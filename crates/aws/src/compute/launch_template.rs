//! A node group's launch template, rendered by `documents::node` (pure, snapshot-tested).
//! AWS returns template versions in full, but comparing them field by field against
//! EC2's defaults is fragile; instead the template carries a tag `v<N>:<hash>` naming the
//! version we wrote and the document's hash. A newer version we did not write, or a
//! changed document (a new AMI, instance type, volume size), makes a new version.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplatesMonitoringRequest, RequestLaunchTemplateData, ResourceType, VolumeType,
};
use temporalctl_engine::{Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Tags, attributes};

use crate::documents::fingerprint;
use crate::documents::node::{self as doc, LaunchTemplateData};
use crate::ecs::task_definition::SPEC_TAG;
use crate::errors::aws;
use crate::network::ec2::{Ec2, ensure_tags, lookup, tag_spec};
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct LaunchTemplate {
    pub ec2: Ec2,
    pub name: String,
    pub cluster: String,
    pub workload: String,
    pub instance_type: String,
    pub root_volume_gb: u32,
    pub ami: NodeId,
    pub instance_profile: NodeId,
    pub security_group: NodeId,
}

impl LaunchTemplate {
    fn document(&self, inputs: &Inputs) -> Result<LaunchTemplateData, ResourceError> {
        Ok(doc::render(&doc::Inputs {
            cluster: &self.cluster,
            workload: &self.workload,
            image_id: inputs.get(&self.ami, Output::Id)?,
            instance_type: &self.instance_type,
            instance_profile_arn: inputs.get(&self.instance_profile, Output::Arn)?,
            security_group: inputs.get(&self.security_group, Output::Id)?,
            root_volume_gb: self.root_volume_gb,
        }))
    }

    fn tags_with_spec(tags: &Tags, version: i64, hash: &str) -> Tags {
        let mut tags = tags.clone();
        tags.insert(SPEC_TAG.into(), format!("v{version}:{hash}"));
        tags
    }
}

/// The document in the SDK's types.
fn request(d: &LaunchTemplateData) -> RequestLaunchTemplateData {
    let m = &d.metadata_options;
    RequestLaunchTemplateData::builder()
        .image_id(&d.image_id)
        .instance_type(d.instance_type.as_str().into())
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder().arn(&d.iam_instance_profile.arn).build(),
        )
        .user_data(&d.user_data)
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::from(m.http_tokens.as_str()))
                .http_put_response_hop_limit(m.http_put_response_hop_limit)
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(m.http_endpoint.as_str()))
                .build(),
        )
        .set_block_device_mappings(Some(
            d.block_device_mappings
                .iter()
                .map(|b| {
                    LaunchTemplateBlockDeviceMappingRequest::builder()
                        .device_name(&b.device_name)
                        .ebs(
                            LaunchTemplateEbsBlockDeviceRequest::builder()
                                .volume_size(b.ebs.volume_size)
                                .volume_type(VolumeType::from(b.ebs.volume_type.as_str()))
                                .encrypted(b.ebs.encrypted)
                                .delete_on_termination(b.ebs.delete_on_termination)
                                .build(),
                        )
                        .build()
                })
                .collect(),
        ))
        .set_network_interfaces(Some(
            d.network_interfaces
                .iter()
                .map(|n| {
                    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                        .device_index(n.device_index)
                        .associate_public_ip_address(n.associate_public_ip_address)
                        .set_groups(Some(n.groups.clone()))
                        .delete_on_termination(n.delete_on_termination)
                        .build()
                })
                .collect(),
        ))
        .monitoring(LaunchTemplatesMonitoringRequest::builder().enabled(d.monitoring.enabled).build())
        .build()
}

attributes! {
    pub struct LaunchTemplateAttrs / LaunchTemplateField {
        /// The document's hash, as the tag of the newest version records it.
        Spec spec: String = "spec";
    }
}

#[async_trait]
impl Kind for LaunchTemplate {
    type Attrs = LaunchTemplateAttrs;

    fn kind(&self) -> &'static str {
        "launch-template"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.ami.clone(), self.instance_profile.clone(), self.security_group.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<LaunchTemplateAttrs, ResourceError> {
        Ok(LaunchTemplateAttrs { spec: fingerprint(&self.document(inputs)?) })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<LaunchTemplateAttrs>>, ResourceError> {
        let Some(t) = lookup!(
            cx,
            &self.ec2.listings,
            "launch template",
            self.ec2.describe_launch_templates(),
            launch_template_ids,
            set_filters,
            launch_templates,
            "DescribeLaunchTemplates",
            |_| true,
            |t| t.launch_template_id()
        )?
        else {
            return Ok(None);
        };
        let tags = from_sdk(t.tags());
        let latest = t.latest_version_number().unwrap_or_default();
        // Ours only while the newest version is the one we wrote.
        let spec = match tags.get(SPEC_TAG).and_then(|s| s.split_once(':')) {
            Some((version, hash)) if version == format!("v{latest}") => hash.to_string(),
            _ => format!("version {latest}, not written by temporalctl"),
        };
        Ok(Some(
            Observed::new(t.launch_template_id().unwrap_or_default())
                .output(Output::Name, t.launch_template_name().unwrap_or_default())
                .output(Output::Version, latest.to_string())
                .tags(tags)
                .found(LaunchTemplateAttrs { spec }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &LaunchTemplateAttrs) -> Result<Observed, ResourceError> {
        let d = self.document(cx.inputs)?;
        let tags = Self::tags_with_spec(cx.tags, 1, &desired.spec);
        let out = self
            .ec2
            .create_launch_template()
            .launch_template_name(&self.name)
            .launch_template_data(request(&d))
            .tag_specifications(tag_spec(ResourceType::LaunchTemplate, &tags))
            .send()
            .await
            .map_err(aws("CreateLaunchTemplate"))?;
        let t = out.launch_template.ok_or_else(|| ResourceError::fatal("CreateLaunchTemplate returned no template"))?;
        Ok(Observed::new(t.launch_template_id().unwrap_or_default())
            .output(Output::Name, &self.name)
            .output(Output::Version, "1")
            .tags(tags))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Found<LaunchTemplateAttrs>>,
        desired: &LaunchTemplateAttrs,
        changed: &[LaunchTemplateField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                LaunchTemplateField::Spec => self.write_version(cx, &o.id, &desired.spec).await?,
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<LaunchTemplateAttrs>>) -> Result<(), ResourceError> {
        self.ec2
            .delete_launch_template()
            .launch_template_id(&o.id)
            .send()
            .await
            .map_err(aws("DeleteLaunchTemplate"))?;
        Ok(())
    }
}

impl LaunchTemplate {
    /// A new version with the document, made the default, and the tag naming it.
    async fn write_version(&self, cx: &Cx<'_>, id: &str, spec: &str) -> Result<(), ResourceError> {
        let d = self.document(cx.inputs)?;
        let out = self
            .ec2
            .create_launch_template_version()
            .launch_template_id(id)
            .launch_template_data(request(&d))
            .send()
            .await
            .map_err(aws("CreateLaunchTemplateVersion"))?;
        let version = out.launch_template_version.and_then(|v| v.version_number).unwrap_or_default();
        self.ec2
            .modify_launch_template()
            .launch_template_id(id)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(aws("ModifyLaunchTemplate"))?;
        ensure_tags(&self.ec2, id, &Self::tags_with_spec(cx.tags, version, spec)).await
    }
}

//! What an ECS container instance of a node group boots with: the launch template data
//! (in the shape of EC2's `LaunchTemplateData`, exactly what is sent) and its user data.

use serde::Serialize;

/// Inputs of one node group's launch template.
pub struct Inputs<'a> {
    pub cluster: &'a str,
    /// Value of the `workload` instance attribute services are placed by.
    pub workload: &'a str,
    pub image_id: &'a str,
    pub instance_type: &'a str,
    pub instance_profile_arn: &'a str,
    pub security_group: &'a str,
    pub root_volume_gb: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateData {
    pub image_id: String,
    pub instance_type: String,
    pub iam_instance_profile: InstanceProfile,
    /// Base64 of [`user_data`].
    pub user_data: String,
    pub metadata_options: MetadataOptions,
    pub block_device_mappings: Vec<BlockDevice>,
    pub network_interfaces: Vec<NetworkInterface>,
    pub monitoring: Monitoring,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataOptions {
    /// IMDSv2 only.
    pub http_tokens: String,
    /// 2 lets the agent's own containers reach IMDS; awsvpc tasks are blocked by the agent.
    pub http_put_response_hop_limit: i32,
    pub http_endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockDevice {
    pub device_name: String,
    pub ebs: Ebs,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ebs {
    pub volume_size: i32,
    pub volume_type: String,
    pub encrypted: bool,
    pub delete_on_termination: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub device_index: i32,
    pub associate_public_ip_address: bool,
    pub groups: Vec<String>,
    pub delete_on_termination: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Monitoring {
    pub enabled: bool,
}

/// The ECS-optimized AL2023 arm64 AMI, published by AWS in every region that has ECS.
pub const ECS_AMI_PARAMETER: &str = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id";

/// Root device of the ECS-optimized AL2023 AMIs.
const ROOT_DEVICE: &str = "/dev/xvda";

/// The agent configuration: which cluster to join and the `workload` attribute that the
/// services' placement constraints select on. Tasks in awsvpc mode get no IMDS: they
/// use their task role.
pub fn user_data(cluster: &str, workload: &str) -> String {
    format!(
        r#"#!/bin/bash
# Written by temporalctl: join the cluster with this node group's workload attribute.
cat >> /etc/ecs/ecs.config <<'CONFIG'
ECS_CLUSTER={cluster}
ECS_INSTANCE_ATTRIBUTES={{"workload":"{workload}"}}
ECS_AWSVPC_BLOCK_IMDS=true
CONFIG
"#
    )
}

pub fn render(i: &Inputs<'_>) -> LaunchTemplateData {
    LaunchTemplateData {
        image_id: i.image_id.into(),
        instance_type: i.instance_type.into(),
        iam_instance_profile: InstanceProfile { arn: i.instance_profile_arn.into() },
        user_data: aws_smithy_types::base64::encode(user_data(i.cluster, i.workload)),
        metadata_options: MetadataOptions {
            http_tokens: "required".into(),
            http_put_response_hop_limit: 2,
            http_endpoint: "enabled".into(),
        },
        block_device_mappings: vec![BlockDevice {
            device_name: ROOT_DEVICE.into(),
            ebs: Ebs {
                volume_size: i.root_volume_gb as i32,
                volume_type: "gp3".into(),
                encrypted: true,
                delete_on_termination: true,
            },
        }],
        network_interfaces: vec![NetworkInterface {
            device_index: 0,
            associate_public_ip_address: false,
            groups: vec![i.security_group.into()],
            delete_on_termination: true,
        }],
        monitoring: Monitoring { enabled: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs<'static> {
        Inputs {
            cluster: "demo-cluster",
            workload: "history",
            image_id: "ami-0dcab4a333584aee7",
            instance_type: "m7g.large",
            instance_profile_arn: "arn:aws:iam::123456789012:instance-profile/demo-ecs-instance",
            security_group: "sg-0123456789abcdef0",
            root_volume_gb: 30,
        }
    }

    #[test]
    fn launch_template_snapshot() {
        insta::assert_json_snapshot!("launch-template-history", render(&inputs()));
        insta::assert_snapshot!("user-data-history", user_data("demo-cluster", "history"));
    }

    #[test]
    fn instances_get_no_public_ip_imdsv2_and_an_encrypted_root() {
        let d = render(&inputs());
        assert!(d.network_interfaces.iter().all(|n| !n.associate_public_ip_address));
        assert_eq!(d.metadata_options.http_tokens, "required");
        assert!(d.block_device_mappings.iter().all(|b| b.ebs.encrypted));
        let decoded = aws_smithy_types::base64::decode(&d.user_data).unwrap();
        assert!(String::from_utf8(decoded).unwrap().contains(r#"ECS_INSTANCE_ATTRIBUTES={"workload":"history"}"#));
    }
}

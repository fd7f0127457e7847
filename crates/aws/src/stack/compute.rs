//! The node groups: launch templates, Auto Scaling groups and capacity providers, and
//! the providers attached to the cluster.

use temporalctl_config::Deploy;
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::compute::ami::EcsAmi;
use crate::compute::auto_scaling_group::AutoScalingGroup;
use crate::compute::capacity_provider::CapacityProvider;
use crate::compute::cluster_capacity_providers::ClusterCapacityProviders;
use crate::compute::launch_template::LaunchTemplate;
use crate::compute::trunking::AwsvpcTrunking;
use crate::documents::node::ECS_AMI_PARAMETER;

/// Node groups A, B and C: launch template (ECS AMI, instance profile, the instances'
/// security group, user data joining the cluster with the group's workload attribute),
/// Auto Scaling group in the private subnets, capacity provider; the three providers
/// attached to the cluster.
pub(super) fn node_groups(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    let p = &d.project;
    g.add(
        ECS_AMI,
        ECS_AMI_PARAMETER,
        EcsAmi { ssm: aws.ssm.clone(), parameter: ECS_AMI_PARAMETER.into(), region: d.region.clone() },
    );
    let privates = private_subnets(d);
    let mut providers = Vec::new();
    // Instances join the cluster by name: it must exist before they boot.
    let mut template_after = vec![CLUSTER];
    if d.node_groups.awsvpc_trunking {
        // The setting belongs to the role that registers the instances: each of ours.
        let host_sessions = d.node_groups.iter().any(|(_, ng)| ng.ssm_sessions);
        let roles = [(TRUNKING, INSTANCE_ROLE)]
            .into_iter()
            .chain(host_sessions.then_some((HOST_SESSIONS_TRUNKING, HOST_SESSIONS_ROLE)));
        for (setting, role) in roles {
            g.add(setting, "awsvpcTrunking", AwsvpcTrunking { ecs: aws.ecs.clone(), role: role.into() });
            // Instances launched before the setting would get no trunk interface.
            template_after.push(setting);
        }
    }
    // A node group's launch template, Auto Scaling group and capacity provider share a name.
    let name_of = |group: &str| names::node_group(p, group);
    let family: Vec<String> = d.node_groups.iter().map(|(group, _)| name_of(group)).collect();
    for (group, ng) in d.node_groups.iter() {
        let name = name_of(group);
        g.add_after(
            launch_template(group),
            name.clone(),
            &template_after,
            LaunchTemplate {
                ec2: aws.ec2.clone(),
                name: name.clone(),
                cluster: names::cluster_name(p),
                workload: ng.workload.clone(),
                instance_type: ng.instance_type.clone(),
                root_volume_gb: ng.root_volume_gb,
                ami: ECS_AMI.into(),
                instance_profile: if ng.ssm_sessions { HOST_SESSIONS_PROFILE } else { INSTANCE_PROFILE }.into(),
                security_group: INSTANCES_SG.into(),
            },
        );
        // Instances need the private routes (NAT) to reach ECS and pull images.
        let lt = launch_template(group);
        g.add_after(
            auto_scaling_group(group),
            name.clone(),
            &egress_routes(d),
            AutoScalingGroup {
                autoscaling: aws.autoscaling.clone(),
                name: name.clone(),
                launch_template: lt.clone(),
                subnets: privates.clone(),
                min_size: ng.min_size,
                max_size: ng.max_size,
                desired_capacity: ng.desired_capacity,
                deadline: d.timeouts.default,
                family: family.clone(),
                listings: aws.listings.clone(),
            },
        );
        g.add(
            capacity_provider(group),
            name.clone(),
            CapacityProvider {
                ecs: aws.ecs.clone(),
                name,
                auto_scaling_group: auto_scaling_group(group),
                target_capacity: 100,
                family: family.clone(),
                listings: aws.listings.clone(),
            },
        );
        providers.push(capacity_provider(group));
    }
    g.add_after(
        CLUSTER_CAPACITY,
        names::cluster_name(p),
        &[CLUSTER],
        ClusterCapacityProviders {
            ecs: aws.ecs.clone(),
            cluster: names::cluster_name(p),
            providers: providers.clone(),
        },
    );
}

//! The address workers connect to (`frontend.endpoint: load_balancer`): an internal
//! Network Load Balancer in the private subnets, its target group and its listener. The
//! frontend's ECS service registers its tasks in the target group (`workloads`).

use temporalctl_config::{Deploy, FrontendEndpoint};
use temporalctl_engine::GraphBuilder;

use super::ids::*;
use super::names;
use crate::Aws;
use crate::balancing::Family;
use crate::balancing::listener::Listener;
use crate::balancing::load_balancer::LoadBalancer;
use crate::balancing::target_group::TargetGroup;
use crate::documents::balancer::frontend;

pub(super) fn balancer(g: &mut GraphBuilder, d: &Deploy, aws: &Aws) {
    if d.frontend.endpoint == FrontendEndpoint::None {
        return;
    }
    let name = names::frontend_balancer(&d.project);
    let spec = frontend();
    // The balancer and its target group share the name.
    let family = Family { balancer: name.clone(), target_groups: vec![name.clone()] };
    g.add(
        LOAD_BALANCER,
        &name,
        LoadBalancer {
            elb: aws.elb.clone(),
            listings: aws.listings.clone(),
            family: family.clone(),
            r#type: spec.r#type,
            scheme: spec.scheme,
            subnets: private_subnets(d),
            security_group: BALANCER_SG.into(),
            deadline: d.timeouts.load_balancer,
        },
    );
    g.add(
        TARGET_GROUP,
        &name,
        TargetGroup {
            elb: aws.elb.clone(),
            listings: aws.listings.clone(),
            family: family.clone(),
            name: name.clone(),
            spec: spec.target_group,
            vpc: VPC.into(),
        },
    );
    g.add(
        LISTENER,
        format!("{name}-7233"),
        Listener {
            elb: aws.elb.clone(),
            listings: aws.listings.clone(),
            load_balancer: LOAD_BALANCER.into(),
            family,
            spec: spec.listener,
            target_group: Some(TARGET_GROUP.into()),
            certificate: None,
        },
    );
}

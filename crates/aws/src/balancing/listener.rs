//! A balancer's listener (the frontend's TCP 7233), forwarding to its target group. Found
//! by its recorded ARN, else among its balancer's listeners by port.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener as Elbv2Listener, ProtocolEnum};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::{Elb, Family, elb_tags, ensure_tags, find};
use crate::documents::balancer;
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;

pub struct Listener {
    pub elb: Elb,
    pub listings: crate::listings::Listings,
    pub load_balancer: NodeId,
    /// Its balancer's family: the balancer's name finds the listener when the state has
    /// no ARN.
    pub family: Family,
    pub spec: balancer::Listener,
    pub target_group: NodeId,
}

attributes! {
    pub struct ListenerAttrs / ListenerField {
        /// The balancer's ARN.
        LoadBalancer load_balancer: String = "load-balancer", replace;
        /// `TCP:7233`.
        Listens listens: String = "listens";
        /// The target group it forwards to.
        Forward forward: String = "forward";
    }
}

fn listens_text(protocol: &str, port: i32) -> String {
    format!("{protocol}:{port}")
}

/// Ours among a balancer's listeners: the one on our port.
fn ours(listeners: &[Elbv2Listener], port: i32) -> Option<Elbv2Listener> {
    listeners.iter().find(|l| l.port() == Some(port)).cloned()
}

fn forward_to(target_group: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group).build()
}

impl Listener {
    /// By its recorded ARN, else among its balancer's listeners by port.
    async fn fresh(&self, cx: &Cx<'_>) -> Result<Option<Elbv2Listener>, ResourceError> {
        if let Some(arn) = cx.recorded_id {
            let by_arn =
                self.elb.describe_listeners().listener_arns(arn).send().await.map_err(aws("DescribeListeners"));
            if let Some(found) = absent_if_gone(by_arn)?.and_then(|out| out.listeners().first().cloned()) {
                return Ok(Some(found));
            }
            if cx.follow_id {
                return Ok(None);
            }
        }
        let balancers = self
            .elb
            .describe_load_balancers()
            .names(&self.family.balancer)
            .send()
            .await
            .map_err(aws("DescribeLoadBalancers"));
        let Some(lb) = absent_if_gone(balancers)?.and_then(|out| out.load_balancers().first().cloned()) else {
            return Ok(None);
        };
        let listeners = self
            .elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
            .send()
            .await
            .map_err(aws("DescribeListeners"));
        Ok(absent_if_gone(listeners)?.and_then(|out| ours(out.listeners(), self.spec.port)))
    }
}

#[async_trait]
impl Kind for Listener {
    type Attrs = ListenerAttrs;

    fn kind(&self) -> &'static str {
        "listener"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.load_balancer.clone(), self.target_group.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<ListenerAttrs, ResourceError> {
        let l = &self.spec;
        Ok(ListenerAttrs {
            load_balancer: inputs.get(&self.load_balancer, Output::Arn)?.to_string(),
            listens: listens_text(l.protocol, l.port),
            forward: inputs.get(&self.target_group, Output::Arn)?.to_string(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ListenerAttrs>>, ResourceError> {
        let found = find(
            cx,
            (&self.listings, &self.elb, &self.family),
            |all| ours(&all.listeners, self.spec.port),
            |l| l.listener_arn(),
            || self.fresh(cx),
        )
        .await?;
        let Some((l, tags)) = found else { return Ok(None) };
        let arn = l.listener_arn().unwrap_or_default();
        let forward = l
            .default_actions()
            .iter()
            .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
            .and_then(|a| a.target_group_arn())
            .unwrap_or_default();
        Ok(Some(Observed::new(arn).output(Output::Arn, arn).tags(tags).found(ListenerAttrs {
            load_balancer: l.load_balancer_arn().unwrap_or_default().into(),
            listens: listens_text(l.protocol().map(|p| p.as_str()).unwrap_or_default(), l.port().unwrap_or_default()),
            forward: forward.into(),
        })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &ListenerAttrs) -> Result<Observed, ResourceError> {
        let l = &self.spec;
        let out = self
            .elb
            .create_listener()
            .load_balancer_arn(&desired.load_balancer)
            .protocol(ProtocolEnum::from(l.protocol))
            .port(l.port)
            .default_actions(forward_to(&desired.forward))
            .set_tags(Some(elb_tags(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateListener"))?;
        let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default();
        Ok(Observed::new(arn).output(Output::Arn, arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<ListenerAttrs>>,
        desired: &ListenerAttrs,
        changed: &[ListenerField],
    ) -> Result<(), ResourceError> {
        if let Some(field) = changed.iter().find(|f| matches!(f, ListenerField::LoadBalancer)) {
            return Err(replaced_not_updated("listener", field));
        }
        // Port, protocol and action in one call.
        let l = &self.spec;
        self.elb
            .modify_listener()
            .listener_arn(&o.id)
            .protocol(ProtocolEnum::from(l.protocol))
            .port(l.port)
            .default_actions(forward_to(&desired.forward))
            .send()
            .await
            .map_err(aws("ModifyListener"))?;
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.elb, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<ListenerAttrs>>) -> Result<(), ResourceError> {
        gone_is_ok(self.elb.delete_listener().listener_arn(&o.id).send().await.map_err(aws("DeleteListener")))
    }
}

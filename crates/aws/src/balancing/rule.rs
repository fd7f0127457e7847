//! A rule of an HTTPS listener: requests for its host names go to its target group
//! (`ingress`: the UI's and Grafana's). Found by its recorded ARN, else among the
//! listener's rules by priority (unique per listener; the family has one listener with
//! rules).

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, Rule as Elbv2Rule, RuleCondition, RulePriorityPair,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::{Elb, Family, elb_tags, ensure_tags, find, listeners_of};
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;

pub struct ListenerRule {
    pub elb: Elb,
    pub listings: crate::listings::Listings,
    pub family: Family,
    pub listener: NodeId,
    /// The listener's port, to find it when the state has no ARN.
    pub listener_port: i32,
    pub priority: i32,
    pub hosts: Vec<String>,
    pub target_group: NodeId,
}

attributes! {
    pub struct ListenerRuleAttrs / ListenerRuleField {
        /// The listener's ARN.
        Listener listener: String = "listener", replace;
        Priority priority: i32 = "priority";
        Hosts hosts: BTreeSet<String> = "hosts";
        /// The target group it forwards to.
        Forward forward: String = "forward";
    }
}

/// The host names a rule matches, as ELBv2 holds them.
fn hosts_of(rule: &Elbv2Rule) -> BTreeSet<String> {
    rule.conditions()
        .iter()
        .filter(|c| c.field() == Some("host-header"))
        .flat_map(|c| c.host_header_config().map(|h| h.values().to_vec()).unwrap_or_else(|| c.values().to_vec()))
        .collect()
}

fn forward_of(rule: &Elbv2Rule) -> String {
    rule.actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .and_then(|a| a.target_group_arn())
        .unwrap_or_default()
        .to_string()
}

/// Ours among a listener's rules: the one at our priority (never the default rule).
fn at_priority(rules: &[Elbv2Rule], priority: i32) -> Option<Elbv2Rule> {
    let wanted = priority.to_string();
    rules.iter().find(|r| r.is_default() != Some(true) && r.priority() == Some(wanted.as_str())).cloned()
}

impl ListenerRule {
    fn condition(desired: &ListenerRuleAttrs) -> RuleCondition {
        let hosts = HostHeaderConditionConfig::builder().set_values(Some(desired.hosts.iter().cloned().collect()));
        RuleCondition::builder().field("host-header").host_header_config(hosts.build()).build()
    }

    fn forward(desired: &ListenerRuleAttrs) -> Action {
        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&desired.forward).build()
    }

    /// By its recorded ARN, else among its listener's rules by priority.
    async fn fresh(&self, cx: &Cx<'_>) -> Result<Option<Elbv2Rule>, ResourceError> {
        if let Some(arn) = cx.recorded_id {
            let by_arn = self.elb.describe_rules().rule_arns(arn).send().await.map_err(aws("DescribeRules"));
            if let Some(found) = absent_if_gone(by_arn)?.and_then(|out| out.rules().first().cloned()) {
                return Ok(Some(found));
            }
            if cx.follow_id {
                return Ok(None);
            }
        }
        let listeners = listeners_of(&self.elb, &self.family.balancer).await?;
        let Some(listener) = listeners.iter().find(|l| l.port() == Some(self.listener_port)) else {
            return Ok(None);
        };
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(listener.listener_arn().unwrap_or_default())
            .send()
            .await
            .map_err(aws("DescribeRules"));
        Ok(absent_if_gone(rules)?.and_then(|out| at_priority(out.rules(), self.priority)))
    }
}

#[async_trait]
impl Kind for ListenerRule {
    type Attrs = ListenerRuleAttrs;

    fn kind(&self) -> &'static str {
        "listener-rule"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.listener.clone(), self.target_group.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<ListenerRuleAttrs, ResourceError> {
        Ok(ListenerRuleAttrs {
            listener: inputs.get(&self.listener, Output::Arn)?.to_string(),
            priority: self.priority,
            hosts: self.hosts.iter().cloned().collect(),
            forward: inputs.get(&self.target_group, Output::Arn)?.to_string(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ListenerRuleAttrs>>, ResourceError> {
        let found = find(
            cx,
            (&self.listings, &self.elb, &self.family),
            |all| at_priority(&all.rules, self.priority),
            |r| r.rule_arn(),
            || self.fresh(cx),
        )
        .await?;
        let Some((rule, tags)) = found else { return Ok(None) };
        let arn = rule.rule_arn().unwrap_or_default();
        // A rule's ARN names its listener: `…:listener-rule/app/<lb>/<id>/<listener id>/<rule id>`.
        let listener = arn.rsplit_once('/').map(|(l, _)| l.replacen(":listener-rule/", ":listener/", 1));
        Ok(Some(Observed::new(arn).output(Output::Arn, arn).tags(tags).found(ListenerRuleAttrs {
            listener: listener.unwrap_or_default(),
            priority: rule.priority().and_then(|p| p.parse().ok()).unwrap_or_default(),
            hosts: hosts_of(&rule),
            forward: forward_of(&rule),
        })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &ListenerRuleAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .elb
            .create_rule()
            .listener_arn(&desired.listener)
            .priority(desired.priority)
            .conditions(Self::condition(desired))
            .actions(Self::forward(desired))
            .set_tags(Some(elb_tags(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateRule"))?;
        let arn = out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default();
        Ok(Observed::new(arn).output(Output::Arn, arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<ListenerRuleAttrs>>,
        desired: &ListenerRuleAttrs,
        changed: &[ListenerRuleField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                ListenerRuleField::Priority => {
                    let pair = RulePriorityPair::builder().rule_arn(&o.id).priority(desired.priority).build();
                    self.elb
                        .set_rule_priorities()
                        .rule_priorities(pair)
                        .send()
                        .await
                        .map_err(aws("SetRulePriorities"))?;
                }
                ListenerRuleField::Hosts | ListenerRuleField::Forward => {
                    self.elb
                        .modify_rule()
                        .rule_arn(&o.id)
                        .conditions(Self::condition(desired))
                        .actions(Self::forward(desired))
                        .send()
                        .await
                        .map_err(aws("ModifyRule"))?;
                }
                ListenerRuleField::Listener => return Err(replaced_not_updated("listener-rule", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.elb, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<ListenerRuleAttrs>>) -> Result<(), ResourceError> {
        gone_is_ok(self.elb.delete_rule().rule_arn(&o.id).send().await.map_err(aws("DeleteRule")))
    }
}

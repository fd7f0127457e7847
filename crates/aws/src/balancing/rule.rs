//! A rule of an HTTPS listener: requests for its host names go to its target group
//! (`ingress`: the UI's and Grafana's), after signing the person in when `ingress.login`
//! asks. Found by its recorded ARN, else among the listener's rules by priority (unique
//! per listener; the family has one listener with rules).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AuthenticateOidcActionConditionalBehaviorEnum, AuthenticateOidcActionConfig,
    HostHeaderConditionConfig, Rule as Elbv2Rule, RuleCondition, RulePriorityPair, Tag,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::login::{SecretsManager, client_secret};
use super::{Elb, Family, elb_tags, ensure_tags, find, listeners_of};
use crate::documents::balancer::{Login, login_settings};
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;

/// The tag holding the version of the client secret a rule was last sent: ELBv2 never
/// returns the secret, so this is how a rotation shows as a change.
pub const CLIENT_SECRET_VERSION_TAG: &str = "temporalctl:client-secret-version";

/// A rule's sign-in: its settings and where its client secret is.
pub struct RuleLogin {
    pub sm: SecretsManager,
    pub settings: Login,
    /// The `login-secret` node.
    pub secret: NodeId,
    /// `ingress.login.client_secret_key`.
    pub key: Option<String>,
}

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
    pub login: Option<RuleLogin>,
}

attributes! {
    pub struct ListenerRuleAttrs / ListenerRuleField {
        /// The listener's ARN.
        Listener listener: String = "listener", replace;
        Priority priority: i32 = "priority";
        Hosts hosts: BTreeSet<String> = "hosts";
        /// The target group it forwards to.
        Forward forward: String = "forward";
        /// The `authenticate-oidc` settings before the forward (none without login).
        Login login: BTreeMap<String, String> = "login";
        ClientSecretVersion client_secret_version: String = "client-secret-version";
    }
}

/// The sign-in settings a rule holds, by the names of [`Login::settings`].
fn login_of(rule: &Elbv2Rule) -> BTreeMap<String, String> {
    let Some(c) = rule.actions().iter().find_map(|a| a.authenticate_oidc_config()) else {
        return BTreeMap::new();
    };
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    login_settings([
        text(c.issuer()),
        text(c.authorization_endpoint()),
        text(c.token_endpoint()),
        text(c.user_info_endpoint()),
        text(c.client_id()),
        text(c.scope()),
        c.session_timeout().map(|t| t.to_string()).unwrap_or_default(),
        text(c.session_cookie_name()),
        text(c.on_unauthenticated_request().map(|b| b.as_str())),
    ])
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

    /// Forward to the target group, after `authenticate-oidc` with login. `secret`: the
    /// client secret to send; `None` keeps the one the rule holds (`UseExistingClientSecret`).
    fn actions(&self, desired: &ListenerRuleAttrs, secret: Option<String>) -> Vec<Action> {
        let forward = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&desired.forward);
        let Some(login) = &self.login else { return vec![forward.build()] };
        let s = &login.settings;
        let config = AuthenticateOidcActionConfig::builder()
            .issuer(&s.issuer)
            .authorization_endpoint(&s.authorization_endpoint)
            .token_endpoint(&s.token_endpoint)
            .user_info_endpoint(&s.user_info_endpoint)
            .client_id(&s.client_id)
            .scope(&s.scope)
            .session_timeout(s.session_timeout_seconds)
            .session_cookie_name(s.session_cookie_name)
            .on_unauthenticated_request(AuthenticateOidcActionConditionalBehaviorEnum::from(
                s.on_unauthenticated_request,
            ));
        let config = match secret {
            Some(secret) => config.client_secret(secret),
            None => config.use_existing_client_secret(true),
        };
        // Never formatted with `{:?}`: the SDK does not mark the client secret sensitive.
        let config = config.build();
        let authenticate =
            Action::builder().r#type(ActionTypeEnum::AuthenticateOidc).order(1).authenticate_oidc_config(config);
        vec![authenticate.build(), forward.order(2).build()]
    }

    /// The client secret at the version `desired` names, read now (never kept).
    async fn secret(&self, cx: &Cx<'_>, desired: &ListenerRuleAttrs) -> Result<Option<String>, ResourceError> {
        let Some(login) = &self.login else { return Ok(None) };
        let arn = cx.inputs.get(&login.secret, Output::Arn)?;
        client_secret(&login.sm, arn, &desired.client_secret_version, login.key.as_deref()).await.map(Some)
    }

    /// AWS's validation errors quote the values they refuse, and ELBv2 does not mark the
    /// client secret sensitive: an error of a call that carried it never repeats it.
    fn without_secret(secret: Option<&str>) -> impl FnOnce(ResourceError) -> ResourceError + '_ {
        move |mut e| {
            if let Some(secret) = secret.filter(|s| !s.is_empty()) {
                e.message = e.message.replace(secret, "[the client secret]");
            }
            e
        }
    }

    fn version_tag(desired: &ListenerRuleAttrs) -> Option<Tag> {
        (!desired.client_secret_version.is_empty())
            .then(|| Tag::builder().key(CLIENT_SECRET_VERSION_TAG).value(&desired.client_secret_version).build())
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
        let secret = self.login.as_ref().map(|l| l.secret.clone());
        [self.listener.clone(), self.target_group.clone()].into_iter().chain(secret).collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<ListenerRuleAttrs, ResourceError> {
        let version = match &self.login {
            Some(login) => inputs.get(&login.secret, Output::Version)?.to_string(),
            None => String::new(),
        };
        Ok(ListenerRuleAttrs {
            listener: inputs.get(&self.listener, Output::Arn)?.to_string(),
            priority: self.priority,
            hosts: self.hosts.iter().cloned().collect(),
            forward: inputs.get(&self.target_group, Output::Arn)?.to_string(),
            login: self.login.as_ref().map(|l| l.settings.settings()).unwrap_or_default(),
            client_secret_version: version,
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
        let login = login_of(&rule);
        let version = match login.is_empty() {
            true => String::new(),
            false => tags.get(CLIENT_SECRET_VERSION_TAG).cloned().unwrap_or_default(),
        };
        Ok(Some(Observed::new(arn).output(Output::Arn, arn).tags(tags).found(ListenerRuleAttrs {
            listener: listener.unwrap_or_default(),
            priority: rule.priority().and_then(|p| p.parse().ok()).unwrap_or_default(),
            hosts: hosts_of(&rule),
            forward: forward_of(&rule),
            login,
            client_secret_version: version,
        })))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &ListenerRuleAttrs) -> Result<Observed, ResourceError> {
        let secret = self.secret(cx, desired).await?;
        let out = self
            .elb
            .create_rule()
            .listener_arn(&desired.listener)
            .priority(desired.priority)
            .conditions(Self::condition(desired))
            .set_actions(Some(self.actions(desired, secret.clone())))
            .set_tags(Some(elb_tags(cx.tags).into_iter().chain(Self::version_tag(desired)).collect()))
            .send()
            .await
            .map_err(aws("CreateRule"))
            .map_err(Self::without_secret(secret.as_deref()))?;
        let arn = out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default();
        Ok(Observed::new(arn).output(Output::Arn, arn).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Owned<Found<ListenerRuleAttrs>>,
        desired: &ListenerRuleAttrs,
        changed: &[ListenerRuleField],
    ) -> Result<(), ResourceError> {
        use ListenerRuleField::*;
        if changed.contains(&Listener) {
            return Err(replaced_not_updated("listener-rule", Listener));
        }
        if changed.contains(&Priority) {
            let pair = RulePriorityPair::builder().rule_arn(&o.id).priority(desired.priority).build();
            self.elb.set_rule_priorities().rule_priorities(pair).send().await.map_err(aws("SetRulePriorities"))?;
        }
        // ModifyRule replaces conditions and actions whole: one call for any of them. The
        // client secret is sent again when it or the login settings changed; AWS does not
        // say whether a kept secret survives a new client id, so only a change of hosts
        // or target group keeps it (`UseExistingClientSecret`).
        let rotated = changed.iter().any(|f| matches!(f, Login | ClientSecretVersion));
        if changed.iter().any(|f| matches!(f, Hosts | Forward | Login | ClientSecretVersion)) {
            let secret = if rotated { self.secret(cx, desired).await? } else { None };
            self.elb
                .modify_rule()
                .rule_arn(&o.id)
                .conditions(Self::condition(desired))
                .set_actions(Some(self.actions(desired, secret.clone())))
                .send()
                .await
                .map_err(aws("ModifyRule"))
                .map_err(Self::without_secret(secret.as_deref()))?;
        }
        if changed.contains(&ClientSecretVersion)
            && let Some(tag) = Self::version_tag(desired)
        {
            self.elb.add_tags().resource_arns(&o.id).tags(tag).send().await.map_err(aws("AddTags"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_never_repeats_the_client_secret() {
        let refused = ResourceError::fatal("CreateRule: Value 's3cr3t' at 'clientSecret' failed to satisfy constraint");
        let e = ListenerRule::without_secret(Some("s3cr3t"))(refused);
        assert_eq!(e.message, "CreateRule: Value '[the client secret]' at 'clientSecret' failed to satisfy constraint");
    }
}

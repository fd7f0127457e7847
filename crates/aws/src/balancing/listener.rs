//! A balancer's listener (the frontend's TCP 7233), forwarding to its target group. Found
//! by its recorded ARN, else among its balancer's listeners by port.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener as Elbv2Listener, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::{Elb, Family, elb_tags, ensure_tags, find, listeners_of};
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
    /// Where `DefaultAction::Forward` sends requests.
    pub target_group: Option<NodeId>,
    /// HTTPS: the ACM certificate.
    pub certificate: Option<CertificateSource>,
}

/// Where an HTTPS listener's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertificateSource {
    /// The user's, by ARN (`ingress.certificate_arn`).
    Given(String),
    /// A node whose `Arn` output is an issued certificate (the one temporalctl requested,
    /// once its validation finished).
    Node(NodeId),
}

attributes! {
    pub struct ListenerAttrs / ListenerField {
        /// The balancer's ARN.
        LoadBalancer load_balancer: String = "load-balancer", replace;
        /// `TCP:7233`.
        Listens listens: String = "listens";
        /// `forward:<target group ARN>`, `redirect:HTTPS:443:HTTP_301`, `fixed:404`.
        DefaultAction default_action: String = "default-action";
        /// HTTPS: the certificate's ARN and the TLS policy; empty otherwise.
        Certificate certificate: String = "certificate";
        TlsPolicy tls_policy: String = "tls-policy";
    }
}

fn listens_text(protocol: &str, port: i32) -> String {
    format!("{protocol}:{port}")
}

/// Ours among a balancer's listeners: the one on our port.
fn ours(listeners: &[Elbv2Listener], port: i32) -> Option<Elbv2Listener> {
    listeners.iter().find(|l| l.port() == Some(port)).cloned()
}

/// The action `plan` compares, as text.
fn action_text(a: &Action) -> String {
    match a.r#type() {
        Some(ActionTypeEnum::Forward) => format!("forward:{}", a.target_group_arn().unwrap_or_default()),
        Some(ActionTypeEnum::Redirect) => {
            let r = a.redirect_config();
            format!(
                "redirect:{}:{}:{}",
                r.and_then(|r| r.protocol()).unwrap_or_default(),
                r.and_then(|r| r.port()).unwrap_or_default(),
                r.and_then(|r| r.status_code()).map(|c| c.as_str()).unwrap_or_default()
            )
        }
        Some(ActionTypeEnum::FixedResponse) => {
            format!("fixed:{}", a.fixed_response_config().and_then(|f| f.status_code()).unwrap_or_default())
        }
        other => other.map(|t| t.as_str()).unwrap_or("none").to_string(),
    }
}

/// The action itself, from its text (the desired state's, which `desired` wrote).
fn action(text: &str) -> Result<Action, ResourceError> {
    let built = match text.split_once(':') {
        Some(("forward", arn)) => Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(arn).build(),
        Some(("redirect", _)) => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
        Some(("fixed", code)) => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(code)
                    .content_type("text/plain")
                    .message_body("no such site here\n")
                    .build(),
            )
            .build(),
        _ => return Err(ResourceError::fatal(format!("unknown listener action {text} (a bug)"))),
    };
    Ok(built)
}

impl Listener {
    /// The default action's text, with the target group's ARN for a forward.
    fn default_action(&self, inputs: &Inputs) -> Result<String, ResourceError> {
        Ok(match self.spec.default_action {
            balancer::DefaultAction::Forward => {
                let tg = self
                    .target_group
                    .as_ref()
                    .ok_or_else(|| ResourceError::fatal("a forwarding listener without a target group (a bug)"))?;
                format!("forward:{}", inputs.get(tg, Output::Arn)?)
            }
            balancer::DefaultAction::RedirectToHttps => "redirect:HTTPS:443:HTTP_301".into(),
            balancer::DefaultAction::NotFound => "fixed:404".into(),
        })
    }

    fn certificates(&self, desired: &ListenerAttrs) -> Option<Vec<Certificate>> {
        (!desired.certificate.is_empty())
            .then(|| vec![Certificate::builder().certificate_arn(&desired.certificate).build()])
    }

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
        Ok(ours(&listeners_of(&self.elb, &self.family.balancer).await?, self.spec.port))
    }
}

#[async_trait]
impl Kind for Listener {
    type Attrs = ListenerAttrs;

    fn kind(&self) -> &'static str {
        "listener"
    }

    fn references(&self) -> Vec<NodeId> {
        let certificate = match &self.certificate {
            Some(CertificateSource::Node(node)) => Some(node),
            _ => None,
        };
        [&self.load_balancer].into_iter().chain(&self.target_group).chain(certificate).cloned().collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<ListenerAttrs, ResourceError> {
        let l = &self.spec;
        Ok(ListenerAttrs {
            load_balancer: inputs.get(&self.load_balancer, Output::Arn)?.to_string(),
            listens: listens_text(l.protocol, l.port),
            default_action: self.default_action(inputs)?,
            certificate: match &self.certificate {
                Some(CertificateSource::Given(arn)) => arn.clone(),
                Some(CertificateSource::Node(node)) => inputs.get(node, Output::Arn)?.to_string(),
                None => String::new(),
            },
            tls_policy: l.tls_policy.unwrap_or_default().into(),
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
        let default_action = l.default_actions().first().map(action_text).unwrap_or_default();
        // Only a TLS-ending listener has a policy (moto shows its default on every listener).
        let ends_tls = matches!(l.protocol(), Some(ProtocolEnum::Https | ProtocolEnum::Tls));
        Ok(Some(Observed::new(arn).output(Output::Arn, arn).tags(tags).found(ListenerAttrs {
            load_balancer: l.load_balancer_arn().unwrap_or_default().into(),
            listens: listens_text(l.protocol().map(|p| p.as_str()).unwrap_or_default(), l.port().unwrap_or_default()),
            default_action,
            certificate: l.certificates().first().and_then(|c| c.certificate_arn()).unwrap_or_default().into(),
            tls_policy: l.ssl_policy().filter(|_| ends_tls).unwrap_or_default().into(),
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
            .set_ssl_policy(l.tls_policy.map(String::from))
            .set_certificates(self.certificates(desired))
            .default_actions(action(&desired.default_action)?)
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
        // Port, protocol, action, certificate and policy in one call.
        let l = &self.spec;
        self.elb
            .modify_listener()
            .listener_arn(&o.id)
            .protocol(ProtocolEnum::from(l.protocol))
            .port(l.port)
            .set_ssl_policy(l.tls_policy.map(String::from))
            .set_certificates(self.certificates(desired))
            .default_actions(action(&desired.default_action)?)
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

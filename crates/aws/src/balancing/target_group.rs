//! A target group of tasks (the frontend's: TCP 7233), `ip` targets (ECS registers each
//! task as it starts and deregisters it before stopping it), with the health check and
//! attributes of its `documents::balancer` spec.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as Elbv2TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::{Elb, Family, elb_tags, ensure_tags, find};
use crate::documents::balancer::{self, HealthCheck};
use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;

pub struct TargetGroup {
    pub elb: Elb,
    pub listings: crate::listings::Listings,
    /// The family whose first look reads it (its name is among the family's).
    pub family: Family,
    pub name: String,
    pub spec: balancer::TargetGroup,
    pub vpc: NodeId,
}

attributes! {
    pub struct TargetGroupAttrs / TargetGroupField {
        Name name: String = "name", replace;
        Vpc vpc: String = "vpc", replace;
        /// `TCP:7233:ip`.
        Target target: String = "target", replace;
        /// `TCP:traffic-port every 10s, 3 healthy, 3 unhealthy`.
        HealthCheck health_check: String = "health-check";
        /// The attributes we set, as AWS holds them (the others are AWS's defaults, not compared).
        Attributes attributes: BTreeMap<String, String> = "attributes";
    }
}

fn target_text(protocol: &str, port: i32, target_type: &str) -> String {
    format!("{protocol}:{port}:{target_type}")
}

/// `TCP:traffic-port every 10s within 5s, 3 healthy, 3 unhealthy`; an HTTP check adds its
/// path and the codes that mean healthy (`HTTP:traffic-port/healthz=200 every …`).
fn health_text(
    protocol: &str,
    port: &str,
    http: Option<(&str, &str)>,
    [interval, timeout, healthy, unhealthy]: [i32; 4],
) -> String {
    let asks = http.map(|(path, codes)| format!("{path}={codes}")).unwrap_or_default();
    format!("{protocol}:{port}{asks} every {interval}s within {timeout}s, {healthy} healthy, {unhealthy} unhealthy")
}

fn wanted_health(h: &HealthCheck) -> String {
    let http = h.path.map(|path| (path, h.healthy_codes.unwrap_or_default()));
    health_text(
        h.protocol,
        h.port,
        http,
        [h.interval_seconds, h.timeout_seconds, h.healthy_threshold, h.unhealthy_threshold],
    )
}

fn observed_health(tg: &Elbv2TargetGroup) -> String {
    let n = |v: Option<i32>| v.unwrap_or_default();
    let protocol = tg.health_check_protocol().map(|p| p.as_str()).unwrap_or_default();
    // Only an HTTP(S) check has a path and codes (AWS shows none for TCP; moto shows `/`).
    let http = matches!(protocol, "HTTP" | "HTTPS").then(|| {
        (tg.health_check_path().unwrap_or_default(), tg.matcher().and_then(|m| m.http_code()).unwrap_or_default())
    });
    health_text(
        protocol,
        tg.health_check_port().unwrap_or_default(),
        http,
        [
            n(tg.health_check_interval_seconds()),
            n(tg.health_check_timeout_seconds()),
            n(tg.healthy_threshold_count()),
            n(tg.unhealthy_threshold_count()),
        ],
    )
}

/// An HTTP check's healthy codes, as ELBv2 takes them.
fn matcher(h: &HealthCheck) -> Option<Matcher> {
    h.healthy_codes.map(|codes| Matcher::builder().http_code(codes).build())
}

impl TargetGroup {
    async fn set_attributes(&self, arn: &str, wanted: &BTreeMap<String, String>) -> Result<(), ResourceError> {
        let attributes = wanted.iter().map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build()).collect();
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(aws("ModifyTargetGroupAttributes"))?;
        Ok(())
    }

    async fn set_health_check(&self, arn: &str) -> Result<(), ResourceError> {
        let h = &self.spec.health_check;
        self.elb
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_protocol(ProtocolEnum::from(h.protocol))
            .health_check_port(h.port)
            .set_health_check_path(h.path.map(String::from))
            .set_matcher(matcher(h))
            .health_check_interval_seconds(h.interval_seconds)
            .health_check_timeout_seconds(h.timeout_seconds)
            .healthy_threshold_count(h.healthy_threshold)
            .unhealthy_threshold_count(h.unhealthy_threshold)
            .send()
            .await
            .map_err(aws("ModifyTargetGroup"))?;
        Ok(())
    }
}

#[async_trait]
impl Kind for TargetGroup {
    type Attrs = TargetGroupAttrs;

    fn kind(&self) -> &'static str {
        "target-group"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<TargetGroupAttrs, ResourceError> {
        let tg = &self.spec;
        Ok(TargetGroupAttrs {
            name: self.name.clone(),
            vpc: inputs.get(&self.vpc, Output::Id)?.to_string(),
            target: target_text(tg.protocol, tg.port, tg.target_type),
            health_check: wanted_health(&tg.health_check),
            attributes: tg.attributes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<TargetGroupAttrs>>, ResourceError> {
        let fresh = || async {
            let described =
                self.elb.describe_target_groups().names(&self.name).send().await.map_err(aws("DescribeTargetGroups"));
            Ok(absent_if_gone(described)?.and_then(|out| out.target_groups().first().cloned()))
        };
        let found = find(
            cx,
            (&self.listings, &self.elb, &self.family),
            |all| all.target_group(&self.name),
            |tg| tg.target_group_arn(),
            fresh,
        )
        .await?;
        let Some((tg, tags)) = found else { return Ok(None) };
        let tg = &tg;
        let arn = tg.target_group_arn().unwrap_or_default();
        let held = self
            .elb
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(aws("DescribeTargetGroupAttributes"))?;
        let ours = &self.spec.attributes;
        let attributes = held
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value().unwrap_or_default().to_string())))
            .filter(|(k, _)| ours.contains_key(k.as_str()))
            .collect();
        Ok(Some(
            Observed::new(arn)
                .output(Output::Arn, arn)
                .output(Output::Name, tg.target_group_name().unwrap_or_default())
                .tags(tags)
                .found(TargetGroupAttrs {
                    name: tg.target_group_name().unwrap_or_default().into(),
                    vpc: tg.vpc_id().unwrap_or_default().into(),
                    target: target_text(
                        tg.protocol().map(|p| p.as_str()).unwrap_or_default(),
                        tg.port().unwrap_or_default(),
                        tg.target_type().map(|t| t.as_str()).unwrap_or_default(),
                    ),
                    health_check: observed_health(tg),
                    attributes,
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &TargetGroupAttrs) -> Result<Observed, ResourceError> {
        let tg = &self.spec;
        let h = &tg.health_check;
        let out = self
            .elb
            .create_target_group()
            .name(&self.name)
            .vpc_id(&desired.vpc)
            .protocol(ProtocolEnum::from(tg.protocol))
            .port(tg.port)
            .target_type(TargetTypeEnum::from(tg.target_type))
            .health_check_protocol(ProtocolEnum::from(h.protocol))
            .health_check_port(h.port)
            .set_health_check_path(h.path.map(String::from))
            .set_matcher(matcher(h))
            .health_check_interval_seconds(h.interval_seconds)
            .health_check_timeout_seconds(h.timeout_seconds)
            .healthy_threshold_count(h.healthy_threshold)
            .unhealthy_threshold_count(h.unhealthy_threshold)
            .set_tags(Some(elb_tags(cx.tags)))
            .send()
            .await
            .map_err(aws("CreateTargetGroup"))?;
        let made =
            out.target_groups().first().ok_or_else(|| ResourceError::fatal("CreateTargetGroup returned none"))?;
        let arn = made.target_group_arn().unwrap_or_default();
        self.set_attributes(arn, &desired.attributes).await?;
        Ok(Observed::new(arn)
            .output(Output::Arn, arn)
            .output(Output::Name, made.target_group_name().unwrap_or_default())
            .tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<TargetGroupAttrs>>,
        desired: &TargetGroupAttrs,
        changed: &[TargetGroupField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                TargetGroupField::HealthCheck => self.set_health_check(&o.id).await?,
                TargetGroupField::Attributes => self.set_attributes(&o.id, &desired.attributes).await?,
                TargetGroupField::Name | TargetGroupField::Vpc | TargetGroupField::Target => {
                    return Err(replaced_not_updated("target-group", field));
                }
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.elb, &o.id, cx.tags).await
    }

    /// `ResourceInUse` while a listener still forwards to it: retried until it is gone.
    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<TargetGroupAttrs>>) -> Result<(), ResourceError> {
        gone_is_ok(
            self.elb.delete_target_group().target_group_arn(&o.id).send().await.map_err(aws("DeleteTargetGroup")),
        )
    }
}

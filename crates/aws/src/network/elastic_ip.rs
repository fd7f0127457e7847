//! The NAT gateway's Elastic IP. AWS holds it until the NAT gateway is fully deleted.

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, tag_spec};
use crate::errors::aws;
use crate::outputs::Output;
use crate::tags::from_sdk;

pub struct ElasticIp {
    pub ec2: Ec2,
}

attributes! {
    pub struct ElasticIpAttrs / ElasticIpField {
        Domain domain: String = "domain", replace;
    }
}

#[async_trait]
impl Kind for ElasticIp {
    type Attrs = ElasticIpAttrs;

    fn kind(&self) -> &'static str {
        "elastic-ip"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<ElasticIpAttrs, ResourceError> {
        Ok(ElasticIpAttrs { domain: DomainType::Vpc.as_str().into() })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<ElasticIpAttrs>>, ResourceError> {
        let Some(a) = lookup!(
            single: cx,
            &self.ec2.listings,
            "Elastic IP",
            self.ec2.describe_addresses(),
            allocation_ids,
            set_filters,
            addresses,
            "DescribeAddresses",
            |_| true,
            |a| a.allocation_id()
        )?
        else {
            return Ok(None);
        };
        let domain = a.domain().map(|d| d.as_str()).unwrap_or("vpc");
        Ok(Some(
            Observed::new(a.allocation_id().unwrap_or_default())
                .output(Output::PublicIp, a.public_ip().unwrap_or_default())
                .tags(from_sdk(a.tags()))
                .found(ElasticIpAttrs { domain: domain.into() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &ElasticIpAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(ResourceType::ElasticIp, cx.tags))
            .send()
            .await
            .map_err(aws("AllocateAddress"))?;
        let id =
            out.allocation_id().ok_or_else(|| ResourceError::fatal("AllocateAddress returned no allocation id"))?;
        Ok(Observed::new(id).output(Output::PublicIp, out.public_ip().unwrap_or_default()).tags(cx.tags.clone()))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<ElasticIpAttrs>>,
        _: &ElasticIpAttrs,
        changed: &[ElasticIpField],
    ) -> Result<(), ResourceError> {
        match changed.first() {
            Some(field @ ElasticIpField::Domain) => Err(replaced_not_updated("elastic-ip", field)),
            None => Ok(()),
        }
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<ElasticIpAttrs>>) -> Result<(), ResourceError> {
        self.ec2.release_address().allocation_id(&o.id).send().await.map_err(aws("ReleaseAddress"))?;
        Ok(())
    }
}

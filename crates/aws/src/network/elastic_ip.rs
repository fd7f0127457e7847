//! The NAT gateway's Elastic IP. AWS holds it until the NAT gateway is fully deleted.

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError};

use super::ec2::{Ec2, ensure_tags, lookup, tag_map, tag_spec};
use crate::errors::aws;

pub struct ElasticIp {
    pub ec2: Ec2,
}

#[async_trait]
impl Resource for ElasticIp {
    fn kind(&self) -> &'static str {
        "elastic-ip"
    }

    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([("domain".into(), "vpc".into())]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["domain"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
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
                .attr("domain", domain)
                .output("public-ip", a.public_ip().unwrap_or_default())
                .tags(tag_map(a.tags())),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &Attrs) -> Result<Observed, ResourceError> {
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
        Ok(Observed::new(id).output("public-ip", out.public_ip().unwrap_or_default()).tags(cx.tags.clone()))
    }

    async fn update(&self, cx: &Cx<'_>, o: &Observed, _: &Attrs, changed: &[String]) -> Result<(), ResourceError> {
        if changed.iter().any(|c| c == "tags") {
            ensure_tags(&self.ec2, &o.id, cx.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        self.ec2.release_address().allocation_id(&o.id).send().await.map_err(aws("ReleaseAddress"))?;
        Ok(())
    }
}

//! A route table with its default route and its subnet associations. Routes others add
//! (the VPC's local route, the S3 gateway endpoint's prefix-list route) are left alone.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use temporalctl_engine::{Attrs, Cx, Inputs, NodeId, Observed, Resource, ResourceError};

use super::ec2::{Ec2, attr, ensure_tags, lookup, set, set_delta, tag_map, tag_spec};
use crate::errors::{aws, gone_is_ok, on_new_id};

const DEFAULT: &str = "0.0.0.0/0";

/// Where the default route goes.
pub enum Target {
    InternetGateway(NodeId),
    NatGateway(NodeId),
}

pub struct RouteTable {
    pub ec2: Ec2,
    pub vpc: NodeId,
    pub default_route: Target,
    pub subnets: Vec<NodeId>,
}

#[async_trait]
impl Resource for RouteTable {
    fn kind(&self) -> &'static str {
        "route-table"
    }

    fn desired(&self, inputs: &Inputs) -> Result<Attrs, ResourceError> {
        let target = match &self.default_route {
            Target::InternetGateway(n) | Target::NatGateway(n) => inputs.get(n, "id")?,
        };
        let subnets = self.subnets.iter().map(|s| inputs.get(s, "id")).collect::<Result<Vec<_>, _>>()?;
        Ok(Attrs::from([
            ("vpc".into(), inputs.get(&self.vpc, "id")?.to_string()),
            ("default-route".into(), target.to_string()),
            ("subnets".into(), set(subnets)),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let Some(rt) = lookup!(
            cx,
            &self.ec2.listings,
            "route table",
            self.ec2.describe_route_tables(),
            route_table_ids,
            set_filters,
            route_tables,
            "DescribeRouteTables",
            |_| true,
            |r| r.route_table_id()
        )?
        else {
            return Ok(None);
        };
        let default = rt
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some(DEFAULT))
            .and_then(|r| r.nat_gateway_id().or(r.gateway_id()))
            .unwrap_or_default();
        let subnets =
            set(rt.associations().iter().filter(|a| !a.main().unwrap_or(false)).filter_map(|a| a.subnet_id()));
        // Association ids, so update and delete can drop them without another read.
        let associations = rt
            .associations()
            .iter()
            .filter(|a| !a.main().unwrap_or(false))
            .filter_map(|a| Some(format!("{}={}", a.subnet_id()?, a.route_table_association_id()?)));
        Ok(Some(
            Observed::new(rt.route_table_id().unwrap_or_default())
                .attr("vpc", rt.vpc_id().unwrap_or_default())
                .attr("default-route", default)
                .attr("subnets", subnets)
                .attr("association-ids", set(associations.collect::<Vec<_>>().iter().map(String::as_str)))
                .tags(tag_map(rt.tags())),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_route_table()
            .vpc_id(attr(desired, "vpc")?)
            .tag_specifications(tag_spec(ResourceType::RouteTable, cx.tags))
            .send()
            .await
            .map_err(aws("CreateRouteTable"))?;
        let id = out
            .route_table
            .and_then(|r| r.route_table_id)
            .ok_or_else(|| ResourceError::fatal("CreateRouteTable returned no table"))?;
        let created = Observed::new(&id).tags(cx.tags.clone());
        let fields = ["default-route".to_string(), "subnets".to_string()];
        on_new_id(|| self.update(cx, &created, desired, &fields)).await?;
        Ok(created)
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        o: &Observed,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field.as_str() {
                "default-route" => {
                    self.set_default_route(
                        &o.id,
                        o.attrs.get("default-route").is_some_and(|r| !r.is_empty()),
                        attr(desired, field)?,
                    )
                    .await?
                }
                "subnets" => {
                    let (add, remove) = set_delta(o.attrs.get("subnets"), attr(desired, field)?);
                    for subnet in add {
                        self.ec2
                            .associate_route_table()
                            .route_table_id(&o.id)
                            .subnet_id(subnet)
                            .send()
                            .await
                            .map_err(aws("AssociateRouteTable"))?;
                    }
                    for association in association_ids(o).filter(|(s, _)| remove.contains(s)).map(|(_, a)| a) {
                        self.disassociate(&association).await?;
                    }
                }
                "tags" => ensure_tags(&self.ec2, &o.id, cx.tags).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Observed) -> Result<(), ResourceError> {
        for (_, association) in association_ids(o) {
            self.disassociate(&association).await?;
        }
        self.ec2.delete_route_table().route_table_id(&o.id).send().await.map_err(aws("DeleteRouteTable"))?;
        Ok(())
    }
}

impl RouteTable {
    async fn set_default_route(&self, table: &str, exists: bool, target: &str) -> Result<(), ResourceError> {
        let nat = matches!(self.default_route, Target::NatGateway(_));
        if exists {
            let req = self.ec2.replace_route().route_table_id(table).destination_cidr_block(DEFAULT);
            let req = if nat { req.nat_gateway_id(target) } else { req.gateway_id(target) };
            req.send().await.map_err(aws("ReplaceRoute"))?;
        } else {
            let req = self.ec2.create_route().route_table_id(table).destination_cidr_block(DEFAULT);
            let req = if nat { req.nat_gateway_id(target) } else { req.gateway_id(target) };
            req.send().await.map_err(aws("CreateRoute"))?;
        }
        Ok(())
    }

    async fn disassociate(&self, association: &str) -> Result<(), ResourceError> {
        gone_is_ok(
            self.ec2
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
                .map_err(aws("DisassociateRouteTable")),
        )
    }
}

/// (subnet, association id) pairs recorded by `read`.
fn association_ids(o: &Observed) -> impl Iterator<Item = (String, String)> + '_ {
    o.attrs
        .get("association-ids")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('=').map(|(s, a)| (s.to_string(), a.to_string())))
}

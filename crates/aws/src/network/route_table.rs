//! A route table with its default route and its subnet associations. Routes others add
//! (the VPC's local route, the S3 gateway endpoint's prefix-list route) are left alone.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, attributes, replaced_not_updated,
};

use super::ec2::{Ec2, ensure_tags, lookup, tag_spec};
use crate::errors::{aws, gone_is_ok, on_new_id};
use crate::outputs::Output;
use crate::tags::from_sdk;

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

attributes! {
    pub struct RouteTableAttrs / RouteTableField {
        Vpc vpc: String = "vpc", replace;
        /// The default route's target (empty when there is none).
        DefaultRoute default_route: String = "default-route";
        Subnets subnets: BTreeSet<String> = "subnets";
    }
    read_only {
        /// Subnet to association id, so update and delete drop them without another read.
        associations: BTreeMap<String, String>,
    }
}

#[async_trait]
impl Kind for RouteTable {
    type Attrs = RouteTableAttrs;

    fn kind(&self) -> &'static str {
        "route-table"
    }

    fn references(&self) -> Vec<NodeId> {
        let (Target::InternetGateway(target) | Target::NatGateway(target)) = &self.default_route;
        [&self.vpc, target].into_iter().chain(&self.subnets).cloned().collect()
    }

    fn desired(&self, inputs: &Inputs) -> Result<RouteTableAttrs, ResourceError> {
        let target = match &self.default_route {
            Target::InternetGateway(n) | Target::NatGateway(n) => inputs.get(n, Output::Id)?,
        };
        Ok(RouteTableAttrs {
            vpc: inputs.get(&self.vpc, Output::Id)?.to_string(),
            default_route: target.to_string(),
            subnets: inputs.each(&self.subnets, Output::Id)?,
            ..Default::default()
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<RouteTableAttrs>>, ResourceError> {
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
        let subnet_associations = rt.associations().iter().filter(|a| !a.main().unwrap_or(false));
        Ok(Some(
            Observed::new(rt.route_table_id().unwrap_or_default()).tags(from_sdk(rt.tags())).found(RouteTableAttrs {
                vpc: rt.vpc_id().unwrap_or_default().into(),
                default_route: default.into(),
                subnets: subnet_associations.clone().filter_map(|a| a.subnet_id()).map(String::from).collect(),
                associations: subnet_associations
                    .filter_map(|a| Some((a.subnet_id()?.to_string(), a.route_table_association_id()?.to_string())))
                    .collect(),
            }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &RouteTableAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ec2
            .create_route_table()
            .vpc_id(&desired.vpc)
            .tag_specifications(tag_spec(ResourceType::RouteTable, cx.tags))
            .send()
            .await
            .map_err(aws("CreateRouteTable"))?;
        let id = out
            .route_table
            .and_then(|r| r.route_table_id)
            .ok_or_else(|| ResourceError::fatal("CreateRouteTable returned no table"))?;
        let created = Observed::new(&id).tags(cx.tags.clone());
        let empty = created.clone().found(RouteTableAttrs::default());
        let empty = Owned::created(cx, empty);
        let fields = [RouteTableField::DefaultRoute, RouteTableField::Subnets];
        on_new_id(|| self.update(cx, &empty, desired, &fields)).await?;
        Ok(created)
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<RouteTableAttrs>>,
        desired: &RouteTableAttrs,
        changed: &[RouteTableField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                RouteTableField::DefaultRoute => {
                    self.set_default_route(&o.id, !o.attrs.default_route.is_empty(), &desired.default_route).await?
                }
                RouteTableField::Subnets => {
                    for subnet in desired.subnets.difference(&o.attrs.subnets) {
                        self.ec2
                            .associate_route_table()
                            .route_table_id(&o.id)
                            .subnet_id(subnet)
                            .send()
                            .await
                            .map_err(aws("AssociateRouteTable"))?;
                    }
                    for (_, association) in o.attrs.associations.iter().filter(|(s, _)| !desired.subnets.contains(*s)) {
                        self.disassociate(association).await?;
                    }
                }
                RouteTableField::Vpc => return Err(replaced_not_updated("route-table", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        ensure_tags(&self.ec2, &o.id, cx.tags).await
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<RouteTableAttrs>>) -> Result<(), ResourceError> {
        for association in o.attrs.associations.values() {
            self.disassociate(association).await?;
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

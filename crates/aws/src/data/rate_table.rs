//! The DynamoDB table the DSQL fork's cluster-wide connection limiter counts in
//! (`dsql.rate_coordination`). iw/temporal `common/persistence/sql/sqlplugin/dsql/
//! distributed_rate_limiter.go`: one item per DSQL endpoint and second, partition key `pk`
//! (a string, no sort key), `UpdateItem` with an increment, expired through TTL on
//! `ttl_epoch`. On demand: the load is a few writes a second. Coordination state, not
//! data: `down` removes it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus, Tag,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, Status, attributes,
    replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws, gone_is_ok, retry_while};
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags};

/// The fork's key and expiry attributes.
pub const PARTITION_KEY: &str = "pk";
pub const TTL_ATTRIBUTE: &str = "ttl_epoch";

pub struct RateTable {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub name: String,
}

attributes! {
    pub struct RateTableAttrs / RateTableField {
        Name name: String = "name", replace;
        /// `pk`, the only key.
        Key key: String = "key", replace;
        BillingMode billing_mode: String = "billing-mode";
        /// The attribute DynamoDB expires items by.
        Ttl ttl: String = "ttl";
    }
}

/// A table still being made, until it is `ACTIVE` (TTL can only be set then).
fn not_active_yet(e: &ResourceError) -> bool {
    e.code.as_deref() == Some("TableNotActive")
}

/// How long a new on-demand table may take to become active (seconds, usually).
const ACTIVE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

impl RateTable {
    async fn enable_ttl(&self) -> Result<(), ResourceError> {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        self.dynamodb
            .update_time_to_live()
            .table_name(&self.name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(aws("UpdateTimeToLive"))?;
        Ok(())
    }
}

#[async_trait]
impl Kind for RateTable {
    type Attrs = RateTableAttrs;

    fn kind(&self) -> &'static str {
        "dynamodb-table"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![]
    }

    fn desired(&self, _: &Inputs) -> Result<RateTableAttrs, ResourceError> {
        Ok(RateTableAttrs {
            name: self.name.clone(),
            key: PARTITION_KEY.into(),
            billing_mode: BillingMode::PayPerRequest.as_str().into(),
            ttl: TTL_ATTRIBUTE.into(),
        })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<RateTableAttrs>>, ResourceError> {
        let described =
            self.dynamodb.describe_table().table_name(&self.name).send().await.map_err(aws("DescribeTable"));
        let Some(out) = absent_if_gone(described)? else { return Ok(None) };
        let Some(t) = out.table else { return Ok(None) };
        if t.table_status() == Some(&TableStatus::Deleting) {
            return Ok(None);
        }
        let arn = t.table_arn().unwrap_or_default().to_string();
        let tags =
            self.dynamodb.list_tags_of_resource().resource_arn(&arn).send().await.map_err(aws("ListTagsOfResource"))?;
        let ttl = self
            .dynamodb
            .describe_time_to_live()
            .table_name(&self.name)
            .send()
            .await
            .map_err(aws("DescribeTimeToLive"))?;
        // ENABLING counts: AWS takes up to an hour to finish, and refuses a second request
        // meanwhile (DynamoDB API reference, `UpdateTimeToLive`).
        let ttl = ttl
            .time_to_live_description()
            .filter(|d| matches!(d.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)))
            .and_then(|d| d.attribute_name())
            .unwrap_or_default();
        let key = t.key_schema().iter().map(|k| k.attribute_name()).collect::<Vec<_>>().join(",");
        let billing = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str())
            .unwrap_or(BillingMode::Provisioned.as_str());
        let status = match t.table_status() {
            Some(TableStatus::Active) | None => Status::Ready,
            Some(other) => Status::Pending(other.as_str().to_lowercase()),
        };
        Ok(Some(
            Observed::new(&self.name)
                .output(Output::Arn, arn)
                .tags(from_sdk(tags.tags()))
                .status(status)
                .found(RateTableAttrs { name: self.name.clone(), key, billing_mode: billing.into(), ttl: ttl.into() }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, _: &RateTableAttrs) -> Result<Observed, ResourceError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| ResourceError::fatal(e.to_string());
        self.dynamodb
            .create_table()
            .table_name(&self.name)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateTable"))?;
        // TTL is set on an active table only.
        retry_while(
            || async {
                let out =
                    self.dynamodb.describe_table().table_name(&self.name).send().await.map_err(aws("DescribeTable"))?;
                match out.table().and_then(|t| t.table_status()) {
                    Some(TableStatus::Active) => Ok(()),
                    other => Err(ResourceError::fatal(format!(
                        "table {} did not become active within {}s (it is {other:?})",
                        self.name,
                        ACTIVE_DEADLINE.as_secs()
                    ))
                    .with_code("TableNotActive")),
                }
            },
            not_active_yet,
            ACTIVE_DEADLINE,
        )
        .await?;
        self.enable_ttl().await?;
        let found = Kind::read(self, cx).await?.map(|found| found.observed);
        found.ok_or_else(|| ResourceError::fatal("table missing right after CreateTable"))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<RateTableAttrs>>,
        _: &RateTableAttrs,
        changed: &[RateTableField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                RateTableField::Ttl => self.enable_ttl().await?,
                RateTableField::BillingMode => {
                    self.dynamodb
                        .update_table()
                        .table_name(&self.name)
                        .billing_mode(BillingMode::PayPerRequest)
                        .send()
                        .await
                        .map_err(aws("UpdateTable"))?;
                }
                RateTableField::Name | RateTableField::Key => {
                    return Err(replaced_not_updated("dynamodb-table", field));
                }
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        let arn = o.outputs.get(Output::Arn.as_ref()).cloned().unwrap_or_default();
        self.dynamodb
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("TagResource"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<RateTableAttrs>>) -> Result<(), ResourceError> {
        gone_is_ok(self.dynamodb.delete_table().table_name(&self.name).send().await.map_err(aws("DeleteTable")))
    }

    fn retention(&self) -> Retention {
        Retention::Delete
    }
}

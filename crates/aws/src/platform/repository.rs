//! An ECR repository for the Temporal images (scan on push, lifecycle policy). Images are
//! costly to rebuild, so repositories are kept by `down` unless `--destroy-data`.

use async_trait::async_trait;
use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Tag};
use serde_json::json;
use temporalctl_engine::{Attrs, Cx, Inputs, Observed, Resource, ResourceError, Retention};

use crate::errors::aws;
use crate::iam::canonical_policy;
use crate::network::ec2::attr;
use crate::tags::sdk_tags;

pub struct Repository {
    pub ecr: aws_sdk_ecr::Client,
    pub name: String,
}

/// Keep the last 10 untagged images (seed 002).
pub fn lifecycle_policy() -> String {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": "Keep last 10 untagged images",
            "selection": { "tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 10 },
            "action": { "type": "expire" }
        }]
    })
    .to_string()
}

#[async_trait]
impl Resource for Repository {
    fn kind(&self) -> &'static str {
        "ecr-repository"
    }

    fn desired(&self, _: &Inputs) -> Result<Attrs, ResourceError> {
        Ok(Attrs::from([
            ("name".into(), self.name.clone()),
            ("scan-on-push".into(), "true".into()),
            ("lifecycle".into(), canonical_policy(&lifecycle_policy())),
        ]))
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Observed>, ResourceError> {
        let out = match self
            .ecr
            .describe_repositories()
            .repository_names(&self.name)
            .send()
            .await
            .map_err(aws("DescribeRepositories"))
        {
            Ok(o) => o,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(repo) = out.repositories().first() else { return Ok(None) };
        let arn = repo.repository_arn().unwrap_or_default();
        let tags =
            self.ecr.list_tags_for_resource().resource_arn(arn).send().await.map_err(aws("ListTagsForResource"))?;
        let lifecycle = match self
            .ecr
            .get_lifecycle_policy()
            .repository_name(&self.name)
            .send()
            .await
            .map_err(aws("GetLifecyclePolicy"))
        {
            Ok(p) => p.lifecycle_policy_text().map(canonical_policy).unwrap_or_default(),
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e),
        };
        let scan = repo.image_scanning_configuration().map(|c| c.scan_on_push()).unwrap_or(false);
        Ok(Some(
            Observed::new(&self.name)
                .attr("name", &self.name)
                .attr("scan-on-push", scan.to_string())
                .attr("lifecycle", lifecycle)
                .output("arn", arn)
                .output("uri", repo.repository_uri().unwrap_or_default())
                .tags(tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Attrs) -> Result<Observed, ResourceError> {
        let out = self
            .ecr
            .create_repository()
            .repository_name(&self.name)
            .image_tag_mutability(ImageTagMutability::Mutable)
            .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateRepository"))?;
        let repo = out.repository.ok_or_else(|| ResourceError::fatal("CreateRepository returned no repository"))?;
        let created = Observed::new(&self.name)
            .attr("lifecycle", "")
            .output("arn", repo.repository_arn().unwrap_or_default())
            .output("uri", repo.repository_uri().unwrap_or_default())
            .tags(cx.tags.clone());
        self.update(cx, &created, desired, &["lifecycle".into()]).await?;
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
                "scan-on-push" => {
                    let scan = ImageScanningConfiguration::builder().scan_on_push(true).build();
                    self.ecr
                        .put_image_scanning_configuration()
                        .repository_name(&self.name)
                        .image_scanning_configuration(scan)
                        .send()
                        .await
                        .map_err(aws("PutImageScanningConfiguration"))?;
                }
                "lifecycle" => {
                    self.ecr
                        .put_lifecycle_policy()
                        .repository_name(&self.name)
                        .lifecycle_policy_text(attr(desired, field)?)
                        .send()
                        .await
                        .map_err(aws("PutLifecyclePolicy"))?;
                }
                "tags" => {
                    let arn = o.outputs.get("arn").cloned().unwrap_or_default();
                    self.ecr
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
                        .send()
                        .await
                        .map_err(aws("TagResource"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, _: &Observed) -> Result<(), ResourceError> {
        // Only `down --destroy-data` comes here, images included.
        self.ecr
            .delete_repository()
            .repository_name(&self.name)
            .force(true)
            .send()
            .await
            .map_err(aws("DeleteRepository"))?;
        Ok(())
    }

    fn retention(&self) -> Retention {
        Retention::Data
    }
}

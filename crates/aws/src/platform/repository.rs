//! An ECR repository for the Temporal images (scan on push, lifecycle policy, immutable
//! tags). Images are costly to rebuild, so repositories are kept by `down` unless
//! `--destroy-data`.
//!
//! Tags are immutable (Amazon ECR User Guide, "Preventing image tags from being
//! overwritten"): a push of an existing tag fails, so `temporal.version` names one build
//! forever and a digest `up` pinned cannot be reached by a different image's tag.

use async_trait::async_trait;
use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Tag};
use serde_json::json;
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Retention, attributes, replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws};
use crate::iam::canonical_policy;
use crate::outputs::Output;
use crate::tags::{from_sdk, sdk_tags, tag_by_arn};

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

attributes! {
    pub struct RepositoryAttrs / RepositoryField {
        Name name: String = "name", replace;
        ScanOnPush scan_on_push: bool = "scan-on-push";
        /// `IMMUTABLE` or `MUTABLE`, as ECR names it.
        TagMutability tag_mutability: String = "tag-mutability";
        /// The lifecycle policy as canonical JSON, empty when there is none.
        Lifecycle lifecycle: String = "lifecycle";
    }
}

#[async_trait]
impl Kind for Repository {
    type Attrs = RepositoryAttrs;

    fn kind(&self) -> &'static str {
        "ecr-repository"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<RepositoryAttrs, ResourceError> {
        Ok(RepositoryAttrs {
            name: self.name.clone(),
            scan_on_push: true,
            tag_mutability: ImageTagMutability::Immutable.as_str().into(),
            lifecycle: canonical_policy(&lifecycle_policy()),
        })
    }

    async fn read(&self, _: &Cx<'_>) -> Result<Option<Found<RepositoryAttrs>>, ResourceError> {
        let described = self
            .ecr
            .describe_repositories()
            .repository_names(&self.name)
            .send()
            .await
            .map_err(aws("DescribeRepositories"));
        let Some(out) = absent_if_gone(described)? else { return Ok(None) };
        let Some(repo) = out.repositories().first() else { return Ok(None) };
        let arn = repo.repository_arn().unwrap_or_default();
        let tags =
            self.ecr.list_tags_for_resource().resource_arn(arn).send().await.map_err(aws("ListTagsForResource"))?;
        let lifecycle =
            self.ecr.get_lifecycle_policy().repository_name(&self.name).send().await.map_err(aws("GetLifecyclePolicy"));
        let lifecycle = absent_if_gone(lifecycle)?.and_then(|p| p.lifecycle_policy_text().map(canonical_policy));
        Ok(Some(
            Observed::new(&self.name)
                .output(Output::Arn, arn)
                .output(Output::Uri, repo.repository_uri().unwrap_or_default())
                .tags(from_sdk(tags.tags()))
                .found(RepositoryAttrs {
                    name: self.name.clone(),
                    scan_on_push: repo.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
                    tag_mutability: repo.image_tag_mutability().map(|m| m.as_str().to_string()).unwrap_or_default(),
                    lifecycle: lifecycle.unwrap_or_default(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &RepositoryAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .ecr
            .create_repository()
            .repository_name(&self.name)
            .image_tag_mutability(ImageTagMutability::from(desired.tag_mutability.as_str()))
            .image_scanning_configuration(
                ImageScanningConfiguration::builder().scan_on_push(desired.scan_on_push).build(),
            )
            .set_tags(Some(sdk_tags!(Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("CreateRepository"))?;
        let repo = out.repository.ok_or_else(|| ResourceError::fatal("CreateRepository returned no repository"))?;
        let created = Observed::new(&self.name)
            .output(Output::Arn, repo.repository_arn().unwrap_or_default())
            .output(Output::Uri, repo.repository_uri().unwrap_or_default())
            .tags(cx.tags.clone());
        let bare = created.clone().found(RepositoryAttrs::default());
        let bare = Owned::created(cx, bare);
        self.update(cx, &bare, desired, &[RepositoryField::Lifecycle]).await?;
        Ok(created)
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<RepositoryAttrs>>,
        desired: &RepositoryAttrs,
        changed: &[RepositoryField],
    ) -> Result<(), ResourceError> {
        for field in changed {
            match field {
                RepositoryField::ScanOnPush => {
                    let scan = ImageScanningConfiguration::builder().scan_on_push(desired.scan_on_push).build();
                    self.ecr
                        .put_image_scanning_configuration()
                        .repository_name(&self.name)
                        .image_scanning_configuration(scan)
                        .send()
                        .await
                        .map_err(aws("PutImageScanningConfiguration"))?;
                }
                RepositoryField::Lifecycle => {
                    self.ecr
                        .put_lifecycle_policy()
                        .repository_name(&self.name)
                        .lifecycle_policy_text(&desired.lifecycle)
                        .send()
                        .await
                        .map_err(aws("PutLifecyclePolicy"))?;
                }
                RepositoryField::TagMutability => {
                    self.ecr
                        .put_image_tag_mutability()
                        .repository_name(&self.name)
                        .image_tag_mutability(ImageTagMutability::from(desired.tag_mutability.as_str()))
                        .send()
                        .await
                        .map_err(aws("PutImageTagMutability"))?;
                }
                RepositoryField::Name => return Err(replaced_not_updated("ecr-repository", field)),
            }
        }
        Ok(())
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        tag_by_arn!(self.ecr, o, sdk_tags!(Tag, cx.tags)?)
    }

    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<RepositoryAttrs>>) -> Result<(), ResourceError> {
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

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::operation::put_image_tag_mutability::PutImageTagMutabilityOutput;
    use aws_smithy_mocks::mock;
    use temporalctl_engine::{Inputs, Tags, ownership_tags};

    use super::*;

    #[tokio::test]
    async fn a_repository_with_mutable_tags_is_made_immutable_in_place() {
        let immutable = mock!(aws_sdk_ecr::Client::put_image_tag_mutability)
            .match_requests(|r| {
                r.repository_name() == Some("demo/temporal-server")
                    && r.image_tag_mutability() == Some(&ImageTagMutability::Immutable)
            })
            .then_output(|| PutImageTagMutabilityOutput::builder().build());
        let repo =
            Repository { ecr: crate::mocks::mocked!(aws_sdk_ecr, [&immutable]), name: "demo/temporal-server".into() };
        let inputs = Inputs::default();
        let want = Kind::desired(&repo, &inputs).unwrap();
        assert_eq!(want.tag_mutability, "IMMUTABLE");
        let tags = ownership_tags("demo", "ecr-repository/server", "demo/temporal-server", &Tags::new());
        let have = RepositoryAttrs { tag_mutability: "MUTABLE".into(), ..want.clone() };
        let found = Observed::new("demo/temporal-server").tags(tags.clone()).found(have);
        let found = Owned::verify("demo", "ecr-repository/server", "demo/temporal-server", &tags, found).unwrap();
        let cx = Cx {
            node: "ecr-repository/server",
            project: "demo",
            recorded_id: None,
            inputs: &inputs,
            tags: &tags,
            may_read_from_listing: false,
            follow_id: false,
        };
        Kind::update(&repo, &cx, &found, &want, &[RepositoryField::TagMutability]).await.unwrap();
        assert_eq!(immutable.num_calls(), 1);
    }
}

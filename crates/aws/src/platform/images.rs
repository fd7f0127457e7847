//! The container images the task definitions name: which the deployment needs, whether
//! ECR holds them (`DescribeImages`), and the registry login `images build` pushes with
//! (`GetAuthorizationToken`). Images outside ECR (Docker Hub, public.ecr.aws) cannot be
//! looked at with the SDK: they are listed as not checked.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::ImageIdentifier;
use serde::Serialize;
use temporalctl_config::Deploy;
use temporalctl_engine::{CancelToken, ResourceError};

use crate::Aws;
use crate::errors::aws;
use crate::preflight::retried;
use crate::service_kinds::{ADMIN_TOOLS, ServiceKind};
use crate::stack;

/// One image reference and the task definitions that name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Needed {
    /// As a person would write it: `<repository>:<tag>`, or the full reference when it
    /// lives outside the project's ECR repositories.
    pub image: String,
    /// Where ECR can answer for it: the repository name, its registry (account id) when
    /// another account's, and the tag.
    #[serde(skip)]
    pub ecr: Option<EcrImage>,
    pub used_by: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrImage {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: String,
    /// One of ours (`images build` makes it), or named in `services.<name>.image`.
    pub ours: bool,
}

/// What ECR said about one needed image.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Presence {
    Present {
        digest: String,
        pushed_at: Option<String>,
        size_bytes: Option<i64>,
    },
    /// The repository or the tag does not exist.
    Missing {
        reason: String,
    },
    /// Not in ECR (a public registry): not asked by the SDK. `temporalctl` asks the
    /// registry itself and turns this into `Present`, `Missing` or `Unresolved`.
    NotChecked,
    /// A public registry that could not answer (unreachable, or it wants credentials).
    Unresolved {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub needed: Needed,
    #[serde(flatten)]
    pub presence: Presence,
}

impl Found {
    pub fn is_missing(&self) -> bool {
        matches!(self.presence, Presence::Missing { .. })
    }
    pub fn is_ours(&self) -> bool {
        self.needed.ecr.as_ref().is_some_and(|e| e.ours)
    }
}

/// The digest each image reference names (`sha256:…`), keyed by the image as [`Needed`]
/// names it: what `up` registers the task definitions with.
pub type Pins = BTreeMap<String, String>;

/// Every image the deployment's task definitions name, in the order of the services,
/// each once. A pure function of `deploy.yaml`.
pub fn needed(d: &Deploy) -> Vec<Needed> {
    let mut all: Vec<Needed> = Vec::new();
    let kinds = crate::service_kinds::configured(d).map(|(kind, _)| kind).chain([&ADMIN_TOOLS]);
    for (kind, wanted) in kinds.filter_map(|kind| Some((kind, wanted(d, kind)?))) {
        match all.iter_mut().find(|n| n.image == wanted.image) {
            Some(known) => known.used_by.push(kind.key),
            None => all.push(Needed { used_by: vec![kind.key], ..wanted }),
        }
    }
    all
}

/// The image one task definition names before it is pinned: `services.<s>.image`, or for
/// the Temporal services and the one-off tasks our repository at `temporal.version`.
pub fn wanted(d: &Deploy, kind: &ServiceKind) -> Option<Needed> {
    let ours = |node: &str| {
        let repository = stack::our_repository(&d.project, node);
        Needed {
            image: stack::our_image(&repository, &d.temporal.version),
            ecr: Some(EcrImage { registry: None, repository, tag: d.temporal.version.clone(), ours: true }),
            used_by: Vec::new(),
        }
    };
    if kind.key == ADMIN_TOOLS.key {
        return Some(ours(stack::ADMIN_TOOLS_REPOSITORY));
    }
    match d.services.get(kind.key).and_then(|s| s.image.as_ref()) {
        Some(image) => Some(Needed { image: image.clone(), ecr: in_ecr(image, &d.region), used_by: Vec::new() }),
        None if kind.is_temporal() => Some(ours(stack::SERVER_REPOSITORY)),
        None => None,
    }
}

/// The digest of every image that was found.
pub fn pins(found: &[Found]) -> Pins {
    found
        .iter()
        .filter_map(|f| match &f.presence {
            Presence::Present { digest, .. } => Some((f.needed.image.clone(), digest.clone())),
            _ => None,
        })
        .collect()
}

/// `<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag>]` in the deployment's
/// region: an image ECR can answer for. A digest reference or another region is not.
fn in_ecr(image: &str, region: &str) -> Option<EcrImage> {
    let (host, rest) = image.split_once('/')?;
    let account = host.strip_suffix(&format!(".dkr.ecr.{region}.amazonaws.com"))?;
    if rest.contains('@') {
        return None;
    }
    let (repository, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
    Some(EcrImage { registry: Some(account.into()), repository: repository.into(), tag: tag.into(), ours: false })
}

/// Look each needed image up in ECR: one `DescribeImages` per image in ECR.
pub async fn look(clients: &Aws, d: &Deploy, cancel: &CancelToken) -> Result<Vec<Found>, ResourceError> {
    let mut found = Vec::new();
    for needed in needed(d) {
        let Some(ecr) = &needed.ecr else {
            found.push(Found { needed, presence: Presence::NotChecked });
            continue;
        };
        let id = ImageIdentifier::builder().image_tag(&ecr.tag).build();
        let described = retried(cancel, || async {
            clients
                .ecr
                .describe_images()
                .set_registry_id(ecr.registry.clone())
                .repository_name(&ecr.repository)
                .image_ids(id.clone())
                .send()
                .await
                .map_err(aws("DescribeImages"))
        })
        .await;
        let presence = match described {
            Ok(out) => match out.image_details().first() {
                Some(image) => Presence::Present {
                    digest: image.image_digest().unwrap_or_default().to_string(),
                    pushed_at: image.image_pushed_at().map(|t| t.to_string()),
                    size_bytes: image.image_size_in_bytes(),
                },
                None => Presence::Missing { reason: format!("no image tagged {}", ecr.tag) },
            },
            Err(e) if e.code.as_deref() == Some("RepositoryNotFoundException") => {
                Presence::Missing { reason: format!("repository {} does not exist", ecr.repository) }
            }
            Err(e) if e.is_not_found() => Presence::Missing { reason: format!("no image tagged {}", ecr.tag) },
            Err(e) => return Err(e),
        };
        found.push(Found { needed, presence });
    }
    Ok(found)
}

/// What `docker login` needs for the account's registry. The password is a 12-hour token;
/// it goes to docker on stdin and nowhere else.
pub struct RegistryLogin {
    pub registry: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin").field("registry", &self.registry).field("username", &self.username).finish()
    }
}

/// `GetAuthorizationToken`: a base64 `user:password` and the registry endpoint (AWS, Amazon
/// ECR User Guide, "Private registry authentication").
pub async fn registry_login(clients: &Aws, cancel: &CancelToken) -> Result<RegistryLogin, ResourceError> {
    let out = retried(cancel, || async {
        clients.ecr.get_authorization_token().send().await.map_err(aws("GetAuthorizationToken"))
    })
    .await?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| ResourceError::fatal("GetAuthorizationToken returned no authorization data"))?;
    let token = data.authorization_token().unwrap_or_default();
    let decoded = aws_smithy_types::base64::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ResourceError::fatal("GetAuthorizationToken returned a token that is not base64 text"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| ResourceError::fatal("GetAuthorizationToken returned a token without user:password"))?;
    let endpoint = data.proxy_endpoint().unwrap_or_default();
    let registry = endpoint.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    Ok(RegistryLogin { registry: registry.into(), username: username.into(), password: password.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(extra: &str) -> Deploy {
        temporalctl_config::parse(&format!("version: 1\nproject: demo\nregion: eu-west-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{extra}"), "deploy.yaml")
            .unwrap()
    }

    #[test]
    fn the_default_deployment_needs_our_two_images_and_three_public_ones() {
        let needed = needed(&deploy(""));
        let names: Vec<(&str, Vec<&str>)> = needed.iter().map(|n| (n.image.as_str(), n.used_by.clone())).collect();
        assert_eq!(
            names,
            vec![
                ("demo/temporal-server:1.29.0", vec!["history", "matching", "frontend", "internal_frontend", "worker"]),
                ("temporalio/ui:2.42.1", vec!["ui"]),
                ("grafana/grafana:12.2.1", vec!["grafana"]),
                ("public.ecr.aws/aws-observability/aws-otel-collector:v0.45.0", vec!["adot"]),
                ("demo/temporal-admin-tools:1.29.0", vec!["admin-tools"]),
            ]
        );
        let ours: Vec<bool> = needed.iter().map(|n| n.ecr.as_ref().is_some_and(|e| e.ours)).collect();
        assert_eq!(ours, vec![true, false, false, false, true]);
    }

    #[test]
    fn an_image_named_in_this_regions_ecr_is_checked_in_its_registry() {
        let d = deploy(
            "  version: v1.2\nservices:\n  worker: { cpu: 512, memory: 1024, node_group: c, image: 111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/worker:7 }\n  ui: { cpu: 256, memory: 512, node_group: b, image: 111122223333.dkr.ecr.us-east-1.amazonaws.com/ui:1 }\n",
        );
        let needed = needed(&d);
        let worker = needed.iter().find(|n| n.used_by == ["worker"]).unwrap();
        assert_eq!(
            worker.ecr,
            Some(EcrImage {
                registry: Some("111122223333".into()),
                repository: "team/worker".into(),
                tag: "7".into(),
                ours: false
            })
        );
        // Another region's registry is not this session's to ask.
        assert_eq!(needed.iter().find(|n| n.used_by == ["ui"]).unwrap().ecr, None);
        assert!(needed.iter().any(|n| n.image == "demo/temporal-server:v1.2"));
    }
}

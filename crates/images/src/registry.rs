//! The digest a tag names in a public registry (Docker Hub, public.ecr.aws, ghcr.io…),
//! asked the way `docker pull` asks, so `up` can register task definitions by digest.
//!
//! - OCI Distribution Specification v1.1, "Pulling manifests": `HEAD /v2/<name>/manifests/<tag>`
//!   answers with the manifest's digest in `Docker-Content-Digest`, without the body. On
//!   Docker Hub a HEAD does not count against the pull rate limit (Docker docs, "Usage and
//!   limits").
//! - Docker's "Token Authentication Specification": a `401` carries
//!   `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; an anonymous `GET realm?service=…&scope=…`
//!   returns `{"token": …}` (or `access_token`), sent back as `Authorization: Bearer`.
//! - The `Accept` list names the index and manifest types, so a multi-platform image is
//!   pinned by its index digest and ECS still picks the arm64 manifest from it.
//!
//! Images in ECR are not asked here: the SDK answers for them (`DescribeImages`).
//! `TEMPORALCTL_REGISTRY_URL` sends every request to one base URL instead (the tests' fake
//! registry on 127.0.0.1, or a mirror that serves the same API). Like `AWS_ENDPOINT_URL`
//! it is the operator's to set: whoever controls the environment chooses the digests.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use temporalctl_config::image::{Reference, is_digest};

/// The environment variable that points every registry request at one base URL.
pub const REGISTRY_URL_ENV: &str = "TEMPORALCTL_REGISTRY_URL";

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// One request; a registry that takes longer is treated as unreachable for this try.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// All tries of one image together.
const DEADLINE: Duration = Duration::from_secs(60);

/// Why a tag could not be pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// The registry answered that the repository or tag does not exist.
    NotFound(String),
    /// The registry wants credentials (a private image outside ECR).
    Denied(String),
    /// No answer, or an answer that is not the API (retried first).
    Unreachable(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::NotFound(s) | RegistryError::Denied(s) | RegistryError::Unreachable(s) => f.write_str(s),
        }
    }
}

impl RegistryError {
    /// Throttling, server errors and dropped connections are tried again; a clear
    /// answer is not.
    fn is_retryable(&self) -> bool {
        matches!(self, RegistryError::Unreachable(_))
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

pub struct Registries {
    client: HttpsClient,
    base_url: Option<String>,
}

impl Registries {
    /// HTTPS with the system's roots (as the AWS SDK's client); plain HTTP only to the
    /// base URL a test or mirror names.
    pub fn new() -> Result<Registries, String> {
        let base_url = std::env::var(REGISTRY_URL_ENV).ok().filter(|u| !u.is_empty());
        Self::with_base_url(base_url)
    }

    pub fn with_base_url(base_url: Option<String>) -> Result<Registries, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| format!("cannot load the system's TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Registries { client: Client::builder(TokioExecutor::new()).build(connector), base_url })
    }

    /// The digest `reference`'s tag names now. A reference written with a digest is
    /// its own answer, with no request.
    pub async fn digest(&self, reference: &Reference) -> Result<String, RegistryError> {
        if let Some(digest) = &reference.digest {
            return Ok(digest.clone());
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(8))
            .with_jitter()
            .with_total_delay(Some(DEADLINE))
            .without_max_times();
        (|| self.ask(reference)).retry(backoff).sleep(tokio::time::sleep).when(RegistryError::is_retryable).await
    }

    fn manifest_url(&self, r: &Reference) -> String {
        let base = self.base_url.clone().unwrap_or_else(|| format!("https://{}", r.api_host()));
        format!("{}/v2/{}/manifests/{}", base.trim_end_matches('/'), r.repository, r.tag_or_latest())
    }

    async fn ask(&self, r: &Reference) -> Result<String, RegistryError> {
        let url = self.manifest_url(r);
        let first = self.send(Method::HEAD, &url, None).await?;
        let answer = if first.status() == StatusCode::UNAUTHORIZED {
            let challenge = header(&first, "www-authenticate");
            let token = self.token(r, &challenge).await?;
            self.send(Method::HEAD, &url, Some(&token)).await?
        } else {
            first
        };
        let shown = format!("{r}");
        match answer.status() {
            s if s.is_success() => {
                let digest = header(&answer, "docker-content-digest");
                if is_digest(&digest) {
                    Ok(digest)
                } else {
                    Err(RegistryError::Unreachable(format!(
                        "{} answered for {shown} without a sha256 Docker-Content-Digest",
                        r.api_host()
                    )))
                }
            }
            StatusCode::NOT_FOUND => Err(RegistryError::NotFound(format!("{shown} does not exist in {}", r.registry))),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(RegistryError::Denied(format!(
                "{} refuses anonymous reads of {shown} ({}); temporalctl reads only public images outside ECR",
                r.registry,
                answer.status()
            ))),
            s => Err(RegistryError::Unreachable(format!("{} answered {s} for {shown}", r.api_host()))),
        }
    }

    /// An anonymous pull token from the realm the challenge names.
    async fn token(&self, r: &Reference, challenge: &str) -> Result<String, RegistryError> {
        let Some(params) = bearer_challenge(challenge) else {
            return Err(RegistryError::Denied(format!(
                "{} wants credentials for {r} ({challenge:?}); temporalctl reads only public images outside ECR",
                r.registry
            )));
        };
        let url = token_url(&params, &r.repository);
        let answer = self.send(Method::GET, &url, None).await?;
        if !answer.status().is_success() {
            let status = answer.status();
            let err = format!("the token service of {} answered {status} for {r}", r.registry);
            return Err(if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                RegistryError::Unreachable(err)
            } else {
                RegistryError::Denied(err)
            });
        }
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| RegistryError::Unreachable(format!("reading the token for {r}: {e}")))?
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Unreachable(format!("the token for {r} is not JSON: {e}")))?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .map(String::from)
            .ok_or_else(|| RegistryError::Unreachable(format!("the token service of {} sent no token", r.registry)))
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, RegistryError> {
        let uri: Uri = url.parse().map_err(|e| RegistryError::Unreachable(format!("{url}: {e}")))?;
        let mut request = Request::builder().method(method).uri(uri).header("accept", ACCEPT);
        request = request.header("user-agent", concat!("temporalctl/", env!("CARGO_PKG_VERSION")));
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Empty::new()).map_err(|e| RegistryError::Unreachable(e.to_string()))?;
        let host = url.split('/').nth(2).unwrap_or(url).to_string();
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| RegistryError::Unreachable(format!("{host} did not answer within {REQUEST_TIMEOUT:?}")))?
            .map_err(|e| RegistryError::Unreachable(format!("cannot reach {host}: {e}")))?;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(RegistryError::Unreachable(format!("{host} answered {status}")));
        }
        Ok(response)
    }
}

fn header(response: &hyper::Response<hyper::body::Incoming>, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// `Bearer realm="…",service="…",scope="…"` → its parameters; `None` for another scheme.
fn bearer_challenge(challenge: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = challenge.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').map_or((after, ""), |(v, t)| (v, t)),
        };
        params.push((key.trim().to_ascii_lowercase(), value.to_string()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    params.iter().any(|(k, _)| k == "realm").then_some(params)
}

/// The token request: the realm with `service` and `scope` (pull on this repository
/// when the challenge names no scope).
fn token_url(params: &[(String, String)], repository: &str) -> String {
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let realm = get("realm").unwrap_or_default();
    let scope = get("scope").map(String::from).unwrap_or_else(|| format!("repository:{repository}:pull"));
    let mut query = vec![format!("scope={}", encode(&scope))];
    if let Some(service) = get("service") {
        query.insert(0, format!("service={}", encode(service)));
    }
    let joiner = if realm.contains('?') { '&' } else { '?' };
    format!("{realm}{joiner}{}", query.join("&"))
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hubs_challenge_becomes_its_token_request() {
        let challenge = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:temporalio/ui:pull""#;
        let params = bearer_challenge(challenge).unwrap();
        assert_eq!(
            token_url(&params, "temporalio/ui"),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Atemporalio%2Fui%3Apull"
        );
        // public.ecr.aws names no scope: pull on the repository is asked for.
        let ecr = bearer_challenge(r#"Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws""#).unwrap();
        assert_eq!(
            token_url(&ecr, "aws-observability/aws-otel-collector"),
            "https://public.ecr.aws/token/?service=public.ecr.aws&scope=repository%3Aaws-observability%2Faws-otel-collector%3Apull"
        );
        assert_eq!(bearer_challenge(r#"Basic realm="registry""#), None);
        assert_eq!(bearer_challenge("Bearer service=x"), None, "no realm: nothing to ask");
    }

    #[test]
    fn the_manifest_is_asked_at_the_registry_api_host_or_the_named_base_url() {
        let r = Reference::parse("grafana/grafana:12.2.1").unwrap();
        let public = Registries::with_base_url(None).unwrap();
        assert_eq!(public.manifest_url(&r), "https://registry-1.docker.io/v2/grafana/grafana/manifests/12.2.1");
        let fake = Registries::with_base_url(Some("http://127.0.0.1:9/".into())).unwrap();
        let nginx = Reference::parse("nginx").unwrap();
        assert_eq!(fake.manifest_url(&nginx), "http://127.0.0.1:9/v2/library/nginx/manifests/latest");
    }

    #[tokio::test]
    async fn a_tag_is_pinned_through_the_anonymous_token_challenge() {
        use temporalctl_proxy::registry::{FakeRegistry, digest_of};
        let fake = FakeRegistry::start().unwrap();
        fake.set("grafana/grafana", "12.2.1", &digest_of("grafana 12.2.1"));
        let registries = Registries::with_base_url(Some(fake.url())).unwrap();
        let grafana = Reference::parse("grafana/grafana:12.2.1").unwrap();
        assert_eq!(registries.digest(&grafana).await, Ok(digest_of("grafana 12.2.1")));
        assert_eq!(
            fake.requests(),
            [
                "HEAD /v2/grafana/grafana/manifests/12.2.1",
                "GET /token?service=fake-registry&scope=repository%3Agrafana%2Fgrafana%3Apull",
                "HEAD /v2/grafana/grafana/manifests/12.2.1",
            ]
        );

        // A tag that does not exist is said at once, not retried.
        let missing = Reference::parse("grafana/grafana:0.0.0").unwrap();
        let err = registries.digest(&missing).await.unwrap_err();
        assert_eq!(err, RegistryError::NotFound("grafana/grafana:0.0.0 does not exist in docker.io".into()));
        assert_eq!(fake.requests().len(), 6);

        // A reference written with its digest needs no request.
        let pinned = Reference::parse(&format!("temporalio/ui@{}", digest_of("ui"))).unwrap();
        assert_eq!(registries.digest(&pinned).await, Ok(digest_of("ui")));
        assert_eq!(fake.requests().len(), 6);
    }
}

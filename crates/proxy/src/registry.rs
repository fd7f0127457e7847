//! A public container registry as `up` meets one (Docker Hub, public.ecr.aws), on
//! loopback: the OCI distribution API's `HEAD /v2/<name>/manifests/<tag>` behind Docker's
//! anonymous bearer-token challenge. Tests point `TEMPORALCTL_REGISTRY_URL` at it, hold
//! the digest each tag names, and move a tag to a new digest as a publisher does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use crate::{Reply, Server};

const TOKEN: &str = "anonymous-pull-token";

#[derive(Default)]
struct Images {
    /// (repository, tag) → digest.
    tags: BTreeMap<(String, String), String>,
    /// Every request as `METHOD path?query`, in order.
    seen: Vec<String>,
}

pub struct FakeRegistry {
    server: Server,
    images: Arc<Mutex<Images>>,
}

impl FakeRegistry {
    pub fn start() -> std::io::Result<FakeRegistry> {
        let images = Arc::new(Mutex::new(Images::default()));
        let inner = images.clone();
        let server = Server::start(move |req| answer(req, inner.clone()))?;
        Ok(FakeRegistry { server, images })
    }

    /// The value for `TEMPORALCTL_REGISTRY_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `repository` (as the API names it: `library/nginx`, `grafana/grafana`) at `tag` now
    /// names `digest`.
    pub fn set(&self, repository: &str, tag: &str, digest: &str) {
        self.lock().tags.insert((repository.into(), tag.into()), digest.into());
    }

    /// Every request so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Images> {
        self.images.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A digest made from a label, so a test can write the one it expects.
pub fn digest_of(label: &str) -> String {
    // FNV-1a, spread over 64 hex digits: a stand-in, not a content hash.
    let mut hex = String::new();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0..4u8 {
        for b in label.bytes().chain([round]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        hex += &format!("{h:016x}");
    }
    format!("sha256:{hex}")
}

async fn answer(req: Request<Incoming>, images: Arc<Mutex<Images>>) -> Reply {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
    images.seen.push(format!("{} {path}{query}", req.method()));
    if req.method() == Method::GET && path == "/token" {
        return Ok(reply(
            StatusCode::OK,
            &[("content-type", "application/json")],
            format!("{{\"token\":\"{TOKEN}\"}}"),
        ));
    }
    let Some((repository, tag)) = path.strip_prefix("/v2/").and_then(|p| p.rsplit_once("/manifests/")) else {
        return Ok(reply(StatusCode::NOT_FOUND, &[], String::new()));
    };
    let authorized =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        let host = req.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let challenge = format!(
            "Bearer realm=\"http://{host}/token\",service=\"fake-registry\",scope=\"repository:{repository}:pull\""
        );
        return Ok(reply(StatusCode::UNAUTHORIZED, &[("www-authenticate", &challenge)], String::new()));
    }
    match images.tags.get(&(repository.to_string(), tag.to_string())) {
        Some(digest) => Ok(reply(
            StatusCode::OK,
            &[("docker-content-digest", digest), ("content-type", "application/vnd.oci.image.index.v1+json")],
            String::new(),
        )),
        None => Ok(reply(StatusCode::NOT_FOUND, &[], "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".into())),
    }
}

fn reply(status: StatusCode, headers: &[(&str, &str)], body: String) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Full::new(Bytes::from(body))).unwrap_or_default()
}

//! A recording proxy between the AWS SDK and the emulator: every request is forwarded
//! and logged with its service and operation, so tests can count calls and inspect what
//! the binary actually sent (fields the emulator stores but never returns included).
//!
//! It runs on its own thread and runtime, so blocking test code can drive it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// One request as the binary sent it, with the emulator's status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Call {
    /// Signing name from the credential scope: `ec2`, `ecs`, `iam`…
    pub service: String,
    /// `CreateVpc`, `DescribeSubnets`… (REST calls: `GET /path`).
    pub operation: String,
    pub method: String,
    pub path: String,
    pub body: String,
    pub status: u16,
}

impl Call {
    /// Anything that is not a read.
    pub fn is_mutating(&self) -> bool {
        if self.operation.contains(' ') {
            return !matches!(self.method.as_str(), "GET" | "HEAD");
        }
        const READS: &[&str] = &["Describe", "Get", "List", "Search", "BatchGet", "Query", "Head", "Lookup", "Check"];
        !READS.iter().any(|r| self.operation.starts_with(r))
    }
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
}

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to `upstream` (an emulator on loopback).
    pub fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let inner = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return drop(addr_tx.send(Err(e))),
            };
            rt.block_on(async move {
                let listener = match TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => return drop(addr_tx.send(Err(e))),
                };
                let _ = addr_tx.send(listener.local_addr());
                let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let (client, inner) = (client.clone(), inner.clone());
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| forward(req, upstream, client.clone(), inner.clone()));
                            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().map_err(std::io::Error::other)??;
        Ok(Self { addr, shared, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// The value for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn mutating(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_mutating).collect()
    }

    /// Operation names of the calls so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.operation).collect()
    }

    pub fn clear(&self) {
        self.shared.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn forward(
    req: Request<Incoming>,
    upstream: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut call = identify(&parts, &body);
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    parts.uri = match format!("http://{upstream}{path_and_query}").parse() {
        Ok(uri) => uri,
        Err(_) => return Ok(status(400, "bad uri")),
    };
    let response = match client.request(Request::from_parts(parts, Full::new(body))).await {
        Ok(r) => r,
        Err(e) => return Ok(status(502, &format!("emulator unreachable: {e}"))),
    };
    let (mut rparts, rbody) = response.into_parts();
    let rbody = rbody.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    rparts.headers.remove(hyper::header::CONNECTION);
    rparts.headers.remove(hyper::header::TRANSFER_ENCODING);
    call.status = rparts.status.as_u16();
    shared.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}

fn status(code: u16, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    r
}

/// Which service and operation a request is, across the three protocols the stack uses.
fn identify(parts: &hyper::http::request::Parts, body: &Bytes) -> Call {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // Credential=AKID/20261123/us-east-1/ec2/aws4_request
    let service = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    let body_text = String::from_utf8_lossy(body).to_string();
    let operation = if let Some(target) = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        // JSON protocol: `AmazonEC2ContainerServiceV20141113.CreateCluster`.
        target.rsplit('.').next().unwrap_or(target).to_string()
    } else if let Some(action) =
        form_value(&body_text, "Action").or_else(|| parts.uri.query().and_then(|q| form_value(q, "Action")))
    {
        // Query protocol (EC2, IAM, Auto Scaling): `Action=CreateVpc&...`.
        action
    } else {
        format!("{} {}", parts.method, parts.uri.path())
    };
    Call {
        service,
        operation,
        method: parts.method.to_string(),
        path: parts.uri.to_string(),
        body: body_text,
        status: 0,
    }
}

fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| pair.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(operation: &str, method: &str) -> Call {
        Call {
            service: "ec2".into(),
            operation: operation.into(),
            method: method.into(),
            path: "/".into(),
            body: String::new(),
            status: 200,
        }
    }

    #[test]
    fn reads_and_writes_are_told_apart() {
        assert!(!call("DescribeVpcs", "POST").is_mutating());
        assert!(!call("ListTagsForResource", "POST").is_mutating());
        assert!(!call("GetCluster", "POST").is_mutating());
        assert!(call("CreateVpc", "POST").is_mutating());
        assert!(call("ModifyVpcAttribute", "POST").is_mutating());
        assert!(!call("GET /cluster/abc", "GET").is_mutating());
        assert!(call("POST /cluster", "POST").is_mutating());
    }

    #[test]
    fn form_actions_are_found() {
        assert_eq!(form_value("Action=CreateVpc&Version=2016-11-15", "Action").as_deref(), Some("CreateVpc"));
        assert_eq!(form_value("Version=1&Action=DescribeVpcs", "Action").as_deref(), Some("DescribeVpcs"));
        assert_eq!(form_value("XAction=No", "Action"), None);
    }
}

//! A recording proxy between the AWS SDK and the emulator: every request is forwarded
//! and logged with its service and operation, so tests can count calls and inspect what
//! the binary actually sent (fields the emulator stores but never returns included).
//!
//! It can also script answers where the emulator cannot show what AWS does: answer an
//! operation itself (a `DependencyViolation` while ENIs linger) or rewrite the emulator's
//! answer (a task's exit code, a log stream's lines). And it can inject faults: a share
//! of all requests answered with throttling or a 5xx in the caller's own protocol, before
//! the emulator sees them (as AWS rejects a throttled call before doing anything).
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

pub mod model;
pub mod registry;

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
        const READS: &[&str] =
            &["Describe", "Get", "List", "Search", "BatchGet", "Query", "Head", "Lookup", "Check", "Filter"];
        !READS.iter().any(|r| self.operation.starts_with(r))
    }
}

/// Rewrites an emulator answer: (status, body) in, (status, body) out.
pub type Rewriter = Arc<dyn Fn(u16, &str) -> (u16, String) + Send + Sync>;

/// What the proxy does with a matching request instead of plain forwarding.
#[derive(Clone)]
pub enum Script {
    /// Answer without asking the emulator.
    Respond { status: u16, content_type: &'static str, body: String },
    /// Ask the emulator, then rewrite its (status, body).
    Rewrite(Rewriter),
}

impl Script {
    /// An EC2 (query protocol) error answer.
    pub fn query_error(status: u16, code: &str, message: &str) -> Script {
        Script::Respond {
            status,
            content_type: "text/xml",
            body: format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>scripted</RequestID></Response>"
            ),
        }
    }

    /// A successful EC2 (query protocol) answer, written out whole.
    pub fn xml(body: &str) -> Script {
        Script::Respond { status: 200, content_type: "text/xml", body: body.to_string() }
    }

    /// An IAM/Auto Scaling/STS error answer: the AWS query protocol's own document (EC2's
    /// differs, see `query_error`).
    pub fn aws_query_error(status: u16, code: &str, message: &str) -> Script {
        Script::Respond {
            status,
            content_type: "text/xml",
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>scripted</RequestId></ErrorResponse>"
            ),
        }
    }

    /// A REST-JSON (OpenSearch, DSQL, AMP) error answer.
    pub fn rest_json_error(status: u16, code: &str, message: &str) -> Script {
        Script::Respond {
            status,
            content_type: "application/json",
            body: serde_json::json!({ "__type": code, "message": message }).to_string(),
        }
    }

    /// A JSON-protocol (ECS, Logs…) error answer.
    pub fn json_error(status: u16, code: &str, message: &str) -> Script {
        Script::Respond {
            status,
            content_type: "application/x-amz-json-1.1",
            body: serde_json::json!({ "__type": code, "message": message }).to_string(),
        }
    }

    /// Rewrite an answer by plain text replacement (XML or JSON alike), status kept.
    pub fn replace(from: &'static str, to: &'static str) -> Script {
        Script::Rewrite(Arc::new(move |status, body| (status, body.replace(from, to))))
    }

    /// AWS answering in pages where the emulator answers in one: this answer becomes an
    /// empty first page (JSON protocols) that points to a next one, which the emulator then
    /// answers whole. `list`: the array's key; `token`: the next-page key.
    pub fn first_page_json(list: &'static str, token: &'static str) -> Script {
        Script::rewrite_json(move |v| {
            v[list] = serde_json::json!([]);
            v[token] = "page-2".into();
        })
    }

    /// The same for XML answers: the element `list` emptied, and `next` (such as
    /// `<nextToken>page-2</nextToken>`) added after it; `replace` pairs adjust the rest
    /// (IAM's `<IsTruncated>`).
    pub fn first_page_xml(
        list: &'static str,
        next: &'static str,
        replace: &'static [(&'static str, &'static str)],
    ) -> Script {
        Script::Rewrite(Arc::new(move |status, body| {
            let (open, close) = (format!("<{list}>"), format!("</{list}>"));
            let mut out = body.to_string();
            if let (Some(start), Some(end)) = (out.find(&open), out.find(&close)) {
                out.replace_range(start..end + close.len(), &format!("<{list}/>{next}"));
            } else if let Some(at) = out.find(&format!("<{list}/>")) {
                out.insert_str(at + list.len() + 3, next);
            }
            for (from, to) in replace {
                out = out.replace(from, to);
            }
            (status, out)
        }))
    }

    /// Rewrite a JSON answer (any status becomes 200).
    pub fn rewrite_json(f: impl Fn(&mut serde_json::Value) + Send + Sync + 'static) -> Script {
        Script::Rewrite(Arc::new(move |_, body| {
            let mut v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| serde_json::json!({}));
            f(&mut v);
            (200, v.to_string())
        }))
    }
}

struct Rule {
    operation: String,
    /// How many more requests it applies to; `None`: all of them.
    remaining: Option<usize>,
    script: Script,
}

/// Throttling and server errors on a share of every request. Each service has its own
/// seeded sequence, so which of its calls fail does not depend on how the binary's
/// concurrent calls to other services interleave: a failing run can be replayed.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// 0.0 to 1.0: the share of requests that fail.
    pub share: f64,
    pub seed: u64,
}

#[derive(Default)]
struct FaultState {
    faults: Option<Faults>,
    /// Per service: the sequence's state (xorshift64*), advanced once per request.
    sequences: std::collections::HashMap<String, u64>,
    injected: usize,
}

impl FaultState {
    /// Whether this request to `service` fails, and which of the four faults it gets.
    fn roll(&mut self, service: &str) -> Option<u64> {
        let f = self.faults?;
        let start = service.bytes().fold(f.seed | 1, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let x = self.sequences.entry(service.to_string()).or_insert(start | 1);
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (((r >> 11) as f64 / (1u64 << 53) as f64) < f.share).then(|| {
            self.injected += 1;
            r % 4
        })
    }
}

/// A crash point: after `after` mutating calls have been answered, the next one reaches
/// the emulator (AWS does the work) but its answer never comes, and nothing after it is
/// forwarded: the moment a process dies with a call in flight.
#[derive(Default)]
struct CrashPoint {
    after: Option<usize>,
    seen: usize,
    tripped: bool,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    rules: Mutex<Vec<Rule>>,
    faults: Mutex<FaultState>,
    crash: Mutex<CrashPoint>,
    /// Wakes `wait_tripped` and `wait_mutating` on every mutating call.
    tripped: std::sync::Condvar,
    /// Wakes held requests when the crash point is cleared.
    released: tokio::sync::Notify,
    /// Added before each request is forwarded: AWS's round trip, which loopback lacks.
    latency: Mutex<std::time::Duration>,
    /// AWS's API models, when requests are to be checked against them.
    models: Mutex<Option<Arc<model::Models>>>,
    /// (requests checked, violations found).
    validation: Mutex<(usize, Vec<String>)>,
}

impl Shared {
    /// The script for this operation, if one still applies (and count it used).
    fn take_script(&self, operation: &str) -> Option<Script> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        // `GET /cluster/*` matches every path under `/cluster/` (REST ids are not known ahead).
        let matches = |r: &Rule| match r.operation.strip_suffix('*') {
            Some(prefix) => operation.starts_with(prefix),
            None => r.operation == operation,
        };
        let rule = rules.iter_mut().find(|r| matches(r) && r.remaining != Some(0))?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        Some(rule.script.clone())
    }
}

pub struct Proxy {
    server: Server,
    shared: Arc<Shared>,
}

type Reply = Result<Response<Full<Bytes>>, Infallible>;

/// A loopback HTTP/1 server on its own thread and runtime, so blocking test code can drive
/// it; stopped when dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listen on a free loopback port; `handle` answers every request.
    fn start<H, F>(handle: H) -> std::io::Result<Server>
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
        F: std::future::Future<Output = Reply> + Send + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
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
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let handle = handle.clone();
                        tokio::spawn(async move {
                            let _ =
                                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle)).await;
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
        Ok(Server { addr, stop: Some(stop_tx), thread: Some(thread) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Proxy {
    /// Listen on a free loopback port and forward to `upstream` (an emulator on loopback).
    pub fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let inner = shared.clone();
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let server = Server::start(move |req| forward(req, upstream, client.clone(), inner.clone()))?;
        Ok(Self { server, shared })
    }

    /// The value for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
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

    /// Apply `script` to the next `times` requests of `operation` (`None`: every one). An
    /// operation ending in `*` matches by prefix: `GET /cluster/*`.
    pub fn script(&self, operation: &str, times: Option<usize>, script: Script) {
        let rule = Rule { operation: operation.into(), remaining: times, script };
        self.shared.rules.lock().unwrap_or_else(|e| e.into_inner()).push(rule);
    }

    /// Fail `faults.share` of the requests from now on (`None`: stop).
    pub fn faults(&self, faults: Option<Faults>) {
        let mut state = self.shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        state.faults = faults;
        state.sequences.clear();
    }

    /// How many requests got an injected fault so far.
    pub fn faults_injected(&self) -> usize {
        self.shared.faults.lock().unwrap_or_else(|e| e.into_inner()).injected
    }

    /// Hold every answer from the `(after + 1)`-th mutating call on (`None`: release the
    /// held ones with a 503 and stop holding). See `tripped`.
    pub fn crash_after(&self, after: Option<usize>) {
        *self.shared.crash.lock().unwrap_or_else(|e| e.into_inner()) = CrashPoint { after, ..Default::default() };
        if after.is_none() {
            self.shared.released.notify_waiters();
        }
    }

    /// Wait up to `timeout` for the crash point: true once a call is in flight, unanswered.
    pub fn wait_tripped(&self, timeout: std::time::Duration) -> bool {
        let crash = self.shared.crash.lock().unwrap_or_else(|e| e.into_inner());
        let (crash, _) =
            self.shared.tripped.wait_timeout_while(crash, timeout, |c| !c.tripped).unwrap_or_else(|e| e.into_inner());
        crash.tripped
    }

    /// Wait up to `timeout` until `n` mutating calls were answered since the last
    /// `crash_after` (or the start): true if they were.
    pub fn wait_mutating(&self, n: usize, timeout: std::time::Duration) -> bool {
        let crash = self.shared.crash.lock().unwrap_or_else(|e| e.into_inner());
        let (crash, _) =
            self.shared.tripped.wait_timeout_while(crash, timeout, |c| c.seen < n).unwrap_or_else(|e| e.into_inner());
        crash.seen >= n
    }

    /// Delay every request by `latency` before forwarding it (benchmarks: AWS's ~50 ms).
    pub fn latency(&self, latency: std::time::Duration) {
        *self.shared.latency.lock().unwrap_or_else(|e| e.into_inner()) = latency;
    }

    /// Check every request from now on against AWS's API models (see [`model`]).
    pub fn validate_with(&self, models: model::Models) {
        *self.shared.models.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(models));
    }

    /// How many requests were checked against the models, and every violation found.
    pub fn validation(&self) -> (usize, Vec<String>) {
        self.shared.validation.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Take the violations found so far (a test that provokes them on purpose).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.validation.lock().unwrap_or_else(|e| e.into_inner()).1)
    }

    /// Forget every script.
    pub fn unscript(&self) {
        self.shared.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn clear(&self) {
        self.shared.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
    elbv2::redact(&mut call);
    let latency = *shared.latency.lock().unwrap_or_else(|e| e.into_inner());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if shared.crash.lock().unwrap_or_else(|e| e.into_inner()).tripped {
        return Ok(held(&shared).await);
    }
    let models = shared.models.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(found) =
        models.and_then(|m| m.check(&call.service, &call.operation, &call.method, &call.path, &call.body))
    {
        let mut validation = shared.validation.lock().unwrap_or_else(|e| e.into_inner());
        validation.0 += 1;
        validation.1.extend(found);
    }
    if s3::policy_kept_here(&call) {
        call.status = 204;
        shared.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
        return Ok(status(204, ""));
    }
    let fault = shared.faults.lock().unwrap_or_else(|e| e.into_inner()).roll(&call.service);
    let script = match fault {
        Some(kind) => Some(fault_answer(&parts, &call, kind)),
        None => shared.take_script(&call.operation),
    };
    if let Some(Script::Respond { status: code, content_type, body }) = &script {
        call.status = *code;
        shared.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
        let mut r = status(*code, body);
        if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        return Ok(r);
    }
    let body = match awsvpc::request(&call.operation, &body) {
        Some(rewritten) => {
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            Bytes::from(rewritten)
        }
        None => body,
    };
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
    let mut rbody = rbody.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    rparts.headers.remove(hyper::header::CONNECTION);
    rparts.headers.remove(hyper::header::TRANSFER_ENCODING);
    let rewritten = awsvpc::answer(&call.operation, &rbody)
        .or_else(|| s3::answer(&call, &rbody))
        .or_else(|| elbv2::answer(&call, &rbody));
    if let Some(rewritten) = rewritten {
        rparts.headers.remove(hyper::header::CONTENT_LENGTH);
        rbody = Bytes::from(rewritten);
    }
    if let Some(Script::Rewrite(f)) = &script {
        let (code, text) = f(rparts.status.as_u16(), &String::from_utf8_lossy(&rbody));
        rparts.status = hyper::StatusCode::from_u16(code).unwrap_or(rparts.status);
        rparts.headers.remove(hyper::header::CONTENT_LENGTH);
        rbody = Bytes::from(text);
    }
    call.status = rparts.status.as_u16();
    let crash_now = call.is_mutating() && {
        let mut crash = shared.crash.lock().unwrap_or_else(|e| e.into_inner());
        crash.seen += 1;
        crash.tripped |= crash.after.is_some_and(|after| crash.seen > after);
        shared.tripped.notify_all();
        crash.tripped
    };
    shared.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    if crash_now {
        return Ok(held(&shared).await);
    }
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}

/// Where moto's S3 differs from S3 for the state bucket (moto 5.2.5):
/// - A bucket policy's conditions are not evaluated: `IAMPolicy.is_action_permitted`
///   (`moto/s3/models.py` `get_permission`) ignores `Condition`, so the state bucket's
///   "deny unless over TLS" (`aws:SecureTransport` false) would deny every object call
///   there, where AWS denies plain HTTP only. The proxy answers `PutBucketPolicy` itself
///   (204, as S3 does) and keeps the request in its record: tests check the document
///   sent; the emulator keeps no policy.
/// - `GetBucketVersioning` answers under a `GetBucketVersioningResponse` root where S3's
///   is `VersioningConfiguration` (the S3 API reference's response syntax), which the SDK
///   cannot read: the root is renamed.
mod s3 {
    use super::Call;

    fn query(call: &Call) -> &str {
        call.path.split_once('?').map(|(_, q)| q).unwrap_or_default()
    }

    fn asks(call: &Call, method: &str, sub: &str) -> bool {
        call.service == "s3"
            && call.method == method
            && query(call).split('&').any(|p| p == sub || p == format!("{sub}="))
    }

    pub fn policy_kept_here(call: &Call) -> bool {
        asks(call, "PUT", "policy")
    }

    pub fn answer(call: &Call, body: &[u8]) -> Option<String> {
        if !asks(call, "GET", "versioning") {
            return None;
        }
        let text = String::from_utf8_lossy(body);
        text.contains("GetBucketVersioningResponse")
            .then(|| text.replace("GetBucketVersioningResponse", "VersioningConfiguration"))
    }
}

/// Where moto's ELBv2 differs from AWS for an `authenticate-oidc` action (moto 5.2.5,
/// `moto/elbv2/models.py`): it keeps the OIDC client secret and returns it in CreateRule,
/// ModifyRule and DescribeRules, where AWS never returns it (ELBv2 API reference,
/// `AuthenticateOidcActionConfig`; Terraform's provider keeps its own copy for that
/// reason). The proxy drops it from the answers, so a client that relied on reading it
/// back fails here as on AWS, and blanks it in the record of the request (the SDK does not
/// mark it sensitive), so that the tests can see it was sent without keeping it.
mod elbv2 {
    use super::Call;

    pub const REDACTED: &str = "REDACTED";

    fn redact_form(body: &str) -> Option<String> {
        let mut changed = false;
        let pairs: Vec<String> = body
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.ends_with(".ClientSecret") => {
                    changed = true;
                    format!("{key}={REDACTED}")
                }
                _ => pair.to_string(),
            })
            .collect();
        changed.then(|| pairs.join("&"))
    }

    pub fn redact(call: &mut Call) {
        if call.service == "elasticloadbalancing"
            && let Some(redacted) = redact_form(&call.body)
        {
            call.body = redacted;
        }
    }

    /// The answer without any `<ClientSecret>` element.
    pub fn answer(call: &Call, body: &[u8]) -> Option<String> {
        if call.service != "elasticloadbalancing" {
            return None;
        }
        let mut text = String::from_utf8_lossy(body).to_string();
        let mut changed = false;
        while let Some(start) = text.find("<ClientSecret>") {
            let end = text[start..].find("</ClientSecret>").map(|e| start + e + "</ClientSecret>".len())?;
            text.replace_range(start..end, "");
            changed = true;
        }
        changed.then_some(text)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_client_secret_is_blanked_in_records_and_dropped_from_answers() {
            let mut call = super::super::tests::call("CreateRule", "POST");
            call.service = "elasticloadbalancing".into();
            call.body =
                "Action=CreateRule&Actions.member.1.AuthenticateOidcConfig.ClientSecret=s3cr3t&Priority=10".into();
            redact(&mut call);
            assert_eq!(
                call.body,
                "Action=CreateRule&Actions.member.1.AuthenticateOidcConfig.ClientSecret=REDACTED&Priority=10"
            );
            let xml = b"<AuthenticateOidcConfig><ClientId>c</ClientId><ClientSecret>s3cr3t</ClientSecret><Scope>openid</Scope></AuthenticateOidcConfig>";
            let answer = answer(&call, xml).unwrap();
            assert!(!answer.contains("s3cr3t") && answer.contains("<ClientId>c</ClientId><Scope>"), "{answer}");
            assert_eq!(super::answer(&call, b"<Rules/>"), None);
        }
    }
}

/// What ECS does with an awsvpc task's port mappings and moto does not. In the awsvpc
/// network mode each task has its own network interface: a `hostPort` reserves nothing on
/// the instance, and is blank or equal to the `containerPort` (ECS API reference,
/// `PortMapping`). moto holds it against the instance like a bridge-mode port, so only one
/// task with that port would fit an instance. The request therefore reaches moto without
/// it, and the task definition comes back with it, as registered.
mod awsvpc {
    use serde_json::Value;

    const OPERATIONS: [&str; 2] = ["RegisterTaskDefinition", "DescribeTaskDefinition"];

    fn port_mappings(definition: &mut Value) -> impl Iterator<Item = &mut Value> {
        let awsvpc = definition["networkMode"] == "awsvpc";
        definition["containerDefinitions"]
            .as_array_mut()
            .filter(|_| awsvpc)
            .into_iter()
            .flatten()
            .flat_map(|c| c["portMappings"].as_array_mut().into_iter().flatten())
    }

    /// The registration without host ports, when it has any.
    pub fn request(operation: &str, body: &[u8]) -> Option<String> {
        if operation != OPERATIONS[0] {
            return None;
        }
        let mut v: Value = serde_json::from_slice(body).ok()?;
        let mut stripped = false;
        for m in port_mappings(&mut v) {
            stripped |= m.as_object_mut().and_then(|o| o.remove("hostPort")).is_some();
        }
        stripped.then(|| v.to_string())
    }

    /// The answer with each port mapping's host port equal to its container port.
    pub fn answer(operation: &str, body: &[u8]) -> Option<String> {
        if !OPERATIONS.contains(&operation) {
            return None;
        }
        let mut v: Value = serde_json::from_slice(body).ok()?;
        let mut added = false;
        for m in port_mappings(&mut v["taskDefinition"]) {
            if m.get("hostPort").is_none_or(Value::is_null) && m.get("containerPort").is_some() {
                m["hostPort"] = m["containerPort"].clone();
                added = true;
            }
        }
        added.then(|| v.to_string())
    }
}

/// An answer that comes only when the crash point is cleared (by then nobody listens).
async fn held(shared: &Shared) -> Response<Full<Bytes>> {
    let released = shared.released.notified();
    tokio::pin!(released);
    // Registered before the check, so a release in between is not missed.
    released.as_mut().enable();
    if shared.crash.lock().unwrap_or_else(|e| e.into_inner()).tripped {
        released.await;
    }
    status(503, "the crash point was released")
}

/// A throttling answer in the request's protocol (three of four), or a bare 503.
fn fault_answer(parts: &hyper::http::request::Parts, call: &Call, kind: u64) -> Script {
    if kind == 3 {
        return Script::Respond { status: 503, content_type: "text/plain", body: "Service Unavailable".into() };
    }
    if parts.headers.contains_key("x-amz-target") {
        return Script::json_error(400, "ThrottlingException", "Rate exceeded");
    }
    if call.operation.contains(' ') {
        return Script::rest_json_error(429, "ThrottlingException", "Rate exceeded");
    }
    if call.service == "ec2" {
        return Script::query_error(503, "RequestLimitExceeded", "Request limit exceeded.");
    }
    Script::aws_query_error(400, "Throttling", "Rate exceeded")
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

    pub(super) fn call(operation: &str, method: &str) -> Call {
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
    fn the_state_bucket_s_policy_stays_here_and_versioning_reads_as_s3_writes_it() {
        let put = Call { service: "s3".into(), path: "/b-1?policy".into(), ..call("PUT /b-1", "PUT") };
        assert!(s3::policy_kept_here(&put));
        let object = Call { service: "s3".into(), path: "/b-1/policy".into(), ..call("PUT /b-1/policy", "PUT") };
        assert!(!s3::policy_kept_here(&object), "an object named policy is an object");
        let get = Call { service: "s3".into(), path: "/b-1?versioning".into(), ..call("GET /b-1", "GET") };
        let moto = br#"<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#;
        let fixed = s3::answer(&get, moto).unwrap();
        assert!(
            fixed.starts_with("<VersioningConfiguration") && fixed.ends_with("</VersioningConfiguration>"),
            "{fixed}"
        );
    }

    #[test]
    fn awsvpc_host_ports_reach_the_emulator_blank_and_come_back_equal_to_the_container_port() {
        let registered = serde_json::json!({ "networkMode": "awsvpc", "containerDefinitions": [
            { "portMappings": [{ "containerPort": 9090, "hostPort": 9090 }, { "containerPort": 7233 }] }] });
        let sent = awsvpc::request("RegisterTaskDefinition", registered.to_string().as_bytes()).unwrap();
        assert!(!sent.contains("hostPort"), "{sent}");
        let bridge = serde_json::json!({ "networkMode": "bridge", "containerDefinitions": [
            { "portMappings": [{ "containerPort": 80, "hostPort": 8080 }] }] });
        assert_eq!(awsvpc::request("RegisterTaskDefinition", bridge.to_string().as_bytes()), None);
        let answer = serde_json::json!({ "taskDefinition": serde_json::from_str::<serde_json::Value>(&sent).unwrap() });
        let back: serde_json::Value =
            serde_json::from_str(&awsvpc::answer("DescribeTaskDefinition", answer.to_string().as_bytes()).unwrap())
                .unwrap();
        let ports = &back["taskDefinition"]["containerDefinitions"][0]["portMappings"];
        assert_eq!((ports[0]["hostPort"].as_i64(), ports[1]["hostPort"].as_i64()), (Some(9090), Some(7233)));
        assert_eq!(awsvpc::answer("DescribeServices", answer.to_string().as_bytes()), None);
    }

    #[test]
    fn reads_and_writes_are_told_apart() {
        assert!(!call("DescribeVpcs", "POST").is_mutating());
        assert!(!call("FilterLogEvents", "POST").is_mutating());
        assert!(!call("ListTagsForResource", "POST").is_mutating());
        assert!(!call("GetCluster", "POST").is_mutating());
        assert!(call("CreateVpc", "POST").is_mutating());
        assert!(call("ModifyVpcAttribute", "POST").is_mutating());
        assert!(!call("GET /cluster/abc", "GET").is_mutating());
        assert!(call("POST /cluster", "POST").is_mutating());
    }

    #[test]
    fn faults_hit_the_share_asked_for_and_replay_from_the_seed() {
        let rolls = |share, seed| {
            let mut state = FaultState { faults: Some(Faults { share, seed }), ..Default::default() };
            (0..10_000).map(|i| state.roll(["ec2", "ecs", "iam"][i % 3])).collect::<Vec<_>>()
        };
        let hits = rolls(0.3, 7).iter().filter(|r| r.is_some()).count();
        assert!((2_800..3_200).contains(&hits), "{hits} of 10000 at 30%");
        assert_eq!(rolls(0.3, 7), rolls(0.3, 7), "same seed, same faults");
        assert_ne!(rolls(0.3, 7), rolls(0.3, 8));
        assert!(rolls(0.0, 7).iter().all(Option::is_none));
        let kinds: std::collections::BTreeSet<u64> = rolls(1.0, 3).into_iter().flatten().collect();
        assert_eq!(kinds.len(), 4, "every kind of fault comes up");
        // One service's fate does not depend on the others' calls in between.
        let mut alone = FaultState { faults: Some(Faults { share: 0.3, seed: 7 }), ..Default::default() };
        let ecs_alone: Vec<_> = (0..100).map(|_| alone.roll("ecs")).collect();
        let mixed = rolls(0.3, 7);
        let ecs_mixed: Vec<_> = (0..300).filter(|i| i % 3 == 1).map(|i| mixed[i]).collect();
        assert_eq!(ecs_alone, ecs_mixed);
    }

    #[test]
    fn form_actions_are_found() {
        assert_eq!(form_value("Action=CreateVpc&Version=2016-11-15", "Action").as_deref(), Some("CreateVpc"));
        assert_eq!(form_value("Version=1&Action=DescribeVpcs", "Action").as_deref(), Some("DescribeVpcs"));
        assert_eq!(form_value("XAction=No", "Action"), None);
    }
}

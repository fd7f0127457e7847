//! Test harness: a moto server per test on its own loopback port, the project's recording
//! proxy in front of it, a private working directory, and the real binary.

#![allow(dead_code)]

pub mod agent;
pub mod images;
pub mod schema;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use temporalctl_proxy::Proxy;

pub const REGION: &str = "us-east-1";

/// A moto server, killed when dropped.
pub struct Emulator {
    child: Child,
    pub addr: SocketAddr,
}

impl Emulator {
    pub fn start() -> Emulator {
        let exe =
            std::env::var("MOTO_SERVER").map(PathBuf::from).unwrap_or_else(|_| repo().join(".venv/bin/moto_server"));
        assert!(exe.exists(), "{} not found: run scripts/test (it installs the pinned moto into .venv)", exe.display());
        // Retry on the rare port race between picking a free port and moto binding it.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            // MOTO_LOG=<file> keeps the emulator's own log (tracebacks of its 500s).
            let log = || match std::env::var_os("MOTO_LOG") {
                Some(path) => {
                    std::fs::OpenOptions::new().create(true).append(true).open(path).map(Stdio::from).unwrap()
                }
                None => Stdio::null(),
            };
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                // A requested certificate is issued at once (moto's default: after 60 s).
                .env("MOTO_ACM_VALIDATION_WAIT", "0")
                .stdout(log())
                .stderr(log())
                .spawn()
                .expect("start moto_server");
            let mut emulator = Emulator { child, addr };
            if emulator.wait_ready() {
                return emulator;
            }
        }
        panic!("moto_server did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// POST a JSON body to moto's own API (state manager, reset…).
    pub fn moto_api(&self, path: &str, body: &str) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.addr).expect("connect to moto");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 2") || response.starts_with("HTTP/1.0 2"), "{path}: {response}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The public images of the default deployment and the service each is for.
pub const PUBLIC_IMAGES: [(&str, &str); 3] = [
    (temporalctl_config::UI_IMAGE, "ui"),
    (temporalctl_config::GRAFANA_IMAGE, "grafana"),
    (temporalctl_config::ADOT_IMAGE, "adot"),
];

/// The digest the fake registry gives a public image at the start of every test.
pub fn public_digest(image: &str) -> String {
    temporalctl_proxy::registry::digest_of(image)
}

/// Everything one test needs.
pub struct Harness {
    pub proxy: Proxy,
    /// Docker Hub and public.ecr.aws as `up` asks them for digests.
    pub registry: temporalctl_proxy::registry::FakeRegistry,
    pub dir: PathBuf,
    /// Stands in for the ECS agent and scheduler; stopped before the emulator.
    agent: Option<agent::Agent>,
    pub emulator: Emulator,
}

impl Harness {
    /// A fresh emulator and proxy, a working directory holding `deploy_yaml`, and the
    /// images built and pushed as the README's first deploy does (`images build`, with
    /// stand-in tools), the calls of that build forgotten: each test starts at its `up`.
    pub fn new(name: &str, deploy_yaml: &str) -> Harness {
        let h = Harness::without_images(name, deploy_yaml);
        // A deploy.yaml the test means to be refused builds nothing: its `up` fails first.
        let _ = h.build_images();
        h.proxy.clear();
        h
    }

    /// `images build --source <a checkout of the fork>` with the stand-in tools.
    pub fn build_images(&self) -> (Run, images::Toolbox) {
        let tools = images::Toolbox::install(&self.dir.join("tools"));
        let run = self.run_with_path(&["images", "build", "--source", &tools.fork().to_string_lossy()], &tools.path());
        (run, tools)
    }

    /// Run the real binary with `path` as PATH (stand-in tools, or none).
    pub fn run_with_path(&self, args: &[&str], path: &str) -> Run {
        Run::from(self.command(args).env("PATH", path).output().expect("run temporalctl"))
    }

    /// A fresh emulator and proxy, and a working directory holding `deploy_yaml`; ECR empty.
    pub fn without_images(name: &str, deploy_yaml: &str) -> Harness {
        let emulator = Emulator::start();
        let proxy = Proxy::start(emulator.addr).expect("start proxy");
        // Every request the binary sends is checked against AWS's own API models.
        let models = repo().join(".venv/models");
        assert!(models.is_dir(), "{} missing: run scripts/install-emulator", models.display());
        proxy.validate_with(temporalctl_proxy::model::Models::load(&models).expect("load the AWS API models"));
        let dir = std::env::temp_dir().join(format!("temporalctl-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("deploy.yaml"), deploy_yaml).unwrap();
        // One-off tasks stop on their first describe: the lifecycle is not under test here.
        emulator.moto_api(
            "/moto-api/state-manager/set-transition",
            r#"{"model_name":"ecs::task","transition":{"progression":"immediate"}}"#,
        );
        let registry = temporalctl_proxy::registry::FakeRegistry::start().expect("start the fake registry");
        for (image, _) in PUBLIC_IMAGES {
            let r = temporalctl_config::image::Reference::parse(image).unwrap();
            registry.set(&r.repository, r.tag_or_latest(), &public_digest(image));
        }
        let mut h = Harness { emulator, proxy, registry, dir, agent: None };
        h.agent = Some(agent::Agent::start(h.sdk()));
        h
    }

    /// Run `args` in `dir` and SIGKILL it the moment the proxy holds the answer to its
    /// `after + 1`-th mutating call (which the emulator has carried out). False when it
    /// finished first.
    pub fn kill_after(&self, dir: &Path, args: &[&str], after: usize) -> bool {
        self.proxy.crash_after(Some(after));
        let mut child =
            self.command(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let killed = loop {
            if self.proxy.wait_tripped(Duration::from_millis(50)) {
                child.kill().unwrap();
                child.wait().unwrap();
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
        };
        self.proxy.crash_after(None);
        killed
    }

    /// Run the real binary in the working directory, through the proxy.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("run temporalctl");
        Run::from(output)
    }

    /// The JSON bodies the binary sent for one operation (JSON protocols), in order.
    pub fn sent(&self, operation: &str) -> Vec<serde_json::Value> {
        self.proxy
            .calls()
            .into_iter()
            .filter(|c| c.operation == operation)
            .map(|c| serde_json::from_str(&c.body).unwrap_or(serde_json::Value::Null))
            .collect()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_temporalctl"));
        cmd.args(args).current_dir(&self.dir).stdin(Stdio::null());
        // Only the test's own credentials and endpoint: never a developer's profile.
        for var in ["AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ENDPOINT_URL", self.proxy.url())
            .env(temporalctl_images::registry::REGISTRY_URL_ENV, self.registry.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("CI", "true");
        cmd
    }

    pub fn state_path(&self, project: &str) -> PathBuf {
        self.dir.join("state").join(format!("{project}.json"))
    }

    pub fn state(&self, project: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path(project)).unwrap()).unwrap()
    }

    /// SDK configuration for talking to the emulator directly (not through the proxy):
    /// `aws_sdk_x::Client::new(&h.sdk())`.
    pub fn sdk(&self) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "tests");
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(self.emulator.url())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
            .build()
    }

    /// The SDK's configuration through the proxy: answers as the binary gets them, with the
    /// proxy's emulation of what moto lacks (and the calls recorded).
    pub fn sdk_via_proxy(&self) -> aws_config::SdkConfig {
        self.sdk().into_builder().endpoint_url(self.proxy.url()).build()
    }

    /// An EC2 client talking to the emulator directly (not through the proxy), for
    /// checking what exists and for making drift out of band.
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.agent.take();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
            let (checked, mut violations) = self.proxy.validation();
            record_validation(checked, violations.len());
            violations.sort();
            violations.dedup();
            assert!(
                violations.is_empty(),
                "{} request(s) AWS would refuse (its API model says):\n  {}",
                violations.len(),
                violations.join("\n  ")
            );
        }
    }
}

/// Adds one test's count to `target/model-validation.log` (`<checked> <violations>` a
/// line): the suite's total is what docs/reliability.md reports.
fn record_validation(checked: usize, violations: usize) {
    use std::io::Write;
    let log = repo().join("target/model-validation.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{checked} {violations}");
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// What a no-op `up` or `plan` reads besides one read per resource: the preflight's 7
/// (the ECS AMI parameter, the OpenSearch service-linked role, the instance types'
/// offerings and architectures, the AMI's root snapshot, the two images in ECR), and a
/// second log group listing (the containers' groups and OpenSearch's share no prefix).
#[allow(dead_code)]
pub const FIXED_READS: usize = 8;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tokio runtime for the SDK calls a test makes itself.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

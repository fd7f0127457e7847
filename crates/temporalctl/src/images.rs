//! `images` (which images the deployment needs, which ECR holds), `images build` (build
//! them from the fork and push), and the check `up` and `plan` make before anything runs
//! on a missing image.

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use temporalctl_aws::platform::images::{self, Found, Presence};
use temporalctl_aws::{Aws, stack};
use temporalctl_config::Deploy;
use temporalctl_engine::{CancelToken, Engine, EngineOptions, StateStore};
use temporalctl_images::local::{self, LocalError, Stderr};
use temporalctl_images::plan::{self, BINARIES, Command, Image, Source};

use crate::cli::{Cli, Format};
use crate::commands::{Failure, failures};
use crate::output::{Display, Progress};
use crate::stdout::{out, outln};

/// The command that makes the missing images, with the options this run was given.
pub fn build_command(cli: &Cli) -> String {
    let mut command = String::from("temporalctl");
    if cli.config != Path::new("deploy.yaml") {
        command += &format!(" --config {}", cli.config.display());
    }
    if cli.state_dir != Path::new("state") {
        command += &format!(" --state-dir {}", cli.state_dir.display());
    }
    command + " images build --source <checkout of the temporal-dsql fork>"
}

/// One line per missing image: what it is, why, who needs it, what to do.
pub fn missing(found: &[Found], cli: &Cli) -> Vec<String> {
    found
        .iter()
        .filter_map(|f| {
            let Presence::Missing { reason } = &f.presence else { return None };
            let users = f.needed.used_by.join(", ");
            let fix = if f.is_ours() {
                format!("build and push it: {}", build_command(cli))
            } else {
                format!("push it, or name another image in services.{}.image", f.needed.used_by[0])
            };
            let start = if f.needed.used_by.len() == 1 { "starts" } else { "start" };
            Some(format!("image {} is not in ECR ({reason}); {users} {start} from it; {fix}", f.needed.image))
        })
        .collect()
}

/// The missing images as `missing` tells them, looked up now.
pub async fn missing_now(aws: &Aws, d: &Deploy, cli: &Cli, cancel: &CancelToken) -> Result<Vec<String>, Failure> {
    Ok(missing(&images::look(aws, d, cancel).await?, cli))
}

/// `up`: every image in ECR before anything is changed, so no one-off task or wave ever
/// waits on an image that cannot be pulled.
pub async fn require(aws: &Aws, d: &Deploy, cli: &Cli, cancel: &CancelToken) -> Result<(), Failure> {
    let lines = missing_now(aws, d, cli, cancel).await?;
    if lines.is_empty() {
        return Ok(());
    }
    Err(Failure::Runtime(format!(
        "{} image(s) the task definitions name are missing; nothing was changed:\n  {}",
        lines.len(),
        lines.join("\n  ")
    )))
}

/// `temporalctl images`.
pub async fn status(cli: &Cli, d: &Deploy, format: Format, cancel: &CancelToken) -> Result<(), Failure> {
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    let found = images::look(&aws, d, cancel).await?;
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "project": d.project, "region": d.region, "images": found,
            }))
            .unwrap_or_default()
        ),
        Format::Text => out!("{}", status_text(d, &found, cli)),
    }
    if found.iter().any(Found::is_missing) { Err(Failure::Exit(1)) } else { Ok(()) }
}

fn status_text(d: &Deploy, found: &[Found], cli: &Cli) -> String {
    let mut out =
        format!("Images of project {} in {} (temporal.version {}):\n", d.project, d.region, d.temporal.version);
    let width = found.iter().map(|f| f.needed.image.len()).max().unwrap_or(0);
    for f in found {
        let state = match &f.presence {
            Presence::Present { digest, pushed_at, .. } => {
                let short = digest.get(..19).unwrap_or(digest);
                format!("present  {short}  pushed {}", pushed_at.as_deref().unwrap_or("?"))
            }
            Presence::Missing { reason } => format!("MISSING  {reason}"),
            Presence::NotChecked => "not checked (not in ECR)".into(),
        };
        out += &format!("  {:width$}  {state}  [{}]\n", f.needed.image, f.needed.used_by.join(", "));
    }
    let lines = missing(found, cli);
    if !lines.is_empty() {
        out += &format!("{} missing: {}\n", lines.len(), build_command(cli));
    }
    out
}

/// Progress of `images build`: numbered steps on stderr, each with its time.
struct Steps {
    total: usize,
    done: usize,
    started: Instant,
}

impl Steps {
    async fn run<T>(&mut self, title: &str, work: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
        self.done += 1;
        eprintln!("[{}/{}] {title}", self.done, self.total);
        let since = Instant::now();
        let out = work.await?;
        eprintln!("      done in {:.1}s", since.elapsed().as_secs_f64());
        Ok(out)
    }
}

/// A local command of the build; Ctrl-C stops it.
async fn local_run(c: &Command, stdin: Option<&str>, stderr: Stderr, cancel: &CancelToken) -> Result<String, Failure> {
    local::run(c, stdin, stderr, cancel.cancelled()).await.map_err(local_failure)
}

fn local_failure(e: LocalError) -> Failure {
    match e {
        LocalError::Interrupted => Failure::Interrupted,
        LocalError::Failed(why) => Failure::Runtime(why),
    }
}

/// The repositories `up` reconciles, as the same graph nodes, under the state's lock
/// (released before the long build): their URIs, server first.
async fn repositories(
    d: &Deploy,
    aws: &Aws,
    store: &StateStore,
    engine_options: EngineOptions,
    cancel: &CancelToken,
) -> Result<[String; 2], Failure> {
    let mut locked = crate::commands::lock(store, "images build")?;
    let graph = crate::commands::graph(d, aws, &locked.state().desired_counts)?;
    let progress = Progress::new(Display::Quiet);
    let engine = Engine::new(&graph, engine_options, &progress, cancel.clone());
    let nodes: Vec<&str> = stack::REPOSITORIES.iter().map(|(node, _)| *node).collect();
    let report = engine.apply_only(&mut locked, &nodes).await;
    if report.cancelled {
        return Err(Failure::Interrupted);
    }
    if !report.ok() {
        return Err(Failure::Runtime(failures(&report)));
    }
    let uri = |node: &str| {
        let recorded = locked.state().nodes.get(node).and_then(|r| r.outputs.get("uri")).cloned();
        recorded.ok_or_else(|| Failure::Runtime(format!("{node}: ECR returned no repository URI")))
    };
    Ok([uri(stack::SERVER_REPOSITORY)?, uri(stack::ADMIN_TOOLS_REPOSITORY)?])
}

/// `temporalctl images build --source DIR`.
pub async fn build(
    cli: &Cli,
    d: &Deploy,
    store: &StateStore,
    dir: &Path,
    engine_options: EngineOptions,
    cancel: &CancelToken,
) -> Result<(), Failure> {
    // Offline first: a wrong folder or a missing tool is told before any AWS call.
    let source = Source::open(dir).map_err(|missing| {
        Failure::Usage(format!(
            "--source {}: not a checkout of the temporal-dsql fork; it lacks {}. Clone the fork and pass its folder. Nothing was sent to AWS.",
            dir.display(),
            missing.join(", ")
        ))
    })?;
    local::check_tools(&source.dir).await.map_err(|missing| {
        Failure::Runtime(format!(
            "this machine lacks what the build needs; nothing was sent to AWS:\n  {}",
            missing.join("\n  ")
        ))
    })?;
    // The repositories, each binary, the CLI, the login, two images, the check.
    let mut steps = Steps { total: 1 + BINARIES.len() + 1 + 1 + 2 + 1, done: 0, started: Instant::now() };
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    let [server_uri, admin_tools_uri] =
        steps.run("ECR repositories", repositories(d, &aws, store, engine_options, cancel)).await?;

    let revision = local::revision(&source.dir).await;
    if revision.is_none() {
        eprintln!("note: {} is not a git checkout; the images are tagged with temporal.version only", dir.display());
    }
    let tags = plan::tags(&d.temporal.version, revision.as_deref());
    local::prepare(&source).map_err(local_failure)?;
    for binary in &BINARIES {
        let title = format!("compile {} ({})", binary.name, plan::PLATFORM);
        steps.run(&title, local_run(&plan::compile(&source, binary), None, Stderr::Shown, cancel)).await?;
    }
    let title = format!("compile the Temporal CLI {} ({})", plan::CLI_VERSION, plan::PLATFORM);
    steps.run(&title, async { local::build_cli(&source, cancel.cancelled()).await.map_err(local_failure) }).await?;

    let login = async {
        let login = images::registry_login(&aws, cancel).await?;
        let command = plan::login(&login.registry, &login.username, &source.dir);
        local_run(&command, Some(&login.password), Stderr::Kept, cancel).await?;
        local::ensure_builder(&source.dir, cancel.cancelled()).await.map_err(local_failure)
    };
    steps.run("log in to ECR and prepare the buildx builder", login).await?;

    let image = |name, dockerfile, repository_uri| Image { name, dockerfile, repository_uri, tags: tags.clone() };
    let images = [
        image("server", source.dir.join(plan::SERVER_DOCKERFILE), server_uri),
        image("admin-tools", source.admin_tools_dockerfile(), admin_tools_uri),
    ];
    for image in &images {
        let title = format!("build and push the {} image ({})", image.name, plan::PLATFORM);
        steps.run(&title, local_run(&plan::build_and_push(&source, image), None, Stderr::Shown, cancel)).await?;
    }

    // What ECR now holds, as `up` will look for it.
    let found = steps.run("check ECR", async { images::look(&aws, d, cancel).await.map_err(Failure::from) }).await?;
    let ours: Vec<&Found> = found.iter().filter(|f| f.is_ours()).collect();
    if ours.iter().any(|f| f.is_missing()) {
        let lines = missing(&found, cli);
        return Err(Failure::Runtime(format!("pushed, but ECR does not list:\n  {}", lines.join("\n  "))));
    }
    outln!(
        "images build: pushed {} image(s) tagged {} in {:.1}s",
        images.len(),
        tags.join(", "),
        steps.started.elapsed().as_secs_f64()
    );
    for f in ours {
        if let Presence::Present { digest, .. } = &f.presence {
            outln!("  {}  {digest}", f.needed.image);
        }
    }
    Ok(())
}

//! `images` (which images the deployment needs, which ECR holds), `images build` (build
//! them from the fork and push), and the check `up` and `plan` make before anything runs
//! on a missing image.

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use temporalctl_aws::platform::images::{self, Found, Presence};
use temporalctl_aws::{Aws, stack};
use temporalctl_config::Deploy;
use temporalctl_config::image::Reference;
use temporalctl_engine::{CancelToken, Engine, EngineOptions, StateStore};
use temporalctl_images::local::{self, LocalError, Stderr};
use temporalctl_images::plan::{self, BINARIES, Command, Image, Source};
use temporalctl_images::registry::{Registries, RegistryError};

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

/// One line per image `up` cannot pin: what it is, why, who needs it, what to do.
pub fn missing(found: &[Found], cli: &Cli) -> Vec<String> {
    found
        .iter()
        .filter_map(|f| {
            let users = f.needed.used_by.join(", ");
            let start = if f.needed.used_by.len() == 1 { "starts" } else { "start" };
            let field = format!("services.{}.image", f.needed.used_by[0]);
            let image = &f.needed.image;
            match &f.presence {
                Presence::Missing { reason } if f.is_ours() => Some(format!(
                    "image {image} is not in ECR ({reason}); {users} {start} from it; build and push it: {}",
                    build_command(cli)
                )),
                Presence::Missing { reason } if f.needed.ecr.is_some() => Some(format!(
                    "image {image} is not in ECR ({reason}); {users} {start} from it; push it, or name another image in {field}"
                )),
                Presence::Missing { reason } => Some(format!(
                    "image {image}: {reason}; {users} {start} from it; name a tag that exists in {field}"
                )),
                Presence::Unresolved { reason } => Some(format!(
                    "image {image} could not be pinned to a digest ({reason}); {users} {start} from it; write it with its digest in {field} (name@sha256:…) to skip the lookup"
                )),
                Presence::Present { .. } | Presence::NotChecked => None,
            }
        })
        .collect()
}

/// Every image the task definitions name, each with the digest its tag names now: ECR's
/// answer for images in this region's ECR, the registry's own for public ones (asked
/// together, Ctrl-C stops them).
pub async fn look(aws: &Aws, d: &Deploy, cancel: &CancelToken) -> Result<Vec<Found>, Failure> {
    let mut found = images::look(aws, d, cancel).await?;
    // Another region's or account's private ECR answers no anonymous request and this
    // session's SDK client only its own region: such an image stays unpinned, by its tag.
    let private_ecr = |image: &str| Reference::parse(image).is_ok_and(|r| r.registry.contains(".dkr.ecr."));
    let public: Vec<usize> = found
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.presence, Presence::NotChecked) && !private_ecr(&f.needed.image))
        .map(|(i, _)| i)
        .collect();
    if public.is_empty() {
        return Ok(found);
    }
    let registries = Registries::new().map_err(Failure::Runtime)?;
    let asked = public.iter().map(|&i| {
        let image = found[i].needed.image.clone();
        let registries = &registries;
        async move {
            let reference = Reference::parse(&image).map_err(RegistryError::NotFound)?;
            registries.digest(&reference).await
        }
    });
    let answers = tokio::select! {
        answers = futures_util::future::join_all(asked) => answers,
        () = cancel.cancelled() => return Err(Failure::Interrupted),
    };
    for (i, answer) in public.into_iter().zip(answers) {
        found[i].presence = match answer {
            Ok(digest) => Presence::Present { digest, pushed_at: None, size_bytes: None },
            Err(RegistryError::NotFound(reason)) => Presence::Missing { reason },
            Err(e) => Presence::Unresolved { reason: e.to_string() },
        };
    }
    Ok(found)
}

/// `up`: every image pinned to a digest before anything is changed, so no one-off task or
/// wave ever waits on an image that cannot be pulled, and every task definition names
/// exactly what was planned. The digests, for the task definitions.
pub async fn require(aws: &Aws, d: &Deploy, cli: &Cli, cancel: &CancelToken) -> Result<images::Pins, Failure> {
    let found = look(aws, d, cancel).await?;
    let lines = missing(&found, cli);
    if lines.is_empty() {
        return Ok(images::pins(&found));
    }
    Err(Failure::Runtime(format!(
        "{} image(s) the task definitions name cannot be pinned; nothing was changed:\n  {}",
        lines.len(),
        lines.join("\n  ")
    )))
}

/// `temporalctl images`.
pub async fn status(cli: &Cli, d: &Deploy, format: Format, cancel: &CancelToken) -> Result<(), Failure> {
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    let found = look(&aws, d, cancel).await?;
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
    if missing(&found, cli).is_empty() { Ok(()) } else { Err(Failure::Exit(1)) }
}

fn status_text(d: &Deploy, found: &[Found], cli: &Cli) -> String {
    let mut out =
        format!("Images of project {} in {} (temporal.version {}):\n", d.project, d.region, d.temporal.version);
    let width = found.iter().map(|f| f.needed.image.len()).max().unwrap_or(0);
    for f in found {
        let state = match &f.presence {
            Presence::Present { digest, pushed_at, .. } => {
                let short = digest.get(..19).unwrap_or(digest);
                let pushed = pushed_at.as_deref().map(|at| format!("  pushed {at}")).unwrap_or_default();
                format!("present  {short}{pushed}")
            }
            Presence::Missing { reason } => format!("MISSING  {reason}"),
            Presence::Unresolved { reason } => format!("UNPINNED  {reason}"),
            Presence::NotChecked => "not checked (another region's ECR): runs by its tag, unpinned".into(),
        };
        out += &format!("  {:width$}  {state}  [{}]\n", f.needed.image, f.needed.used_by.join(", "));
    }
    let lines = missing(found, cli);
    if !lines.is_empty() {
        out += &format!("{} cannot be pinned; `up` stops until they can:\n  {}\n", lines.len(), lines.join("\n  "));
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
    // Only the repositories are applied from it.
    let graph = crate::commands::graph(d, aws, locked.state(), Default::default())?;
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
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    let [server_uri, admin_tools_uri] = repositories(d, &aws, store, engine_options, cancel).await?;
    // The tags are immutable: an image already pushed at temporal.version is that version
    // for good, and is not built again.
    let before = images::look(&aws, d, cancel).await?;
    let pushed = |node: &str| {
        let repository = stack::our_repository(&d.project, node);
        let found =
            before.iter().find(|f| f.is_ours() && f.needed.ecr.as_ref().is_some_and(|e| e.repository == repository));
        match found.map(|f| &f.presence) {
            Some(Presence::Present { digest, .. }) => Some((repository, digest.clone())),
            _ => None,
        }
    };
    let revision = local::revision(&source.dir).await;
    let wanted = [
        ("server", source.dir.join(plan::SERVER_DOCKERFILE), server_uri, stack::SERVER_REPOSITORY),
        ("admin-tools", source.admin_tools_dockerfile(), admin_tools_uri, stack::ADMIN_TOOLS_REPOSITORY),
    ];
    let mut images = Vec::new();
    for (name, dockerfile, repository_uri, node) in wanted {
        match pushed(node) {
            Some((repository, digest)) => outln!(
                "{repository}:{} is already in ECR ({digest}); its tag is immutable, so it is kept. To build the fork again, set temporal.version to a new version.",
                d.temporal.version
            ),
            None => images.push(Image {
                name,
                dockerfile,
                repository_uri,
                tag: d.temporal.version.clone(),
                labels: plan::labels(&d.temporal.version, revision.as_deref()),
            }),
        }
    }
    if images.is_empty() {
        outln!("images build: nothing to build; both images of {} are in ECR", d.temporal.version);
        return Ok(());
    }
    if revision.is_none() {
        eprintln!("note: {} is not a git checkout; the images carry no revision label", dir.display());
    }

    // Each binary, the CLI, the login, the images, the check.
    let mut steps = Steps { total: BINARIES.len() + 1 + 1 + images.len() + 1, done: 0, started: Instant::now() };
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
        d.temporal.version,
        steps.started.elapsed().as_secs_f64()
    );
    for f in ours {
        if let Presence::Present { digest, .. } = &f.presence {
            outln!("  {}  {digest}", f.needed.image);
        }
    }
    Ok(())
}

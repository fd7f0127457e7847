//! Running the plan on this machine: the tools checked first (each missing one named with
//! how to install it), each command's own output shown as it comes, a Ctrl-C stopping the
//! command in flight.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::plan::{self, ARCH, BUILDER, Command, PLATFORM, Source};

/// How a command's stderr is treated: shown to the user as it comes (compilers, docker's
/// build progress), or kept for the error message (probes whose failure is expected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    Shown,
    Kept,
}

/// Why a local step stopped.
#[derive(Debug)]
pub enum LocalError {
    Failed(String),
    Interrupted,
}

impl LocalError {
    fn failed(message: impl Into<String>) -> LocalError {
        LocalError::Failed(message.into())
    }
}

/// Run `c`, feeding `stdin` when given; its stdout is returned. A Ctrl-C (`cancelled`)
/// kills it.
pub async fn run(
    c: &Command,
    stdin: Option<&str>,
    stderr: Stderr,
    cancelled: impl Future<Output = ()>,
) -> Result<String, LocalError> {
    let mut cmd = tokio::process::Command::new(&c.program);
    cmd.args(&c.args)
        .envs(c.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&c.cwd)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(if stderr == Stderr::Shown { Stdio::inherit() } else { Stdio::piped() })
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LocalError::failed(format!("`{}` is not installed (not on PATH)", c.program)),
        _ => LocalError::failed(format!("cannot start `{}`: {e}", c.program)),
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|e| LocalError::failed(format!("`{}`: stdin: {e}", c.program)))?;
        // Closed here, so the command sees the end of its input.
    }
    let output = tokio::select! {
        output = child.wait_with_output() => output.map_err(|e| LocalError::failed(format!("`{}`: {e}", c.program)))?,
        () = cancelled => return Err(LocalError::Interrupted),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let kept = String::from_utf8_lossy(&output.stderr);
    let said = if kept.trim().is_empty() { String::new() } else { format!(":\n{}", kept.trim_end()) };
    let status = output.status.code().map_or_else(|| "a signal".to_string(), |n| format!("exit {n}"));
    Err(LocalError::failed(format!("`{}` failed ({status}){said}", c.shown())))
}

/// A tool the build needs and how to get it.
struct Tool {
    probe: &'static [&'static str],
    install: &'static str,
}

const TOOLS: [Tool; 3] = [
    Tool {
        probe: &["go", "version"],
        install: "Go is needed to compile the fork: install Go 1.21 or newer (https://go.dev/dl/); it fetches the toolchain the fork's go.mod asks for",
    },
    Tool {
        probe: &["docker", "version", "--format", "{{.Client.Version}}"],
        install: "Docker is needed to build and push the images: install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop, and start it",
    },
    Tool {
        probe: &["docker", "buildx", "version"],
        install: "docker buildx is needed to build for linux/arm64: install the Buildx plugin (Debian/Ubuntu: docker-buildx-plugin; Docker Desktop has it)",
    },
];

/// Every missing tool at once, each with what to install; nothing else has run yet.
pub async fn check_tools(dir: &Path) -> Result<(), Vec<String>> {
    let mut missing = Vec::new();
    for tool in &TOOLS {
        let probe = Command::new(tool.probe[0], &tool.probe[1..], dir);
        if let Err(e) = run(&probe, None, Stderr::Kept, std::future::pending()).await {
            let why = match e {
                LocalError::Failed(why) => why,
                LocalError::Interrupted => String::new(),
            };
            missing.push(format!("{}\n    ({})", tool.install, why.lines().next().unwrap_or_default()));
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(missing) }
}

/// The source's revision for the image tag: the short commit, `-dirty` when tracked files
/// changed since. `None` when it is not a git checkout (or git is missing).
pub async fn revision(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| Command::new("git", args, dir);
    let commit =
        run(&git(&["rev-parse", "--short=12", "HEAD"]), None, Stderr::Kept, std::future::pending()).await.ok()?;
    let changes =
        run(&git(&["status", "--porcelain", "--untracked-files=no"]), None, Stderr::Kept, std::future::pending())
            .await
            .unwrap_or_default();
    let commit = commit.trim();
    Some(if changes.trim().is_empty() { commit.to_string() } else { format!("{commit}-dirty") })
}

/// Fresh output folders (nothing stale from an earlier build reaches an image), the
/// fork's schema files, and the admin-tools Dockerfile with the DSQL tool.
pub fn prepare(source: &Source) -> Result<(), LocalError> {
    let io = |what: &str, path: &Path| {
        let what = what.to_string();
        let path = path.display().to_string();
        move |e: std::io::Error| LocalError::failed(format!("{what} {path}: {e}"))
    };
    for dir in [source.binaries(), source.schema()] {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("cannot clear", &dir)(e)),
            _ => {}
        }
        std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    }
    copy_tree(&source.dir.join("schema"), &source.schema())
        .map_err(io("cannot copy the schema files to", &source.schema()))?;
    let fork_file = source.dir.join(plan::ADMIN_TOOLS_DOCKERFILE);
    let fork = std::fs::read_to_string(&fork_file).map_err(io("cannot read", &fork_file))?;
    let ours = source.admin_tools_dockerfile();
    std::fs::write(&ours, plan::admin_tools_dockerfile(&fork)).map_err(io("cannot write", &ours))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Where `go install` put the cross-compiled CLI: `$GOPATH/bin/linux_arm64/`, or
/// `$GOPATH/bin/` on a linux/arm64 host (Go's `cmd/go` documentation, "Compile and install
/// packages and dependencies").
pub fn installed_cli(go_env: &str) -> Option<PathBuf> {
    let mut lines = go_env.lines();
    let gopath = lines.next()?.split(':').next().filter(|p| !p.is_empty())?;
    let host = format!("{}/{}", lines.next()?.trim(), lines.next()?.trim());
    let bin = Path::new(gopath).join("bin");
    Some(if host == PLATFORM { bin.join("temporal") } else { bin.join(format!("linux_{ARCH}")).join("temporal") })
}

/// The arm64 Temporal CLI for the admin-tools image, built and copied beside the fork's
/// binaries.
pub async fn build_cli(source: &Source, cancelled: impl Future<Output = ()>) -> Result<(), LocalError> {
    let mut cancelled = std::pin::pin!(cancelled);
    run(&plan::compile_cli(source), None, Stderr::Shown, cancelled.as_mut()).await?;
    let env = Command::new("go", &["env", "GOPATH", "GOHOSTOS", "GOHOSTARCH"], &source.dir);
    let said = run(&env, None, Stderr::Kept, cancelled.as_mut()).await?;
    let built = installed_cli(&said).ok_or_else(|| LocalError::failed(format!("`go env` said {said:?}")))?;
    let target = source.binaries().join("temporal");
    std::fs::copy(&built, &target)
        .map(|_| ())
        .map_err(|e| LocalError::failed(format!("cannot copy {} to {}: {e}", built.display(), target.display())))
}

/// Our buildx builder, created on first use, able to build linux/arm64 (natively or through
/// QEMU emulation: the Dockerfiles' `RUN apk add` runs arm64 code).
pub async fn ensure_builder(dir: &Path, cancelled: impl Future<Output = ()>) -> Result<(), LocalError> {
    let mut cancelled = std::pin::pin!(cancelled);
    let inspect = Command::new("docker", &["buildx", "inspect", "--bootstrap", BUILDER], dir);
    let found = match run(&inspect, None, Stderr::Kept, cancelled.as_mut()).await {
        Ok(found) => found,
        Err(LocalError::Interrupted) => return Err(LocalError::Interrupted),
        Err(LocalError::Failed(_)) => {
            let create =
                Command::new("docker", &["buildx", "create", "--name", BUILDER, "--driver", "docker-container"], dir);
            run(&create, None, Stderr::Kept, cancelled.as_mut()).await?;
            run(&inspect, None, Stderr::Kept, cancelled.as_mut()).await?
        }
    };
    if builds_arm64(&found) {
        Ok(())
    } else {
        Err(LocalError::failed(format!(
            "the buildx builder `{BUILDER}` cannot build {PLATFORM} on this machine; install arm64 emulation once with `docker run --privileged --rm tonistiigi/binfmt --install arm64`, then `docker buildx rm {BUILDER}` and run this again"
        )))
    }
}

/// `docker buildx inspect`'s `Platforms:` line names linux/arm64.
pub fn builds_arm64(inspect: &str) -> bool {
    inspect
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Platforms:"))
        .any(|platforms| platforms.split(',').any(|p| p.trim().trim_end_matches('*') == PLATFORM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_compiled_cli_is_found_where_go_install_puts_it() {
        assert_eq!(
            installed_cli("/home/u/go\nlinux\namd64\n"),
            Some(PathBuf::from("/home/u/go/bin/linux_arm64/temporal"))
        );
        assert_eq!(
            installed_cli("/home/u/go:/other\ndarwin\narm64\n"),
            Some(PathBuf::from("/home/u/go/bin/linux_arm64/temporal"))
        );
        assert_eq!(installed_cli("/g\nlinux\narm64\n"), Some(PathBuf::from("/g/bin/temporal")));
        assert_eq!(installed_cli(""), None);
    }

    #[test]
    fn a_builder_without_arm64_is_told_apart() {
        let emulated = "Name:   temporalctl\nDriver: docker-container\nNodes:\nName:      temporalctl0\nPlatforms: linux/amd64, linux/amd64/v2, linux/arm64*, linux/arm/v7\n";
        assert!(builds_arm64(emulated));
        assert!(!builds_arm64("Name: temporalctl\nPlatforms: linux/amd64, linux/386\n"));
        assert!(!builds_arm64("Name: temporalctl\n"));
    }

    #[tokio::test]
    async fn a_failing_command_is_named_with_its_exit_and_what_it_said() {
        let c = Command::new("sh", &["-c", "echo nope >&2; exit 3"], Path::new("/"));
        let Err(LocalError::Failed(why)) = run(&c, None, Stderr::Kept, std::future::pending()).await else {
            panic!("expected a failure")
        };
        assert_eq!(why, "`sh -c 'echo nope >&2; exit 3'` failed (exit 3):\nnope");
        let missing = Command::new("temporalctl-no-such-tool", &[], Path::new("/"));
        let Err(LocalError::Failed(why)) = run(&missing, None, Stderr::Kept, std::future::pending()).await else {
            panic!("expected a failure")
        };
        assert!(why.contains("is not installed"), "{why}");
    }

    #[tokio::test]
    async fn stdin_reaches_the_command_and_stdout_comes_back() {
        let c = Command::new("sh", &["-c", "read line; echo got:$line"], Path::new("/"));
        let out = run(&c, Some("secret\n"), Stderr::Kept, std::future::pending()).await.ok().unwrap();
        assert_eq!(out, "got:secret\n");
    }
}

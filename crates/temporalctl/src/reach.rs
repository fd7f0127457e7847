//! The verbs that reach into a running cluster: `connect` and `exec` (through the AWS
//! CLI and its Session Manager plugin, which own the interactive session), and `logs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use temporalctl_aws::operate::Operator;
use temporalctl_aws::operate::access::{
    DEFAULT_EXEC_COMMAND, TaskInfo, ecs_target, exec_argv, forward_argv, shell_line,
};
use temporalctl_aws::operate::logs::{Cursor, LogLine};
use temporalctl_aws::service_kinds::{ADMIN_TOOLS, SERVICES, ServiceKind};
use temporalctl_aws::stack;
use temporalctl_engine::CancelToken;

use crate::commands::Failure;
use crate::stdout::outln;

/// The tools an interactive session needs, and where to get them.
const TOOLS: &[(&str, &str)] = &[
    ("aws", "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"),
    (
        "session-manager-plugin",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html",
    ),
];

/// How often `logs --follow` asks for new lines: CloudWatch delivers in seconds, and the
/// FilterLogEvents quota (5 a second per account and region) is shared with others.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// A service by its deploy.yaml key, or a usage error listing the choices.
pub fn service(key: &str, with_admin_tools: bool) -> Result<&'static ServiceKind, Failure> {
    let extra = with_admin_tools.then_some(&ADMIN_TOOLS);
    let all: Vec<&'static ServiceKind> = SERVICES.iter().chain(extra).collect();
    all.iter().copied().find(|k| k.key == key).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|k| k.key).collect();
        Failure::Usage(format!("no service `{key}`; choose from {}. Nothing was sent to AWS.", names.join(", ")))
    })
}

/// The first running task of a service, or why there is none. A service of our name
/// without our tags is refused: no session into someone else's containers.
pub async fn running_task(op: &Operator<'_>, kind: &'static ServiceKind) -> Result<TaskInfo, Failure> {
    if op.owned_service(kind).await?.is_none() {
        return Err(Failure::Runtime(format!(
            "no {} service in the cluster: `temporalctl up` creates it (`temporalctl status` shows the services)",
            kind.key
        )));
    }
    // Its tasks, by the group ECS gives the tasks of the service just checked.
    let mut tasks = op.running_tasks().await?;
    tasks.remove(kind.key).and_then(|t| t.into_iter().next()).ok_or_else(|| {
        Failure::Runtime(format!(
            "no running {} task: `temporalctl scale up --service {}` starts one (`temporalctl status` shows the services)",
            kind.key, kind.key
        ))
    })
}

/// `exec`: `aws ecs execute-command` into the service's first running task.
pub fn exec_command(op: &Operator<'_>, kind: &ServiceKind, task: &TaskInfo, command: &[String]) -> Vec<String> {
    let command = if command.is_empty() { DEFAULT_EXEC_COMMAND.to_string() } else { shell_line(command) };
    exec_argv(&op.deploy.region, &op.cluster(), &task.id, kind.container, &command)
}

/// `connect`: port forwarding into the service's first running task, through its ECS
/// Exec agent.
pub fn connect_command(
    op: &Operator<'_>,
    kind: &ServiceKind,
    task: &TaskInfo,
    local_port: Option<u16>,
) -> Result<Vec<String>, Failure> {
    let port = kind.ports.first().map(|(_, p)| *p).unwrap_or_default();
    let Some(runtime_id) = task.runtime_id.as_deref() else {
        return Err(Failure::Runtime(format!(
            "{} task {} has not reported its container's runtime id yet (the container is still starting); try again once `temporalctl status` shows it running",
            kind.key, task.id
        )));
    };
    let local = local_port.unwrap_or(u16::try_from(port).unwrap_or_default());
    Ok(forward_argv(&op.deploy.region, &ecs_target(&op.cluster(), &task.id, runtime_id), port, local))
}

/// Print the command (`--print`), or run it with this terminal when the tools are
/// installed, or print it with what to install. Returns the session's exit code.
pub fn launch(what: &str, argv: &[String], print_only: bool) -> Result<u8, Failure> {
    let line = shell_line(argv);
    if print_only {
        outln!("{line}");
        return Ok(0);
    }
    let missing: Vec<&(&str, &str)> = TOOLS.iter().filter(|(tool, _)| on_path(tool).is_none()).collect();
    if !missing.is_empty() {
        // The command on stdout, so it can be copied or piped; the why on stderr.
        outln!("{line}");
        let install: Vec<String> = missing.iter().map(|(tool, url)| format!("  {tool}: {url}")).collect();
        let names: Vec<&str> = missing.iter().map(|(tool, _)| *tool).collect();
        return Err(Failure::Runtime(format!(
            "{what} needs the AWS CLI v2 and its Session Manager plugin; not on PATH: {}. Install:\n{}\nthen run the command printed above, or this one again.",
            names.join(", "),
            install.join("\n")
        )));
    }
    eprintln!("{what}: {line}");
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| Failure::Runtime(format!("cannot start `{}`: {e}", argv[0])))?;
    Ok(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1))
}

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `logs`: print the lines since `since`; with `follow`, keep printing new ones until
/// Ctrl-C.
pub async fn logs(
    op: &Operator<'_>,
    kind: &ServiceKind,
    since: Duration,
    follow: bool,
    cancel: &CancelToken,
) -> Result<(), Failure> {
    let group = stack::log_group_name(&op.deploy.project, kind);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
    let mut cursor = Cursor::starting_at(now_ms - since.as_millis() as i64);
    loop {
        let lines = op.log_events(&group, cursor.since_ms).await?;
        for l in cursor.advance(lines) {
            outln!("{}", render(&l));
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}

/// `2026-11-23T22:41:07.120Z temporal-frontend/temporal-frontend/4f1c…  message`
fn render(l: &LogLine) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(l.timestamp).unwrap_or_default());
    format!("{} {}  {}", humantime::format_rfc3339_millis(t), l.stream, l.message)
}
/// The client's TLS files in `dir` (made 0700 when missing): `authority.pem`,
/// `client.pem` and `client.key`, each made anew 0600 without following a symlink
/// planted where it goes (the state file's own way of writing).
pub fn write_client_tls(
    dir: &std::path::Path,
    tls: &temporalctl_aws::operate::access::ClientTls,
) -> std::io::Result<Vec<String>> {
    use std::io::Write;
    temporalctl_engine::private_dir(dir)?;
    let mut written = Vec::new();
    for (name, text) in
        [("authority.pem", tls.authority.as_str()), ("client.pem", tls.cert.as_str()), ("client.key", tls.key())]
    {
        let path = dir.join(name);
        let mut file = temporalctl_engine::new_private_file(&path)?;
        file.write_all(text.trim_end().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// The `temporal` CLI flags for the frontend through `connect frontend`'s local port: the
/// files `write_client_tls` wrote, and the name the frontend's certificate carries.
pub fn temporal_tls_flags(dir: &std::path::Path) -> String {
    let file = |name: &str| dir.join(name).display().to_string();
    let argv: Vec<String> = [
        "temporal",
        "operator",
        "cluster",
        "health",
        "--address",
        "localhost:7233",
        "--tls-ca-path",
        &file("authority.pem"),
        "--tls-cert-path",
        &file("client.pem"),
        "--tls-key-path",
        &file("client.key"),
        "--tls-server-name",
        temporalctl_aws::platform::tls::FRONTEND_NAME,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    shell_line(&argv)
}

//! Issue 8: the operator's verbs beyond the graph (`cost`, `graph`, `completions`, `man`,
//! `connect`, `exec`, `logs`, `status --watch`, `plan`'s cost change), each run as the
//! real binary against moto through the recording proxy.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Harness, Run};

const PROJECT: &str = "itreach";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

/// A started binary whose stdout lines arrive on a channel, for the verbs that run until
/// interrupted.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(h: &Harness, args: &[&str]) -> Running {
        let mut child = h.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Wait (at most 60 s) for a line containing `text`; every line read is kept.
    #[track_caller]
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} within 60 s; got:\n{}", self.seen.join("\n"));
    }

    /// Ctrl-C, as a person stops it; the exit code and the rest of stderr.
    fn interrupt(self) -> (i32, String) {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let out = self.child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into())
    }
}

/// A folder holding stand-ins for the AWS CLI and the Session Manager plugin: each
/// writes its arguments, one per line, to `<name>.args` and exits 3.
fn fake_tools(h: &Harness, names: &[&str]) -> PathBuf {
    let bin = h.dir.join(format!("bin-{}", names.join("-")));
    std::fs::create_dir_all(&bin).unwrap();
    for name in names {
        let path = bin.join(name);
        let record = bin.join(format!("{name}.args"));
        std::fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexit 3\n", record.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn run_with_path(h: &Harness, path: &Path, args: &[&str]) -> Run {
    Run::from(h.command(args).env("PATH", path).output().unwrap())
}

fn recorded_args(bin: &Path, tool: &str) -> Vec<String> {
    std::fs::read_to_string(bin.join(format!("{tool}.args"))).unwrap().lines().map(String::from).collect()
}

fn status_doc(h: &Harness) -> Value {
    serde_json::from_str(&h.run(&["status", "--output", "json"]).ok().stdout).unwrap()
}

/// (task id, the service container's runtime id) of a service's first task.
fn first_task(doc: &Value, service: &str) -> (String, String) {
    let s = doc["services"].as_array().unwrap().iter().find(|s| s["service"] == service).unwrap();
    let t = &s["tasks"][0];
    let text = |k: &str| t[k].as_str().unwrap_or_else(|| panic!("{service} task has no {k}: {s:#}")).to_string();
    (text("id"), text("runtime_id"))
}

/// ECS reports each started container's runtime id in DescribeTasks; moto does not. The
/// proxy adds one, shaped as ECS's (`<task id>-<number>`), to every container.
fn report_runtime_ids(h: &Harness) {
    let script = temporalctl_proxy::Script::rewrite_json(|v| {
        for task in v["tasks"].as_array_mut().into_iter().flatten() {
            let id = task["taskArn"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
            for (i, c) in task["containers"].as_array_mut().into_iter().flatten().enumerate() {
                c["runtimeId"] = Value::String(format!("{id}-{}", 3_100_000_000u64 + i as u64));
            }
        }
    });
    h.proxy.script("DescribeTasks", None, script);
}

#[test]
fn offline_verbs_describe_the_deployment_and_the_binary_without_calling_aws() {
    let h = Harness::new("op-offline", &deploy());
    let cost = h.run(&["cost"]).ok().stdout;
    assert!(cost.starts_with("Monthly estimate for us-east-1 (730 h/month"), "{cost}");
    for line in
        ["node group a (history)", "NAT gateway data", "interface VPC endpoints", "OpenSearch instances", "total"]
    {
        assert!(cost.contains(line), "{line} missing:\n{cost}");
    }
    let json: Value =
        serde_json::from_str(&h.run(&["cost", "--output", "json", "--hours-per-month", "176"]).ok().stdout).unwrap();
    let items = json["items"].as_array().unwrap();
    let sum: f64 = items.iter().filter_map(|i| i["monthly_usd"].as_f64()).sum();
    assert!((sum - json["total_usd"].as_f64().unwrap()).abs() < 0.05, "the total is the sum of its lines: {json:#}");
    let nat = items.iter().find(|i| i["item"] == "NAT gateway").unwrap();
    assert_eq!(nat["monthly_usd"].as_f64(), Some(7.92), "0.045 × 176 h");
    assert_eq!(json["priced_on"].as_str().map(str::len), Some(10), "the table is dated");

    // The graph: every node validate counts, and every edge between declared nodes.
    let count: usize =
        h.run(&["validate"]).ok().stdout.split(", ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let mermaid = h.run(&["graph"]).ok().stdout;
    assert!(mermaid.starts_with("flowchart LR\n"));
    let declared: Vec<&str> =
        mermaid.lines().filter(|l| l.contains("[\"")).map(|l| l.trim().split('[').next().unwrap()).collect();
    assert_eq!(declared.len(), count, "{mermaid}");
    // Solid: the dependency must be ready; dotted: its identity is enough (issue 24).
    let edges: Vec<(&str, &str)> = mermaid
        .lines()
        .filter_map(|l| l.trim().split_once(" --> ").or_else(|| l.trim().split_once(" -.-> ")))
        .collect();
    assert!(edges.len() > count, "a graph this size has more edges than nodes: {}", edges.len());
    assert!(edges.iter().all(|(a, b)| declared.contains(a) && declared.contains(b)), "an edge to an undeclared node");
    assert!(mermaid.contains("ami/ecs-arm64<br/><i>ami-lookup</i>"));
    let dot = h.run(&["graph", "--format", "dot"]).ok().stdout;
    assert!(dot.starts_with("digraph temporalctl {") && dot.contains("\"vpc\" -> \"subnet/private-0\";"), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), edges.len(), "dot and mermaid draw the same edges");
    assert!(dot.contains("\"dsql-cluster\" -> \"iam-role/task-history\" [style=dashed];"), "{dot}");
    assert_eq!(dot.matches("[style=dashed]").count(), mermaid.matches(" -.-> ").count());

    // Completions and the man page describe the binary: no deploy.yaml needed.
    let empty = h.dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (shell, marker) in
        [("bash", "complete -F"), ("zsh", "#compdef temporalctl"), ("fish", "complete -c temporalctl")]
    {
        let out = Run::from(h.command(&["completions", shell]).current_dir(&empty).output().unwrap()).ok().stdout;
        assert!(out.contains(marker), "{shell}: {out}");
        for verb in ["connect", "logs", "exec", "cost"] {
            assert!(out.contains(verb), "{shell} completions lack {verb}");
        }
    }
    let man = Run::from(h.command(&["man"]).current_dir(&empty).output().unwrap()).ok().stdout;
    assert!(man.contains(".TH temporalctl 1") && man.contains("connect") && man.contains("completions"), "{man}");
    // The pages the main page refers to (temporalctl-up(1)…), one per verb.
    let pages = h.dir.join("man1");
    std::fs::create_dir_all(&pages).unwrap();
    Run::from(h.command(&["man", "--out-dir", pages.to_str().unwrap()]).current_dir(&empty).output().unwrap()).ok();
    for verb in ["up", "scale-up", "connect", "logs", "exec", "cost", "status"] {
        let page = std::fs::read_to_string(pages.join(format!("temporalctl-{verb}.1"))).unwrap_or_default();
        assert!(page.contains(&format!(".TH temporalctl-{verb} 1")), "temporalctl-{verb}.1: {page}");
    }
    let logs = std::fs::read_to_string(pages.join("temporalctl-logs.1")).unwrap();
    assert!(logs.contains("\\-\\-follow") && logs.contains("\\-\\-since"), "{logs}");
    assert!(h.proxy.calls().is_empty(), "offline verbs called AWS: {:?}", h.proxy.operations());
}

/// docs/graph.md's picture is the repository deploy.yaml's graph as the binary draws it;
/// `UPDATE_DOCS=1` rewrites it.
#[test]
fn the_graph_in_the_docs_is_the_one_the_code_builds() {
    let h = Harness::new("op-graph-doc", &deploy());
    let config = support::repo().join("deploy.yaml");
    let mermaid = h.run(&["--config", config.to_str().unwrap(), "graph"]).ok().stdout;
    let doc = format!(
        "# The resource graph\n\nGenerated by `temporalctl graph --format mermaid` from the repository's `deploy.yaml`\n\
         ({} resources); a test fails when the code's graph and this picture differ\n\
         (`UPDATE_DOCS=1 cargo test --test operator` rewrites it). An arrow runs from a\n\
         dependency to what needs it: `up` walks left to right, `down` right to left. A\n\
         dotted arrow needs only the dependency's identity (its ARN, known when its create\n\
         returns), so what it points to starts without waiting for the dependency to be ready.\n\
         `temporalctl graph --format dot | dot -Tsvg > graph.svg` draws it with Graphviz.\n\n```mermaid\n{mermaid}```\n",
        mermaid.lines().filter(|l| l.contains("[\"")).count()
    );
    let path = support::repo().join("docs/graph.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/graph.md is out of date: run `UPDATE_DOCS=1 cargo test --test operator the_graph` and commit it"
    );
}

#[test]
fn plan_prices_a_change_against_what_up_applied() {
    let h = Harness::new("op-cost", &deploy());
    let before = h.run(&["plan"]).ok().stdout;
    assert!(before.contains("Cost: $476.23/month once applied (nothing applied yet"), "{before}");
    h.run(&["up"]).ok();
    assert_eq!(h.state(PROJECT)["applied"]["project"], PROJECT, "up records what it applied");
    let same = h.run(&["plan"]).ok().stdout;
    assert!(same.contains("Cost: unchanged at $476.23/month."), "{same}");
    let bigger = format!("{}node_groups:\n  a:\n    workload: history\n    desired_capacity: 2\n", deploy());
    std::fs::write(h.dir.join("deploy.yaml"), bigger).unwrap();
    let changed = h.run(&["plan"]).ok().stdout;
    assert!(changed.contains("Cost: $476.23 -> $538.20/month (+61.97):"), "{changed}");
    assert!(changed.contains("node group a (history)             $59.57 -> $119.14"), "{changed}");
    let json: Value = serde_json::from_str(&h.run(&["plan", "--output", "json"]).ok().stdout).unwrap();
    assert_eq!(json["cost"]["delta_usd"].as_f64(), Some(61.97), "{:#}", json["cost"]);
    assert_eq!(json["cost"]["lines"].as_array().unwrap().len(), 2);
    let down = h.run(&["down", "--yes"]).ok();
    assert!(h.state(PROJECT).get("applied").is_none(), "after down nothing is applied");
    // The AMI is AWS's, looked up: forgotten, not listed among what down keeps.
    let ami = down.stderr.lines().find(|l| l.contains("ami/ecs-arm64")).unwrap_or_default();
    assert!(ami.contains("forgotten (a lookup, not ours to delete)"), "{}", down.stderr);
    assert!(!down.stderr.lines().any(|l| l.contains("ami/ecs-arm64") && l.contains("keeping")));
}

#[test]
fn connect_and_exec_start_the_session_through_the_cli_or_say_what_to_install() {
    let h = Harness::new("op-reach", &deploy());
    h.run(&["up"]).ok();
    report_runtime_ids(&h);
    let doc = status_doc(&h);
    let (ui_task, ui_runtime) = first_task(&doc, "ui");
    let (frontend_task, _) = first_task(&doc, "frontend");
    h.proxy.clear();

    // Both tools present: the session runs with this terminal, and its exit code is ours.
    let both = fake_tools(&h, &["aws", "session-manager-plugin"]);
    let run = run_with_path(&h, &both, &["connect", "ui", "--local-port", "18080"]).code(3);
    let want = format!(
        "ssm start-session --region us-east-1 --target ecs:{PROJECT}-cluster_{ui_task}_{ui_runtime} --document-name AWS-StartPortForwardingSession --parameters portNumber=8080,localPortNumber=18080"
    );
    assert_eq!(recorded_args(&both, "aws").join(" "), want);
    assert!(run.stderr.contains("connect ui: aws ssm start-session"), "{}", run.stderr);
    run_with_path(&h, &both, &["exec", "frontend", "--", "temporal", "operator", "cluster", "health"]).code(3);
    let args = recorded_args(&both, "aws");
    let want = [
        "ecs",
        "execute-command",
        "--region",
        "us-east-1",
        "--cluster",
        "itreach-cluster",
        "--task",
        &frontend_task,
        "--container",
        "temporal-frontend",
        "--interactive",
        "--command",
        "temporal operator cluster health",
    ];
    assert_eq!(args, want);
    run_with_path(&h, &both, &["exec", "grafana"]).code(3);
    assert_eq!(recorded_args(&both, "aws").last().map(String::as_str), Some("/bin/sh"), "a shell by default");
    assert!(h.proxy.mutating().is_empty(), "reaching in changed something: {:?}", h.proxy.mutating());

    // The plugin missing: the exact command on stdout, what to install on stderr, exit 1.
    let cli_only = fake_tools(&h, &["aws"]);
    let run = run_with_path(&h, &cli_only, &["connect", "grafana"]).code(1);
    let target = format!("aws ssm start-session --region us-east-1 --target ecs:{PROJECT}-cluster_");
    assert!(run.stdout.trim().starts_with(&target), "{}", run.stdout);
    assert!(run.stdout.contains("portNumber=3000,localPortNumber=3000"), "{}", run.stdout);
    assert!(
        run.stderr.contains("not on PATH: session-manager-plugin.")
            && run.stderr.contains("session-manager-working-with-install-plugin.html")
            && !run.stderr.contains("getting-started-install"),
        "{}",
        run.stderr
    );
    let nothing = fake_tools(&h, &[]);
    let run = run_with_path(&h, &nothing, &["exec", "frontend", "--", "echo", "it's here"]).code(1);
    assert!(run.stderr.contains("not on PATH: aws, session-manager-plugin"), "{}", run.stderr);
    // The printed line pastes into a shell as is: run it, with the stand-in CLI, through
    // sh; the command ECS Exec would run is itself a shell line giving back the words.
    let line = run.stdout.trim();
    let pasted = std::process::Command::new("/bin/sh").arg("-c").arg(line).env("PATH", &both).status().unwrap();
    assert_eq!(pasted.code(), Some(3));
    let inner = recorded_args(&both, "aws").last().unwrap().clone();
    assert_eq!(inner, r"echo 'it'\''s here'");
    let said = std::process::Command::new("/bin/sh").arg("-c").arg(&inner).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&said.stdout), "it's here\n");

    // --print needs no tool and exits 0; the line pastes into a shell as is.
    let printed = run_with_path(&h, &nothing, &["connect", "frontend", "--print"]).ok().stdout;
    assert!(printed.contains("portNumber=7233,localPortNumber=7233") && printed.lines().count() == 1, "{printed}");
    let printed = run_with_path(&h, &nothing, &["exec", "ui", "--print"]).ok().stdout;
    assert!(printed.contains(&format!("--task {ui_task} --container temporal-ui")), "{printed}");

    // A container that has not reported its runtime id yet cannot be a target: say so.
    h.proxy.unscript();
    let run = run_with_path(&h, &both, &["connect", "ui"]).code(1);
    assert!(run.stderr.contains("has not reported its container's runtime id yet"), "{}", run.stderr);

    // Bad names fail before any call; a scaled-down service says how to start it.
    h.proxy.clear();
    let run = h.run(&["connect", "adot"]).code(2);
    assert!(run.stderr.contains("[possible values: ui, grafana, frontend]"), "{}", run.stderr);
    let run = h.run(&["exec", "histroy"]).code(2);
    assert!(run.stderr.contains("no service `histroy`; choose from history, matching"), "{}", run.stderr);
    // Issue 19: Exec reaches only the services deploy.yaml opens to it (by default the
    // ones `connect` forwards to).
    let run = h.run(&["exec", "history"]).code(2);
    assert!(run.stderr.contains("services.history.exec is off"), "{}", run.stderr);
    assert!(h.proxy.calls().is_empty());
    h.run(&["scale", "down", "--service", "grafana"]).ok();
    // The stand-in agent stops the task a moment after the service reads 0.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while status_doc(&h)["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["service"] == "grafana" && s["tasks"] != Value::Array(vec![]))
    {
        assert!(std::time::Instant::now() < deadline, "the grafana task never stopped");
        std::thread::sleep(Duration::from_millis(300));
    }
    let run = run_with_path(&h, &both, &["connect", "grafana"]).code(1);
    assert!(
        run.stderr.contains("no running grafana task: `temporalctl scale up --service grafana` starts one"),
        "{}",
        run.stderr
    );
}

fn put_log(h: &Harness, group: &str, stream: &str, at_ms: i64, message: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&h.sdk());
    support::block_on(async {
        let _ = logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await;
        let event =
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(at_ms).message(message).build().unwrap();
        logs.put_log_events().log_group_name(group).log_stream_name(stream).log_events(event).send().await.unwrap();
    });
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn logs_print_the_window_asked_for_and_follow_new_lines_until_interrupted() {
    let h = Harness::new("op-logs", &deploy());
    h.run(&["up"]).ok();
    h.proxy.clear();
    let group = format!("/ecs/{PROJECT}/temporal-frontend");
    let stream = "temporal-frontend/temporal-frontend/0a1b2c";
    put_log(&h, &group, stream, now_ms() - 30 * 60_000, "half an hour ago");
    put_log(&h, &group, stream, now_ms() - 5 * 60_000, "five minutes ago");
    let recent = h.run(&["logs", "frontend"]).ok().stdout;
    assert!(
        recent.contains("five minutes ago") && !recent.contains("half an hour ago"),
        "--since 10m by default:\n{recent}"
    );
    assert!(recent.contains(&format!("Z {stream}  five minutes ago")), "time, stream, message:\n{recent}");
    let hour = h.run(&["logs", "frontend", "--since", "1h"]).ok().stdout;
    let order: Vec<&str> = hour.lines().map(|l| l.rsplit("  ").next().unwrap()).collect();
    assert_eq!(order, ["half an hour ago", "five minutes ago"]);
    h.run(&["logs", "nope"]).code(2);
    let run = h.run(&["logs", "worker", "--since", "soon"]).code(2);
    assert!(run.stderr.contains("--since"), "{}", run.stderr);

    // Issue 19: a container's escape sequences are shown, never obeyed by the terminal.
    put_log(&h, &group, stream, now_ms() - 4 * 60_000, "\x1b]0;owned\x07\x1b[2Jcleared");
    let shown = h.run(&["logs", "frontend"]).ok().stdout;
    assert!(!shown.contains('\x1b') && !shown.contains('\x07'), "{shown:?}");
    assert!(shown.contains(r"\u001b]0;owned\u0007\u001b[2Jcleared"), "{shown}");

    let mut follow = Running::start(&h, &["logs", "frontend", "--follow"]);
    follow.wait_for("five minutes ago");
    put_log(&h, &group, stream, now_ms(), "just now");
    follow.wait_for("just now");
    // Each line once, though every read starts at the newest millisecond printed.
    let times = |text: &str| follow.seen.iter().filter(|l| l.contains(text)).count();
    assert_eq!((times("five minutes ago"), times("just now")), (1, 1), "{:#?}", follow.seen);
    let (code, stderr) = follow.interrupt();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "Ctrl-C ends a follow quietly: {stderr}");
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.mutating());
    let ops = h.proxy.operations();
    assert!(ops.iter().filter(|o| *o == "FilterLogEvents").count() >= 2, "{ops:?}");
}

#[test]
fn status_watch_redraws_until_interrupted_without_changing_anything() {
    let h = Harness::new("op-watch", &deploy());
    let mut watch = Running::start(&h, &["status", "--watch", "--interval", "1s"]);
    watch.wait_for("---");
    watch.wait_for("attention needed");
    watch.wait_for("---");
    let second = watch.wait_for("attention needed");
    assert!(second.contains(PROJECT));
    let (code, stderr) = watch.interrupt();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("saving state"), "a read-only verb has nothing to save: {stderr}");
    let reads = h.proxy.operations().iter().filter(|o| *o == "DescribeVpcs").count();
    assert!(reads >= 2, "each redraw reads again, not from the first round's listings: {reads}");
    assert!(h.proxy.mutating().is_empty());
    let mut json = Running::start(&h, &["status", "--watch", "--interval", "1s", "--output", "json"]);
    let line = json.wait_for("temporalctl.status/v1");
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap()["project"], PROJECT, "one document per line");
    json.interrupt();
    // Before any `up` there is no log group to read.
    let run = h.run(&["logs", "frontend"]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "log group /ecs/{PROJECT}/temporal-frontend does not exist: run `temporalctl up` first"
        )),
        "{}",
        run.stderr
    );
    let run = h.run(&["status", "--interval", "5s"]).code(2);
    assert!(run.stderr.contains("--watch"), "{}", run.stderr);
}

#[test]
fn a_reader_that_goes_away_early_ends_the_output_quietly() {
    // `temporalctl graph | head -1`: the pipe closes before the binary writes. No AWS call,
    // so no emulator; the repository's own deploy.yaml.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_temporalctl"))
        .args(["--config", &support::repo().join("deploy.yaml").to_string_lossy(), "graph"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

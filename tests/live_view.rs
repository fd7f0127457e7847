//! The live view in a real terminal: tmux runs the real binary's `up` against the
//! emulator, and its scrollback and screen are read back (issue 25).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Harness;

const PROJECT: &str = "itlive";

fn deploy() -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\nnetwork:\n  availability_zones: [us-east-1a, us-east-1b]\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

/// A tmux server of the test's own (its own socket), one window of `cols`×`rows`.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `script` in a new window; the scrollback keeps everything.
    fn start(h: &Harness, name: &str, cols: u16, rows: u16, script: &Path) -> Tmux {
        let socket = format!("temporalctl-{name}-{}", std::process::id());
        let conf = h.dir.join("tmux.conf");
        std::fs::write(&conf, "set -g history-limit 100000\nset -g status off\n").unwrap();
        let t = Tmux { socket };
        let (x, y) = (cols.to_string(), rows.to_string());
        t.tmux(&[
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &x,
            "-y",
            &y,
            script.to_str().unwrap(),
        ]);
        t
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// Every line ever shown: the scrollback and the screen.
    fn everything(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-S", "-", "-E", "-", "-t", "t"])
    }

    fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&["resize-window", "-t", "t", "-x", &cols.to_string(), "-y", &rows.to_string()]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

/// A script that runs `temporalctl up` as a person would in that terminal (no `CI`, a
/// UTF-8 locale), then records its exit code and keeps the pane open.
fn up_script(h: &Harness) -> std::path::PathBuf {
    let cmd = h.command(&["up"]);
    let mut script = String::from("#!/bin/sh\nunset CI\nexport LANG=C.UTF-8 TERM=tmux-256color\n");
    for (k, v) in cmd.get_envs() {
        let (k, v) = (k.to_string_lossy(), v.map(|v| v.to_string_lossy().into_owned()));
        match v {
            Some(v) if k != "CI" => script.push_str(&format!("export {k}='{v}'\n")),
            _ => {}
        }
    }
    script.push_str(&format!(
        "cd '{}'\n'{}' up\necho $? > exit-code.part && mv exit-code.part exit-code\nsleep 600\n",
        h.dir.display(),
        cmd.get_program().to_string_lossy()
    ));
    let path = h.dir.join("up.sh");
    std::fs::write(&path, script).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path
}

/// Runs `up` in a `cols`×`rows` terminal, resized to `resize_to` once the live view shows;
/// returns every line ever shown and the screens seen while it ran.
fn run_up(name: &str, (cols, rows): (u16, u16), resize_to: Option<(u16, u16)>) -> (Harness, String, Vec<String>) {
    let h = Harness::new(name, &deploy());
    let tmux = Tmux::start(&h, name, cols, rows, &up_script(&h));
    let (started, mut screens, mut resized, mut after_resize) = (Instant::now(), Vec::new(), false, 0);
    while !h.dir.join("exit-code").exists() {
        assert!(started.elapsed() < Duration::from_secs(600), "up did not end:\n{}", tmux.screen());
        let screen = tmux.screen();
        if screen.contains(" in flight") {
            after_resize += usize::from(resized);
            screens.push(screen);
            if let (Some((x, y)), false) = (resize_to, resized) {
                tmux.resize(x, y);
                resized = true;
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    // The resize happened while the view was live, and the view drew after it.
    assert!(resize_to.is_none() || after_resize > 0, "no live frame was seen after the resize");
    let code = std::fs::read_to_string(h.dir.join("exit-code")).unwrap();
    let everything = tmux.everything();
    // `LIVE_VIEW_CAPTURE=DIR` keeps a screen from the middle of the run and the whole
    // scrollback, for the README.
    if let Some(dir) = std::env::var_os("LIVE_VIEW_CAPTURE") {
        let dir = Path::new(&dir);
        let middle = screens.get(screens.len() / 2).cloned().unwrap_or_default();
        std::fs::write(dir.join(format!("{name}-screen.txt")), middle).unwrap();
        std::fs::write(dir.join(format!("{name}-scrollback.txt")), &everything).unwrap();
    }
    assert_eq!(code.trim(), "0", "{everything}");
    (h, everything, screens)
}

/// Each of the state's nodes has exactly one finished line (`✓ <node> created …`).
fn assert_every_node_once(h: &Harness, everything: &str) {
    let state = h.state(PROJECT);
    let nodes: Vec<&String> = state["nodes"].as_object().unwrap().keys().collect();
    assert!(nodes.len() > 80, "{}", nodes.len());
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for line in everything.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("✓")
            && let Some(node) = words.next()
        {
            *seen.entry(node).or_default() += 1;
        }
    }
    for node in nodes {
        assert_eq!(
            seen.get(node.as_str()),
            Some(&1),
            "{node} appears {:?} times:\n{everything}",
            seen.get(node.as_str())
        );
    }
}

/// No live line was left behind: after the run nothing in flight, no spinner, no summary.
fn assert_no_garbage(everything: &str) {
    let spinner = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    for line in everything.lines() {
        assert!(
            !line.contains(" in flight") && !line.chars().any(|c| spinner.contains(&c)),
            "a live line stayed in the scrollback: {line:?}\n{everything}"
        );
    }
}

/// While it runs, the summary line is the last thing on the screen.
fn assert_summary_last(screens: &[String]) {
    assert!(!screens.is_empty(), "the live view never showed");
    for screen in screens {
        let last = screen.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        assert!(last.contains(" done · ") && last.contains(" in flight"), "last line {last:?} of:\n{screen}");
    }
}

#[test]
fn at_80x24_every_resource_shows_once_and_a_resize_leaves_no_garbage() {
    let (h, everything, screens) = run_up("live-80", (80, 24), Some((60, 20)));
    assert_every_node_once(&h, &everything);
    assert_summary_last(&screens);
    assert_no_garbage(&everything);
    assert!(everything.contains("up finished in"), "{everything}");
}

#[test]
fn at_200x60_every_resource_shows_once() {
    let (h, everything, screens) = run_up("live-200", (200, 60), None);
    assert_every_node_once(&h, &everything);
    assert_summary_last(&screens);
    assert_no_garbage(&everything);
}

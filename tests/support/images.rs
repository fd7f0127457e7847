//! The local tools `images build` runs (`go`, `docker`), stood in for by
//! `scripts/emulated-build-tools.py` (shared with `scripts/demo`): each call recorded with
//! its arguments, the push landing in the emulator's ECR.

use std::path::{Path, PathBuf};

/// The stand-ins' folder: `bin/` to put first on PATH, and what they recorded.
pub struct Toolbox {
    pub home: PathBuf,
}

impl Toolbox {
    /// The stand-ins in `home/bin`, and a checkout of the fork in `home/temporal-dsql`.
    pub fn install(home: &Path) -> Toolbox {
        let status = std::process::Command::new(super::repo().join(".venv/bin/python3"))
            .arg(super::repo().join("scripts/emulated-build-tools.py"))
            .arg("install")
            .arg(home)
            .status()
            .expect("run scripts/emulated-build-tools.py");
        assert!(status.success(), "scripts/emulated-build-tools.py install failed");
        Toolbox { home: home.to_path_buf() }
    }

    /// The checkout of the fork the build reads.
    pub fn fork(&self) -> PathBuf {
        self.home.join("temporal-dsql")
    }

    /// PATH with the stand-ins first (git and sh stay the machine's).
    pub fn path(&self) -> String {
        format!("{}:{}", self.home.join("bin").display(), std::env::var("PATH").unwrap_or_default())
    }

    /// Every call, in order: (tool, args, env, cwd).
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.home.join("calls.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The argv of each call of `tool` whose first arguments are `prefix`.
    pub fn argv(&self, tool: &str, prefix: &[&str]) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c["tool"] == tool)
            .map(|c| c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect::<Vec<_>>())
            .filter(|args| args.iter().map(String::as_str).take(prefix.len()).eq(prefix.iter().copied()))
            .collect()
    }

    /// What `docker login` read on stdin.
    pub fn login_stdin(&self) -> Option<String> {
        std::fs::read_to_string(self.home.join("login-stdin")).ok()
    }
}

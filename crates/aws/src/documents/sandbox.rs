//! Test support: run a rendered script under the real `/bin/sh`, with stand-in programs
//! on PATH, in a directory of its own. How scripts are proven to do what their text says.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Sandbox {
    pub dir: PathBuf,
    bin: PathBuf,
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let dir = std::env::temp_dir().join(format!("temporalctl-sh-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        Sandbox { dir, bin }
    }

    /// A program named `name` on PATH whose body is `sh`.
    pub fn stub(&self, name: &str, body: &str) {
        let path = self.bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `/bin/sh -c script` with only PATH, SANDBOX (this directory) and `env` set.
    pub fn run(&self, script: &str, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).env_clear();
        cmd.env("PATH", format!("{}:/usr/bin:/bin", self.bin.display())).env("SANDBOX", &self.dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run /bin/sh")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

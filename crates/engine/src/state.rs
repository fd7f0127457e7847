//! The state file: what temporalctl created, by node. One file per deployment
//! (`<dir>/<project>.json`), versioned, written atomically after every change, readable
//! only by its owner, and guarded by a lock held for the whole of a mutating run.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::resource::NodeId;

/// The newest state format this binary writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StateFile {
    pub format_version: u32,
    pub written_by: String,
    pub project: String,
    pub region: String,
    pub updated_at: String,
    #[serde(default)]
    pub nodes: BTreeMap<NodeId, Recorded>,
    /// One-off steps after the resources (schema, namespace): step → what was applied,
    /// so a re-run skips what is done.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, String>,
    /// Desired task count per service, set by the first scale-up or by `scale`; later
    /// `up` runs keep them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub desired_counts: BTreeMap<String, u32>,
    /// The deployment description the last successful `up` applied (deploy.yaml holds
    /// no secret), so `plan` can price a change against it. Opaque to the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<serde_json::Value>,
    /// The digest each image reference named when the last `up` pinned it (the image as
    /// deploy.yaml names it → `sha256:…`), so later reads compare the task definitions
    /// with what was pinned instead of asking the registries again. Opaque to the engine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
}

/// One node as last seen by temporalctl. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Recorded {
    pub kind: String,
    pub id: String,
    pub phase: Phase,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Created, not yet seen ready: a crash here leaves something to adopt, not a leak.
    Creating,
    Ready,
    Deleting,
    /// Written by a newer temporalctl.
    #[serde(other)]
    Unknown,
}

impl StateFile {
    pub fn new(project: &str, region: &str) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            written_by: format!("temporalctl {}", env!("CARGO_PKG_VERSION")),
            project: project.into(),
            region: region.into(),
            updated_at: now(),
            nodes: BTreeMap::new(),
            steps: BTreeMap::new(),
            desired_counts: BTreeMap::new(),
            applied: None,
            images: BTreeMap::new(),
        }
    }
    pub fn recorded_id(&self, node: &str) -> Option<&str> {
        self.nodes.get(node).map(|r| r.id.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {cause}")]
    Read { path: PathBuf, cause: io::Error },
    #[error(
        "state file {path} is corrupt ({detail}); nothing was changed. Restore the copy from before the last run with `cp {backup} {path}`, or move the file away to have `up` adopt resources by their tags"
    )]
    Corrupt { path: PathBuf, backup: PathBuf, detail: String },
    #[error(
        "state file {path} has format {found}, written by a newer temporalctl (this one reads up to {FORMAT_VERSION}); upgrade temporalctl"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("state file {path} belongs to project `{found}`, not `{expected}`")]
    WrongProject { path: PathBuf, found: String, expected: String },
    #[error("cannot write state file {path}: {cause}")]
    Write { path: PathBuf, cause: io::Error },
    #[error("another temporalctl holds the lock {path}{holder}; wait for it to finish")]
    Locked { path: PathBuf, holder: String },
    #[error("cannot lock {path}: {cause} (the state directory must be on a filesystem with file locks)")]
    LockFailed { path: PathBuf, cause: io::Error },
}

impl StateError {
    /// Config-like problems the user must fix by hand (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, StateError::Corrupt { .. } | StateError::TooNew { .. } | StateError::WrongProject { .. })
    }
}

/// Called with the whole file after each save: a remote backend pushes it from there.
pub type SaveHook = std::sync::Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Where a deployment's state lives on this machine: the file itself (local backend) or
/// the working copy of a remote one, which every save still writes first.
pub struct StateStore {
    dir: PathBuf,
    project: String,
    region: String,
    on_save: Option<SaveHook>,
}

impl StateStore {
    pub fn new(dir: impl Into<PathBuf>, project: &str, region: &str) -> Self {
        Self { dir: dir.into(), project: project.into(), region: region.into(), on_save: None }
    }

    /// Every later save of a lock taken from this store also calls `hook`.
    pub fn with_save_hook(mut self, hook: SaveHook) -> Self {
        self.on_save = Some(hook);
        self
    }
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.project))
    }
    pub fn backup_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json.bak", self.project))
    }
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.project))
    }

    /// Read without locking (plan, status). A missing file is an empty state.
    pub fn read(&self) -> Result<StateFile, StateError> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(StateFile::new(&self.project, &self.region));
            }
            Err(source) => return Err(StateError::Read { path, cause: source }),
        };
        self.parse(&text, &path)
    }

    /// Replace this machine's copy with `bytes` (a remote backend's state), after the same
    /// checks as a read: a newer format, another project's or a corrupt one is refused
    /// and the copy left as it was. `origin` names where the bytes came from, for errors.
    pub fn replace(&self, bytes: &[u8], origin: &Path) -> Result<StateFile, StateError> {
        let text = String::from_utf8_lossy(bytes);
        let state = self.parse(&text, origin)?;
        private_dir(&self.dir).map_err(|source| StateError::Write { path: self.dir.clone(), cause: source })?;
        write_atomically(&self.path(), bytes)?;
        Ok(state)
    }

    fn parse(&self, text: &str, path: &Path) -> Result<StateFile, StateError> {
        let path = path.to_path_buf();
        let corrupt = |detail: String| StateError::Corrupt { path: path.clone(), backup: self.backup_path(), detail };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let found =
            value.get("format-version").and_then(|v| v.as_u64()).ok_or_else(|| corrupt("no format-version".into()))?;
        if found > u64::from(FORMAT_VERSION) {
            return Err(StateError::TooNew { path, found: found as u32 });
        }
        let state: StateFile = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        if state.project != self.project {
            return Err(StateError::WrongProject { path, found: state.project, expected: self.project.clone() });
        }
        Ok(state)
    }

    /// Take the deployment's lock for the whole of a mutating run, then read the state.
    /// The previous state is kept as `<project>.json.bak`.
    pub fn lock(&self, command: &str) -> Result<LockedState, StateError> {
        private_dir(&self.dir).map_err(|source| StateError::Write { path: self.dir.clone(), cause: source })?;
        let lock_path = self.lock_path();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path)
            .map_err(|source| match source.raw_os_error() {
                Some(libc::ELOOP) => StateError::Write {
                    path: lock_path.clone(),
                    cause: io::Error::other("it is a symbolic link; the lock file is only ever opened as a file of its own: remove the link"),
                },
                _ => StateError::LockFailed { path: lock_path.clone(), cause: source },
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&lock_path).ok().and_then(|t| serde_json::from_str::<Holder>(&t).ok());
                return Err(StateError::Locked {
                    path: lock_path,
                    holder: holder.map(|h| format!(" held by {}", h.describe())).unwrap_or_default(),
                });
            }
            Err(fs::TryLockError::Error(source)) => {
                return Err(StateError::LockFailed { path: lock_path, cause: source });
            }
        }
        // The OS drops a lock when its process dies; a holder record left behind means
        // the last run was killed. Say so: its work is in the state up to its last step.
        let stale = fs::read_to_string(&lock_path)
            .ok()
            .and_then(|t| serde_json::from_str::<Holder>(&t).ok())
            .map(|h| StaleLock { alive: h.host == hostname() && pid_alive(h.pid), holder: h });
        let state = self.read()?;
        // The backup first: if it cannot be written, no holder record is left behind to
        // make the next run report this one as killed.
        if self.path().exists() {
            copy_private(&self.path(), &self.backup_path())
                .map_err(|source| StateError::Write { path: self.backup_path(), cause: source })?;
        }
        let me = Holder::me(command);
        file.set_len(0)
            .and_then(|()| file.write_all(&serde_json::to_vec(&me).unwrap_or_default()))
            .and_then(|()| file.sync_all())
            .map_err(|source| StateError::Write { path: lock_path.clone(), cause: source })?;
        let saved = content(&state);
        Ok(LockedState { lock: file, lock_path, path: self.path(), state, stale, on_save: self.on_save.clone(), saved })
    }
}

/// Who holds (or last held) a lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub since: String,
    /// The login name, where the environment gives one (older records have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Holder {
    /// This process, running `command`.
    pub fn me(command: &str) -> Self {
        Holder {
            pid: std::process::id(),
            host: hostname(),
            command: command.into(),
            since: now(),
            user: std::env::var("USER").ok().filter(|u| !u.is_empty()),
        }
    }

    /// `alice (pid 42 on build-7, running `up` since …)`.
    pub fn describe(&self) -> String {
        let who = self.user.as_deref().map(|u| format!("{u} ")).unwrap_or_default();
        format!("{who}(pid {} on {}, running `{}` since {})", self.pid, self.host, self.command, self.since)
    }
}

/// A lock record left by a run that did not finish.
#[derive(Debug, Clone)]
pub struct StaleLock {
    pub holder: Holder,
    /// The pid is alive on this host (a reused pid: the lock itself was free).
    pub alive: bool,
}

impl StaleLock {
    pub fn explain(&self, path: &Path) -> String {
        let h = &self.holder;
        format!(
            "the last run (pid {} on {}, `{}` since {}) ended without releasing {}: it was killed or crashed. The OS freed the lock, so this run takes it; everything that run finished is in the state file, and this run adopts anything it created after that by its tags",
            h.pid,
            h.host,
            h.command,
            h.since,
            path.display()
        )
    }
}

/// The state of a deployment, locked. Dropping it releases the lock.
pub struct LockedState {
    lock: File,
    lock_path: PathBuf,
    path: PathBuf,
    /// Changed only through the methods below, each of which saves: no caller has to
    /// remember to.
    state: StateFile,
    pub stale: Option<StaleLock>,
    on_save: Option<SaveHook>,
    /// What the file last held, apart from when and by whom: a save that would change
    /// nothing else is skipped (a no-op run writes nothing, here or to a remote backend).
    saved: Vec<u8>,
}

/// A state's content, without its write time and writer.
fn content(state: &StateFile) -> Vec<u8> {
    let bare = StateFile { updated_at: String::new(), written_by: String::new(), ..state.clone() };
    serde_json::to_vec(&bare).unwrap_or_default()
}

impl LockedState {
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// A node's id, phase and outputs, saved.
    pub fn record_node(&mut self, node: &str, recorded: Recorded) -> Result<(), StateError> {
        self.state.nodes.insert(node.to_string(), recorded);
        self.save()
    }

    /// A node that is gone, saved.
    pub fn forget_node(&mut self, node: &str) -> Result<(), StateError> {
        self.state.nodes.remove(node);
        self.save()
    }

    /// What a one-off step applied, saved.
    pub fn record_step(&mut self, step: &str, applied: String) -> Result<(), StateError> {
        self.state.steps.insert(step.to_string(), applied);
        self.save()
    }

    /// The steps' records, gone with the data stores they changed; saved.
    pub fn forget_steps(&mut self) -> Result<(), StateError> {
        self.state.steps.clear();
        self.save()
    }

    /// The counts the services run at; saved when they changed.
    pub fn set_desired_counts(&mut self, counts: BTreeMap<String, u32>) -> Result<(), StateError> {
        if self.state.desired_counts == counts {
            return Ok(());
        }
        self.state.desired_counts = counts;
        self.save()
    }

    /// The digests the task definitions are registered with; saved when they changed.
    pub fn set_images(&mut self, images: BTreeMap<String, String>) -> Result<(), StateError> {
        if self.state.images == images {
            return Ok(());
        }
        self.state.images = images;
        self.save()
    }

    /// The deploy.yaml the last finished run applied (`plan` prices a change against it);
    /// saved.
    pub fn set_applied(&mut self, applied: Option<serde_json::Value>) -> Result<(), StateError> {
        self.state.applied = applied;
        self.save()
    }

    /// Write the whole file atomically, then hand it to the save hook (a remote backend):
    /// this machine's copy is always written first, so nothing is lost when the remote
    /// write fails.
    fn save(&mut self) -> Result<(), StateError> {
        let content = content(&self.state);
        if content == self.saved {
            return Ok(());
        }
        self.state.updated_at = now();
        self.state.written_by = format!("temporalctl {}", env!("CARGO_PKG_VERSION"));
        let mut bytes = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| StateError::Write { path: self.path.clone(), cause: io::Error::other(e) })?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes)?;
        self.saved = content;
        if let Some(hook) = &self.on_save {
            hook(&bytes);
        }
        Ok(())
    }
}

/// Temp file, fsync, rename, fsync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let err = |source| StateError::Write { path: path.to_path_buf(), cause: source };
    let tmp = path.with_extension("json.tmp");
    let mut f = new_private_file(&tmp).map_err(err)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(err)?;
    fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    }
    Ok(())
}

impl Drop for LockedState {
    fn drop(&mut self) {
        // An empty lock file means the last run ended cleanly.
        let _ = self.lock.set_len(0);
        let _ = self.lock.unlock();
    }
}

/// The state file (which may be the user's own link to a synced folder: read through it)
/// copied to a backup of ours.
fn copy_private(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = File::open(from)?;
    let mut copy = new_private_file(to)?;
    io::copy(&mut source, &mut copy)?;
    copy.sync_all()
}

/// A file of ours made anew, 0600: whatever was at `path` (a file a crash left, or a
/// symlink planted to make us write elsewhere) is removed first, never followed; and
/// `O_EXCL` refuses a symlink planted between the two calls.
pub fn new_private_file(path: &Path) -> io::Result<File> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// A directory of ours (the state's, a client's certificates), made 0700 when we make it
/// (every level we create). One that exists keeps its mode: it is the user's.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

fn pid_alive(pid: u32) -> bool {
    // Signal 0 checks for existence without touching the process.
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Where a one-off step's result is written: the locked state file, or the walk that
/// holds it while the step runs beside the walk.
pub trait StepLog {
    fn record_step(&mut self, step: &str, applied: String) -> Result<(), StateError>;
}

impl StepLog for LockedState {
    fn record_step(&mut self, step: &str, applied: String) -> Result<(), StateError> {
        LockedState::record_step(self, step, applied)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("temporalctl-state-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn recorded(id: &str) -> Recorded {
        Recorded { kind: "vpc".into(), id: id.into(), phase: Phase::Ready, outputs: BTreeMap::new() }
    }

    #[test]
    fn saves_atomically_with_private_mode_and_keeps_a_backup() {
        let dir = temp_dir("save");
        let store = StateStore::new(&dir, "demo", "us-east-1");
        {
            let mut locked = store.lock("up").unwrap();
            locked.record_node("vpc", recorded("vpc-1")).unwrap();
        }
        let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.read().unwrap().recorded_id("vpc"), Some("vpc-1"));
        {
            let mut locked = store.lock("up").unwrap();
            assert!(locked.stale.is_none(), "a clean release leaves no holder record");
            locked.state.nodes.clear();
            locked.save().unwrap();
        }
        let backup: StateFile = serde_json::from_str(&fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.recorded_id("vpc"), Some("vpc-1"));
        assert!(!dir.join("demo.json.tmp").exists());
    }

    /// Issue 21: every save that changes something reaches the hook (a remote backend),
    /// after the local file; one that changes nothing writes nowhere.
    #[test]
    fn the_hook_gets_each_changed_save_and_a_save_without_change_writes_nothing() {
        let dir = temp_dir("hook");
        let seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Default::default();
        let sink = seen.clone();
        let hook: SaveHook = std::sync::Arc::new(move |bytes: &[u8]| sink.lock().unwrap().push(bytes.to_vec()));
        let store = StateStore::new(&dir, "demo", "us-east-1").with_save_hook(hook);
        let mut locked = store.lock("up").unwrap();
        locked.record_node("vpc", recorded("vpc-1")).unwrap();
        let on_disk = fs::read(store.path()).unwrap();
        locked.record_node("vpc", recorded("vpc-1")).unwrap();
        locked.set_applied(None).unwrap();
        locked.record_node("subnet", recorded("subnet-1")).unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "two changes, two writes");
        assert_eq!(seen[0], on_disk, "the hook gets what the file holds");
        let replaced = StateStore::new(temp_dir("hook-copy"), "demo", "us-east-1");
        assert_eq!(replaced.replace(&seen[1], Path::new("s3://b/k")).unwrap().nodes.len(), 2);
        let other = StateStore::new(temp_dir("hook-other"), "other", "us-east-1");
        assert!(matches!(other.replace(&seen[1], Path::new("s3://b/k")), Err(StateError::WrongProject { .. })));
    }

    /// Issue 19: the directory is made 0700 and every file in it 0600; a symlink planted
    /// at the lock, temporary or backup path is never followed.
    #[test]
    fn the_state_directory_is_private_and_planted_symlinks_are_not_followed() {
        let root = temp_dir("private");
        let dir = root.join("nested/state");
        let store = StateStore::new(&dir, "demo", "us-east-1");
        store.lock("up").unwrap().record_node("vpc", recorded("vpc-1")).unwrap();
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&root.join("nested"))), (0o700, 0o700), "every level we made");

        let victim = root.join("victim");
        fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("demo.json.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, store.backup_path()).unwrap();
        store.lock("up").unwrap().record_node("subnet", recorded("subnet-1")).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep", "nothing written through a link");
        assert!(fs::symlink_metadata(store.backup_path()).unwrap().is_file(), "the link was replaced");
        for file in [store.path(), store.backup_path(), store.lock_path()] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }

        fs::remove_file(store.lock_path()).unwrap();
        std::os::unix::fs::symlink(&victim, store.lock_path()).unwrap();
        let refused = store.lock("up").map(|_| ()).unwrap_err();
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }

    /// The file other tools and older versions read: field names, order and layout. The
    /// time and the version that wrote it change every run and are masked.
    #[test]
    fn the_state_file_as_written_is_pinned() {
        let dir = temp_dir("pinned");
        let store = StateStore::new(&dir, "demo", "us-east-1");
        {
            let mut locked = store.lock("up").unwrap();
            let subnet = Recorded {
                kind: "subnet".into(),
                id: "subnet-1".into(),
                phase: Phase::Creating,
                outputs: [("id".to_string(), "subnet-1".to_string()), ("zone".to_string(), "us-east-1a".to_string())]
                    .into(),
            };
            locked.record_node("vpc", recorded("vpc-1")).unwrap();
            locked.record_node("subnet/private-0", subnet).unwrap();
            locked.record_step("schema", "v1.5".into()).unwrap();
            locked.set_desired_counts([("history".to_string(), 2)].into()).unwrap();
        }
        let text = fs::read_to_string(store.path()).unwrap();
        let masked: Vec<String> = text
            .lines()
            .map(|l| match l.split_once(": ") {
                Some((key, _)) if key.trim() == "\"updated-at\"" || key.trim() == "\"written-by\"" => {
                    format!("{key}: \"<masked>\",")
                }
                _ => l.to_string(),
            })
            .collect();
        insta::assert_snapshot!(masked.join("\n"));
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = temp_dir("lock");
        let store = StateStore::new(&dir, "demo", "us-east-1");
        let _held = store.lock("up").unwrap();
        let err = store.lock("down").err().expect("second lock refused");
        let text = err.to_string();
        assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("running `up`"), "{text}");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_reported() {
        let dir = temp_dir("stale");
        let store = StateStore::new(&dir, "demo", "us-east-1");
        let dead = Holder { pid: u32::MAX - 1, host: hostname(), command: "up".into(), since: now(), user: None };
        fs::write(store.lock_path(), serde_json::to_vec(&dead).unwrap()).unwrap();
        let locked = store.lock("up").unwrap();
        let stale = locked.stale.clone().expect("stale record detected");
        assert!(!stale.alive);
        assert!(stale.explain(locked.lock_path()).contains("killed or crashed"));
    }

    #[test]
    fn an_io_cause_is_told_once() {
        let e = StateError::Write { path: "s.json".into(), cause: io::Error::other("disk full") };
        // In the message, not also as `source()`: a reporter walking the chain would repeat it.
        assert_eq!(e.to_string(), "cannot write state file s.json: disk full");
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_and_left_alone() {
        let dir = temp_dir("bad");
        let store = StateStore::new(&dir, "demo", "us-east-1");
        fs::write(store.path(), "{\"format-version\": 1, \"proj").unwrap();
        let err = store.lock("up").err().unwrap();
        assert!(err.is_usage() && err.to_string().contains("demo.json.bak"), "{err}");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), "{\"format-version\": 1, \"proj");

        let mut newer = serde_json::to_value(StateFile::new("demo", "us-east-1")).unwrap();
        newer["format-version"] = 99.into();
        fs::write(store.path(), newer.to_string()).unwrap();
        assert!(matches!(store.read(), Err(StateError::TooNew { found: 99, .. })));
    }
}

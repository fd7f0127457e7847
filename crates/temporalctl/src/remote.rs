//! The S3 state backend around a verb (docs/state.md): the lock for a verb that changes
//! the deployment, the state fetched into this machine's copy (one `GetObject`), every
//! save pushed, and the lock released whatever happened; and the `state` verbs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use temporalctl_aws::Aws;
use temporalctl_aws::remote_state::{Base, Lease, Pusher, RemoteState, unpushed_marker};
use temporalctl_config::Deploy;
use temporalctl_engine::{Holder, StateStore};

use crate::cli::{Backend, Cli, StateAction};
use crate::commands::{Failure, lock};
use crate::stdout::outln;

/// A verb's time with the remote state: what to release and what to flush at the end.
pub struct Session {
    remote: RemoteState,
    lease: Option<Lease>,
    pusher: Option<Pusher>,
    state_file: PathBuf,
}

async fn connect(d: &Deploy) -> Result<(Aws, RemoteState), Failure> {
    let aws = Aws::connect(&d.region).await.map_err(Failure::Runtime)?;
    let remote = RemoteState::of(d, aws.sdk_config()).expect("the S3 backend is configured");
    Ok((aws, remote))
}

fn locked_by(remote: &RemoteState, holder: &Holder, age: std::time::Duration) -> Failure {
    let age = humantime::format_duration(std::time::Duration::from_secs(age.as_secs()));
    Failure::Runtime(format!(
        "another temporalctl holds the lock s3://{}/{}: {}, taken {age} ago; wait for it to finish. If that run was killed, remove its lock with `temporalctl state unlock --force`",
        remote.bucket,
        remote.lock_key(),
        holder.describe()
    ))
}

/// A copy left by a run that could not write it to S3 is never overwritten by a fetch.
fn refuse_over_a_rescue(store: &StateStore) -> Result<(), Failure> {
    let marker = unpushed_marker(&store.path());
    if marker.exists() {
        return Err(Failure::Usage(format!(
            "{} holds state that did not reach S3 (a run could not write it): send it with `temporalctl state push`, or remove {} to drop it and use the bucket's",
            store.path().display(),
            marker.display()
        )));
    }
    Ok(())
}

async fn take_lock(remote: &RemoteState, command: &str) -> Result<Lease, Failure> {
    match remote.lock(command).await? {
        Ok(lease) => Ok(lease),
        Err((holder, age)) => Err(locked_by(remote, &holder, age)),
    }
}

/// Lock (for a verb that changes the deployment), fetch the state into this machine's
/// copy, and hook every save to S3.
pub async fn begin(cli: &Cli, d: &Deploy, store: StateStore) -> Result<(Session, StateStore), Failure> {
    refuse_over_a_rescue(&store)?;
    let (_, remote) = connect(d).await?;
    let command = cli.verb.mutation();
    let lease = match command {
        Some(command) => Some(take_lock(&remote, command).await?),
        None => None,
    };
    // A verb that only reads works on a copy of its own: this machine's copy may be
    // another run's, saving as it goes.
    let into = match command {
        Some(_) => None,
        None => {
            let dir = store.path().parent().map(|p| p.join(".s3-read")).unwrap_or_else(|| ".s3-read".into());
            Some(StateStore::new(dir, &d.project, &d.region))
        }
    };
    let fetched = fetch(&remote, &store, into.as_ref().unwrap_or(&store)).await;
    let store = into.unwrap_or(store);
    let base = match fetched {
        Ok(base) => base,
        Err(e) => {
            if let Some(lease) = lease {
                let _ = remote.release(lease).await;
            }
            return Err(e);
        }
    };
    let state_file = store.path();
    let (pusher, store) = match command {
        Some(command) => {
            let pusher = Pusher::start(remote.clone(), base, command);
            let hook = pusher.hook();
            (Some(pusher), store.with_save_hook(hook))
        }
        None => (None, store),
    };
    Ok((Session { remote, lease, pusher, state_file }, store))
}

/// The bucket's state into this machine's copy; what the next write stands on. A bucket
/// without a state while this machine has one is a migration not yet made.
async fn fetch(remote: &RemoteState, local: &StateStore, into: &StateStore) -> Result<Base, Failure> {
    match remote.get(None).await? {
        Some(f) => {
            into.replace(&f.bytes, std::path::Path::new(&remote.url()))?;
            Ok(f.base)
        }
        None => {
            // A read-only verb's copy from an earlier fetch is not the bucket's any more.
            if into.path() != local.path() {
                let _ = std::fs::remove_file(into.path());
            }
            if !local.read()?.nodes.is_empty() {
                return Err(Failure::Usage(format!(
                    "{} holds no state yet, but {} does: move it there with `temporalctl state migrate --to s3`",
                    remote.url(),
                    local.path().display()
                )));
            }
            Ok(Base::Absent)
        }
    }
}

impl Session {
    /// Flush the saves, release the lock; the verb's result, or why the state did not
    /// reach S3.
    pub async fn end(mut self, result: Result<(), Failure>) -> Result<(), Failure> {
        let mut pushed = Ok(());
        if let Some(pusher) = self.pusher.take()
            && let Err((base, why)) = pusher.finish().await
        {
            pushed = Err(self.rescue(&base, &why));
        }
        let released = match self.lease {
            Some(lease) => self.remote.release(lease).await.map_err(|e| {
                Failure::Runtime(format!(
                    "{e}; the lock may still be there: `temporalctl state unlock --force` once no run holds it"
                ))
            }),
            None => Ok(()),
        };
        // The verb's own failure comes first; what went wrong with the state after it is
        // said too, never dropped.
        if result.is_err() {
            for failure in [&pushed, &released].into_iter().filter_map(|r| r.as_ref().err()) {
                if let Failure::Runtime(why) | Failure::Usage(why) = failure {
                    eprintln!("error: {why}");
                }
            }
        }
        result.and(pushed).and(released)
    }

    /// Mark this machine's copy as the one to push, and say so.
    fn rescue(&self, base: &Base, why: &str) -> Failure {
        let marker = unpushed_marker(&self.state_file);
        let on = match base {
            Base::Absent => String::new(),
            Base::ETag(etag) => etag.clone(),
        };
        let written = std::fs::write(&marker, on);
        Failure::Runtime(format!(
            "the state could not be written to {}: {why}. Nothing is lost: {} holds it{}; send it with `temporalctl state push`",
            self.remote.url(),
            self.state_file.display(),
            if written.is_ok() { "" } else { " (and the marker could not be written: keep that file)" }
        ))
    }
}

/// `temporalctl state …`.
pub async fn state(d: &Deploy, store: StateStore, action: &StateAction) -> Result<(), Failure> {
    if d.state.bucket.is_none() {
        return Err(Failure::Usage(
            "`state` works on the S3 backend: set `state.bucket` (and `state.backend: s3`) in deploy.yaml".into(),
        ));
    }
    let (aws, remote) = connect(d).await?;
    match action {
        StateAction::Init => init(d, &aws, &remote).await,
        StateAction::Unlock { force, yes } => unlock(&remote, *force, *yes).await,
        StateAction::History { limit } => {
            outln!("{:<34} {:<20} {:<24} {}", "VERSION", "WRITTEN", "WRITER", "COMMAND");
            for v in remote.history(*limit).await? {
                let mark = if v.latest { " (current)" } else { "" };
                outln!("{:<34} {:<20} {:<24} {}{mark}", v.version_id, v.written, v.writer, v.command);
            }
            Ok(())
        }
        StateAction::Show { version } => match remote.get(version.as_deref()).await? {
            Some(f) => {
                crate::stdout::write_raw(&String::from_utf8_lossy(&f.bytes));
                Ok(())
            }
            None => Err(Failure::Runtime(format!("{} holds no state", remote.url()))),
        },
        StateAction::Push => push(&remote, &store).await,
        StateAction::Migrate { to } => migrate(&remote, &store, *to).await,
    }
}

async fn init(d: &Deploy, aws: &Aws, remote: &RemoteState) -> Result<(), Failure> {
    let region = d.state.region.clone().unwrap_or_else(|| d.region.clone());
    let bucket = remote.init(d, aws.partition(), &region).await?;
    if bucket.created {
        outln!(
            "made s3://{}: versioning on, default encryption ({}), public access blocked, plain HTTP refused, old versions expire after {} days",
            remote.bucket,
            d.state.kms_key.as_deref().map(|k| format!("KMS key {k}")).unwrap_or_else(|| "SSE-S3".into()),
            d.state.keep_versions_days
        );
        return Ok(());
    }
    if bucket.problems.is_empty() {
        outln!(
            "s3://{} exists and is fit for state: versioning, encryption and public access block are on",
            remote.bucket
        );
        return Ok(());
    }
    Err(Failure::Runtime(format!(
        "s3://{} exists but is not fit for state; nothing was changed:\n  - {}",
        remote.bucket,
        bucket.problems.join("\n  - ")
    )))
}

async fn unlock(remote: &RemoteState, force: bool, yes: bool) -> Result<(), Failure> {
    if !force {
        return Err(Failure::Usage(
            "a lock is removed only with --force: removing one a live run holds lets two runs change the deployment at once".into(),
        ));
    }
    let Some((holder, age)) = remote.holder().await? else {
        outln!("no lock: s3://{}/{} does not exist", remote.bucket, remote.lock_key());
        return Ok(());
    };
    let age = humantime::format_duration(std::time::Duration::from_secs(age.as_secs()));
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Usage(format!(
                "the lock is held by {} since {age}; not on a terminal, so pass --yes to remove it",
                holder.describe()
            )));
        }
        eprint!("remove the lock held by {} since {age}? Only if that run is dead. [y/N] ", holder.describe());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "yes") {
            return Err(Failure::Usage("left as it was".into()));
        }
    }
    match remote.force_unlock().await? {
        Some(h) => outln!("removed the lock held by {}", h.describe()),
        None => outln!("the lock was already gone"),
    }
    Ok(())
}

/// Send the copy a run could not write, on the version it was to replace: a bucket that
/// moved on since is refused, not overwritten.
async fn push(remote: &RemoteState, store: &StateStore) -> Result<(), Failure> {
    let marker = unpushed_marker(&store.path());
    let Ok(on) = std::fs::read_to_string(&marker) else {
        return Err(Failure::Usage(format!("nothing to push: {} does not exist", marker.display())));
    };
    let base = if on.trim().is_empty() { Base::Absent } else { Base::ETag(on.trim().to_string()) };
    let lease = take_lock(remote, "state push").await?;
    let pushed = async {
        let bytes =
            std::fs::read(store.path()).map_err(|e| Failure::Runtime(format!("{}: {e}", store.path().display())))?;
        store.replace(&bytes, &store.path())?;
        remote.put(&bytes, &base, "state push").await?;
        std::fs::remove_file(&marker).map_err(|e| Failure::Runtime(format!("{}: {e}", marker.display())))?;
        Ok::<_, Failure>(())
    }
    .await;
    remote.release(lease).await?;
    pushed?;
    outln!("pushed {} to {}", store.path().display(), remote.url());
    Ok(())
}

/// Move the state, under both locks; the source is kept until the destination reads
/// back the same bytes.
async fn migrate(remote: &RemoteState, store: &StateStore, to: Backend) -> Result<(), Failure> {
    let lease = take_lock(remote, "state migrate").await?;
    let moved = async {
        let local = lock(store, "state migrate")?;
        match to {
            Backend::S3 => {
                if remote.get(None).await?.is_some() {
                    return Err(Failure::Usage(format!(
                        "{} already holds a state; `state show` prints it. Remove it first if this machine's is the one to keep",
                        remote.url()
                    )));
                }
                let bytes = std::fs::read(local.path())
                    .map_err(|e| Failure::Runtime(format!("{}: {e}", local.path().display())))?;
                remote.put(&bytes, &Base::Absent, "state migrate").await?;
                let back = remote.get(None).await?.map(|f| f.bytes);
                if back.as_deref() != Some(bytes.as_slice()) {
                    return Err(Failure::Runtime(format!("{} did not read back as written; the local state is unchanged", remote.url())));
                }
                Ok(format!(
                    "moved {} to {}; set `state.backend: s3` in deploy.yaml (the local file stays as this machine's copy)",
                    local.path().display(),
                    remote.url()
                ))
            }
            Backend::Local => {
                let Some(f) = remote.get(None).await? else {
                    return Err(Failure::Usage(format!("{} holds no state to move", remote.url())));
                };
                refuse_over_a_rescue(store)?;
                let here = std::fs::read(local.path()).unwrap_or_default();
                if !local.state().nodes.is_empty() && here != f.bytes {
                    return Err(Failure::Usage(format!(
                        "{} already holds another state of this deployment; move it aside first if the bucket's is the one to keep",
                        local.path().display()
                    )));
                }
                store.replace(&f.bytes, std::path::Path::new(&remote.url()))?;
                if std::fs::read(store.path()).ok().as_deref() != Some(f.bytes.as_slice()) {
                    return Err(Failure::Runtime(format!("{} did not read back as written", store.path().display())));
                }
                remote.delete_state(&f.base).await?;
                Ok(format!(
                    "moved {} to {} (the bucket keeps it as an old version); set `state.backend: local` in deploy.yaml",
                    remote.url(),
                    store.path().display()
                ))
            }
        }
    }
    .await;
    remote.release(lease).await?;
    outln!("{}", moved?);
    Ok(())
}

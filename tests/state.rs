//! Issue 21: the state in S3 with a conditional-write lock, through the real binary, the
//! recording proxy and the emulator (moto's S3 enforces `If-None-Match` and `If-Match`).

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use support::{Harness, block_on};
use temporalctl_proxy::Script;

const PROJECT: &str = "itstate";
const BUCKET: &str = "itstate-team-state";

fn deploy(backend: &str) -> String {
    format!(
        "version: 1\nproject: {PROJECT}\nregion: us-east-1\nstate: {{ backend: {backend}, bucket: {BUCKET} }}\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n"
    )
}

/// The bucket first (`images build` already locks the state), then the images.
fn with_bucket(name: &str) -> Harness {
    let h = Harness::without_images(name, &deploy("s3"));
    h.run(&["state", "init"]).ok();
    h.build_images().0.ok();
    h.proxy.clear();
    h
}

fn s3(h: &Harness) -> aws_sdk_s3::Client {
    // Through the proxy: it reads moto's versioning answer as S3 writes it.
    let conf = aws_sdk_s3::config::Builder::from(&h.sdk_via_proxy()).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn key() -> String {
    format!("{PROJECT}/state.json")
}

fn exists(h: &Harness, key: &str) -> bool {
    block_on(s3(h).head_object().bucket(BUCKET).key(key).send()).is_ok()
}

/// A second working directory on the same emulator: another engineer's machine.
fn second_machine(h: &Harness, name: &str) -> PathBuf {
    let dir = h.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(h.dir.join("deploy.yaml"), dir.join("deploy.yaml")).unwrap();
    dir
}

fn run_in(h: &Harness, dir: &Path, args: &[&str]) -> support::Run {
    support::Run::from(h.command(args).current_dir(dir).output().unwrap())
}

/// Mutating calls other than the state's own (S3).
fn changes(h: &Harness) -> Vec<String> {
    h.proxy.mutating().into_iter().filter(|c| c.service != "s3").map(|c| c.operation).collect()
}

#[test]
fn state_init_makes_a_careful_bucket_and_only_reports_on_one_that_exists() {
    let h = Harness::without_images("state-init", &deploy("s3"));
    h.run(&["state", "init"]).ok();
    let c = s3(&h);
    block_on(async {
        let v = c.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
        assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
        let e = c.get_bucket_encryption().bucket(BUCKET).send().await.unwrap();
        assert_eq!(e.server_side_encryption_configuration().unwrap().rules().len(), 1);
        let b = c.get_public_access_block().bucket(BUCKET).send().await.unwrap();
        let b = b.public_access_block_configuration().unwrap();
        assert_eq!(
            [b.block_public_acls(), b.ignore_public_acls(), b.block_public_policy(), b.restrict_public_buckets()],
            [Some(true); 4]
        );
        let t = c.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
        assert!(t.tag_set().iter().any(|t| t.key() == "temporalctl:project" && t.value() == PROJECT), "{t:?}");
        let l = c.get_bucket_lifecycle_configuration().bucket(BUCKET).send().await.unwrap();
        let days = l.rules()[0].noncurrent_version_expiration().and_then(|n| n.noncurrent_days());
        assert_eq!(days, Some(90));
    });
    // The policy the proxy kept (moto cannot evaluate its condition): plain HTTP denied.
    let sent = h.proxy.calls().into_iter().find(|c| c.service == "s3" && c.path.ends_with("?policy")).unwrap();
    let policy: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    assert_eq!(policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"], "false");
    // Again: the bucket is checked, nothing is changed.
    h.proxy.clear();
    let again = h.run(&["state", "init"]).ok();
    assert!(again.stdout.contains("fit for state"), "{}", again.stdout);
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.operations());

    // A bucket made by hand without versioning: reported, left as it was.
    block_on(c.create_bucket().bucket("itstate-plain").send()).unwrap();
    std::fs::write(h.dir.join("deploy.yaml"), deploy("s3").replace(BUCKET, "itstate-plain")).unwrap();
    h.proxy.clear();
    let unfit = h.run(&["state", "init"]).code(1);
    assert!(
        unfit.stderr.contains("versioning is off") && unfit.stderr.contains("nothing was changed"),
        "{}",
        unfit.stderr
    );
    assert!(h.proxy.mutating().is_empty(), "{:?}", h.proxy.operations());
    let v = block_on(c.get_bucket_versioning().bucket("itstate-plain").send()).unwrap();
    assert_ne!(v.status().map(|s| s.as_str()), Some("Enabled"));

    // A name another account owns: S3 answers HeadBucket 403, without a body.
    let taken = Script::Respond { status: 403, content_type: "application/xml", body: String::new() };
    h.proxy.script("HEAD /itstate-plain*", None, taken);
    let foreign = h.run(&["state", "init"]).code(1);
    assert!(foreign.stderr.contains("not reachable with these credentials"), "{}", foreign.stderr);
}

/// Two machines on one bucket, taking turns on a first deploy that is killed (SIGKILL)
/// three times: right after taking the lock, and twice 40 changes further on. Each time
/// the killed run's lock stays, the other machine's `up` is refused naming it and its age,
/// and `state unlock --force` removes it; the last `up` converges without duplicates and
/// the first machine then has nothing to do; `down` keeps the bucket and the state object
/// and releases the lock.
#[test]
fn one_run_at_a_time_across_machines_and_a_killed_run_s_lock_is_reported_until_removed() {
    let h = with_bucket("state-lock");
    let machines = [h.dir.clone(), second_machine(&h, "machine-b")];
    for (round, after) in [0usize, 40, 40].into_iter().enumerate() {
        let (here, there) = (&machines[round % 2], &machines[(round + 1) % 2]);
        assert!(h.kill_after(here, &["up"], after), "round {round}: up finished before change {}", after + 1);
        assert!(exists(&h, &format!("{}.lock", key())), "round {round}: the killed run's lock stays");
        let refused = run_in(&h, there, &["up"]).code(1);
        assert!(refused.stderr.contains("another temporalctl holds the lock"), "{}", refused.stderr);
        assert!(refused.stderr.contains("running `up` since") && refused.stderr.contains("ago"), "{}", refused.stderr);
        assert!(refused.stderr.contains("state unlock --force"), "{}", refused.stderr);
        let unlocked = run_in(&h, there, &["state", "unlock", "--force", "--yes"]).ok();
        assert!(unlocked.stdout.contains("removed the lock held by"), "{}", unlocked.stdout);
    }
    run_in(&h, &machines[1], &["up"]).ok();
    assert!(!exists(&h, &format!("{}.lock", key())), "released at the end");

    // The first machine starts from the bucket's state: nothing to do, nothing doubled.
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(changes(&h), Vec::<String>::new());
    let sgs = block_on(
        h.ec2()
            .describe_security_groups()
            .filters(aws_sdk_ec2::types::Filter::builder().name("tag:temporalctl:project").values(PROJECT).build())
            .send(),
    )
    .unwrap();
    assert_eq!(sgs.security_groups().len(), 12, "no group made twice");
    // That run brought the state up to date with what the other machine's last steps
    // marked (step tags, counts set after their nodes were recorded); the next has nothing
    // to write: the lock, one read, the release.
    h.proxy.clear();
    h.run(&["up"]).ok();
    let s3_calls: Vec<String> = h
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == "s3")
        .map(|c| format!("{} {}", c.method, c.status))
        .collect();
    eprintln!("S3 calls of a no-op up: {s3_calls:?}");
    assert_eq!(s3_calls, ["PUT 200", "GET 200", "DELETE 204"], "lock, GetObject, release");

    h.run(&["down", "--yes"]).ok();
    assert!(exists(&h, &key()), "down keeps the state object");
    assert!(!exists(&h, &format!("{}.lock", key())));
    let history = h.run(&["state", "history", "--limit", "1000"]).ok();
    assert!(history.stdout.lines().any(|l| l.ends_with("down (current)")), "{}", history.stdout);
    assert!(history.stdout.lines().filter(|l| l.contains(" up")).count() >= 2, "{}", history.stdout);
}

/// A writer holding an old copy fails instead of overwriting (`If-Match`), and the lock
/// is exclusive (`If-None-Match`); acquire and release timed on the emulator.
#[test]
fn a_stale_writer_cannot_overwrite_and_the_lock_admits_one() {
    let h = Harness::without_images("state-etag", &deploy("s3"));
    h.run(&["state", "init"]).ok();
    let d = temporalctl_config::parse(&deploy("s3"), "deploy.yaml").unwrap();
    let remote = temporalctl_aws::remote_state::RemoteState::of(&d, &h.sdk()).unwrap();
    use temporalctl_aws::remote_state::Base;
    block_on(async {
        let first = remote.put(b"{}", &Base::Absent, "up").await.unwrap();
        let second = remote.put(b"{ }", &Base::ETag(first.clone()), "up").await.unwrap();
        let stale = remote.put(b"{  }", &Base::ETag(first), "up").await.unwrap_err();
        assert!(stale.message.contains("changed since this run read it"), "{stale}");
        let again = remote.put(b"{}", &Base::Absent, "up").await.unwrap_err();
        assert_eq!(again.code.as_deref(), Some("PreconditionFailed"));
        let kept = remote.get(None).await.unwrap().unwrap();
        assert_eq!((kept.bytes.as_slice(), kept.base), (b"{ }".as_slice(), Base::ETag(second)));

        let started = Instant::now();
        let lease = remote.lock("up").await.unwrap().expect("free");
        let acquired = started.elapsed();
        let (holder, _) = remote.lock("scale").await.unwrap().expect_err("held");
        assert_eq!(holder.command, "up");
        let started = Instant::now();
        remote.release(lease).await.unwrap();
        let released = started.elapsed();
        eprintln!("lock acquire {acquired:?}, release {released:?} (emulator, through the proxy)");
        assert!(remote.lock("scale").await.unwrap().is_ok(), "free again");
    });
}

/// `state migrate` both ways, with an `up` between that changes nothing; a bucket
/// without a state while this machine has one is refused with the way forward.
#[test]
fn migrate_to_s3_and_back_with_nothing_changed_between() {
    let h = Harness::new("state-migrate", &deploy("local"));
    // A scheduled drift check: 3 while `up` has work, 0 once it has none (2 stays bad input).
    h.run(&["plan", "--detailed-exitcode"]).code(3);
    h.run(&["up"]).ok();
    h.run(&["plan", "--detailed-exitcode"]).ok();
    std::fs::write(h.dir.join("deploy.yaml"), deploy("s3")).unwrap();
    h.run(&["state", "init"]).ok();
    let refused = h.run(&["status"]).code(2);
    assert!(refused.stderr.contains("state migrate --to s3"), "{}", refused.stderr);
    h.run(&["state", "migrate", "--to", "s3"]).ok();
    assert!(exists(&h, &key()));
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(changes(&h), Vec::<String>::new());

    h.run(&["state", "migrate", "--to", "local"]).ok();
    assert!(!exists(&h, &key()), "moved out (kept as an old version)");
    std::fs::write(h.dir.join("deploy.yaml"), deploy("local")).unwrap();
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(h.proxy.mutating().len(), 0, "{:?}", h.proxy.operations());
}

/// S3 refusing the state's writes after changes were made: the run fails saying where the
/// state is, later runs refuse to overwrite that copy, and `state push` sends it.
#[test]
fn a_state_s3_would_not_take_is_kept_here_and_pushed_later() {
    let h = with_bucket("state-rescue");
    let put = format!("PUT /{BUCKET}/{}", key());
    h.proxy.script(
        &put,
        None,
        Script::Respond {
            status: 403,
            content_type: "application/xml",
            body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".into(),
        },
    );
    let failed = h.run(&["up"]).code(1);
    assert!(failed.stderr.contains("state push") && failed.stderr.contains("Nothing is lost"), "{}", failed.stderr);
    h.proxy.unscript();
    let marker = h.state_path(PROJECT).with_extension("json.unpushed");
    assert!(marker.exists());
    let refused = h.run(&["status"]).code(2);
    assert!(refused.stderr.contains("temporalctl state push"), "{}", refused.stderr);
    h.run(&["state", "push"]).ok();
    assert!(!marker.exists());
    h.proxy.clear();
    h.run(&["up"]).ok();
    assert_eq!(changes(&h), Vec::<String>::new(), "the pushed state knows everything the failed run made");
}

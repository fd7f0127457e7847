//! The S3 state backend (`state.backend: s3`, docs/state.md): the state object and its
//! lock, both on S3's conditional writes, the mechanism Terraform's S3 backend locks with
//! since 1.10 (`use_lockfile`). AWS, S3 User Guide, "How to prevent object overwrites
//! with conditional writes": a `PutObject` with `If-None-Match: *` fails with 412 when the
//! key exists, one with `If-Match: <ETag>` when the object changed since; a
//! `DeleteObject` with `If-Match` deletes only the version it names.
//!
//! - **The lock** is `<key>.lock`, made with `If-None-Match: *`: exactly one writer gets
//!   it. It holds the holder record; it is removed with `If-Match` on its own ETag, so a
//!   run never removes another's lock.
//! - **Each write** of the state is a `PutObject` with `If-Match` on the ETag last read
//!   or written (`If-None-Match: *` for the first): a run holding an old copy fails
//!   instead of overwriting. Every write is a new version of the object (versioning on,
//!   `state init`), with the writer and the command in its metadata.
//! - **This machine's copy** (`--state-dir`) is written first on every save, by the
//!   engine; the remote write follows in the background ([`Pusher`]), coalescing saves that
//!   come faster than S3 answers. A run whose last save could not reach S3 leaves that copy
//!   as the rescue, marked by a `.unpushed` file next to it (`state push` sends it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use temporalctl_config::{Deploy, StateBackend};
use temporalctl_engine::{ErrorClass, Holder, ResourceError, SaveHook};
use tokio::sync::watch;

use crate::errors::{absent_if_gone, aws, retry_while};

/// How long a remote write or the lock keeps retrying throttling and 5xx.
const RETRY_DEADLINE: Duration = Duration::from_secs(120);

/// Where a deployment's remote state lives, and the client to reach it.
#[derive(Clone, Debug)]
pub struct RemoteState {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
}

/// What a write is conditioned on: the object must not exist yet, or must still be the
/// version this run read or wrote last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    Absent,
    ETag(String),
}

/// The state object as read: its bytes, and what the next write is conditioned on.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub base: Base,
    pub version: Option<String>,
}

/// The lock, held: its ETag releases it.
#[derive(Debug)]
pub struct Lease {
    etag: String,
}

/// The lock object as read.
struct LockObject {
    holder: Holder,
    age: Duration,
    etag: String,
    body: Vec<u8>,
}

/// One version of the state object, newest first in [`RemoteState::history`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Version {
    pub version_id: String,
    pub written: String,
    pub writer: String,
    pub command: String,
    pub latest: bool,
}

fn retryable(e: &ResourceError) -> bool {
    matches!(e.class, ErrorClass::Retryable(_))
}

fn rfc3339(t: Option<&aws_sdk_s3::primitives::DateTime>) -> String {
    t.and_then(|t| SystemTime::try_from(*t).ok())
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_default()
}

impl RemoteState {
    /// The deployment's S3 backend, or `None` for the local one. The bucket's region is
    /// `state.region`, else the deployment's. Against an endpoint of one's own
    /// (`AWS_ENDPOINT_URL`: an S3-compatible store, the tests' emulator) buckets are
    /// addressed by path, as such endpoints expect, not as `<bucket>.<host>`.
    pub fn of(d: &Deploy, config: &aws_config::SdkConfig) -> Option<Self> {
        if d.state.backend != StateBackend::S3 {
            return None;
        }
        let region = d.state.region.clone().unwrap_or_else(|| d.region.clone());
        let conf = aws_sdk_s3::config::Builder::from(config)
            .region(aws_config::Region::new(region))
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Some(Self {
            s3: aws_sdk_s3::Client::from_conf(conf),
            bucket: d.state.bucket.clone().unwrap_or_default(),
            key: d.state.object_key(&d.project),
        })
    }

    pub fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    /// `s3://bucket/key`, for messages.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The state object (a given version of it, or the newest); `None` when there is none
    /// yet. One `GetObject`.
    pub async fn get(&self, version: Option<&str>) -> Result<Option<Fetched>, ResourceError> {
        retry_while(
            || async {
                let out = self
                    .s3
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .set_version_id(version.map(String::from))
                    .send()
                    .await
                    .map_err(aws("GetObject"));
                let Some(out) = absent_if_gone(out)? else { return Ok(None) };
                let etag = out.e_tag().unwrap_or_default().to_string();
                let version = out.version_id().map(String::from);
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| {
                        let transient = ErrorClass::Retryable(temporalctl_engine::RetryReason::Transient);
                        ResourceError::new(transient, format!("GetObject: reading the body failed: {e}"))
                    })?
                    .into_bytes()
                    .to_vec();
                Ok(Some(Fetched { bytes, base: Base::ETag(etag), version }))
            },
            retryable,
            RETRY_DEADLINE,
        )
        .await
    }

    /// Write the state on `base`; the new ETag. `PreconditionFailed` (someone else wrote
    /// since) is a conflict, never retried, unless the object already holds exactly these
    /// bytes: an earlier attempt of this same write whose answer was lost.
    pub async fn put(&self, bytes: &[u8], base: &Base, command: &str) -> Result<String, ResourceError> {
        match self.put_once(bytes, base, command).await {
            Err(e) if e.code.as_deref() == Some("PreconditionFailed") => match self.get(None).await? {
                Some(now) if now.bytes == bytes => match now.base {
                    Base::ETag(etag) => Ok(etag),
                    Base::Absent => Err(e),
                },
                _ => Err(e),
            },
            other => other,
        }
    }

    async fn put_once(&self, bytes: &[u8], base: &Base, command: &str) -> Result<String, ResourceError> {
        let writer = Holder::me(command);
        let writer_text = writer.user.clone().map(|u| format!("{u}@{}", writer.host)).unwrap_or(writer.host.clone());
        retry_while(
            || async {
                let put = self
                    .s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .body(ByteStream::from(bytes.to_vec()))
                    .content_type("application/json")
                    .metadata("writer", &writer_text)
                    .metadata("command", command);
                let put = match base {
                    Base::Absent => put.if_none_match("*"),
                    Base::ETag(etag) => put.if_match(etag),
                };
                let out = put.send().await.map_err(aws("PutObject")).map_err(|e| self.explain_conflict(e))?;
                Ok(out.e_tag().unwrap_or_default().to_string())
            },
            retryable,
            RETRY_DEADLINE,
        )
        .await
    }

    fn explain_conflict(&self, e: ResourceError) -> ResourceError {
        if e.code.as_deref() != Some("PreconditionFailed") {
            return e;
        }
        ResourceError::new(
            ErrorClass::Conflict,
            format!(
                "{} changed since this run read it: another run wrote it (S3 refused to overwrite it, `If-Match`). Nothing of the remote state was lost; run the command again to continue from the newest state",
                self.url()
            ),
        )
        .with_code("PreconditionFailed")
    }

    /// Delete the state object (`state migrate --to local`) if it is still the version
    /// read: with versioning on, S3 keeps it as an old version behind a delete marker.
    pub async fn delete_state(&self, base: &Base) -> Result<(), ResourceError> {
        let delete = self.s3.delete_object().bucket(&self.bucket).key(&self.key);
        let delete = match base {
            Base::ETag(etag) => delete.if_match(etag),
            Base::Absent => return Ok(()),
        };
        delete.send().await.map_err(aws("DeleteObject")).map_err(|e| self.explain_conflict(e))?;
        Ok(())
    }

    /// Take the lock: `Ok(Err(holder))` when another run holds it (with the lock's age).
    pub async fn lock(&self, command: &str) -> Result<Result<Lease, (Holder, Duration)>, ResourceError> {
        let me = serde_json::to_vec(&Holder::me(command)).unwrap_or_default();
        self.lock_as(&me).await
    }

    async fn lock_as(&self, me: &[u8]) -> Result<Result<Lease, (Holder, Duration)>, ResourceError> {
        let taken = retry_while(
            || async {
                self.s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(self.lock_key())
                    .body(ByteStream::from(me.to_vec()))
                    .content_type("application/json")
                    .if_none_match("*")
                    .send()
                    .await
                    .map_err(aws("PutObject"))
            },
            retryable,
            RETRY_DEADLINE,
        )
        .await;
        match taken {
            Ok(out) => Ok(Ok(Lease { etag: out.e_tag().unwrap_or_default().to_string() })),
            Err(e) if e.code.as_deref() == Some("PreconditionFailed") => match self.lock_object().await? {
                // Our own record: an earlier attempt took it and its answer was lost.
                Some(held) if held.body == me => Ok(Ok(Lease { etag: held.etag })),
                Some(held) => Ok(Err((held.holder, held.age))),
                // Released between our two calls: try once more.
                None => Box::pin(self.lock_as(me)).await,
            },
            Err(e) => Err(e),
        }
    }

    /// Who holds the lock and for how long, if anyone.
    pub async fn holder(&self) -> Result<Option<(Holder, Duration)>, ResourceError> {
        Ok(self.lock_object().await?.map(|l| (l.holder, l.age)))
    }

    /// The lock object as it is: its record, age, ETag and raw body.
    async fn lock_object(&self) -> Result<Option<LockObject>, ResourceError> {
        let out = self.s3.get_object().bucket(&self.bucket).key(self.lock_key()).send().await.map_err(aws("GetObject"));
        let Some(out) = absent_if_gone(out)? else { return Ok(None) };
        let written = rfc3339(out.last_modified());
        let since = out.last_modified().and_then(|t| SystemTime::try_from(*t).ok());
        let etag = out.e_tag().unwrap_or_default().to_string();
        let age = since.and_then(|t| SystemTime::now().duration_since(t).ok()).unwrap_or_default();
        let body = out.body.collect().await.map(|b| b.into_bytes().to_vec()).unwrap_or_default();
        let holder = serde_json::from_slice::<Holder>(&body).unwrap_or_else(|_| Holder {
            pid: 0,
            host: "unknown (the lock object holds no holder record)".into(),
            command: "?".into(),
            since: written,
            user: None,
        });
        Ok(Some(LockObject { holder, age, etag, body }))
    }

    /// Release the lock, if it is still ours (`If-Match` on its ETag).
    pub async fn release(&self, lease: Lease) -> Result<(), ResourceError> {
        let deleted = retry_while(
            || async {
                self.s3
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(self.lock_key())
                    .if_match(&lease.etag)
                    .send()
                    .await
                    .map_err(aws("DeleteObject"))
            },
            retryable,
            RETRY_DEADLINE,
        )
        .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if e.code.as_deref() == Some("PreconditionFailed") => Err(ResourceError::fatal(format!(
                "the lock {} is no longer this run's (someone removed it with `state unlock --force` and another run took it); it was left alone",
                self.lock_key()
            ))),
            Err(e) => Err(e),
        }
    }

    /// Remove whatever lock there is (`state unlock --force`), on the ETag just read, so a
    /// lock taken between the read and the delete is left alone.
    pub async fn force_unlock(&self) -> Result<Option<Holder>, ResourceError> {
        let Some(held) = self.lock_object().await? else { return Ok(None) };
        self.release(Lease { etag: held.etag }).await?;
        Ok(Some(held.holder))
    }

    /// The state's versions, newest first, with who wrote each (one `HeadObject` per
    /// version shown: S3 lists versions without their metadata).
    pub async fn history(&self, limit: usize) -> Result<Vec<Version>, ResourceError> {
        let out = self
            .s3
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(&self.key)
            .send()
            .await
            .map_err(aws("ListObjectVersions"))?;
        let mut versions: Vec<_> =
            out.versions().iter().filter(|v| v.key() == Some(self.key.as_str())).take(limit).cloned().collect();
        versions.sort_by(|a, b| b.last_modified().cmp(&a.last_modified()));
        let mut shown = Vec::new();
        for v in versions {
            let id = v.version_id().unwrap_or_default().to_string();
            let head = self
                .s3
                .head_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .version_id(&id)
                .send()
                .await
                .map_err(aws("HeadObject"))?;
            let meta = |k: &str| head.metadata().and_then(|m| m.get(k)).cloned().unwrap_or_else(|| "-".into());
            shown.push(Version {
                written: rfc3339(v.last_modified()),
                writer: meta("writer"),
                command: meta("command"),
                latest: v.is_latest().unwrap_or(false),
                version_id: id,
            });
        }
        Ok(shown)
    }
}

/// The marker of a state copy that did not reach S3: the ETag it was to be written on.
pub fn unpushed_marker(state_file: &std::path::Path) -> PathBuf {
    state_file.with_extension("json.unpushed")
}

/// Pushes this machine's saves to S3 in the background, newest first, coalescing saves
/// that come while a write is in flight.
pub struct Pusher {
    saves: Arc<watch::Sender<(u64, Option<Arc<Vec<u8>>>)>>,
    /// The last save written, and the base the next write stands on; or why writing
    /// stopped, with the last base that did reach S3.
    pushed: watch::Receiver<(u64, Result<Base, (Base, String)>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Pusher {
    pub fn start(remote: RemoteState, base: Base, command: &str) -> Self {
        let (saves, mut next) = watch::channel((0u64, None::<Arc<Vec<u8>>>));
        let (report, pushed) = watch::channel((0u64, Ok(base.clone())));
        let command = command.to_string();
        let task = tokio::spawn(async move {
            let mut base = base;
            while next.changed().await.is_ok() {
                let (seq, bytes) = next.borrow_and_update().clone();
                let Some(bytes) = bytes else { continue };
                match remote.put(&bytes, &base, &command).await {
                    Ok(etag) => {
                        base = Base::ETag(etag);
                        let _previous = report.send_replace((seq, Ok(base.clone())));
                    }
                    // A conflict or an outage past the retries: later saves are not
                    // pushed over it; `finish` says what to do.
                    Err(e) => {
                        let _previous = report.send_replace((seq, Err((base, e.to_string()))));
                        return;
                    }
                }
            }
        });
        Self { saves: Arc::new(saves), pushed, task }
    }

    /// The engine's save hook: hands each save to the background writer.
    pub fn hook(&self) -> SaveHook {
        let saves = self.saves.clone();
        Arc::new(move |bytes: &[u8]| {
            let bytes = Arc::new(bytes.to_vec());
            saves.send_modify(|(seq, latest)| {
                *seq += 1;
                *latest = Some(bytes);
            });
        })
    }

    /// Wait until the last save is in S3: its new base, or why it is not (with the last
    /// base that is).
    pub async fn finish(mut self) -> Result<Base, (Base, String)> {
        let last = self.saves.borrow().0;
        let outcome = loop {
            let (seq, result) = self.pushed.borrow().clone();
            if result.is_err() || seq >= last {
                break result;
            }
            if self.pushed.changed().await.is_err() {
                let base = self.pushed.borrow().1.clone().unwrap_or_else(|(base, _)| base);
                break Err((base, "the background writer stopped".into()));
            }
        };
        self.task.abort();
        outcome
    }
}

/// What `state init` did or found.
#[derive(Debug, Default)]
pub struct Bucket {
    /// Made by this run, with every setting below.
    pub created: bool,
    /// What an existing bucket lacks, each with the setting to turn on.
    pub problems: Vec<String>,
}

impl RemoteState {
    /// Make the bucket as a careful operator would, or check the one that exists.
    pub async fn init(&self, d: &Deploy, partition: &str, region: &str) -> Result<Bucket, ResourceError> {
        let head = self.s3.head_bucket().bucket(&self.bucket).send().await.map_err(aws("HeadBucket"));
        // HeadBucket answers without a body, so a 403 comes without a code: the name is
        // taken by another account, or this identity may not list it.
        let head = head.map_err(|e| match e.code.is_none() && e.message.contains("HTTP 403") {
            true => ResourceError::fatal(format!(
                "s3://{} exists but is not reachable with these credentials (another account owns the name, or s3:ListBucket is not granted): choose another `state.bucket`, or use credentials that may read it",
                self.bucket
            )),
            false => e,
        });
        match absent_if_gone(head)? {
            Some(_) => Ok(Bucket { created: false, problems: self.check().await? }),
            None => {
                self.create(d, partition, region).await?;
                Ok(Bucket { created: true, problems: Vec::new() })
            }
        }
    }

    async fn create(&self, d: &Deploy, partition: &str, region: &str) -> Result<(), ResourceError> {
        use aws_sdk_s3::types::*;
        let build = |e: aws_sdk_s3::error::BuildError| ResourceError::fatal(e.to_string());
        let mut create = self.s3.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that takes no location constraint (CreateBucket).
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        create.send().await.map_err(aws("CreateBucket"))?;
        let b = || self.bucket.clone();
        self.s3
            .put_public_access_block()
            .bucket(b())
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("PutPublicAccessBlock"))?;
        self.s3
            .put_bucket_versioning()
            .bucket(b())
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(aws("PutBucketVersioning"))?;
        let by_default = match &d.state.kms_key {
            Some(key) => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key),
            None => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
        };
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default.build().map_err(build)?)
            .bucket_key_enabled(d.state.kms_key.is_some())
            .build();
        self.s3
            .put_bucket_encryption()
            .bucket(b())
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build)?,
            )
            .send()
            .await
            .map_err(aws("PutBucketEncryption"))?;
        let policy = crate::documents::state_bucket::policy(partition, &self.bucket).to_string();
        self.s3.put_bucket_policy().bucket(b()).policy(policy).send().await.map_err(aws("PutBucketPolicy"))?;
        let tags = temporalctl_engine::ownership_tags(&d.project, "state-bucket", &self.bucket, &d.tags);
        let tag_set = crate::tags::sdk_tags!(Tag, tags)?;
        self.s3
            .put_bucket_tagging()
            .bucket(b())
            .tagging(Tagging::builder().set_tag_set(Some(tag_set)).build().map_err(build)?)
            .send()
            .await
            .map_err(aws("PutBucketTagging"))?;
        let expire = LifecycleRule::builder()
            .id("expire-old-state-versions")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(i32::try_from(d.state.keep_versions_days).unwrap_or(i32::MAX))
                    .build(),
            )
            .build()
            .map_err(build)?;
        self.s3
            .put_bucket_lifecycle_configuration()
            .bucket(b())
            .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(expire).build().map_err(build)?)
            .send()
            .await
            .map_err(aws("PutBucketLifecycleConfiguration"))?;
        Ok(())
    }

    /// What an existing bucket lacks: versioning (the state's history and undo), default
    /// encryption, and every public access block. Nothing is changed.
    async fn check(&self) -> Result<Vec<String>, ResourceError> {
        let mut problems = Vec::new();
        let versioning =
            self.s3.get_bucket_versioning().bucket(&self.bucket).send().await.map_err(aws("GetBucketVersioning"))?;
        if versioning.status() != Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled) {
            problems.push("versioning is off: without it a bad write cannot be undone and `state history` is empty (turn it on: `aws s3api put-bucket-versioning --versioning-configuration Status=Enabled`)".to_string());
        }
        let encryption =
            self.s3.get_bucket_encryption().bucket(&self.bucket).send().await.map_err(aws("GetBucketEncryption"));
        let rules = absent_if_gone(encryption)?
            .and_then(|e| e.server_side_encryption_configuration().map(|c| c.rules().len()))
            .unwrap_or(0);
        if rules == 0 {
            problems.push("no default encryption (`aws s3api put-bucket-encryption`)".to_string());
        }
        let block =
            self.s3.get_public_access_block().bucket(&self.bucket).send().await.map_err(aws("GetPublicAccessBlock"));
        let all_blocked =
            absent_if_gone(block)?.and_then(|b| b.public_access_block_configuration().cloned()).is_some_and(|c| {
                [c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]
                    .iter()
                    .all(|v| *v == Some(true))
            });
        if !all_blocked {
            problems.push(
                "public access is not blocked on all four settings (`aws s3api put-public-access-block`)".to_string(),
            );
        }
        Ok(problems)
    }
}

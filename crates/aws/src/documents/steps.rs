//! The one-off steps of `up`'s final phase, as the shell scripts the admin-tools task
//! runs (its entry point is `/bin/sh -c`). Pure functions of the deployment, so each is
//! snapshot-tested; every value is shell-quoted.

use crate::documents::task_definition::STEP_TLS_VARIABLES;

/// One step: its name (the key in the state file's `steps`), what it records there once
/// it succeeded, and the script.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Step {
    pub name: &'static str,
    /// What a person reads in the progress: "DSQL schema dsql/v12/temporal 1.12".
    pub title: String,
    /// Stored in the state file under `name` when the task exits 0.
    pub applied: String,
    pub script: String,
}

pub const DSQL_SCHEMA: &str = "dsql-schema";
pub const VISIBILITY: &str = "opensearch-visibility";
pub const NAMESPACE: &str = "namespace";
/// Not a task: the shard count the schema was created with, recorded beside it, because
/// it can never change afterwards (Temporal: `numHistoryShards` is fixed once a cluster's
/// persistence is initialised).
pub const HISTORY_SHARDS: &str = "history-shards";

/// The shard count a deployment's schema was created with, when anything recorded it:
/// the step record (state file, else the DSQL cluster's tag, which survives a lost state
/// file), else the last applied deploy.yaml of a stack whose schema exists.
pub fn recorded_shards(
    steps: &std::collections::BTreeMap<String, String>,
    dsql_tag: Option<&str>,
    applied: Option<&serde_json::Value>,
) -> Option<u32> {
    let recorded = steps.get(HISTORY_SHARDS).map(String::as_str).or(dsql_tag).and_then(|v| v.parse().ok());
    let schema_exists = steps.contains_key(DSQL_SCHEMA);
    recorded.or_else(|| {
        schema_exists.then(|| applied?.pointer("/temporal/history_shards")?.as_u64().map(|n| n as u32)).flatten()
    })
}

/// Refuse a shard count that differs from the one the schema was created with.
pub fn check_shards(recorded: Option<u32>, wanted: u32) -> Result<(), String> {
    match recorded {
        Some(n) if n != wanted => Err(format!(
            "temporal.history_shards: the schema was created with {n} history shards and cannot change to {wanted} (Temporal fixes the shard count when persistence is initialised); set it back to {n}, or build a new deployment (a new project) for {wanted}"
        )),
        _ => Ok(()),
    }
}

/// `'value'`, safe for `sh` whatever the value holds.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The DSQL schema (seed 003's canonical form): `update-schema` when the configured
/// version moved on since the last run, nothing when it is already applied. When nothing
/// is recorded (a fresh cluster, or a run that stopped between the tool and the record),
/// the script asks the cluster: `update-schema` succeeds only where a versioned schema
/// exists, and `setup-schema` runs only when it failed because the `schema_version` table
/// does not exist; any other failure (auth, network, a conflict) fails the step. Neither ever passes `--overwrite`
/// (it drops every table). The tool authenticates with IAM by itself.
pub fn dsql_schema(
    endpoint: &str,
    region: &str,
    schema_name: &str,
    version: &str,
    applied: Option<&str>,
) -> Option<Step> {
    let want = format!("{schema_name}@{version}");
    let tool = format!("temporal-dsql-tool --endpoint {} --region {}", quote(endpoint), quote(region));
    let args = format!("--schema-name {} --version {}", quote(schema_name), quote(version));
    let (verb, body) = match applied {
        Some(done) if done == want => return None,
        Some(_) => ("update-schema", format!("{tool} update-schema {args}\n")),
        None => (
            "setup-schema",
            format!(
                "if out=$({tool} update-schema {args} 2>&1); then\n\
                 \x20 printf '%s\\n' \"$out\"; echo 'a versioned schema was already there: brought to {version}'\n\
                 elif printf '%s' \"$out\" | grep -qiE 'schema_version.*(does not exist|not found)'; then\n\
                 \x20 printf '%s\\n' \"$out\"; echo 'no versioned schema: setting it up'\n\
                 \x20 {tool} setup-schema {args}\n\
                 else\n\
                 \x20 printf '%s\\n' \"$out\" >&2; echo 'update-schema failed for another reason than a missing schema: nothing set up' >&2; exit 1\n\
                 fi\n"
            ),
        ),
    };
    let script = format!(
        "set -eu\n{}echo {what}\n{body}",
        no_tls(),
        what = quote(&format!("{verb} {schema_name} {version} on {endpoint}"))
    );
    Some(Step {
        name: DSQL_SCHEMA,
        title: format!("DSQL schema {schema_name} {version} ({verb})"),
        applied: want,
        script,
    })
}

/// Pings of the visibility step, ten seconds apart.
const PING_TRIES: u32 = 30;

/// OpenSearch visibility: ping, the index template, the index. Every command is
/// re-runnable (Temporal's `tools/elasticsearch/setuptask.go` treats an existing index as
/// done); requests are SigV4-signed with the task role. A domain that just left
/// `Processing` can take a while to answer from inside the VPC, so ping is retried for up
/// to five minutes (the reference deployment does the same) before the step fails.
pub fn visibility(endpoint: &str, index: &str, applied: Option<&str>) -> Option<Step> {
    if applied == Some(index) {
        return None;
    }
    let tool = format!(
        "temporal-elasticsearch-tool --ep {} --aws-credentials aws-sdk-default",
        quote(&format!("https://{endpoint}:443"))
    );
    let no_tls = no_tls();
    let script = format!(
        "set -eu\n\
         {no_tls}\
         tries=0\n\
         until {tool} ping; do\n\
         \x20 tries=$((tries + 1))\n\
         \x20 if [ \"$tries\" -ge {PING_TRIES} ]; then echo \"OpenSearch did not answer after $tries pings\" >&2; exit 1; fi\n\
         \x20 sleep 10\n\
         done\n\
         {tool} setup-schema\n{tool} create-index --index {}\n",
        quote(index)
    );
    Some(Step {
        name: VISIBILITY,
        title: format!("OpenSearch visibility index {index}"),
        applied: index.into(),
        script,
    })
}

/// The steps that do not call the frontend drop the TLS client's variables the task got.
fn no_tls() -> String {
    let names: Vec<&str> = STEP_TLS_VARIABLES.iter().map(|(variable, _, _)| *variable).collect();
    format!("unset {}\n", names.join(" "))
}

/// Where a step that calls Temporal goes: the internal frontend, temporalctl's own way in
/// (internode mTLS, no token: `temporal/fx.go` maps its callers to admin), and the public
/// frontend, the way users come, which the end-to-end check also proves.
#[derive(Debug, Clone, Copy)]
pub struct Frontends<'a> {
    /// `ip:7236` of a running internal frontend task.
    pub internal: &'a str,
    /// `ip:7233` of a running frontend task.
    pub public: &'a str,
}

/// The `temporal` CLI as the steps call it: `cli …` to the internal frontend, `public_cli
/// …` to the frontend. With TLS, the authority and the client pair the task got as
/// variables (`task_definition::STEP_TLS_VARIABLES`) are written to files only the task's
/// user can read, and every call names them and the certificate name of the side it
/// dials (the CLI's `--tls-ca-path`, `--tls-cert-path`, `--tls-key-path`,
/// `--tls-server-name`: temporalio/cli `commands.yml`): the steps dial tasks by IP, so the
/// name is what the certificate is checked against. The internal frontend serves the
/// internode certificate and accepts any client certificate of our authority.
pub fn cli_prelude(tls: bool) -> String {
    if !tls {
        return "cli() { temporal \"$@\"; }\npublic_cli() { temporal \"$@\"; }\n".into();
    }
    let writes: Vec<String> = STEP_TLS_VARIABLES
        .iter()
        .map(|(variable, _, file)| {
            format!(
                "printf '%s\\n' \"${{{variable}:?temporalctl: ECS gave this task no {variable} (the TLS secret)}}\" > \"$tls/{file}\""
            )
        })
        .collect();
    let flags =
        "--tls-ca-path \"$tls/authority.pem\" --tls-cert-path \"$tls/client.pem\" --tls-key-path \"$tls/client.key\"";
    // Every write checked (the namespace step runs without `set -e`); the files gone when
    // the script ends, whatever way (the task's disk is not a tmpfs).
    format!(
        "tls=$(mktemp -d) || exit 1\n\
         trap 'rm -rf \"$tls\"' EXIT\n\
         (umask 077 &&\n{}) || exit 1\n\
         unset TEMPORALCTL_TLS_CLIENT_KEY\n\
         cli() {{ temporal \"$@\" {flags} --tls-server-name {internode}; }}\n\
         public_cli() {{ temporal \"$@\" {flags} --tls-server-name {frontend}; }}\n",
        writes.join(" &&\n"),
        internode = crate::platform::tls::INTERNODE_NAME,
        frontend = crate::platform::tls::FRONTEND_NAME,
    )
}

/// The default namespace, registered through the internal frontend (no token needed, so
/// the same with and without authorization), created only when `describe` does not find
/// it. The internal frontend can be stable a little before it serves the namespace API,
/// so the script tries a few times (seed 000 does the same).
pub fn namespace(internal: &str, name: &str, retention_days: u32, tls: bool, applied: Option<&str>) -> Option<Step> {
    if applied == Some(name) {
        return None;
    }
    let (a, n) = (quote(internal), quote(name));
    let hours = retention_days * 24;
    // Every value is quoted where it enters the script, messages included: the step runs
    // with DSQL admin and OpenSearch write rights, so deploy.yaml's text must stay data.
    let said = |what: String| quote(&what);
    let (exists, created) = (said(format!("namespace {name} exists")), said(format!("namespace {name} created")));
    let failed = said(format!("namespace {name} could not be created at {internal}"));
    let prelude = cli_prelude(tls);
    let script = format!(
        "set -u\n\
         {prelude}\
         for attempt in 1 2 3 4 5 6 7 8 9 10; do\n\
         \x20 if cli operator namespace describe --address {a} --namespace {n} >/dev/null 2>&1; then echo {exists}; exit 0; fi\n\
         \x20 if cli operator namespace create --address {a} --namespace {n} --retention {hours}h; then echo {created}; exit 0; fi\n\
         \x20 echo \"attempt $attempt failed; retrying in 6s\"; sleep 6\n\
         done\n\
         echo {failed} >&2\n\
         exit 1\n"
    );
    Some(Step {
        name: NAMESPACE,
        title: format!("namespace {name} (retention {retention_days}d)"),
        applied: name.into(),
        script,
    })
}

pub const CLUSTER_CHECK: &str = "cluster-check";

/// The end-to-end proof that the cluster serves, run with the admin-tools image (it
/// carries the `temporal` CLI): the frontend's health, then the frontend doing what
/// `temporal.authorization` says (with authorization, a call without a token refused as
/// `PermissionDenied`; without, the namespace served), then through the internal
/// frontend the namespace described, a workflow started on a task queue nobody polls
/// (history and DSQL answer), found again through a visibility query (OpenSearch), then
/// terminated. Each stage prints `check <n>/6 <what>` first, so a failure names its stage
/// in the task's log; nothing is left running. Never recorded: it proves the present.
pub fn cluster_check(at: Frontends<'_>, namespace: &str, tls: bool, authorization: bool) -> Step {
    let (p, i, n) = (quote(at.public), quote(at.internal), quote(namespace));
    let prelude = cli_prelude(tls);
    let on = format!("--address {i} --namespace {n}");
    let public_call = format!("public_cli operator namespace describe --address {p} --namespace {n}");
    let stage2 = if authorization {
        format!(
            "stage '2/6 the frontend refuses a call without a token'\n\
             if refused=$({public_call} 2>&1); then fail '2/6 the frontend answered without a token: authorization is off'; fi\n\
             printf '%s\\n' \"$refused\" | grep -Eq 'PermissionDenied|[Uu]nauthorized' || {{ printf '%s\\n' \"$refused\" >&2; fail '2/6 the frontend failed otherwise than refusing'; }}\n"
        )
    } else {
        let stage = quote(&format!("2/6 namespace {namespace} through the frontend (no authorization)"));
        format!("stage {stage}\n{public_call} >/dev/null || fail '2/6 namespace through the frontend'\n")
    };
    let stage3 = quote(&format!("3/6 namespace {namespace} through the internal frontend"));
    let script = format!(
        "set -eu\n\
         stage() {{ echo \"check $1\"; }}\n\
         fail() {{ echo \"check failed at stage $1\" >&2; exit 1; }}\n\
         {prelude}\
         id=\"temporalctl-check-$(date +%s)-$$\"\n\
         stage '1/6 the frontend is healthy'\n\
         public_cli operator cluster health --address {p} || fail '1/6 frontend health'\n\
         {stage2}\
         stage {stage3}\n\
         cli operator namespace describe {on} >/dev/null || fail '3/6 namespace'\n\
         stage '4/6 start a workflow (history, DSQL)'\n\
         cli workflow start {on} --task-queue temporalctl-check --type temporalctl-check --workflow-id \"$id\" --execution-timeout 10m || fail '4/6 start a workflow'\n\
         stage '5/6 find it through visibility (OpenSearch)'\n\
         found=''\n\
         for attempt in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do\n\
         \x20 if cli workflow list {on} --query \"WorkflowId='$id'\" | grep -q \"$id\"; then found=yes; break; fi\n\
         \x20 sleep 2\n\
         done\n\
         [ -n \"$found\" ] || {{ cli workflow terminate {on} --workflow-id \"$id\" --reason 'temporalctl check' || true; fail '5/6 visibility'; }}\n\
         stage '6/6 terminate it'\n\
         cli workflow terminate {on} --workflow-id \"$id\" --reason 'temporalctl check' || fail '6/6 terminate'\n\
         echo 'check passed: the cluster serves'\n"
    );
    Step {
        name: CLUSTER_CHECK,
        title: format!("end-to-end check through {} and {}", at.public, at.internal),
        applied: String::new(),
        script,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSQL: &str = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";

    #[test]
    fn dsql_schema_is_set_up_once_then_updated_when_the_version_moves() {
        let fresh = dsql_schema(DSQL, "us-east-1", "dsql/v12/temporal", "1.12", None).unwrap();
        insta::assert_snapshot!("dsql-setup-schema", fresh.script);
        assert_eq!(fresh.applied, "dsql/v12/temporal@1.12");
        assert!(dsql_schema(DSQL, "us-east-1", "dsql/v12/temporal", "1.12", Some("dsql/v12/temporal@1.12")).is_none());
        let newer =
            dsql_schema(DSQL, "us-east-1", "dsql/v12/temporal", "1.13", Some("dsql/v12/temporal@1.12")).unwrap();
        assert!(newer.script.contains(" update-schema --schema-name 'dsql/v12/temporal' --version '1.13'"));
        assert!(!newer.script.contains("--overwrite"), "never drops tables");
        assert!(!newer.script.contains("setup-schema"), "a recorded schema is only ever updated");
        assert!(!fresh.script.contains("--overwrite"));
    }

    /// The fresh-cluster script run under /bin/sh with a stand-in tool: `setup-schema`
    /// runs only where `update-schema` finds no versioned schema.
    #[test]
    fn setup_schema_runs_only_when_the_cluster_has_no_schema() {
        let script = dsql_schema(DSQL, "us-east-1", "dsql/v12/temporal", "1.12", None).unwrap().script;
        let sandbox = crate::documents::sandbox::Sandbox::new("dsql-schema");
        sandbox.stub(
            "temporal-dsql-tool",
            "verb=$5; echo \"$verb\" >> \"$SANDBOX/calls\"\n\
             case \"$verb:$SCHEMA\" in\n\
             \x20 update-schema:present|setup-schema:*) exit \"${FAIL_SETUP:-0}\" ;;\n\
             \x20 update-schema:absent) echo 'unable to read schema version: relation \"schema_version\" does not exist'; exit 1 ;;\n\
             \x20 *) echo 'connection refused'; exit 1 ;;\n\
             esac",
        );
        let calls = || std::fs::read_to_string(sandbox.dir.join("calls")).unwrap_or_default();
        let present = sandbox.run(&script, &[("SCHEMA", "present")]);
        assert!(present.status.success());
        assert_eq!(calls(), "update-schema\n", "an existing schema is never set up again");
        std::fs::remove_file(sandbox.dir.join("calls")).unwrap();
        let absent = sandbox.run(&script, &[("SCHEMA", "absent")]);
        assert!(absent.status.success());
        assert_eq!(calls(), "update-schema\nsetup-schema\n");
        let broken = sandbox.run(&script, &[("SCHEMA", "absent"), ("FAIL_SETUP", "3")]);
        assert!(!broken.status.success(), "a failed setup fails the step");
        std::fs::remove_file(sandbox.dir.join("calls")).unwrap();
        let unreachable = sandbox.run(&script, &[("SCHEMA", "unreachable")]);
        assert!(!unreachable.status.success());
        assert_eq!(calls(), "update-schema\n", "another failure never leads to setup-schema");
    }

    #[test]
    fn visibility_and_namespace_scripts() {
        let os = "vpc-demo-visibility-abc.us-east-1.es.amazonaws.com";
        insta::assert_snapshot!(
            "opensearch-visibility",
            visibility(os, "temporal_visibility_v1", None).unwrap().script
        );
        assert!(visibility(os, "temporal_visibility_v1", Some("temporal_visibility_v1")).is_none());
        assert!(visibility(os, "temporal_visibility_v2", Some("temporal_visibility_v1")).is_some());
        insta::assert_snapshot!("namespace", namespace("10.0.3.9:7236", "default", 3, true, None).unwrap().script);
        assert!(namespace("10.0.3.9:7236", "default", 3, true, Some("default")).is_none());
    }

    #[test]
    fn the_shard_count_is_fixed_once_the_schema_exists() {
        use std::collections::BTreeMap;
        let none = BTreeMap::new();
        assert_eq!(recorded_shards(&none, None, None), None, "a fresh deployment may choose");
        let steps = BTreeMap::from([(HISTORY_SHARDS.to_string(), "4".to_string())]);
        assert_eq!(recorded_shards(&steps, Some("8"), None), Some(4), "the state's record first");
        assert_eq!(recorded_shards(&none, Some("8"), None), Some(8), "the cluster's tag when the state is lost");
        let applied = serde_json::json!({ "temporal": { "history_shards": 16 } });
        let schema = BTreeMap::from([(DSQL_SCHEMA.to_string(), "dsql/v12/temporal@1.12".to_string())]);
        assert_eq!(recorded_shards(&schema, None, Some(&applied)), Some(16), "a stack from before the record");
        assert_eq!(recorded_shards(&none, None, Some(&applied)), None, "no schema yet: nothing is fixed");
        assert!(check_shards(Some(4), 4).is_ok() && check_shards(None, 512).is_ok());
        let e = check_shards(Some(4), 8).unwrap_err();
        assert!(e.starts_with("temporal.history_shards:") && e.contains("set it back to 4"), "{e}");
    }

    const FRONTENDS: Frontends<'static> = Frontends { internal: "10.0.3.9:7236", public: "10.0.3.7:7233" };

    /// The check run under /bin/sh with a stand-in `temporal` CLI: every stage runs in
    /// order when the cluster serves, and a failing stage is named and stops the rest.
    #[test]
    fn the_end_to_end_check_names_the_stage_that_fails() {
        let step = cluster_check(FRONTENDS, "default", true, false);
        insta::assert_snapshot!("cluster-check", step.script);
        let sandbox = crate::documents::sandbox::Sandbox::new("cluster-check");
        sandbox.stub("sleep", "exit 0");
        sandbox.stub(
            "temporal",
            "echo \"$1 $2\" >> \"$SANDBOX/calls\"\n\
             [ \"$1 $2\" = \"${BROKEN:-none}\" ] && exit 1\n\
             case \"$1 $2\" in 'workflow list') echo \"$*\" | sed -n \"s/.*WorkflowId='\\([^']*\\)'.*/\\1/p\" ;; esac\n\
             exit 0",
        );
        let calls = || std::fs::read_to_string(sandbox.dir.join("calls")).unwrap_or_default();
        let ok = sandbox.run(&step.script, &TLS_ENV);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        assert_eq!(
            calls(),
            "operator cluster\noperator namespace\noperator namespace\nworkflow start\nworkflow list\nworkflow terminate\n",
            "all six stages, in order"
        );
        for (broken, stage) in [("workflow start", "4/6 start a workflow"), ("workflow list", "5/6 visibility")] {
            std::fs::remove_file(sandbox.dir.join("calls")).unwrap();
            let env: Vec<(&str, &str)> = TLS_ENV.into_iter().chain([("BROKEN", broken)]).collect();
            let out = sandbox.run(&step.script, &env);
            assert!(!out.status.success());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(&format!("check failed at stage {stage}")), "{stderr}");
            if broken == "workflow list" {
                assert!(calls().ends_with("workflow terminate\n"), "the started workflow is not left behind");
            }
        }
    }

    /// With authorization the check passes only when the frontend refuses a call without a
    /// token as unauthorized: a frontend that answers, or fails some other way, fails
    /// stage 2. Everything else goes through the internal frontend.
    #[test]
    fn with_authorization_the_check_proves_the_frontend_refuses_calls_without_a_token() {
        let step = cluster_check(FRONTENDS, "default", true, true);
        insta::assert_snapshot!("cluster-check-authorization", step.script);
        let sandbox = crate::documents::sandbox::Sandbox::new("cluster-check-auth");
        sandbox.stub("sleep", "exit 0");
        sandbox.stub(
            "temporal",
            "case \"$*\" in\n\
             \x20 *'10.0.3.9:7236'*temporal-internode*) side=internal ;;\n\
             \x20 *'10.0.3.7:7233'*temporal-frontend*) side=public ;;\n\
             \x20 *) side=WRONG ;;\n\
             esac\n\
             echo \"$1 $2 $side\" >> \"$SANDBOX/calls\"\n\
             if [ \"$1 $2 $side\" = 'operator namespace public' ]; then [ \"$FRONTEND\" = open ] && exit 0; echo \"$FRONTEND\" >&2; exit 1; fi\n\
             case \"$1 $2\" in 'workflow list') echo \"$*\" | sed -n \"s/.*WorkflowId='\\([^']*\\)'.*/\\1/p\" ;; esac\n\
             exit 0",
        );
        let run = |frontend: &str| {
            let _ = std::fs::remove_file(sandbox.dir.join("calls"));
            let env: Vec<(&str, &str)> = TLS_ENV.into_iter().chain([("FRONTEND", frontend)]).collect();
            let out = sandbox.run(&step.script, &env);
            (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let (ok, stderr) = run("rpc error: code = PermissionDenied desc = Request unauthorized.");
        assert!(ok, "{stderr}");
        let calls = std::fs::read_to_string(sandbox.dir.join("calls")).unwrap();
        assert_eq!(
            calls,
            "operator cluster public\noperator namespace public\noperator namespace internal\nworkflow start internal\nworkflow list internal\nworkflow terminate internal\n",
            "each call at its side's address, under its side's certificate name"
        );
        let (ok, stderr) = run("open");
        assert!(!ok && stderr.contains("2/6 the frontend answered without a token"), "{stderr}");
        let (ok, stderr) = run("rpc error: code = Unavailable desc = connection refused");
        assert!(!ok && stderr.contains("2/6 the frontend failed otherwise than refusing"), "{stderr}");
    }

    /// What ECS injects from the certificates' secret into the one-off task.
    const TLS_ENV: [(&str, &str); 3] = [
        ("TEMPORALCTL_TLS_AUTHORITY", "-----BEGIN CERTIFICATE-----\nauthority\n-----END CERTIFICATE-----"),
        ("TEMPORALCTL_TLS_CLIENT_CERT", "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----"),
        ("TEMPORALCTL_TLS_CLIENT_KEY", "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----"),
    ];

    /// With TLS every CLI call names the authority, the client pair (files only the task's
    /// user reads) and the certificate name of the side it dials: the internode name for
    /// the internal frontend, the frontend's for the frontend; without the secret's
    /// variables the step stops before any call, naming what is missing.
    #[test]
    fn with_tls_every_cli_call_names_the_authority_the_client_pair_and_the_server_name() {
        let sandbox = crate::documents::sandbox::Sandbox::new("tls-cli");
        sandbox.stub("sleep", "exit 0");
        sandbox.stub(
            "temporal",
            "printf '%s\\n' \"$*\" >> \"$SANDBOX/calls\"\n\
             for f in \"$@\"; do case \"$f\" in */client.key) cp \"$f\" \"$SANDBOX/key-seen\"; stat -c %a \"$f\" > \"$SANDBOX/key-mode\";; esac; done\n\
             exit 0",
        );
        let step = namespace("10.0.3.9:7236", "default", 3, true, None).unwrap();
        // mktemp's directory where the test can see it: gone once the script ends.
        let tmp = sandbox.dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let env: Vec<(&str, &str)> = TLS_ENV.into_iter().chain([("TMPDIR", tmp.to_str().unwrap())]).collect();
        let out = sandbox.run(&step.script, &env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the key's directory is left behind");
        let calls = std::fs::read_to_string(sandbox.dir.join("calls")).unwrap();
        let call = calls.lines().next().unwrap();
        for flag in ["--tls-ca-path ", "--tls-cert-path ", "--tls-key-path ", "--tls-server-name temporal-internode"] {
            assert!(call.contains(flag), "{flag} missing in: {call}");
        }
        assert!(call.contains("--address 10.0.3.9:7236"), "{call}");
        let key = std::fs::read_to_string(sandbox.dir.join("key-seen")).unwrap();
        assert_eq!(key.trim_end(), TLS_ENV[2].1);
        assert_eq!(std::fs::read_to_string(sandbox.dir.join("key-mode")).unwrap().trim(), "600");

        std::fs::remove_file(sandbox.dir.join("calls")).unwrap();
        let out = sandbox.run(&step.script, &TLS_ENV[..2]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ECS gave this task no TEMPORALCTL_TLS_CLIENT_KEY"), "{stderr}");
        assert!(!sandbox.dir.join("calls").exists(), "no call without the client key");
    }

    /// What a hostile deploy.yaml could put into a name: each must reach the stand-in
    /// program as one intact argument, and none may run a command.
    const HOSTILE: &[&str] = &[
        "x\"; touch \"$SANDBOX/pwned\"; echo \"",
        "$(touch \"$SANDBOX/pwned\")",
        "`touch \"$SANDBOX/pwned\"`",
        "a'b; touch \"$SANDBOX/pwned\"",
        "x\ntouch \"$SANDBOX/pwned\"",
    ];

    #[test]
    fn hostile_values_stay_data_in_every_script() {
        let sandbox = crate::documents::sandbox::Sandbox::new("hostile");
        // Each stand-in writes its arguments one per line, so an argument split in two
        // or altered shows.
        let record = "for a in \"$@\"; do printf '%s\\n' \"$a\" >> \"$SANDBOX/args\"; done\nexit 0";
        for program in ["temporal", "temporal-elasticsearch-tool"] {
            sandbox.stub(program, record);
        }
        sandbox.stub("sleep", "exit 0");
        for value in HOSTILE {
            let scripts = [
                namespace("10.0.3.9:7236", value, 3, true, None).unwrap().script,
                cluster_check(FRONTENDS, value, true, false).script,
                cluster_check(FRONTENDS, value, true, true).script,
                visibility("search.example", value, None).unwrap().script,
            ];
            for script in scripts {
                let _ = std::fs::remove_file(sandbox.dir.join("args"));
                sandbox.run(&script, &TLS_ENV);
                assert!(!sandbox.dir.join("pwned").exists(), "{value:?} ran a command in:\n{script}");
                let args = std::fs::read_to_string(sandbox.dir.join("args")).unwrap_or_default();
                assert!(args.contains(value), "{value:?} did not reach the program intact: {args}");
            }
        }
    }

    #[test]
    fn values_cannot_break_out_of_their_quotes() {
        assert_eq!(quote("a'b; rm -rf /"), r"'a'\''b; rm -rf /'");
    }
}

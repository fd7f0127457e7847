//! The one-off steps of `up`'s final phase, as the shell scripts the admin-tools task
//! runs (its entry point is `/bin/sh -c`). Pure functions of the deployment, so each is
//! snapshot-tested; every value is shell-quoted.

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

/// `'value'`, safe for `sh` whatever the value holds.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The DSQL schema (seed 003's canonical form): `setup-schema` on a fresh cluster,
/// `update-schema` when the configured version moved on since the last run, nothing
/// when it is already applied. The tool authenticates with IAM by itself.
pub fn dsql_schema(
    endpoint: &str,
    region: &str,
    schema_name: &str,
    version: &str,
    applied: Option<&str>,
) -> Option<Step> {
    let want = format!("{schema_name}@{version}");
    let verb = match applied {
        Some(done) if done == want => return None,
        Some(_) => "update-schema",
        None => "setup-schema",
    };
    let script = format!(
        "set -eu\necho {what}\ntemporal-dsql-tool --endpoint {e} --region {r} {verb} --schema-name {n} --version {v}\n",
        what = quote(&format!("{verb} {schema_name} {version} on {endpoint}")),
        e = quote(endpoint),
        r = quote(region),
        n = quote(schema_name),
        v = quote(version),
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
    let script = format!(
        "set -eu\n\
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

/// The default namespace, created only when `describe` does not find it. The frontend
/// can be stable a little before it serves the namespace API, so the script tries a few
/// times (seed 000 does the same).
pub fn namespace(frontend: &str, name: &str, retention_days: u32, applied: Option<&str>) -> Option<Step> {
    if applied == Some(name) {
        return None;
    }
    let (a, n) = (quote(frontend), quote(name));
    let hours = retention_days * 24;
    let script = format!(
        "set -u\n\
         for attempt in 1 2 3 4 5 6 7 8 9 10; do\n\
         \x20 if temporal operator namespace describe --address {a} --namespace {n} >/dev/null 2>&1; then echo \"namespace {name} exists\"; exit 0; fi\n\
         \x20 if temporal operator namespace create --address {a} --namespace {n} --retention {hours}h; then echo \"namespace {name} created\"; exit 0; fi\n\
         \x20 echo \"attempt $attempt failed; retrying in 6s\"; sleep 6\n\
         done\n\
         echo \"namespace {name} could not be created at {frontend}\" >&2\n\
         exit 1\n"
    );
    Some(Step {
        name: NAMESPACE,
        title: format!("namespace {name} (retention {retention_days}d)"),
        applied: name.into(),
        script,
    })
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
        insta::assert_snapshot!("namespace", namespace("10.0.3.7:7233", "default", 3, None).unwrap().script);
        assert!(namespace("10.0.3.7:7233", "default", 3, Some("default")).is_none());
    }

    #[test]
    fn values_cannot_break_out_of_their_quotes() {
        assert_eq!(quote("a'b; rm -rf /"), r"'a'\''b; rm -rf /'");
    }
}

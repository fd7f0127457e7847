//! Container image references as `services.<s>.image` and `temporal.version` are written,
//! parsed by the grammar Docker and the OCI distribution spec use (the `reference`
//! package of `distribution/distribution`): `[registry/]path[:tag][@sha256:hex]`, a name
//! without a registry is Docker Hub's, and a one-part Docker Hub name is `library/<name>`.

use std::fmt;

pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's registry API host (its canonical name `docker.io` serves no API).
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// The name as written, without tag or digest (`grafana/grafana`).
    pub name: String,
    /// `docker.io`, `public.ecr.aws`, `<account>.dkr.ecr.<region>.amazonaws.com`, `host:port`.
    pub registry: String,
    /// `library/nginx`, `aws-observability/aws-otel-collector`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse one reference; `Err` says what is wrong in words a user can act on.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                if !is_digest(digest) {
                    return Err(format!("`{digest}` is not a digest: write sha256: and 64 lowercase hex digits"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        // A tag follows the last ':' that comes after the last '/' (a registry port does not).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(format!(
                "`{tag}` is not an image tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'"
            ));
        }
        if name.is_empty() || name.len() > 255 {
            return Err("the image name must be 1 to 255 characters".into());
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (first, path),
            _ => (DOCKER_HUB, name),
        };
        if !registry.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) {
            return Err(format!("`{registry}` is not a registry host"));
        }
        if let Some(bad) = path.split('/').find(|c| !is_path_component(c)) {
            return Err(format!(
                "`{bad}` is not a repository name part: lowercase letters and digits, separated by '.', '_', '__' or '-'"
            ));
        }
        let repository =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.into() };
        Ok(Reference { name: name.into(), registry: registry.into(), repository, tag: tag.map(String::from), digest })
    }

    /// The host the registry API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API } else { &self.registry }
    }

    /// The tag a tag-less reference means.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// The same image named by `digest` alone (`name@sha256:…`), the form ECS documents
    /// for a pinned image (Amazon ECS Developer Guide, task definition parameters,
    /// `image`: "repository-url/image@digest").
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

pub fn is_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_path_component(part: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = part.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Reference {
        Reference::parse(text).unwrap()
    }

    #[test]
    fn names_are_normalised_as_docker_does() {
        let grafana = r("grafana/grafana:12.2.1");
        assert_eq!((grafana.registry.as_str(), grafana.repository.as_str()), ("docker.io", "grafana/grafana"));
        assert_eq!(grafana.to_string(), "grafana/grafana:12.2.1");
        assert_eq!(r("nginx").repository, "library/nginx");
        assert_eq!(r("nginx").tag_or_latest(), "latest");
        let adot = r("public.ecr.aws/aws-observability/aws-otel-collector:v0.45.0");
        assert_eq!(
            (adot.registry.as_str(), adot.repository.as_str()),
            ("public.ecr.aws", "aws-observability/aws-otel-collector")
        );
        let local = r("localhost:5000/team/app");
        assert_eq!((local.registry.as_str(), local.tag), ("localhost:5000", None));
        let port = r("registry.example.com:8443/app:1.0");
        assert_eq!((port.registry.as_str(), port.tag.as_deref()), ("registry.example.com:8443", Some("1.0")));
        assert_eq!(r("nginx").api_host(), "registry-1.docker.io");
    }

    #[test]
    fn a_digest_is_kept_and_a_pin_names_the_digest_alone() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let both = r(&format!("temporalio/ui:2.42.1@{digest}"));
        assert_eq!(both.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(both.tag.as_deref(), Some("2.42.1"));
        assert_eq!(both.pinned(&digest), format!("temporalio/ui@{digest}"));
    }

    #[test]
    fn what_docker_would_refuse_is_refused_with_the_reason() {
        for (bad, says) in [
            ("Grafana/grafana", "`Grafana` is not a repository name part"),
            ("grafana/grafana:", "`` is not an image tag"),
            ("grafana/grafana:-x", "is not an image tag"),
            ("app@sha256:abc", "is not a digest"),
            ("app@md5:0123", "is not a digest"),
            ("team//app", "`` is not a repository name part"),
            ("a..b", "`a..b` is not a repository name part"),
            ("app;rm -rf /", "is not a repository name part"),
            ("", "1 to 255"),
        ] {
            let err = Reference::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(is_path_component("a__b-c--d.e_f"));
        assert!(!is_path_component("a___b"));
    }
}

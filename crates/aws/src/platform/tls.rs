//! The deployment's own certificate authority and the certificates Temporal's mutual TLS
//! runs on, generated here (ECDSA P-256 keys from aws-lc-rs, the SDK's own crypto) and
//! kept only in Secrets Manager: never in state, logs or stdout.
//!
//! - The authority (`<project>/temporal-tls-authority`: its certificate and key) is read
//!   only by temporalctl, to issue certificates; no task or execution role can read it.
//! - The certificates (`<project>/temporal-tls`) are what the tasks get, as ECS secrets:
//!   - `internode`: every Temporal service's server and client certificate between
//!     services (server and client use, name [`INTERNODE_NAME`]: Temporal dials members by
//!     IP and checks this fixed name, `global.tls.internode.client.serverName`);
//!   - `frontend`: the frontend's server certificate for [`FRONTEND_NAME`], the name the
//!     UI, the one-off steps and the workers dial (Service Connect), and `localhost` for
//!     `connect frontend`;
//!   - `client`: the certificate of everything else that calls the frontend (the UI, the
//!     one-off steps, an operator through `connect`).
//!
//! Temporal reads `global.tls` (`common/config/config.go`, `GroupTLS`/`ServerTLS`/`ClientTLS`
//! in the fork at 1.29); a node presents its internode certificate as client too, so that
//! one carries both extended key usages.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};

/// The name every Temporal service's internode certificate carries and its peers check.
pub const INTERNODE_NAME: &str = "temporal-internode";
/// The frontend's Service Connect name: what clients inside the namespace dial.
pub const FRONTEND_NAME: &str = "temporal-frontend";

/// How long the authority is valid: long, since replacing it means restarting every
/// service at once (mixed authorities cannot talk).
pub const AUTHORITY_YEARS: i64 = 10;
/// How long the certificates are valid. Five years, not the one year public certificates
/// get: nothing renews them by itself (`tls rotate` does, on request; `status` and `up`
/// warn 90 days ahead), and a cluster whose internode certificate expires stops serving. New ones come
/// from the same authority, so services can take them one by one (docs/runbook.md,
/// "Mutual TLS").
pub const CERTIFICATE_DAYS: i64 = 5 * 365 + 1;

/// When what a secret made at `created` (RFC 3339, its `CreatedDate`) stops being valid:
/// the values are written once, at creation, valid for `days` from then. `None` when the
/// date cannot be read.
pub fn valid_until(created: &str, days: i64) -> Option<String> {
    use aws_smithy_types::date_time::{DateTime, Format};
    let created = DateTime::from_str(created, Format::DateTime).ok()?;
    let until = DateTime::from_secs(created.secs() + days * 86_400);
    until.fmt(Format::DateTime).ok().map(|t| t.get(..10).unwrap_or(&t).to_string())
}

/// Days from `now` to `until` (YYYY-MM-DD, as [`valid_until`] gives), negative once past.
pub fn days_left(until: &str, now: std::time::SystemTime) -> Option<i64> {
    use aws_smithy_types::date_time::{DateTime, Format};
    let until = DateTime::from_str(&format!("{until}T00:00:00Z"), Format::DateTime).ok()?;
    let now = DateTime::from(now).secs();
    Some((until.secs() - now).div_euclid(86_400))
}

/// Warned about by `up` and `status` from this many days before the certificates expire.
pub const WARN_DAYS: i64 = 90;

/// When certificates issued at `now` end: [`CERTIFICATE_DAYS`] on, and never past
/// `authority_until` (a certificate cannot outlive what vouches for it: peers stop
/// trusting it when the authority expires, whatever its own date says).
pub fn certificates_until(
    now: time::OffsetDateTime,
    authority_until: Option<time::OffsetDateTime>,
) -> Result<time::OffsetDateTime, String> {
    let full = now + time::Duration::days(CERTIFICATE_DAYS);
    let until = authority_until.map_or(full, |end| end.min(full));
    if until <= now + time::Duration::days(1) {
        return Err(
            "the authority has expired or expires within a day: replace it (docs/runbook.md, \"Mutual TLS\")".into()
        );
    }
    Ok(until)
}

/// The authority: a certificate and its private key, as PEM.
pub struct Authority {
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

fn failed(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |e| format!("cannot {what}: {e}")
}

/// The authority's subject and usages: the same every time, so an issuer rebuilt from
/// the stored key names the subject the stored certificate has.
fn authority_params(project: &str) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed("describe the authority"))?;
    params.distinguished_name.push(DnType::OrganizationName, "temporalctl");
    params.distinguished_name.push(DnType::CommonName, format!("{project} Temporal authority"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

impl Authority {
    pub fn generate(project: &str, now: time::OffsetDateTime) -> Result<Authority, String> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed("generate a key"))?;
        let mut params = authority_params(project)?;
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(365 * AUTHORITY_YEARS);
        let cert = params.self_signed(&key).map_err(failed("sign the authority"))?;
        Ok(Authority { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// The secret's value: `{"cert": …, "key": …}`.
    pub fn secret_value(&self) -> String {
        serde_json::json!({ "cert": self.cert_pem, "key": self.key_pem }).to_string()
    }

    pub fn from_secret_value(value: &str) -> Result<Authority, String> {
        let json: serde_json::Value =
            serde_json::from_str(value).map_err(|_| "the authority secret is not the JSON temporalctl wrote")?;
        let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(String::from);
        match (field("cert"), field("key")) {
            (Some(cert_pem), Some(key_pem)) => Ok(Authority { cert_pem, key_pem }),
            _ => Err("the authority secret lacks its cert or key".into()),
        }
    }

    /// The three certificates, valid from now until [`certificates_until`].
    pub fn issue(
        &self,
        project: &str,
        now: time::OffsetDateTime,
        authority_until: Option<time::OffsetDateTime>,
    ) -> Result<Certificates, String> {
        let key = KeyPair::from_pem(&self.key_pem).map_err(failed("read the authority's key"))?;
        let issuer = Issuer::new(authority_params(project)?, key);
        let until = certificates_until(now, authority_until)?;
        let mut pairs = Vec::with_capacity(LEAVES.len());
        for leaf in &LEAVES {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed("generate a key"))?;
            let mut params = leaf.params(project)?;
            params.not_before = now - time::Duration::hours(1);
            params.not_after = until;
            let cert = params.signed_by(&key, &issuer).map_err(failed("sign a certificate"))?;
            pairs.push(Pair { cert: cert.pem(), key: key.serialize_pem() });
        }
        Certificates::from_pairs(self.cert_pem.clone(), pairs, until)
    }
}

/// One certificate the tasks get: its job, the names it answers to, what it may be used
/// for, and the AWS Private CA template that gives the same usages.
pub struct Leaf {
    pub name: &'static str,
    sans: &'static [&'static str],
    usages: &'static [ExtendedKeyUsagePurpose],
    /// AWS Private CA, "Template definitions": `EndEntityServerAuthCertificate/V1` and
    /// `EndEntityClientAuthCertificate/V1` give one extended key usage each,
    /// `EndEntityCertificate/V1` both; all take the subject and names from the request.
    pub private_ca_template: &'static str,
}

/// In the order [`Certificates::from_pairs`] takes them: internode, frontend, client.
pub const LEAVES: [Leaf; 3] = [
    Leaf {
        name: "internode",
        sans: &[INTERNODE_NAME],
        usages: &[ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
        private_ca_template: "EndEntityCertificate/V1",
    },
    Leaf {
        name: "frontend",
        sans: &[FRONTEND_NAME, "localhost"],
        usages: &[ExtendedKeyUsagePurpose::ServerAuth],
        private_ca_template: "EndEntityServerAuthCertificate/V1",
    },
    Leaf {
        name: "client",
        sans: &[],
        usages: &[ExtendedKeyUsagePurpose::ClientAuth],
        private_ca_template: "EndEntityClientAuthCertificate/V1",
    },
];

impl Leaf {
    fn params(&self, project: &str) -> Result<CertificateParams, String> {
        let sans: Vec<String> = self.sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).map_err(failed("describe a certificate"))?;
        params.distinguished_name.push(DnType::OrganizationName, "temporalctl");
        params.distinguished_name.push(DnType::CommonName, format!("{project} {}", self.name));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = self.usages.to_vec();
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }

    /// A new key and the certificate signing request for it (PEM), for an authority
    /// elsewhere (AWS Private CA) to sign. The key never leaves this process except into
    /// the certificates' secret.
    pub fn request(&self, project: &str) -> Result<(PrivateKey, String), String> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed("generate a key"))?;
        let mut params = self.params(project)?;
        // The signer adds its own key identifier (and rcgen refuses one in a request).
        params.use_authority_key_identifier_extension = false;
        let csr = params.serialize_request(&key).map_err(failed("write a certificate request"))?;
        let pem = csr.pem().map_err(failed("write a certificate request"))?;
        Ok((PrivateKey(key.serialize_pem()), pem))
    }
}

/// A private key (PEM) kept out of `Debug` output.
pub struct PrivateKey(String);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl Pair {
    /// A certificate an authority elsewhere signed for `key`: the certificate with the
    /// chain up to (not including) the root, which servers and clients present whole.
    pub fn signed(cert: &str, chain: &str, key: PrivateKey) -> Pair {
        Pair { cert: Pair::bundle(&[cert, chain]), key: key.0 }
    }

    /// PEM blocks one after another, each ending in one newline; empty ones dropped.
    pub fn bundle(pems: &[&str]) -> String {
        pems.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).map(|p| format!("{p}\n")).collect()
    }
}

/// A certificate and its key, as PEM.
pub struct Pair {
    pub cert: String,
    key: String,
}

/// What the tasks get.
pub struct Certificates {
    pub authority: String,
    pub internode: Pair,
    pub frontend: Pair,
    pub client: Pair,
    /// RFC 3339: when they expire (`status` counts the same date from the secret's
    /// creation).
    pub not_after: String,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").field("not_after", &self.not_after).finish_non_exhaustive()
    }
}

/// The keys of the certificates' secret, each what one ECS secret reference injects.
/// The UI reads its `TEMPORAL_TLS_*_DATA` as base64 of the PEM (ui `server/server/rpc/tls.go`
/// decodes them), so its three are stored encoded as well.
pub mod keys {
    pub const AUTHORITY: &str = "authority";
    pub const INTERNODE_CERT: &str = "internode_cert";
    pub const INTERNODE_KEY: &str = "internode_key";
    pub const FRONTEND_CERT: &str = "frontend_cert";
    pub const FRONTEND_KEY: &str = "frontend_key";
    pub const CLIENT_CERT: &str = "client_cert";
    pub const CLIENT_KEY: &str = "client_key";
    pub const AUTHORITY_BASE64: &str = "authority_base64";
    pub const CLIENT_CERT_BASE64: &str = "client_cert_base64";
    pub const CLIENT_KEY_BASE64: &str = "client_key_base64";
}

impl Certificates {
    /// The three pairs in [`LEAVES`] order, trusted through `authority` (PEM, one or
    /// more certificates), valid until `until`.
    pub fn from_pairs(
        authority: String,
        pairs: Vec<Pair>,
        until: time::OffsetDateTime,
    ) -> Result<Certificates, String> {
        let [internode, frontend, client]: [Pair; 3] =
            pairs.try_into().map_err(|_| "three certificates are needed: internode, frontend, client".to_string())?;
        Ok(Certificates {
            authority,
            internode,
            frontend,
            client,
            not_after: aws_smithy_types::DateTime::from_secs(until.unix_timestamp())
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default(),
        })
    }

    pub fn secret_value(&self) -> String {
        use aws_smithy_types::base64::encode;
        serde_json::json!({
            keys::AUTHORITY: self.authority,
            keys::INTERNODE_CERT: self.internode.cert,
            keys::INTERNODE_KEY: self.internode.key,
            keys::FRONTEND_CERT: self.frontend.cert,
            keys::FRONTEND_KEY: self.frontend.key,
            keys::CLIENT_CERT: self.client.cert,
            keys::CLIENT_KEY: self.client.key,
            keys::AUTHORITY_BASE64: encode(&self.authority),
            keys::CLIENT_CERT_BASE64: encode(&self.client.cert),
            keys::CLIENT_KEY_BASE64: encode(&self.client.key),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::server::WebPkiClientVerifier;

    use super::*;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn roots(authority: &str) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(authority)).unwrap();
        Arc::new(roots)
    }

    /// What a TLS peer trusting only `authority` says of `cert` presented as a server for
    /// `name` (None: accepted).
    fn as_server(authority: &str, cert: &str, name: &str) -> Option<String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(roots(authority), provider).build().unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier.verify_server_cert(&der(cert), &[], &name, &[], UnixTime::now()).err().map(|e| e.to_string())
    }

    fn as_client(authority: &str, cert: &str) -> Option<String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots(authority), provider).build().unwrap();
        verifier.verify_client_cert(&der(cert), &[], UnixTime::now()).err().map(|e| e.to_string())
    }

    #[test]
    fn each_certificate_is_trusted_for_its_job_and_only_by_its_own_authority() {
        let now = time::OffsetDateTime::now_utc();
        let ca = Authority::generate("demo", now).unwrap();
        let certs = ca.issue("demo", now, None).unwrap();
        // Internode: server and client, under the fixed name the peers check.
        assert_eq!(as_server(&ca.cert_pem, &certs.internode.cert, INTERNODE_NAME), None);
        assert_eq!(as_client(&ca.cert_pem, &certs.internode.cert), None);
        // Frontend: the name clients dial, and localhost for a port forward.
        assert_eq!(as_server(&ca.cert_pem, &certs.frontend.cert, FRONTEND_NAME), None);
        assert_eq!(as_server(&ca.cert_pem, &certs.frontend.cert, "localhost"), None);
        assert!(as_server(&ca.cert_pem, &certs.frontend.cert, "temporal-history").is_some());
        assert!(as_client(&ca.cert_pem, &certs.frontend.cert).is_some(), "not a client certificate");
        // Client: a client only.
        assert_eq!(as_client(&ca.cert_pem, &certs.client.cert), None);
        assert!(as_server(&ca.cert_pem, &certs.client.cert, FRONTEND_NAME).is_some());
        // Another deployment's authority trusts none of them.
        let other = Authority::generate("other", now).unwrap();
        assert!(as_client(&other.cert_pem, &certs.client.cert).is_some());
        assert!(as_server(&other.cert_pem, &certs.frontend.cert, FRONTEND_NAME).is_some());
    }

    #[test]
    fn an_authority_read_back_from_its_secret_issues_certificates_its_certificate_trusts() {
        let now = time::OffsetDateTime::now_utc();
        let ca = Authority::generate("demo", now).unwrap();
        let stored = Authority::from_secret_value(&ca.secret_value()).unwrap();
        let renewed = stored.issue("demo", now + time::Duration::days(300), None).unwrap();
        // Issued "in 300 days": not yet valid now, which shows the dates are the ones asked.
        assert!(
            as_client(&ca.cert_pem, &renewed.client.cert).is_some_and(|e| e.contains("not valid yet")),
            "{:?}",
            as_client(&ca.cert_pem, &renewed.client.cert)
        );
        let today = stored.issue("demo", now, None).unwrap();
        assert_eq!(as_client(&ca.cert_pem, &today.client.cert), None);
        assert_eq!(as_server(&ca.cert_pem, &today.internode.cert, INTERNODE_NAME), None);
    }

    #[test]
    fn expiry_is_counted_from_the_secrets_creation() {
        assert_eq!(valid_until("2026-12-07T03:14:00Z", CERTIFICATE_DAYS).as_deref(), Some("2031-12-07"));
        assert_eq!(valid_until("2026-12-07T03:14:00Z", 365 * AUTHORITY_YEARS).as_deref(), Some("2036-12-04"));
        assert_eq!(valid_until("not a date", 1), None);
        let day = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000); // 2026-11-30
        assert_eq!(days_left("2026-12-30", day), Some(29));
        assert_eq!(days_left("2026-11-01", day), Some(-30));
    }

    /// Late in the authority's life new certificates end with it, not five years on, and
    /// an expired authority issues nothing.
    #[test]
    fn certificates_never_outlive_their_authority() {
        let now = time::OffsetDateTime::now_utc();
        let ca = Authority::generate("demo", now).unwrap();
        let end = now + time::Duration::days(400);
        let capped = ca.issue("demo", now, Some(end)).unwrap();
        let date = |t: time::OffsetDateTime| {
            aws_smithy_types::DateTime::from_secs(t.unix_timestamp())
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap()
        };
        assert_eq!(capped.not_after, date(end));
        let full = ca.issue("demo", now, Some(now + time::Duration::days(3650))).unwrap();
        assert_eq!(full.not_after, date(now + time::Duration::days(CERTIFICATE_DAYS)));
        let e = ca.issue("demo", now, Some(now - time::Duration::days(1))).err().unwrap();
        assert!(e.contains("the authority has expired"), "{e}");
    }

    /// The chain a peer presents: its first certificate and the intermediates after it.
    fn chain(pem: &str) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem.as_bytes()).map(Result::unwrap).collect()
    }

    /// What a peer trusting `bundle` says of the chain `pem` presented as a server for
    /// `name`, and as a client.
    fn verdicts(bundle: &str, pem: &str, name: &str) -> (Option<String>, Option<String>) {
        let mut roots = rustls::RootCertStore::empty();
        for cert in chain(bundle) {
            roots.add(cert).unwrap();
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let presented = chain(pem);
        let (leaf, intermediates) = presented.split_first().unwrap();
        let server = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone()).build().unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        let as_server = server.verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now()).err();
        let client = WebPkiClientVerifier::builder_with_provider(roots, provider).build().unwrap();
        let as_client = client.verify_client_cert(leaf, intermediates, UnixTime::now()).err();
        (as_server.map(|e| e.to_string()), as_client.map(|e| e.to_string()))
    }

    /// AWS Private CA's part played by a subordinate CA under a root: it signs our
    /// requests as they are (the templates pass the subject and names through). The
    /// requests carry each certificate's names; each pair, presented with its chain,
    /// is trusted through the bundle of the CA and its root, and through the root alone.
    #[test]
    fn requests_signed_by_a_subordinate_ca_give_pairs_trusted_through_its_chain() {
        use rcgen::CertificateSigningRequestParams;
        let now = time::OffsetDateTime::now_utc();
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let root_params = authority_params("root").unwrap();
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(authority_params("root").unwrap(), root_key);
        let sub_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let sub = authority_params("sub").unwrap().signed_by(&sub_key, &root_issuer).unwrap();
        let sub_issuer = Issuer::new(authority_params("sub").unwrap(), sub_key);

        let mut pairs = Vec::new();
        for leaf in &LEAVES {
            let (key, csr) = leaf.request("demo").unwrap();
            assert!(!format!("{key:?}").contains("PRIVATE KEY"));
            let request = CertificateSigningRequestParams::from_pem(&csr).unwrap();
            let names: Vec<String> = request
                .params
                .subject_alt_names
                .iter()
                .map(|san| match san {
                    rcgen::SanType::DnsName(name) => name.to_string(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(names, leaf.sans, "{}", leaf.name);
            let cert = request.signed_by(&sub_issuer).unwrap();
            pairs.push(Pair::signed(&cert.pem(), &sub.pem(), key));
        }
        let bundle = Pair::bundle(&[&sub.pem(), &root.pem()]);
        let certs = Certificates::from_pairs(bundle.clone(), pairs, now + time::Duration::days(30)).unwrap();
        assert_eq!(chain(&certs.internode.cert).len(), 2, "the certificate and the CA that signed it");
        for trusted in [bundle.as_str(), &root.pem()] {
            assert_eq!(verdicts(trusted, &certs.internode.cert, INTERNODE_NAME), (None, None));
            assert_eq!(verdicts(trusted, &certs.frontend.cert, FRONTEND_NAME).0, None);
            assert_eq!(verdicts(trusted, &certs.client.cert, FRONTEND_NAME).1, None);
        }
        // Another authority's bundle trusts none of them.
        let other = Authority::generate("other", now).unwrap();
        assert!(verdicts(&other.cert_pem, &certs.internode.cert, INTERNODE_NAME).1.is_some());
        assert!(
            certs.secret_value().contains(&root.pem().trim().replace('\n', "\\n")),
            "the root is in the trust bundle"
        );
    }

    #[test]
    fn keys_stay_out_of_debug_output_and_the_secret_holds_every_key() {
        let now = time::OffsetDateTime::now_utc();
        let ca = Authority::generate("demo", now).unwrap();
        let certs = ca.issue("demo", now, None).unwrap();
        assert!(!format!("{ca:?}{certs:?}").contains("PRIVATE KEY"));
        let value: serde_json::Value = serde_json::from_str(&certs.secret_value()).unwrap();
        for key in [
            keys::AUTHORITY,
            keys::INTERNODE_CERT,
            keys::INTERNODE_KEY,
            keys::FRONTEND_CERT,
            keys::FRONTEND_KEY,
            keys::CLIENT_CERT,
            keys::CLIENT_KEY,
        ] {
            assert!(value[key].as_str().is_some_and(|v| v.starts_with("-----BEGIN")), "{key}");
        }
        let decoded = aws_smithy_types::base64::decode(value[keys::CLIENT_KEY_BASE64].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), value[keys::CLIENT_KEY].as_str().unwrap());
    }
}

//! The certificates from the user's AWS Private CA (`temporal.tls.private_ca_arn`)
//! instead of an authority of the deployment's own. The keys are made here, as for our
//! own authority; the CA signs certificate requests for them, and the certificates, their
//! chain and the keys go into the same secret with the same keys. Nothing of the CA is
//! created, changed or deleted: it is the user's.
//!
//! AWS Private CA API reference: `IssueCertificate` (asynchronous; `Validity`,
//! `SigningAlgorithm` required; the idempotency token holds five minutes), `GetCertificate`
//! (`RequestInProgressException` until signed; the certificate and the chain of the CAs
//! above it), `GetCertificateAuthorityCertificate` (the CA's certificate and, for a
//! subordinate CA, its chain up to the root), `DescribeCertificateAuthority` (status,
//! usage mode, the signing algorithm it was made with, `NotAfter`).

use aws_sdk_acmpca::types::{
    CertificateAuthority, CertificateAuthorityStatus, CertificateAuthorityUsageMode, SigningAlgorithm, Validity,
    ValidityPeriodType,
};
use temporalctl_engine::ResourceError;

use crate::errors::{ISSUE_DEADLINE, aws, retry_while, still_issuing};
use crate::platform::tls::{self, Certificates, LEAVES, Pair};

#[derive(Clone, Debug)]
pub struct PrivateCa {
    pub pca: aws_sdk_acmpca::Client,
    pub arn: String,
}

/// `arn:<partition>:acm-pca:<region>:…`: its region (the client must call there).
pub fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// A template of AWS's, in the CA's partition (`arn:aws:acm-pca:::template/…`).
fn template_arn(ca_arn: &str, template: &str) -> String {
    let partition = ca_arn.split(':').nth(1).unwrap_or("aws");
    format!("arn:{partition}:acm-pca:::template/{template}")
}

/// What issuing needs from the CA's description: the algorithm it signs with and the
/// end of its own validity. Refused, naming what to do: a CA that is not active, and a
/// short-lived-certificate CA (its certificates last at most seven days, and nothing
/// renews ours by itself).
fn usable(ca: &CertificateAuthority, arn: &str) -> Result<(SigningAlgorithm, Option<time::OffsetDateTime>), String> {
    match ca.status() {
        Some(CertificateAuthorityStatus::Active) => {}
        status => {
            let status = status.map_or("of unknown status", |s| s.as_str());
            return Err(format!(
                "temporal.tls.private_ca_arn: the CA {arn} is {status}; it must be ACTIVE to issue certificates"
            ));
        }
    }
    if ca.usage_mode() == Some(&CertificateAuthorityUsageMode::ShortLivedCertificate) {
        return Err(format!(
            "temporal.tls.private_ca_arn: {arn} is a short-lived certificate CA, whose certificates last at most 7 days; the services' certificates are renewed only by `temporalctl tls rotate`, so name a general-purpose CA"
        ));
    }
    let algorithm = ca
        .certificate_authority_configuration()
        .map(|c| c.signing_algorithm().clone())
        .ok_or_else(|| format!("{arn}: DescribeCertificateAuthority named no signing algorithm"))?;
    let not_after = ca.not_after().and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.secs()).ok());
    Ok((algorithm, not_after))
}

/// A fresh token per request: AWS returns the first request's certificate for a repeated
/// token for five minutes, which would pair a new key with an old certificate.
fn idempotency_token() -> Result<String, ResourceError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ResourceError::fatal(format!("no secure randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl PrivateCa {
    /// The three certificates, signed by the CA, valid until [`tls::certificates_until`]
    /// with the CA's own end as the bound.
    pub async fn issue(&self, project: &str) -> Result<Certificates, ResourceError> {
        let described = self
            .pca
            .describe_certificate_authority()
            .certificate_authority_arn(&self.arn)
            .send()
            .await
            .map_err(aws("DescribeCertificateAuthority"))?;
        let ca = described.certificate_authority().ok_or_else(|| {
            ResourceError::fatal(format!("{}: DescribeCertificateAuthority answered nothing", self.arn))
        })?;
        let (algorithm, ca_until) = usable(ca, &self.arn).map_err(ResourceError::fatal)?;
        let now = time::OffsetDateTime::now_utc();
        let until = tls::certificates_until(now, ca_until.map(|end| end - time::Duration::days(1)))
            .map_err(|e| ResourceError::fatal(format!("{}: {e}", self.arn)))?;
        let own = self
            .pca
            .get_certificate_authority_certificate()
            .certificate_authority_arn(&self.arn)
            .send()
            .await
            .map_err(aws("GetCertificateAuthorityCertificate"))?;
        // Trusted: the CA and every CA above it, so a peer checks a chain to any of them.
        let authority =
            Pair::bundle(&[own.certificate().unwrap_or_default(), own.certificate_chain().unwrap_or_default()]);
        let validity = Validity::builder()
            .r#type(ValidityPeriodType::Absolute)
            .value(until.unix_timestamp())
            .build()
            .map_err(|e| ResourceError::fatal(e.to_string()))?;
        let mut requested = Vec::with_capacity(LEAVES.len());
        for leaf in &LEAVES {
            let (key, csr) = leaf.request(project).map_err(ResourceError::fatal)?;
            let issued = self
                .pca
                .issue_certificate()
                .certificate_authority_arn(&self.arn)
                .csr(aws_smithy_types::Blob::new(csr))
                .signing_algorithm(algorithm.clone())
                .template_arn(template_arn(&self.arn, leaf.private_ca_template))
                .validity(validity.clone())
                .idempotency_token(idempotency_token()?)
                .send()
                .await
                .map_err(aws("IssueCertificate"))?;
            requested.push((issued.certificate_arn().unwrap_or_default().to_string(), key));
        }
        let mut pairs = Vec::with_capacity(LEAVES.len());
        for (certificate_arn, key) in requested {
            let got = retry_while(
                || async {
                    self.pca
                        .get_certificate()
                        .certificate_authority_arn(&self.arn)
                        .certificate_arn(&certificate_arn)
                        .send()
                        .await
                        .map_err(aws("GetCertificate"))
                },
                still_issuing,
                ISSUE_DEADLINE,
            )
            .await?;
            pairs.push(Pair::signed(
                got.certificate().unwrap_or_default(),
                got.certificate_chain().unwrap_or_default(),
                key,
            ));
        }
        Certificates::from_pairs(authority, pairs, until).map_err(ResourceError::fatal)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_acmpca::types::{CertificateAuthorityConfiguration, KeyAlgorithm};

    use super::*;

    const ARN: &str = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0f3c";

    fn ca(status: CertificateAuthorityStatus, mode: CertificateAuthorityUsageMode) -> CertificateAuthority {
        let config = CertificateAuthorityConfiguration::builder()
            .key_algorithm(KeyAlgorithm::EcSecp384r1)
            .signing_algorithm(SigningAlgorithm::Sha384Withecdsa)
            .build()
            .unwrap();
        CertificateAuthority::builder()
            .arn(ARN)
            .status(status)
            .usage_mode(mode)
            .certificate_authority_configuration(config)
            .not_after(aws_smithy_types::DateTime::from_secs(2_000_000_000))
            .build()
    }

    /// Signed with the algorithm the CA was made with (a request naming another fails),
    /// bounded by the CA's end; an inactive or short-lived CA refused with what to do.
    #[test]
    fn only_an_active_general_purpose_ca_issues_and_its_own_algorithm_signs() {
        use CertificateAuthorityStatus::{Active, Disabled, PendingCertificate};
        use CertificateAuthorityUsageMode::{GeneralPurpose, ShortLivedCertificate};
        let (algorithm, until) = usable(&ca(Active, GeneralPurpose), ARN).unwrap();
        assert_eq!(algorithm, SigningAlgorithm::Sha384Withecdsa);
        assert_eq!(until.unwrap().unix_timestamp(), 2_000_000_000);
        for status in [Disabled, PendingCertificate] {
            let e = usable(&ca(status.clone(), GeneralPurpose), ARN).unwrap_err();
            assert!(e.contains(&format!("is {}; it must be ACTIVE", status.as_str())), "{e}");
        }
        let e = usable(&ca(Active, ShortLivedCertificate), ARN).unwrap_err();
        assert!(e.starts_with("temporal.tls.private_ca_arn:") && e.contains("general-purpose"), "{e}");
    }

    #[test]
    fn templates_and_the_client_live_in_the_cas_partition_and_region() {
        assert_eq!(template_arn(ARN, "EndEntityCertificate/V1"), "arn:aws:acm-pca:::template/EndEntityCertificate/V1");
        let cn = "arn:aws-cn:acm-pca:cn-north-1:123456789012:certificate-authority/1";
        assert_eq!(template_arn(cn, "X/V1"), "arn:aws-cn:acm-pca:::template/X/V1");
        assert_eq!(region_of(ARN), Some("eu-west-1"));
        assert_ne!(idempotency_token().unwrap(), idempotency_token().unwrap());
        assert_eq!(idempotency_token().unwrap().len(), 32, "AWS takes at most 36 characters");
    }
}

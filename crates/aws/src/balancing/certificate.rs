//! The ingress's certificate when deploy.yaml names none: a public ACM certificate
//! temporalctl requests for both host names with DNS validation (`acm-certificate`), and
//! the wait until ACM has issued it (`certificate-validation`), which the HTTPS listener
//! waits on: ELBv2 refuses a certificate still pending (`UnsupportedCertificate`).
//!
//! AWS facts relied on (ACM API reference and user guide, "DNS validation"):
//! - `RequestCertificate` returns the ARN at once; the validation records
//!   (`DomainValidationOptions[].ResourceRecord`) appear some seconds later, so the request
//!   is ready only when every name has its record.
//! - ACM issues once each record resolves in public DNS, usually minutes after; it keeps
//!   trying for 72 hours, then the certificate turns `VALIDATION_TIMED_OUT`.
//! - `IdempotencyToken`: the same token within an hour returns the same certificate
//!   (whatever else the request says), so each request gets a new one; the request's tags
//!   find a certificate a cut-off run requested.
//! - `DeleteCertificate` answers `ResourceInUseException` while a listener still uses it,
//!   for a while after the listener is gone too (deletion is eventually consistent);
//!   that error is retried as a dependency (`errors::IN_USE`).

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, DomainValidation, ValidationMethod};
use temporalctl_engine::{
    Cx, Found, Inputs, Kind, NodeId, Observed, Owned, ResourceError, Status, TAG_NODE, TAG_PROJECT, Tags, attributes,
    replaced_not_updated,
};

use crate::errors::{absent_if_gone, aws, gone_is_ok};
use crate::outputs::Output;
use crate::pages::all_pages;
use crate::tags::sdk_tags;

pub type Acm = aws_sdk_acm::Client;

pub struct RequestedCertificate {
    pub acm: Acm,
    /// Its subject: the UI's host name.
    pub domain: String,
    /// The other names it covers (Grafana's host name).
    pub other_names: Vec<String>,
}

attributes! {
    pub struct RequestedCertificateAttrs / RequestedCertificateField {
        Domain domain: String = "domain", replace;
        /// Every name it covers, the domain included, as ACM lists them.
        Names names: BTreeSet<String> = "names", replace;
    }
}

/// The DNS records that prove control of the names, one per distinct record (a wildcard
/// and its apex share one), as `<name> CNAME <value>` lines.
pub fn validation_records(options: &[DomainValidation]) -> Vec<String> {
    let records: BTreeSet<String> = options
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| format!("{} {} {}", r.name(), r.r#type().as_str(), r.value()))
        .collect();
    records.into_iter().collect()
}

/// A token ACM takes to mean "the same request" for an hour: letters and digits, at most
/// 32, new for each request. A fixed one would hand back, within the hour, a certificate
/// deleted meanwhile (after `down`, or one that failed); a run cut off right after the
/// request finds its certificate again by our tags, which the request itself sets.
fn idempotency_token() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("temporalctl{:x}{:x}", now.as_nanos() & 0xffff_ffff_ffff, std::process::id())
}

/// A certificate by ARN; `None` when ACM does not know it (yet, or any more).
async fn describe(acm: &Acm, arn: &str) -> Result<Option<CertificateDetail>, ResourceError> {
    let out = acm.describe_certificate().certificate_arn(arn).send().await.map_err(aws("DescribeCertificate"));
    Ok(absent_if_gone(out)?.and_then(|o| o.certificate))
}

fn tags_from(tags: &[aws_sdk_acm::types::Tag]) -> Tags {
    tags.iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

impl RequestedCertificate {
    async fn tags(&self, arn: &str) -> Result<Tags, ResourceError> {
        let out = self
            .acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(aws("ListTagsForCertificate"))?;
        Ok(tags_from(out.tags()))
    }

    /// Without a recorded ARN: the certificate for our domain carrying this node's tags.
    async fn by_tags(&self, cx: &Cx<'_>) -> Result<Option<String>, ResourceError> {
        let statuses = [
            CertificateStatus::PendingValidation,
            CertificateStatus::Issued,
            CertificateStatus::Failed,
            CertificateStatus::ValidationTimedOut,
            CertificateStatus::Inactive,
            CertificateStatus::Expired,
        ];
        let summaries = all_pages!(
            self.acm.list_certificates().set_certificate_statuses(Some(statuses.to_vec())),
            certificate_summary_list,
            "ListCertificates"
        );
        for summary in summaries.iter().filter(|s| s.domain_name() == Some(self.domain.as_str())) {
            let arn = summary.certificate_arn().unwrap_or_default();
            let tags = self.tags(arn).await?;
            if tags.get(TAG_PROJECT) == Some(&cx.project.to_string())
                && tags.get(TAG_NODE) == Some(&cx.node.to_string())
            {
                return Ok(Some(arn.to_string()));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Kind for RequestedCertificate {
    type Attrs = RequestedCertificateAttrs;

    fn kind(&self) -> &'static str {
        "acm-certificate"
    }

    fn references(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn desired(&self, _: &Inputs) -> Result<RequestedCertificateAttrs, ResourceError> {
        Ok(RequestedCertificateAttrs {
            domain: self.domain.clone(),
            names: [&self.domain].into_iter().chain(&self.other_names).cloned().collect(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<RequestedCertificateAttrs>>, ResourceError> {
        let mut found = match cx.recorded_id {
            Some(arn) => describe(&self.acm, arn).await?,
            None => None,
        };
        if found.is_none() && !cx.follow_id {
            found = match self.by_tags(cx).await? {
                Some(arn) => describe(&self.acm, &arn).await?,
                None => None,
            };
        }
        let Some(c) = found else { return Ok(None) };
        let arn = c.certificate_arn().unwrap_or_default();
        let options = c.domain_validation_options();
        let records = validation_records(options);
        // Every name needs its record before anyone can create them.
        let status = if c.status() == Some(&CertificateStatus::PendingValidation)
            && options.iter().any(|o| o.resource_record().is_none())
        {
            Status::Pending("PENDING_VALIDATION, validation records not assigned yet".into())
        } else {
            Status::Ready
        };
        Ok(Some(
            Observed::new(arn)
                .output(Output::Arn, arn)
                .output(Output::Records, records.join("\n"))
                .tags(self.tags(arn).await?)
                .status(status)
                .found(RequestedCertificateAttrs {
                    domain: c.domain_name().unwrap_or_default().into(),
                    names: c.subject_alternative_names().iter().cloned().collect(),
                }),
        ))
    }

    async fn create(&self, cx: &Cx<'_>, desired: &RequestedCertificateAttrs) -> Result<Observed, ResourceError> {
        let out = self
            .acm
            .request_certificate()
            .domain_name(&desired.domain)
            .set_subject_alternative_names(Some(desired.names.iter().cloned().collect()))
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(idempotency_token())
            .set_tags(Some(sdk_tags!(aws_sdk_acm::types::Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("RequestCertificate"))?;
        let arn = out.certificate_arn().unwrap_or_default();
        Ok(Observed::new(arn)
            .output(Output::Arn, arn)
            .tags(cx.tags.clone())
            .status(Status::Pending("PENDING_VALIDATION".into())))
    }

    async fn update(
        &self,
        _: &Cx<'_>,
        _: &Owned<Found<RequestedCertificateAttrs>>,
        _: &RequestedCertificateAttrs,
        changed: &[RequestedCertificateField],
    ) -> Result<(), ResourceError> {
        Err(replaced_not_updated("acm-certificate", changed))
    }

    async fn retag(&self, cx: &Cx<'_>, o: &Owned<Observed>) -> Result<(), ResourceError> {
        self.acm
            .add_tags_to_certificate()
            .certificate_arn(&o.id)
            .set_tags(Some(sdk_tags!(aws_sdk_acm::types::Tag, cx.tags)?))
            .send()
            .await
            .map_err(aws("AddTagsToCertificate"))?;
        Ok(())
    }

    async fn delete(&self, _: &Cx<'_>, o: &Owned<Found<RequestedCertificateAttrs>>) -> Result<(), ResourceError> {
        gone_is_ok(self.acm.delete_certificate().certificate_arn(&o.id).send().await.map_err(aws("DeleteCertificate")))
    }
}

/// The wait for ACM to issue the requested certificate. Nothing of its own exists on AWS:
/// its "resource" is the certificate, read by ARN; it is ready when `ISSUED`, shows the
/// records to create while pending, and fails on a status ACM never leaves.
pub struct CertificateValidation {
    pub acm: Acm,
    pub certificate: NodeId,
    /// Who writes the records: `None` means the user, so the wait shows them.
    pub hosted_zone: Option<String>,
    pub deadline: Duration,
}

attributes! {
    pub struct CertificateValidationAttrs / CertificateValidationField {
        Certificate certificate: String = "certificate", replace;
        /// ACM's status: `ISSUED` wanted; one it will not leave (`FAILED`…) shows here in
        /// `plan` and stops `up` with what to do, while `down` goes on.
        Status status: String = "status";
    }
}

const ISSUED: &str = "ISSUED";

impl CertificateValidation {
    /// Where a certificate stands: issued or past hope (both "ready": the status field
    /// tells them apart), or still waiting, with the records to create.
    fn status(&self, c: &CertificateDetail) -> Status {
        if c.status() != Some(&CertificateStatus::PendingValidation) {
            return Status::Ready;
        }
        let records = validation_records(c.domain_validation_options()).join("; ");
        Status::Pending(match &self.hosted_zone {
            Some(zone) => format!("PENDING_VALIDATION, records in {zone}: {records}"),
            None => format!(
                "PENDING_VALIDATION: create these DNS records in your public zone: {records} (if this wait runs out, `up` again goes on with the same certificate)"
            ),
        })
    }

    /// What to do about a certificate ACM will not issue now.
    fn refusal(arn: &str, status: &str, reason: Option<&str>) -> ResourceError {
        ResourceError::fatal(format!(
            "certificate {arn} is {status}{}; ACM will not issue it now: delete it (`aws acm delete-certificate --certificate-arn {arn}`) and run `up` to request a new one",
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ))
    }
}

#[async_trait]
impl Kind for CertificateValidation {
    type Attrs = CertificateValidationAttrs;

    fn kind(&self) -> &'static str {
        "certificate-validation"
    }

    fn references(&self) -> Vec<NodeId> {
        vec![self.certificate.clone()]
    }

    fn desired(&self, inputs: &Inputs) -> Result<CertificateValidationAttrs, ResourceError> {
        Ok(CertificateValidationAttrs {
            certificate: inputs.get(&self.certificate, Output::Arn)?.to_string(),
            status: ISSUED.into(),
        })
    }

    async fn read(&self, cx: &Cx<'_>) -> Result<Option<Found<CertificateValidationAttrs>>, ResourceError> {
        let Some(arn) = cx.recorded_id else { return Ok(None) };
        let Some(c) = describe(&self.acm, arn).await? else { return Ok(None) };
        // Pending is a wait (the node's status says so), not a difference to repair.
        let status = match c.status() {
            Some(CertificateStatus::PendingValidation) => ISSUED,
            other => other.map(|s| s.as_str()).unwrap_or("none"),
        }
        .to_string();
        // A wait (after the create) ends at once on a status ACM will not leave.
        if cx.follow_id && !matches!(c.status(), Some(CertificateStatus::Issued | CertificateStatus::PendingValidation))
        {
            return Err(Self::refusal(arn, &status, c.failure_reason().map(|r| r.as_str())));
        }
        // No tags of its own: it stands with the certificate's node, which carries ours.
        Ok(Some(
            Observed::new(arn)
                .output(Output::Arn, arn)
                .tags(cx.tags.clone())
                .status(self.status(&c))
                .found(CertificateValidationAttrs { certificate: arn.to_string(), status }),
        ))
    }

    /// Nothing to make: the wait that follows is the work.
    async fn create(&self, cx: &Cx<'_>, desired: &CertificateValidationAttrs) -> Result<Observed, ResourceError> {
        Ok(Observed::new(&desired.certificate)
            .output(Output::Arn, &desired.certificate)
            .tags(cx.tags.clone())
            .status(Status::Pending("PENDING_VALIDATION".into())))
    }

    /// Only the status can differ: a certificate ACM will not issue.
    async fn update(
        &self,
        _: &Cx<'_>,
        o: &Owned<Found<CertificateValidationAttrs>>,
        _: &CertificateValidationAttrs,
        _: &[CertificateValidationField],
    ) -> Result<(), ResourceError> {
        Err(Self::refusal(&o.id, &o.attrs.status, None))
    }

    async fn retag(&self, _: &Cx<'_>, _: &Owned<Observed>) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Nothing to delete; the certificate goes with its own node.
    async fn delete(&self, _: &Cx<'_>, _: &Owned<Found<CertificateValidationAttrs>>) -> Result<(), ResourceError> {
        Ok(())
    }

    fn wait_deadline(&self) -> Duration {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_acm::types::{RecordType, ResourceRecord};

    fn option(domain: &str, record: Option<(&str, &str)>) -> DomainValidation {
        let b = DomainValidation::builder().domain_name(domain);
        let b = match record {
            Some((name, value)) => b.resource_record(
                ResourceRecord::builder().name(name).r#type(RecordType::Cname).value(value).build().unwrap(),
            ),
            None => b,
        };
        b.build().unwrap()
    }

    #[test]
    fn the_validation_records_are_listed_once_each() {
        let options = [
            option("example.com", Some(("_a.example.com.", "_b.acm-validations.aws."))),
            option("*.example.com", Some(("_a.example.com.", "_b.acm-validations.aws."))),
            option("grafana.example.org", Some(("_c.grafana.example.org.", "_d.acm-validations.aws."))),
            option("late.example.org", None),
        ];
        assert_eq!(
            validation_records(&options),
            ["_a.example.com. CNAME _b.acm-validations.aws.", "_c.grafana.example.org. CNAME _d.acm-validations.aws."]
        );
    }

    #[test]
    fn the_idempotency_token_is_short_and_alphanumeric() {
        let token = idempotency_token();
        assert!(token.len() <= 32 && token.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
    }
}

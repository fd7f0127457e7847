//! What a resource hands its dependents (and the state file records), by name: one enum,
//! so a misspelt key does not compile.

/// An output key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The AWS identifier (`vpc-…`, an ARN, a name); every resource has it.
    Id,
    Arn,
    Name,
    /// An ECR repository's URI.
    Uri,
    /// A data store's endpoint.
    Endpoint,
    PrometheusEndpoint,
    Zone,
    Cidr,
    /// A launch template's newest version.
    Version,
    /// A task definition's revision.
    Revision,
    PublicIp,
    DesiredCount,
    /// The account that owns a resource (a VPC's `OwnerId`).
    Account,
    /// When a resource was made (RFC 3339): a secret's `CreatedDate`.
    Created,
    /// Until when what a secret holds is valid (YYYY-MM-DD): the TLS certificates'.
    ValidUntil,
    /// DNS records to create, one `<name> <type> <value>` per line: a requested
    /// certificate's validation records.
    Records,
    /// A load balancer's own Route 53 zone (`CanonicalHostedZoneId`), for alias records.
    HostedZone,
}

impl AsRef<str> for Output {
    fn as_ref(&self) -> &str {
        match self {
            Output::Id => "id",
            Output::Arn => "arn",
            Output::Name => "name",
            Output::Uri => "uri",
            Output::Endpoint => "endpoint",
            Output::PrometheusEndpoint => "prometheus-endpoint",
            Output::Zone => "zone",
            Output::Cidr => "cidr",
            Output::Version => "version",
            Output::Revision => "revision",
            Output::PublicIp => "public-ip",
            Output::DesiredCount => "desired-count",
            Output::Account => "account",
            Output::Created => "created",
            Output::ValidUntil => "valid-until",
            Output::Records => "records",
            Output::HostedZone => "hosted-zone",
        }
    }
}

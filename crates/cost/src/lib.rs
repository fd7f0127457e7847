//! A monthly cost estimate of a `deploy.yaml`, line by line, from the price table shipped
//! in `prices.yaml`. Pure: no AWS call, so `cost` works offline and `plan` can price both
//! sides of a change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use temporalctl_config::Deploy;

/// Hours in an average month (365 × 24 / 12), AWS's own convention.
pub const HOURS_PER_MONTH: f64 = 730.0;

const SHIPPED: &str = include_str!("../prices.yaml");

#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    /// When the prices were last checked against AWS's pages.
    pub priced_on: String,
    pub assumptions: Assumptions,
    pub regions: BTreeMap<String, RegionPrices>,
}

/// Monthly usage deploy.yaml cannot tell.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Assumptions {
    pub nat_data_gb: f64,
    pub logs_ingested_gb: f64,
    pub logs_stored_gb: f64,
    pub prometheus_samples_millions: f64,
    pub prometheus_stored_gb: f64,
    pub dsql_dpu_millions: f64,
    pub dsql_stored_gb: f64,
    pub ecr_stored_gb: f64,
    /// The frontend balancer's average capacity units.
    #[serde(default)]
    pub nlb_lcus: f64,
    /// The ingress balancer's average capacity units.
    #[serde(default)]
    pub alb_lcus: f64,
}

/// One region's prices in USD. A missing price leaves its line unpriced, never zero.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RegionPrices {
    pub ec2_hourly: BTreeMap<String, f64>,
    pub ebs_gp3_gb_month: Option<f64>,
    pub nat_gateway_hourly: Option<f64>,
    pub nat_gateway_gb: Option<f64>,
    pub public_ipv4_hourly: Option<f64>,
    /// A Network Load Balancer, and one of its capacity units (NLCU), per hour.
    pub nlb_hourly: Option<f64>,
    pub nlb_lcu_hourly: Option<f64>,
    /// An Application Load Balancer, and one of its capacity units (LCU), per hour.
    pub alb_hourly: Option<f64>,
    pub alb_lcu_hourly: Option<f64>,
    /// Per endpoint and availability zone.
    pub interface_endpoint_hourly: Option<f64>,
    pub opensearch_hourly: BTreeMap<String, f64>,
    pub opensearch_gp3_gb_month: Option<f64>,
    pub dsql_dpu_million: Option<f64>,
    pub dsql_storage_gb_month: Option<f64>,
    pub prometheus_samples_10m: Option<f64>,
    pub prometheus_storage_gb_month: Option<f64>,
    pub logs_ingest_gb: Option<f64>,
    pub logs_storage_gb_month: Option<f64>,
    pub secret_month: Option<f64>,
    pub ecr_gb_month: Option<f64>,
}

impl PriceTable {
    /// The table compiled into the binary.
    pub fn shipped() -> Self {
        // A broken shipped table is a build defect, caught by the unit tests.
        serde_saphyr::from_str(SHIPPED).expect("prices.yaml parses")
    }
}

/// One line of the estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    /// What is priced (`node group a`, `NAT gateway`…).
    pub item: String,
    /// How the line is made up, e.g. `1 × m7g.large × 730 h`.
    pub basis: String,
    /// USD per month; `None` when the table has no price for it.
    pub monthly_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub region: String,
    pub priced_on: String,
    pub hours_per_month: f64,
    pub items: Vec<LineItem>,
    /// Sum of the priced lines.
    pub total_usd: f64,
    /// The total with every node group at its `max_size`: what scaling out can reach.
    pub ceiling_usd: f64,
    /// Lines the table has no price for; the totals leave them out.
    pub unpriced: Vec<String>,
    pub assumptions: Assumptions,
}

/// Price `d` for `hours` a month (730 for always on).
pub fn estimate(d: &Deploy, table: &PriceTable, hours: f64) -> Estimate {
    let empty = RegionPrices::default();
    let p = table.regions.get(&d.region).unwrap_or(&empty);
    let a = &table.assumptions;
    let mut items = Vec::new();
    let mut line = |item: String, basis: String, price: Option<f64>, quantity: f64| {
        items.push(LineItem { item, basis, monthly_usd: price.map(|p| round(p * quantity)) });
    };

    let mut ceiling_extra = 0.0;
    for (name, g) in d.node_groups.iter() {
        let hourly = p.ec2_hourly.get(&g.instance_type).copied();
        let n = f64::from(g.desired_capacity);
        line(
            format!("node group {name} ({})", g.workload),
            format!("{} × {} × {hours} h", g.desired_capacity, g.instance_type),
            hourly,
            n * hours,
        );
        line(
            format!("node group {name} root volumes"),
            format!("{} × {} GB gp3", g.desired_capacity, g.root_volume_gb),
            p.ebs_gp3_gb_month,
            n * f64::from(g.root_volume_gb) * hours / HOURS_PER_MONTH,
        );
        let more = f64::from(g.max_size.saturating_sub(g.desired_capacity));
        let per_instance =
            hourly.unwrap_or(0.0) * hours + p.ebs_gp3_gb_month.unwrap_or(0.0) * f64::from(g.root_volume_gb);
        ceiling_extra += more * per_instance;
    }

    // In the user's network (`network.existing`) the NAT gateway and its address are
    // theirs and billed already; what our traffic through it processes is still ours.
    let own_network = d.network.existing.is_none();
    if own_network {
        line("NAT gateway".into(), format!("1 × {hours} h"), p.nat_gateway_hourly, hours);
    }
    line(
        if own_network { "NAT gateway data" } else { "your NAT gateway's data" }.into(),
        format!("{} GB processed (assumed)", a.nat_data_gb),
        p.nat_gateway_gb,
        a.nat_data_gb,
    );
    if own_network {
        line("NAT public IPv4 address".into(), format!("1 × {hours} h"), p.public_ipv4_hourly, hours);
    }
    // (item, kind, its capacity unit, hourly, per unit-hour, units): each balancer the
    // deployment has, priced by the hour and by its assumed capacity units.
    let frontend = d.frontend.endpoint == temporalctl_config::FrontendEndpoint::LoadBalancer;
    let balancers = [
        (frontend, "frontend", "NLB", "NLCU", p.nlb_hourly, p.nlb_lcu_hourly, a.nlb_lcus),
        (d.ingress.is_some(), "ingress", "ALB", "LCU", p.alb_hourly, p.alb_lcu_hourly, a.alb_lcus),
    ];
    for (_, name, kind, unit, hourly, per_unit, units) in balancers.into_iter().filter(|b| b.0) {
        line(format!("{name} load balancer"), format!("1 {kind} × {hours} h"), hourly, hours);
        line(
            format!("{name} load balancer capacity"),
            format!("{units} {unit} × {hours} h (assumed)"),
            per_unit,
            units * hours,
        );
    }
    // What the ingress adds beside its balancer costs nothing, and is listed so that it is
    // seen: public ACM certificates are free (AWS Certificate Manager pricing), and queries
    // of alias records to a load balancer are free (Amazon Route 53 pricing); the zone is
    // the user's and billed to them whatever we write in it.
    if let Some(i) = &d.ingress {
        if i.certificate_arn.is_none() {
            line("ingress certificate".into(), "1 public ACM certificate (free)".into(), Some(0.0), 1.0);
        }
        if i.hosted_zone_id.is_some() {
            line("ingress DNS records".into(), "2 alias records to the balancer (queries free)".into(), Some(0.0), 1.0);
        }
    }
    let endpoints = d.network.interface_endpoints.len();
    let zones = match &d.network.existing {
        Some(existing) => existing.private_subnet_ids.len(),
        None => d.network.availability_zones.len().max(2),
    };
    line(
        "interface VPC endpoints".into(),
        format!("{endpoints} endpoints × {zones} AZs × {hours} h"),
        p.interface_endpoint_hourly,
        (endpoints * zones) as f64 * hours,
    );

    let os = &d.opensearch;
    line(
        "OpenSearch instances".into(),
        format!("{} × {} × {hours} h", os.instance_count, os.instance_type),
        p.opensearch_hourly.get(&os.instance_type).copied(),
        f64::from(os.instance_count) * hours,
    );
    if let Some(m) = &os.dedicated_master {
        line(
            "OpenSearch dedicated masters".into(),
            format!("{} × {} × {hours} h", m.count, m.instance_type),
            p.opensearch_hourly.get(&m.instance_type).copied(),
            f64::from(m.count) * hours,
        );
    }
    line(
        "OpenSearch storage".into(),
        format!("{} × {} GB gp3", os.instance_count, os.volume_size_gb),
        p.opensearch_gp3_gb_month,
        f64::from(os.instance_count * os.volume_size_gb),
    );
    // Above gp3's included 3,000 IOPS and 125 MiB/s AWS charges extra, at a price this
    // table does not hold: shown unpriced rather than left out.
    let (iops, mibps) = (os.iops.unwrap_or(3000), os.throughput_mibps.unwrap_or(125));
    if iops > 3000 || mibps > 125 {
        line(
            "OpenSearch gp3 IOPS/throughput above baseline".into(),
            format!(
                "{} × ({} IOPS, {} MiB/s over 3000, 125)",
                os.instance_count,
                iops.saturating_sub(3000),
                mibps.saturating_sub(125)
            ),
            None,
            f64::from(os.instance_count),
        );
    }

    line(
        "Aurora DSQL compute".into(),
        format!("{}M DPUs (assumed)", a.dsql_dpu_millions),
        p.dsql_dpu_million,
        a.dsql_dpu_millions,
    );
    line(
        "Aurora DSQL storage".into(),
        format!("{} GB (assumed)", a.dsql_stored_gb),
        p.dsql_storage_gb_month,
        a.dsql_stored_gb,
    );
    line(
        "Managed Prometheus ingestion".into(),
        format!("{}M samples (assumed)", a.prometheus_samples_millions),
        p.prometheus_samples_10m,
        a.prometheus_samples_millions / 10.0,
    );
    line(
        "Managed Prometheus storage".into(),
        format!("{} GB (assumed)", a.prometheus_stored_gb),
        p.prometheus_storage_gb_month,
        a.prometheus_stored_gb,
    );
    line(
        "CloudWatch Logs ingestion".into(),
        format!("{} GB (assumed)", a.logs_ingested_gb),
        p.logs_ingest_gb,
        a.logs_ingested_gb,
    );
    line(
        "CloudWatch Logs storage".into(),
        format!("{} GB kept {} days (assumed)", a.logs_stored_gb, d.logs.retention_days),
        p.logs_storage_gb_month,
        a.logs_stored_gb,
    );
    let tls = &d.temporal.tls;
    let secrets: &[&str] = match (tls.enabled, &tls.private_ca_arn) {
        (false, _) => &["Grafana admin"],
        (true, None) => &["Grafana admin", "TLS authority", "TLS certificates"],
        // The CA's own price, and its per-certificate charge at each issue, are not monthly
        // costs of this stack (docs/runbook.md, "Certificates from your AWS Private CA").
        (true, Some(_)) => &["Grafana admin", "TLS certificates from your private CA"],
    };
    line(
        "Secrets Manager".into(),
        format!("{} secret(s) ({})", secrets.len(), secrets.join(", ")),
        p.secret_month,
        secrets.len() as f64,
    );
    line("ECR storage".into(), format!("{} GB of images (assumed)", a.ecr_stored_gb), p.ecr_gb_month, a.ecr_stored_gb);

    let total_usd = round(items.iter().filter_map(|i| i.monthly_usd).sum());
    let unpriced = items.iter().filter(|i| i.monthly_usd.is_none()).map(|i| i.item.clone()).collect();
    Estimate {
        region: d.region.clone(),
        priced_on: table.priced_on.clone(),
        hours_per_month: hours,
        total_usd,
        ceiling_usd: round(total_usd + ceiling_extra),
        items,
        unpriced,
        assumptions: a.clone(),
    }
}

/// A line whose monthly cost differs between two estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub item: String,
    pub before_usd: Option<f64>,
    pub after_usd: Option<f64>,
}

/// What changes from `before` to `after`, line by line, and the change of the total.
pub fn delta(before: &Estimate, after: &Estimate) -> (Vec<Delta>, f64) {
    let old: BTreeMap<&str, Option<f64>> = before.items.iter().map(|i| (i.item.as_str(), i.monthly_usd)).collect();
    let new: BTreeMap<&str, Option<f64>> = after.items.iter().map(|i| (i.item.as_str(), i.monthly_usd)).collect();
    let mut names: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    names.sort();
    names.dedup();
    let lines = names
        .into_iter()
        .filter_map(|n| {
            let (b, a) = (old.get(n).copied().flatten(), new.get(n).copied().flatten());
            (b != a).then(|| Delta { item: n.to_string(), before_usd: b, after_usd: a })
        })
        .collect();
    (lines, round(after.total_usd - before.total_usd))
}

fn round(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// `cost`'s text rendering.
pub fn render(e: &Estimate) -> String {
    let w = e.items.iter().map(|i| i.item.len()).max().unwrap_or(0);
    let mut out = format!(
        "Monthly estimate for {} ({} h/month, on-demand list prices of {}):\n",
        e.region, e.hours_per_month, e.priced_on
    );
    for i in &e.items {
        let usd = i.monthly_usd.map_or("unpriced".to_string(), |u| format!("${u:.2}"));
        out.push_str(&format!("  {:<w$}  {usd:>10}  {}\n", i.item, i.basis));
    }
    out.push_str(&format!("  {:<w$}  {:>10}\n", "total", format!("${:.2}", e.total_usd)));
    out.push_str(&format!(
        "Every node group at max_size: ${:.2}. Lines marked (assumed) are usage guesses; see docs/cost.md.\n",
        e.ceiling_usd
    ));
    if !e.unpriced.is_empty() {
        out.push_str(&format!(
            "Not in the price table for {} (left out of the total): {}.\n",
            e.region,
            e.unpriced.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(extra: &str) -> Deploy {
        temporalctl_config::parse(&format!("version: 1\nproject: demo\nregion: us-east-1\ntemporal:\n  authorization: {{ allow_no_auth: true }}\n{extra}"), "t").unwrap()
    }

    #[test]
    fn the_shipped_table_parses_and_prices_every_default_line_in_us_east_1() {
        let t = PriceTable::shipped();
        assert!(t.regions.contains_key("us-east-2"), "the alias is expanded");
        let e = estimate(&deploy(""), &t, HOURS_PER_MONTH);
        assert!(e.unpriced.is_empty(), "{:?}", e.unpriced);
        insta::assert_snapshot!("default-us-east-1", render(&e));
    }

    #[test]
    fn lines_follow_the_config() {
        let t = PriceTable::shipped();
        let base = estimate(&deploy(""), &t, HOURS_PER_MONTH);
        let two = estimate(&deploy("node_groups:\n  a:\n    workload: history\n    desired_capacity: 2\n"), &t, 730.0);
        let a = |e: &Estimate| e.items.iter().find(|i| i.item.starts_with("node group a (")).unwrap().monthly_usd;
        assert_eq!(a(&base), Some(59.57), "0.0816 × 730");
        assert_eq!(a(&two), Some(119.14));
        let (lines, total) = delta(&base, &two);
        let changed: Vec<&str> = lines.iter().map(|l| l.item.as_str()).collect();
        assert_eq!(changed, ["node group a (history)", "node group a root volumes"]);
        assert!((total - (59.57 + 2.4)).abs() < 0.011, "{total}");
        assert!(base.ceiling_usd > base.total_usd, "max_size 2 leaves room to scale out");
    }

    /// The production example's visibility domain is priced line by line: data nodes
    /// and their storage, and dedicated masters or IOPS above gp3's baseline when asked for
    /// (the latter unpriced: the table holds no price for them).
    #[test]
    fn the_production_examples_domain_is_priced_with_masters_and_extra_iops_when_asked_for() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples/production.yaml");
        let prod = temporalctl_config::load(std::path::Path::new(path)).expect("the production example is valid");
        let t = PriceTable::shipped();
        let e = estimate(&prod, &t, HOURS_PER_MONTH);
        let priced = |e: &Estimate, item: &str| {
            e.items.iter().find(|i| i.item == item).map(|i| (i.basis.clone(), i.monthly_usd))
        };
        assert_eq!(
            priced(&e, "OpenSearch instances"),
            Some(("3 × m6g.large.search × 730 h".into(), Some(308.79))),
            "0.141 × 3 × 730"
        );
        assert_eq!(priced(&e, "OpenSearch storage"), Some(("3 × 100 GB gp3".into(), Some(40.5))), "0.135 × 300");
        assert_eq!(priced(&e, "OpenSearch dedicated masters"), None);

        let mut bigger = prod.clone();
        bigger.opensearch.dedicated_master =
            Some(temporalctl_config::DedicatedMaster { instance_type: "m6g.large.search".into(), count: 3 });
        bigger.opensearch.iops = Some(6000);
        let e = estimate(&bigger, &t, HOURS_PER_MONTH);
        assert_eq!(priced(&e, "OpenSearch dedicated masters").and_then(|(_, usd)| usd), Some(308.79));
        assert_eq!(
            e.unpriced,
            ["OpenSearch gp3 IOPS/throughput above baseline", "Aurora DSQL compute", "Aurora DSQL storage"]
        );
    }

    #[test]
    fn a_price_the_table_lacks_is_unpriced_not_free() {
        let t = PriceTable::shipped();
        let e =
            estimate(&deploy("node_groups:\n  c:\n    workload: worker\n    instance_type: m8g.large\n"), &t, 730.0);
        assert_eq!(e.unpriced, ["node group c (worker)"]);
        let eu = deploy("").clone();
        let eu = Deploy { region: "eu-west-1".into(), ..eu };
        let e = estimate(&eu, &t, 730.0);
        assert_eq!(e.unpriced, ["Aurora DSQL compute", "Aurora DSQL storage"]);
        assert!(render(&e).contains("left out of the total): Aurora DSQL compute, Aurora DSQL storage"));
        let nowhere = Deploy { region: "xx-nowhere-1".into(), ..deploy("") };
        let e = estimate(&nowhere, &t, 730.0);
        assert_eq!((e.total_usd, e.unpriced.len()), (0.0, e.items.len()));
    }

    #[test]
    fn each_balancer_is_priced_while_there_is_one_and_the_users_nat_gateway_is_not() {
        let t = PriceTable::shipped();
        let with = estimate(&deploy(""), &t, 730.0);
        let price = |e: &Estimate, item: &str| e.items.iter().find(|i| i.item == item).and_then(|i| i.monthly_usd);
        assert_eq!(price(&with, "frontend load balancer"), Some(16.43), "0.0225 × 730");
        assert_eq!(price(&with, "frontend load balancer capacity"), Some(4.38), "1 NLCU × 0.006 × 730");
        let without = estimate(&deploy("frontend: { endpoint: none }\n"), &t, 730.0);
        assert_eq!(price(&without, "frontend load balancer"), None);
        assert_eq!(price(&with, "ingress load balancer"), None, "no ingress unless asked");
        let ingress = "ingress: { ui_host: a.example.com, grafana_host: b.example.com, certificate_arn: 'arn:aws:acm:us-east-1:123456789012:certificate/c' }\n";
        let people = estimate(&deploy(ingress), &t, 730.0);
        assert_eq!(price(&people, "ingress load balancer"), Some(16.43), "0.0225 × 730");
        assert_eq!(price(&people, "ingress load balancer capacity"), Some(5.84), "1 LCU × 0.008 × 730");
        assert_eq!(price(&people, "ingress certificate"), None, "the user's certificate is not ours to list");
        let ours = "ingress: { ui_host: a.example.com, grafana_host: b.example.com, hosted_zone_id: Z1 }\n";
        let ours = estimate(&deploy(ours), &t, 730.0);
        assert_eq!(price(&ours, "ingress certificate"), Some(0.0));
        assert_eq!(price(&ours, "ingress DNS records"), Some(0.0));
        // In the user's network their NAT gateway and its address are billed to them already.
        let theirs = "network: { existing: { vpc_id: vpc-0123456789abcdef0, private_subnet_ids: [subnet-0123456789abcdef0, subnet-0123456789abcdef1] } }\n";
        let theirs = estimate(&deploy(theirs), &t, 730.0);
        assert_eq!(price(&theirs, "NAT gateway"), None);
        assert!(price(&theirs, "your NAT gateway's data").is_some());
        assert!((with.total_usd - without.total_usd - 20.81).abs() < 0.011, "{}", with.total_usd - without.total_usd);
    }

    #[test]
    fn fewer_hours_scale_the_hourly_lines_only() {
        let t = PriceTable::shipped();
        let dev = estimate(&deploy(""), &t, 176.0);
        let nat = dev.items.iter().find(|i| i.item == "NAT gateway").unwrap();
        assert_eq!(nat.monthly_usd, Some(7.92), "0.045 × 176");
        let secret = dev.items.iter().find(|i| i.item == "Secrets Manager").unwrap();
        assert_eq!(secret.monthly_usd, Some(1.2), "3 × 0.40, whatever the hours");
    }

    /// Grafana's secret always; with TLS our authority's and the certificates', with a
    /// private CA the certificates' alone.
    #[test]
    fn the_secrets_counted_are_the_ones_the_tls_choice_makes() {
        let t = PriceTable::shipped();
        let secrets = |extra: &str| {
            let e = estimate(&deploy(extra), &t, 730.0);
            let line = e.items.into_iter().find(|i| i.item == "Secrets Manager").unwrap();
            (line.basis, line.monthly_usd)
        };
        assert_eq!(secrets("").1, Some(1.2));
        let ca = "  tls: { private_ca_arn: \"arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/1\" }\n";
        assert_eq!(
            secrets(ca),
            ("2 secret(s) (Grafana admin, TLS certificates from your private CA)".into(), Some(0.8))
        );
        let off = "  tls: { enabled: false }\n";
        assert_eq!(secrets(off), ("1 secret(s) (Grafana admin)".into(), Some(0.4)));
    }
}

//! The network slice of seed 002: VPC, subnets, internet and NAT gateways, route tables,
//! the endpoints' security group and the VPC endpoints.

pub mod ec2;
pub mod elastic_ip;
pub mod existing;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

//! Which addresses a webhook may be delivered to.
//!
//! A tenant chooses its webhook URLs, so without a guard faxrelay would POST wherever a
//! tenant points it: the cloud metadata service, the database port, the admin interface of
//! a router. Only public unicast addresses are allowed, unless the operator allows more.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The operator's rule for webhook target addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Allow every address (self-hosting, tests).
    pub allow_private: bool,
    /// Non-public ranges allowed nevertheless.
    pub allowed: Vec<IpNet>,
}

impl TargetPolicy {
    /// Whether a delivery may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let named = self.allowed.iter().any(|net| net.contains(&ip));
        if CLOUD_METADATA.contains(&ip) {
            // It hands out the host's cloud credentials: `allow_private` is meant for
            // local receivers, so only a range the operator names reaches it.
            return named;
        }
        self.allow_private || is_public(ip) || named
    }

    /// Reads `10.0.0.0/8,192.168.1.5` (single addresses are /32 or /128).
    pub fn parse_allowed(text: &str) -> Result<Vec<IpNet>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{part}` is not an address or CIDR range"))
            })
            .collect()
    }
}

/// The instance metadata services of the large clouds (AWS, GCP and Azure share the first;
/// AWS ECS, Alibaba Cloud, AWS over IPv6).
const CLOUD_METADATA: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
];

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, including the metadata service
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18/15
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || first == 0x0064) // NAT64 and other translation prefixes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permitted(text: &str) -> bool {
        TargetPolicy::default().permits(text.parse().expect("an address"))
    }

    #[test]
    fn private_and_special_addresses_are_refused_by_default() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!permitted(address), "{address} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(permitted(address), "{address} must be allowed");
        }
    }

    #[test]
    fn the_operator_can_allow_ranges_or_everything() {
        let allowed = TargetPolicy::parse_allowed("10.0.0.0/8, 127.0.0.1").expect("ranges");
        let policy = TargetPolicy {
            allowed,
            ..TargetPolicy::default()
        };
        assert!(policy.permits("10.9.9.9".parse().expect("ip")));
        assert!(policy.permits("127.0.0.1".parse().expect("ip")));
        assert!(!policy.permits("127.0.0.2".parse().expect("ip")));
        assert!(
            TargetPolicy {
                allow_private: true,
                ..TargetPolicy::default()
            }
            .permits("127.0.0.2".parse().expect("ip"))
        );
        assert!(TargetPolicy::parse_allowed("10.0.0.0/33").is_err());
    }

    #[test]
    fn metadata_services_need_to_be_named_even_when_private_targets_are_allowed() {
        let everything = TargetPolicy {
            allow_private: true,
            ..TargetPolicy::default()
        };
        for address in ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"] {
            assert!(
                !everything.permits(address.parse().expect("ip")),
                "{address}"
            );
        }
        assert!(everything.permits("169.254.1.1".parse().expect("ip")));
        let named = TargetPolicy {
            allowed: TargetPolicy::parse_allowed("169.254.169.254").expect("range"),
            ..TargetPolicy::default()
        };
        assert!(named.permits("169.254.169.254".parse().expect("ip")));
    }
}

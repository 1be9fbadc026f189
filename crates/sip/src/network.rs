//! IP networks in CIDR notation (`198.51.100.0/24`, `2001:db8::/32`, or a bare address meaning
//! one host), for the source networks a trunk's calls may come from.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network. The address is stored with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    address: IpAddr,
    prefix_length: u8,
}

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("not an IP address: {0:?}")]
    Address(String),
    #[error("prefix length {length} is more than {max}")]
    PrefixLength { length: String, max: u8 },
}

impl IpNetwork {
    /// The network of `address`/`prefix_length`; host bits of `address` are cleared.
    pub fn new(address: IpAddr, prefix_length: u8) -> Result<Self, NetworkError> {
        let max = max_prefix(address);
        if prefix_length > max {
            return Err(NetworkError::PrefixLength {
                length: prefix_length.to_string(),
                max,
            });
        }
        Ok(Self {
            address: mask(address, prefix_length),
            prefix_length,
        })
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub fn prefix_length(&self) -> u8 {
        self.prefix_length
    }

    /// Whether `address` is in this network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports IPv4 peers) matches the IPv4 network it maps.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let same_family = matches!(
            (self.address, address),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && mask(address, self.prefix_length) == self.address
    }
}

impl FromStr for IpNetwork {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (address_text, prefix_text) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address_text
            .parse()
            .map_err(|_| NetworkError::Address(address_text.to_string()))?;
        let max = max_prefix(address);
        let prefix_length = match prefix_text {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|length| *length <= max)
                .ok_or_else(|| NetworkError::PrefixLength {
                    length: prefix.to_string(),
                    max,
                })?,
        };
        Self::new(address, prefix_length)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_length)
    }
}

fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask(address: IpAddr, prefix_length: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX
                .checked_shl(32 - u32::from(prefix_length.min(32)))
                .unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX
                .checked_shl(128 - u32::from(prefix_length.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(text: &str) -> IpNetwork {
        text.parse().expect("valid network")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    #[test]
    fn ipv4_networks_contain_their_hosts_only() {
        let carrier = network("198.51.100.0/24");
        assert!(carrier.contains(ip("198.51.100.1")));
        assert!(carrier.contains(ip("198.51.100.255")));
        assert!(!carrier.contains(ip("198.51.101.1")));
        assert!(!carrier.contains(ip("2001:db8::1")));
        assert!(carrier.contains(ip("::ffff:198.51.100.7")));
        assert_eq!(network("198.51.100.77/24"), carrier);
        assert_eq!(carrier.to_string(), "198.51.100.0/24");
    }

    #[test]
    fn bare_addresses_and_edges() {
        let host = network("192.0.2.10");
        assert_eq!(host.prefix_length(), 32);
        assert!(host.contains(ip("192.0.2.10")));
        assert!(!host.contains(ip("192.0.2.11")));
        let everything = network("0.0.0.0/0");
        assert!(everything.contains(ip("203.0.113.9")));
        let v6 = network("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(network("::/0").contains(ip("::1")));
    }

    #[test]
    fn bad_networks_are_errors() {
        assert!(matches!(
            "198.51.100.0/33".parse::<IpNetwork>(),
            Err(NetworkError::PrefixLength { .. })
        ));
        assert!(matches!(
            "carrier.example/24".parse::<IpNetwork>(),
            Err(NetworkError::Address(_))
        ));
        assert!("10.0.0.0/".parse::<IpNetwork>().is_err());
        assert!("10.0.0.0/-1".parse::<IpNetwork>().is_err());
        assert!("2001:db8::/129".parse::<IpNetwork>().is_err());
        assert!(IpNetwork::new(ip("10.0.0.1"), 40).is_err());
    }
}

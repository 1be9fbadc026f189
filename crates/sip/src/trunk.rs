//! SIP trunks: a carrier ivory sends calls to (and may register with), and the source-address
//! policy for calls coming in.
//!
//! Pure parts, tested without sockets: [`TrunkConfig`]'s URIs, [`inbound_source_policy`], and the
//! registration schedule ([`refresh_delay`], [`retry_delay`]). The registration loop itself is in
//! `trunk_registration.rs`.
//!
//! Inbound policy: when no trunk lists `allow` networks, every source may call in (a lab, or a
//! server reached only through a trusted network). As soon as one trunk lists networks, an INVITE
//! is accepted only from an address inside some trunk's networks or from the address of a
//! current registration of a configured user; anything else gets `403`. The REGISTER path is not
//! affected (it has its own digest authentication).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::endpoint::TransportKind;
use crate::network::IpNetwork;

/// One carrier trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkConfig {
    /// The name routes and logs use.
    pub name: String,
    /// Host name or IP address of the carrier's SIP server.
    pub host: String,
    pub port: u16,
    pub transport: TransportKind,
    /// Digest username and password, answering the carrier's 401/407 challenges (and used for
    /// REGISTER). `None` for a trunk authenticated by source address.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Keep a registration with the carrier alive.
    pub register: bool,
    /// The expiry asked for in REGISTER (the carrier may grant less).
    pub register_expires_seconds: u32,
    /// Default caller id (From user) for calls out through this trunk.
    pub from_user: Option<String>,
    /// Host of the From URI; default: the trunk's host.
    pub from_domain: Option<String>,
    /// Networks inbound calls from this carrier come from.
    pub allow: Vec<IpNetwork>,
}

impl TrunkConfig {
    /// A trunk on UDP port 5060 with no credentials, registration or networks.
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            port: 5060,
            transport: TransportKind::Udp,
            username: None,
            password: None,
            register: false,
            register_expires_seconds: 3600,
            from_user: None,
            from_domain: None,
            allow: Vec::new(),
        }
    }

    /// `sip:host:port[;transport=tcp]`: the registrar URI.
    pub fn server_uri(&self) -> String {
        format!(
            "sip:{}{}",
            self.host_port(),
            transport_parameter(self.transport)
        )
    }

    /// `sip:user@host:port[;transport=tcp]`: the Request-URI of a call to `user` through the trunk.
    pub fn request_uri(&self, user: &str) -> String {
        format!(
            "sip:{user}@{}{}",
            self.host_port(),
            transport_parameter(self.transport)
        )
    }

    /// The From host: `from_domain`, else the trunk's host.
    pub fn from_host(&self) -> &str {
        self.from_domain.as_deref().unwrap_or(&self.host)
    }

    /// (username, password) when the trunk has a username.
    pub fn credentials(&self) -> Option<(String, String)> {
        self.username
            .clone()
            .map(|username| (username, self.password.clone().unwrap_or_default()))
    }

    fn host_port(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port)
    }
}

fn transport_parameter(transport: TransportKind) -> &'static str {
    match transport {
        TransportKind::Udp => "",
        TransportKind::Tcp => ";transport=tcp",
    }
}

/// A trunk's registration, as [`crate::SipEndpoint::trunk_states`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrunkState {
    /// Not registering (`register = false`), or not tried yet.
    Unregistered,
    Registered {
        expires_at: Instant,
    },
    /// The last attempt failed; the next one is at `retry_at`.
    Failed {
        reason: String,
        retry_at: Instant,
    },
}

/// Whether an INVITE from some source may come in, and as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceVerdict {
    /// No trunk restricts sources.
    Open,
    /// From the networks of this trunk.
    Trunk(String),
    /// From where a configured user registered.
    RegisteredUser,
    /// To be refused with 403.
    Refused,
}

/// The inbound source policy (see the module docs). `from_registered_user` is whether `source`
/// is the address of a current registration.
pub fn inbound_source_policy(
    source: IpAddr,
    trunks: &[TrunkConfig],
    from_registered_user: bool,
) -> SourceVerdict {
    if trunks.iter().all(|trunk| trunk.allow.is_empty()) {
        return SourceVerdict::Open;
    }
    if let Some(trunk) = trunks
        .iter()
        .find(|trunk| trunk.allow.iter().any(|network| network.contains(source)))
    {
        return SourceVerdict::Trunk(trunk.name.clone());
    }
    if from_registered_user {
        return SourceVerdict::RegisteredUser;
    }
    SourceVerdict::Refused
}

/// When to refresh a registration the registrar granted for `granted_seconds`: at 80 % of it,
/// at least one second later.
pub fn refresh_delay(granted_seconds: u32) -> Duration {
    Duration::from_millis((u64::from(granted_seconds) * 800).max(1000))
}

/// When to retry after `consecutive_failures` (1 for the first): 1, 2, 4 … seconds, at most 60.
pub fn retry_delay(consecutive_failures: u32) -> Duration {
    let exponent = consecutive_failures.saturating_sub(1).min(6);
    Duration::from_secs((1u64 << exponent).min(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str, allow: &[&str]) -> TrunkConfig {
        TrunkConfig {
            allow: allow
                .iter()
                .map(|network| network.parse().expect("network"))
                .collect(),
            ..TrunkConfig::new(name, "sip.carrier.example")
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn without_networks_every_source_may_call() {
        assert_eq!(
            inbound_source_policy(ip("203.0.113.5"), &[], false),
            SourceVerdict::Open
        );
        assert_eq!(
            inbound_source_policy(ip("203.0.113.5"), &[trunk("a", &[])], false),
            SourceVerdict::Open
        );
    }

    #[test]
    fn with_networks_only_trunks_and_registered_users_may_call() {
        let trunks = [
            trunk("plain", &[]),
            trunk("carrier", &["198.51.100.0/24"]),
            trunk("backup", &["192.0.2.7"]),
        ];
        assert_eq!(
            inbound_source_policy(ip("198.51.100.20"), &trunks, false),
            SourceVerdict::Trunk("carrier".into())
        );
        assert_eq!(
            inbound_source_policy(ip("192.0.2.7"), &trunks, false),
            SourceVerdict::Trunk("backup".into())
        );
        assert_eq!(
            inbound_source_policy(ip("192.0.2.8"), &trunks, true),
            SourceVerdict::RegisteredUser
        );
        assert_eq!(
            inbound_source_policy(ip("192.0.2.8"), &trunks, false),
            SourceVerdict::Refused
        );
        assert_eq!(
            inbound_source_policy(ip("::ffff:198.51.100.1"), &trunks, false),
            SourceVerdict::Trunk("carrier".into())
        );
    }

    #[test]
    fn uris() {
        let mut carrier = TrunkConfig::new("carrier", "sip.carrier.example");
        assert_eq!(carrier.server_uri(), "sip:sip.carrier.example:5060");
        assert_eq!(
            carrier.request_uri("+46701234567"),
            "sip:+46701234567@sip.carrier.example:5060"
        );
        assert_eq!(carrier.from_host(), "sip.carrier.example");
        assert_eq!(carrier.credentials(), None);
        carrier.transport = TransportKind::Tcp;
        carrier.port = 5080;
        carrier.username = Some("acct".into());
        carrier.from_domain = Some("example.com".into());
        assert_eq!(
            carrier.server_uri(),
            "sip:sip.carrier.example:5080;transport=tcp"
        );
        assert_eq!(carrier.from_host(), "example.com");
        assert_eq!(carrier.credentials(), Some(("acct".into(), String::new())));
        let v6 = TrunkConfig::new("v6", "2001:db8::1");
        assert_eq!(v6.server_uri(), "sip:[2001:db8::1]:5060");
    }

    #[test]
    fn refresh_at_80_percent_and_back_off_to_a_minute() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(2880));
        assert_eq!(refresh_delay(60), Duration::from_secs(48));
        assert_eq!(refresh_delay(0), Duration::from_secs(1));
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(0), Duration::from_secs(1));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(60));
    }
}

//! Outbound routing: from a dial string to what the SIP layer dials. Pure functions, no I/O.
//!
//! A dial string ([`parse_target`]) is one of:
//! - a number (`+46 70-123 45 67`, `1000`, `*98#`): visual separators (space, `-`, `.`, `(`, `)`)
//!   are removed; a leading `+`, then digits, `*` and `#`. It goes out through a trunk chosen by
//!   [`select_trunk`]: the `[[routes]]` entry with the longest `prefix` matching the number wins
//!   (the first one in configuration order on a tie; an empty prefix matches every number); with
//!   no routes at all and exactly one trunk, every number goes through that trunk; otherwise the
//!   number has no route.
//! - `user:NAME`: a softphone registered as NAME; one [`DialPlan`] per current binding (ring them
//!   all, in parallel), each sent to the address the REGISTER came from.
//! - a `sip:` or `sips:` URI: dialled directly, without a trunk or credentials. (`sips:` needs TLS,
//!   which the SIP layer does not have yet: such a call fails when placed.)
//!
//! Caller id ([`caller_id`]): the `senderId` given by the scenario or the launch wins; else, for
//! a call through a trunk, the trunk's `from_user`; else the caller's number (the inbound call's
//! From user, for a forwarded call); else `ivory`. The From host is the trunk's `from_domain`
//! (default: its host) through a trunk, and the SIP layer's own address otherwise.

use std::net::SocketAddr;

use ivory_sip::registrar::Binding;
use ivory_sip::{OutboundRequest, TransportKind, TrunkConfig};

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRoute {
    pub prefix: String,
    pub trunk: String,
}

/// A parsed dial string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A number, separators removed.
    Number(String),
    /// `user:NAME`.
    User(String),
    /// A `sip:`/`sips:` URI, as written.
    Uri(String),
}

/// Why a dial string cannot be dialled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("cannot dial {target:?}: {reason}")]
    BadTarget {
        target: String,
        reason: &'static str,
    },
    #[error("no route for {number}")]
    NoRoute { number: String },
    #[error("no user {name:?}")]
    UnknownUser { name: String },
    #[error("user {name:?} is not registered")]
    NotRegistered { name: String },
    #[error("route {prefix:?} names trunk {trunk:?}, which does not exist")]
    UnknownTrunk { prefix: String, trunk: String },
}

/// Who is calling, for the caller-id policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallerId<'a> {
    /// `senderId` from the scenario or the launch.
    pub sender_id: Option<&'a str>,
    /// The caller's number (the From user of the inbound call being forwarded).
    pub caller_number: Option<&'a str>,
}

/// Everything [`plan_dial`] needs besides the target.
#[derive(Debug, Clone, Copy)]
pub struct RoutingContext<'a> {
    pub trunks: &'a [TrunkConfig],
    pub routes: &'a [OutboundRoute],
    pub caller: CallerId<'a>,
    /// For a `user:` target: `None` when NAME is not a configured user, else its current
    /// bindings (`Registrar::lookup`). Ignored for other targets.
    pub user_bindings: Option<&'a [Binding]>,
}

/// What to dial: one INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPlan {
    pub request_uri: String,
    /// Where to send it instead of the Request-URI's host (a softphone's registered source).
    pub destination: Option<SocketAddr>,
    pub transport: Option<TransportKind>,
    /// The trunk it goes through.
    pub trunk: Option<String>,
    pub from_user: String,
    pub from_domain: Option<String>,
    pub credentials: Option<(String, String)>,
}

impl DialPlan {
    /// The SIP layer's request for this plan, with our SDP offer.
    pub fn into_request(self, sdp_offer: String) -> OutboundRequest {
        OutboundRequest {
            target: self.request_uri,
            from_user: self.from_user,
            from_display: None,
            from_domain: self.from_domain,
            credentials: self.credentials,
            sdp_offer,
            headers: Vec::new(),
            destination: self.destination,
            transport: self.transport,
        }
    }
}

/// Reads a dial string; see the module docs.
pub fn parse_target(text: &str) -> Result<DialTarget, RoutingError> {
    let bad = |reason| RoutingError::BadTarget {
        target: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    if let Some(name) = strip_prefix_ignore_case(trimmed, "user:") {
        let name = name.trim();
        if name.is_empty() {
            return Err(bad("empty user name"));
        }
        if name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '@' | ':' | ';' | '<' | '>')
        }) {
            return Err(bad("invalid character in user name"));
        }
        return Ok(DialTarget::User(name.to_string()));
    }
    for scheme in ["sip:", "sips:"] {
        if let Some(rest) = strip_prefix_ignore_case(trimmed, scheme) {
            return check_uri(rest)
                .map(|()| DialTarget::Uri(trimmed.to_string()))
                .map_err(bad);
        }
    }
    let number: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = number.strip_prefix('+').unwrap_or(&number);
    if digits.is_empty() {
        return Err(bad("empty number"));
    }
    if !digits
        .chars()
        .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        return Err(bad("not a number, user:NAME or sip: URI"));
    }
    Ok(DialTarget::Number(number))
}

/// The trunk a number goes out through; see the module docs.
pub fn select_trunk<'a>(
    number: &str,
    trunks: &'a [TrunkConfig],
    routes: &[OutboundRoute],
) -> Result<&'a TrunkConfig, RoutingError> {
    if routes.is_empty() {
        return match trunks {
            [only] => Ok(only),
            _ => Err(RoutingError::NoRoute {
                number: number.to_string(),
            }),
        };
    }
    let mut best: Option<&OutboundRoute> = None;
    for route in routes
        .iter()
        .filter(|route| number.starts_with(&route.prefix))
    {
        if best.is_none_or(|current| route.prefix.len() > current.prefix.len()) {
            best = Some(route);
        }
    }
    let route = best.ok_or_else(|| RoutingError::NoRoute {
        number: number.to_string(),
    })?;
    trunks
        .iter()
        .find(|trunk| trunk.name == route.trunk)
        .ok_or_else(|| RoutingError::UnknownTrunk {
            prefix: route.prefix.clone(),
            trunk: route.trunk.clone(),
        })
}

/// The From user: `sender_id`, else the trunk's `from_user`, else the caller's number, else
/// `ivory`. Empty values count as absent.
pub fn caller_id(
    sender_id: Option<&str>,
    trunk_from_user: Option<&str>,
    caller_number: Option<&str>,
) -> String {
    [sender_id, trunk_from_user, caller_number]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|value| !value.is_empty())
        .unwrap_or("ivory")
        .to_string()
}

/// What to dial for `target`: one plan, or one per binding for a registered user (never empty).
pub fn plan_dial(
    target: &DialTarget,
    context: &RoutingContext<'_>,
) -> Result<Vec<DialPlan>, RoutingError> {
    let caller = context.caller;
    match target {
        DialTarget::Number(number) => {
            let trunk = select_trunk(number, context.trunks, context.routes)?;
            Ok(vec![DialPlan {
                request_uri: trunk.request_uri(number),
                destination: None,
                transport: Some(trunk.transport),
                trunk: Some(trunk.name.clone()),
                from_user: caller_id(
                    caller.sender_id,
                    trunk.from_user.as_deref(),
                    caller.caller_number,
                ),
                from_domain: Some(trunk.from_host().to_string()),
                credentials: trunk.credentials(),
            }])
        }
        DialTarget::User(name) => {
            let bindings = context
                .user_bindings
                .ok_or_else(|| RoutingError::UnknownUser { name: name.clone() })?;
            if bindings.is_empty() {
                return Err(RoutingError::NotRegistered { name: name.clone() });
            }
            let from_user = caller_id(caller.sender_id, None, caller.caller_number);
            Ok(bindings
                .iter()
                .map(|binding| DialPlan {
                    request_uri: binding.contact.clone(),
                    destination: Some(binding.source),
                    transport: Some(binding.transport),
                    trunk: None,
                    from_user: from_user.clone(),
                    from_domain: None,
                    credentials: None,
                })
                .collect())
        }
        DialTarget::Uri(uri) => Ok(vec![DialPlan {
            request_uri: uri.clone(),
            destination: None,
            transport: None,
            trunk: None,
            from_user: caller_id(caller.sender_id, None, caller.caller_number),
            from_domain: None,
            credentials: None,
        }]),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The part of a SIP URI after the scheme: `[user@]host[:port][;params][?headers]`.
fn check_uri(rest: &str) -> Result<(), &'static str> {
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("white space in URI");
    }
    let host_part = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host_port = host_part.split([';', '?']).next().unwrap_or_default();
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err("URI without host");
    }
    if let Some((_, port)) = host_port.rsplit_once(':')
        && !host_port.ends_with(']')
        && !host_port.starts_with('[')
        && port.parse::<u16>().is_err()
    {
        return Err("invalid port");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn trunk(name: &str, host: &str) -> TrunkConfig {
        TrunkConfig::new(name, host)
    }

    fn route(prefix: &str, trunk: &str) -> OutboundRoute {
        OutboundRoute {
            prefix: prefix.into(),
            trunk: trunk.into(),
        }
    }

    fn number(text: &str) -> DialTarget {
        DialTarget::Number(text.into())
    }

    fn bad_reason(text: &str) -> &'static str {
        match parse_target(text) {
            Err(RoutingError::BadTarget { reason, .. }) => reason,
            other => panic!("{text:?} should be a bad target, got {other:?}"),
        }
    }

    #[test]
    fn dial_strings() {
        assert_eq!(parse_target("+46 70-123 45 67"), Ok(number("+46701234567")));
        assert_eq!(parse_target("(08) 123.45"), Ok(number("0812345")));
        assert_eq!(parse_target("*98#"), Ok(number("*98#")));
        assert_eq!(
            parse_target(" user:alice "),
            Ok(DialTarget::User("alice".into()))
        );
        assert_eq!(parse_target("USER:Bob"), Ok(DialTarget::User("Bob".into())));
        assert_eq!(
            parse_target("sip:bob@192.0.2.4:5070;transport=tcp"),
            Ok(DialTarget::Uri(
                "sip:bob@192.0.2.4:5070;transport=tcp".into()
            ))
        );
        assert_eq!(
            parse_target("SIPS:bob@example.com"),
            Ok(DialTarget::Uri("SIPS:bob@example.com".into()))
        );
        assert_eq!(
            parse_target("sip:[2001:db8::1]:5060"),
            Ok(DialTarget::Uri("sip:[2001:db8::1]:5060".into()))
        );
    }

    #[test]
    fn bad_dial_strings() {
        assert_eq!(bad_reason(""), "empty number");
        assert_eq!(bad_reason("+"), "empty number");
        assert_eq!(bad_reason("12+34"), "not a number, user:NAME or sip: URI");
        assert_eq!(bad_reason("alice"), "not a number, user:NAME or sip: URI");
        assert_eq!(
            bad_reason("tel:+4670"),
            "not a number, user:NAME or sip: URI"
        );
        assert_eq!(bad_reason("user:"), "empty user name");
        assert_eq!(bad_reason("user:al ice"), "invalid character in user name");
        assert_eq!(bad_reason("user:a@b"), "invalid character in user name");
        assert_eq!(bad_reason("sip:"), "URI without host");
        assert_eq!(bad_reason("sip:bob@"), "URI without host");
        assert_eq!(bad_reason("sip:bob@host:port"), "invalid port");
        assert_eq!(bad_reason("sip:bob@host:99999"), "invalid port");
        assert_eq!(bad_reason("sip:bob @host"), "white space in URI");
    }

    #[test]
    fn the_longest_prefix_wins() {
        let trunks = [trunk("cheap", "a.example"), trunk("local", "b.example")];
        let routes = [
            route("+46", "cheap"),
            route("+468", "local"),
            route("", "cheap"),
        ];
        let name = |n: &str| select_trunk(n, &trunks, &routes).map(|t| t.name.clone());
        assert_eq!(name("+46701234567"), Ok("cheap".into()));
        assert_eq!(name("+4681234567"), Ok("local".into()));
        assert_eq!(name("+15551234"), Ok("cheap".into()));
    }

    #[test]
    fn ties_go_to_the_first_route_and_unmatched_numbers_have_no_route() {
        let trunks = [trunk("one", "a.example"), trunk("two", "b.example")];
        let routes = [route("+1", "two"), route("+1", "one")];
        assert_eq!(
            select_trunk("+15551234", &trunks, &routes).map(|t| t.name.as_str()),
            Ok("two")
        );
        assert_eq!(
            select_trunk("+46", &trunks, &routes),
            Err(RoutingError::NoRoute {
                number: "+46".into()
            })
        );
        let dangling = [route("+1", "gone")];
        assert_eq!(
            select_trunk("+1555", &trunks, &dangling),
            Err(RoutingError::UnknownTrunk {
                prefix: "+1".into(),
                trunk: "gone".into()
            })
        );
    }

    #[test]
    fn one_trunk_without_routes_takes_every_number() {
        let single = [trunk("carrier", "sip.carrier.example")];
        assert_eq!(
            select_trunk("12345", &single, &[]).map(|t| t.name.as_str()),
            Ok("carrier")
        );
        let two = [trunk("a", "a.example"), trunk("b", "b.example")];
        assert!(matches!(
            select_trunk("12345", &two, &[]),
            Err(RoutingError::NoRoute { .. })
        ));
        assert!(matches!(
            select_trunk("12345", &[], &[]),
            Err(RoutingError::NoRoute { .. })
        ));
    }

    #[test]
    fn caller_id_policy() {
        assert_eq!(
            caller_id(Some("4600"), Some("trunk"), Some("caller")),
            "4600"
        );
        assert_eq!(caller_id(None, Some("trunk"), Some("caller")), "trunk");
        assert_eq!(caller_id(Some(" "), None, Some("caller")), "caller");
        assert_eq!(caller_id(None, Some(""), None), "ivory");
    }

    fn context<'a>(
        trunks: &'a [TrunkConfig],
        routes: &'a [OutboundRoute],
        caller: CallerId<'a>,
        user_bindings: Option<&'a [Binding]>,
    ) -> RoutingContext<'a> {
        RoutingContext {
            trunks,
            routes,
            caller,
            user_bindings,
        }
    }

    #[test]
    fn numbers_go_through_the_trunk_with_its_credentials() {
        let mut carrier = trunk("carrier", "sip.carrier.example");
        carrier.transport = TransportKind::Tcp;
        carrier.username = Some("acct".into());
        carrier.password = Some("secret".into());
        carrier.from_user = Some("+46800000".into());
        carrier.from_domain = Some("example.com".into());
        let trunks = [carrier];
        let caller = CallerId {
            sender_id: None,
            caller_number: Some("+46701111111"),
        };
        let plans = plan_dial(
            &number("+46702222222"),
            &context(&trunks, &[], caller, None),
        )
        .expect("routed");
        assert_eq!(
            plans,
            vec![DialPlan {
                request_uri: "sip:+46702222222@sip.carrier.example:5060;transport=tcp".into(),
                destination: None,
                transport: Some(TransportKind::Tcp),
                trunk: Some("carrier".into()),
                from_user: "+46800000".into(),
                from_domain: Some("example.com".into()),
                credentials: Some(("acct".into(), "secret".into())),
            }]
        );
        let with_sender = CallerId {
            sender_id: Some("4612345"),
            ..caller
        };
        let plans =
            plan_dial(&number("1"), &context(&trunks, &[], with_sender, None)).expect("routed");
        assert_eq!(plans[0].from_user, "4612345");
        let request = plans[0].clone().into_request("v=0".into());
        assert_eq!(request.target, plans[0].request_uri);
        assert_eq!(request.sdp_offer, "v=0");
        assert_eq!(request.credentials, plans[0].credentials);
    }

    #[test]
    fn users_ring_every_binding_at_its_source() {
        let now = Instant::now();
        let bindings = [
            Binding {
                contact: "sip:alice@10.0.0.5:5062".into(),
                source: "203.0.113.7:40000".parse().expect("address"),
                transport: TransportKind::Udp,
                expires_at: now + Duration::from_secs(60),
            },
            Binding {
                contact: "sip:alice@10.0.0.6;transport=tcp".into(),
                source: "203.0.113.8:50000".parse().expect("address"),
                transport: TransportKind::Tcp,
                expires_at: now + Duration::from_secs(60),
            },
        ];
        let caller = CallerId {
            sender_id: None,
            caller_number: Some("+46701111111"),
        };
        let alice = DialTarget::User("alice".into());
        let plans = plan_dial(&alice, &context(&[], &[], caller, Some(&bindings))).expect("plans");
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].request_uri, "sip:alice@10.0.0.5:5062");
        assert_eq!(plans[0].destination, Some(bindings[0].source));
        assert_eq!(plans[1].transport, Some(TransportKind::Tcp));
        assert_eq!(plans[1].from_user, "+46701111111");
        assert_eq!(plans[1].trunk, None);
        assert_eq!(plans[1].credentials, None);
        assert_eq!(
            plan_dial(&alice, &context(&[], &[], caller, Some(&[]))),
            Err(RoutingError::NotRegistered {
                name: "alice".into()
            })
        );
        assert_eq!(
            plan_dial(&alice, &context(&[], &[], caller, None)),
            Err(RoutingError::UnknownUser {
                name: "alice".into()
            })
        );
    }

    #[test]
    fn uris_are_dialled_directly() {
        let trunks = [trunk("carrier", "sip.carrier.example")];
        let target = DialTarget::Uri("sip:bob@192.0.2.4".into());
        let plans =
            plan_dial(&target, &context(&trunks, &[], CallerId::default(), None)).expect("plans");
        assert_eq!(
            plans,
            vec![DialPlan {
                request_uri: "sip:bob@192.0.2.4".into(),
                destination: None,
                transport: None,
                trunk: None,
                from_user: "ivory".into(),
                from_domain: None,
                credentials: None,
            }]
        );
    }

    #[test]
    fn numbers_without_a_route_are_errors() {
        let trunks = [trunk("a", "a.example"), trunk("b", "b.example")];
        assert_eq!(
            plan_dial(
                &number("123"),
                &context(&trunks, &[], CallerId::default(), None)
            ),
            Err(RoutingError::NoRoute {
                number: "123".into()
            })
        );
    }
}

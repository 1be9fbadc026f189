//! `[[trunks]]`, `[[routes]]` and `[[users]]`: carriers, outbound routes and softphone accounts,
//! checked at load and turned into the `sip` crate's types.
//!
//! ```toml
//! [[trunks]]
//! name = "carrier"
//! host = "sip.carrier.example:5060"      # host or host:port
//! transport = "udp"                       # or "tcp"
//! username = "acct"; password = "secret"  # digest auth (401/407, MD5 or SHA-256)
//! register = true                         # keep a registration alive
//! from_user = "+46700000000"              # default caller id
//! allow = ["198.51.100.0/24"]             # where its inbound calls come from
//!
//! [[routes]]
//! prefix = "+46"; trunk = "carrier"       # outbound: longest prefix wins
//!
//! [[users]]
//! username = "alice"; password = "..."    # softphones that REGISTER; dial "user:alice"
//! ```
//! Passwords may be given as `password_env = "VAR"` to read them from the environment.

use serde::Deserialize;

use crate::config::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkEntry {
    pub name: String,
    pub host: String,
    #[serde(default = "default_transport")]
    pub transport: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    #[serde(default)]
    pub register: bool,
    #[serde(default = "default_register_expires")]
    pub register_expires_seconds: u32,
    pub from_user: Option<String>,
    pub from_domain: Option<String>,
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub prefix: String,
    pub trunk: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub username: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
}

fn default_transport() -> String {
    "udp".into()
}

fn default_register_expires() -> u32 {
    3600
}

/// The checked telephony settings.
pub struct Telephony {
    pub trunks: Vec<ivory_sip::TrunkConfig>,
    pub routes: Vec<ivory_engine::outbound_routing::OutboundRoute>,
    pub users: Vec<ivory_sip::UserAccount>,
}

/// Checks and converts; `origin` names the file in errors.
pub fn resolve(
    trunks: &[TrunkEntry],
    routes: &[RouteEntry],
    users: &[UserEntry],
    origin: &str,
) -> Result<Telephony, ConfigError> {
    let error = |key: String, message: String| ConfigError::Value {
        origin: origin.to_string(),
        key,
        message,
    };
    let mut resolved_trunks = Vec::new();
    for (index, entry) in trunks.iter().enumerate() {
        let key = |field: &str| format!("trunks[{index}].{field}");
        if resolved_trunks
            .iter()
            .any(|t: &ivory_sip::TrunkConfig| t.name == entry.name)
        {
            return Err(error(
                key("name"),
                format!("{:?} is defined twice", entry.name),
            ));
        }
        let (host, port) = split_host_port(&entry.host).map_err(|m| error(key("host"), m))?;
        let mut trunk = ivory_sip::TrunkConfig::new(entry.name.clone(), host);
        trunk.port = port;
        trunk.transport = match entry.transport.to_ascii_lowercase().as_str() {
            "udp" => ivory_sip::TransportKind::Udp,
            "tcp" => ivory_sip::TransportKind::Tcp,
            other => return Err(error(key("transport"), format!("{other:?}: udp or tcp"))),
        };
        trunk.username = entry.username.clone();
        trunk.password = password(&entry.password, &entry.password_env)
            .map_err(|m| error(key("password_env"), m))?;
        if trunk.username.is_some() != trunk.password.is_some() {
            return Err(error(
                key("password"),
                "username and password go together".into(),
            ));
        }
        if entry.register && trunk.username.is_none() {
            return Err(error(
                key("register"),
                "registering needs a username and password".into(),
            ));
        }
        trunk.register = entry.register;
        trunk.register_expires_seconds = entry.register_expires_seconds;
        trunk.from_user = entry.from_user.clone();
        trunk.from_domain = entry.from_domain.clone();
        for (n, network) in entry.allow.iter().enumerate() {
            let parsed = network.parse().map_err(|_| {
                error(
                    format!("trunks[{index}].allow[{n}]"),
                    format!("{network:?} is not an address or CIDR network"),
                )
            })?;
            trunk.allow.push(parsed);
        }
        resolved_trunks.push(trunk);
    }
    let mut resolved_routes = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        if !resolved_trunks.iter().any(|t| t.name == route.trunk) {
            return Err(error(
                format!("routes[{index}].trunk"),
                format!("no [[trunks]] named {:?}", route.trunk),
            ));
        }
        resolved_routes.push(ivory_engine::outbound_routing::OutboundRoute {
            prefix: route.prefix.clone(),
            trunk: route.trunk.clone(),
        });
    }
    let mut resolved_users = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let key = |field: &str| format!("users[{index}].{field}");
        if user.username.is_empty() || user.username.contains(['@', ':', ' ']) {
            return Err(error(
                key("username"),
                format!("{:?} is not a valid user name", user.username),
            ));
        }
        if resolved_users
            .iter()
            .any(|u: &ivory_sip::UserAccount| u.username == user.username)
        {
            return Err(error(
                key("username"),
                format!("{:?} is defined twice", user.username),
            ));
        }
        let password = password(&user.password, &user.password_env)
            .map_err(|m| error(key("password_env"), m))?
            .ok_or_else(|| error(key("password"), "a user needs a password".into()))?;
        resolved_users.push(ivory_sip::UserAccount {
            username: user.username.clone(),
            password,
        });
    }
    Ok(Telephony {
        trunks: resolved_trunks,
        routes: resolved_routes,
        users: resolved_users,
    })
}

fn password(inline: &Option<String>, env: &Option<String>) -> Result<Option<String>, String> {
    match (inline, env) {
        (Some(_), Some(_)) => Err("give password or password_env, not both".into()),
        (Some(password), None) => Ok(Some(password.clone())),
        (None, Some(variable)) => std::env::var(variable)
            .map(Some)
            .map_err(|_| format!("environment variable {variable} is not set")),
        (None, None) => Ok(None),
    }
}

fn split_host_port(text: &str) -> Result<(String, u16), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: unclosed ["))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| format!("{text:?}: bad port"))?,
            None => 5060,
        };
        return Ok((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((
            host.to_string(),
            port.parse().map_err(|_| format!("{text:?}: bad port"))?,
        )),
        _ if text.is_empty() => Err("the host is empty".into()),
        _ => Ok((text.to_string(), 5060)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str) -> TrunkEntry {
        TrunkEntry {
            name: name.into(),
            host: "sip.carrier.example:5070".into(),
            transport: "udp".into(),
            username: Some("acct".into()),
            password: Some("pw".into()),
            password_env: None,
            register: true,
            register_expires_seconds: 600,
            from_user: None,
            from_domain: None,
            allow: vec!["198.51.100.0/24".into()],
        }
    }

    #[test]
    fn a_full_setup_resolves() {
        let routes = [RouteEntry {
            prefix: "+46".into(),
            trunk: "carrier".into(),
        }];
        let users = [UserEntry {
            username: "alice".into(),
            password: Some("x".into()),
            password_env: None,
        }];
        let telephony = resolve(&[trunk("carrier")], &routes, &users, "t.toml").expect("valid");
        assert_eq!(telephony.trunks[0].port, 5070);
        assert_eq!(telephony.trunks[0].host, "sip.carrier.example");
        assert_eq!(telephony.routes.len(), 1);
        assert_eq!(telephony.users[0].username, "alice");
    }

    #[test]
    fn mistakes_name_their_key() {
        let routes = [RouteEntry {
            prefix: "+46".into(),
            trunk: "nope".into(),
        }];
        let error = resolve(&[trunk("carrier")], &routes, &[], "t.toml")
            .err()
            .expect("unknown trunk");
        assert!(error.to_string().contains("routes[0].trunk"), "{error}");
        let mut bad = trunk("carrier");
        bad.allow = vec!["not-a-network".into()];
        let error = resolve(&[bad], &[], &[], "t.toml")
            .err()
            .expect("bad network");
        assert!(error.to_string().contains("trunks[0].allow[0]"), "{error}");
        let mut no_auth = trunk("carrier");
        no_auth.username = None;
        no_auth.password = None;
        let error = resolve(&[no_auth], &[], &[], "t.toml")
            .err()
            .expect("register without auth");
        assert!(error.to_string().contains("trunks[0].register"), "{error}");
        let users = [UserEntry {
            username: "bob".into(),
            password: None,
            password_env: None,
        }];
        let error = resolve(&[], &[], &users, "t.toml")
            .err()
            .expect("no password");
        assert!(error.to_string().contains("users[0].password"), "{error}");
        let twice = [trunk("a"), trunk("a")];
        assert!(resolve(&twice, &[], &[], "t.toml").is_err());
    }

    #[test]
    fn host_and_port_forms() {
        assert_eq!(split_host_port("h"), Ok(("h".into(), 5060)));
        assert_eq!(split_host_port("h:5080"), Ok(("h".into(), 5080)));
        assert_eq!(
            split_host_port("[2001:db8::1]:5070"),
            Ok(("2001:db8::1".into(), 5070))
        );
        assert!(split_host_port("h:port").is_err());
    }
}

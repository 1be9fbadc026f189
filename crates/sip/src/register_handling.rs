//! REGISTER at the dispatcher: reads the request into a [`RegisterRequest`], lets the
//! [`Registrar`] decide, and writes the response. The header reading ([`parse_contacts`],
//! [`parse_expires`]) is plain functions, tested here.

use std::net::SocketAddr;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Request, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use tracing::{debug, info};

use crate::endpoint::TransportKind;
use crate::registrar::{ContactList, RegisterReply, RegisterRequest, Registrar, RequestedContact};
use crate::screen::checks::split_outside;

/// Answers one REGISTER from `source`.
pub(crate) async fn handle_register(
    registrar: &Registrar,
    tx: &mut Transaction,
    source: SocketAddr,
    transport: TransportKind,
) {
    let (status, headers) = match read_request(&tx.original) {
        Ok(parts) => {
            let request = RegisterRequest {
                to_user: &parts.to_user,
                authorization: parts.authorization.as_deref(),
                contacts: parts.contacts,
                expires_header: parts.expires,
                source,
                transport,
            };
            let reply = registrar.handle(&request);
            match &reply {
                RegisterReply::Registered { contacts } => {
                    info!(user = %parts.to_user, %source, contacts = contacts.len(), "REGISTER accepted");
                }
                other => {
                    debug!(user = %parts.to_user, %source, status = other.status(), "REGISTER answered")
                }
            }
            (reply.status(), reply_headers(&reply))
        }
        Err(reason) => {
            debug!(%source, reason, "malformed REGISTER");
            (400, vec![warning(reason)])
        }
    };
    if let Err(error) = tx.reply_with(StatusCode::from(status), headers, None).await {
        debug!(%error, "cannot answer REGISTER");
    }
}

struct RequestParts {
    to_user: String,
    authorization: Option<String>,
    contacts: ContactList,
    expires: Option<u32>,
}

fn read_request(request: &Request) -> Result<RequestParts, &'static str> {
    let to_user = request
        .to_header()
        .ok()
        .and_then(|to| to.uri().ok())
        .and_then(|uri| uri.user().map(str::to_string))
        .filter(|user| !user.is_empty())
        .ok_or("To has no user")?;
    let values = |name: &str| -> Vec<String> {
        request
            .headers
            .iter()
            .filter(|header| header.name().eq_ignore_ascii_case(name))
            .map(|header| header.value().to_string())
            .collect()
    };
    let expires = match values("Expires").first() {
        None => None,
        Some(value) => Some(parse_expires(value).ok_or("malformed Expires")?),
    };
    Ok(RequestParts {
        to_user,
        authorization: values("Authorization").into_iter().next(),
        contacts: parse_contacts(&values("Contact"))?,
        expires,
    })
}

fn reply_headers(reply: &RegisterReply) -> Vec<Header> {
    match reply {
        RegisterReply::Challenge { www_authenticate } => {
            vec![Header::WwwAuthenticate(www_authenticate.clone().into())]
        }
        RegisterReply::Forbidden => vec![],
        RegisterReply::IntervalTooBrief { min_expires } => {
            vec![Header::Other("Min-Expires".into(), min_expires.to_string())]
        }
        RegisterReply::BadRequest { reason } => vec![warning(reason)],
        RegisterReply::Registered { contacts } => contacts
            .iter()
            .map(|(uri, seconds)| Header::Contact(format!("<{uri}>;expires={seconds}").into()))
            .collect(),
    }
}

fn warning(reason: &str) -> Header {
    Header::Other("Warning".into(), format!("399 ivory \"{reason}\""))
}

/// `Expires: delta-seconds`; values beyond u32 are read as the largest (the registrar shortens
/// them anyway).
pub(crate) fn parse_expires(value: &str) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u32>().unwrap_or(u32::MAX))
}

/// The Contact header values of a REGISTER (each may list several, comma-separated).
pub(crate) fn parse_contacts(values: &[String]) -> Result<ContactList, &'static str> {
    let mut contacts = Vec::new();
    let mut wildcard = false;
    for value in values {
        let entries =
            split_outside(value.as_bytes(), b',', "Contact").map_err(|_| "malformed Contact")?;
        for entry in entries {
            let entry = std::str::from_utf8(entry)
                .map_err(|_| "malformed Contact")?
                .trim();
            if entry == "*" {
                wildcard = true;
            } else if !entry.is_empty() {
                contacts.push(parse_contact(entry)?);
            }
        }
    }
    match (wildcard, contacts.is_empty()) {
        (true, true) => Ok(ContactList::Wildcard),
        (true, false) => Err("Contact * with other contacts"),
        (false, true) => Ok(ContactList::Query),
        (false, false) => Ok(ContactList::Contacts(contacts)),
    }
}

/// `["name"] <uri>;params` or `uri;params`.
fn parse_contact(entry: &str) -> Result<RequestedContact, &'static str> {
    let malformed = "malformed Contact";
    let (uri, parameters) = match angle_brackets(entry) {
        Some((open, close)) => (&entry[open + 1..close], &entry[close + 1..]),
        None => match entry.split_once(';') {
            Some((uri, parameters)) => (uri, parameters),
            None => (entry, ""),
        },
    };
    let uri = uri.trim();
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, rest)| {
        (scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips"))
            && !rest.is_empty()
    });
    if !scheme_ok || uri.contains(char::is_whitespace) {
        return Err(malformed);
    }
    let mut expires = None;
    for parameter in parameters.split(';') {
        if let Some((name, value)) = parameter.split_once('=')
            && name.trim().eq_ignore_ascii_case("expires")
        {
            expires = Some(parse_expires(value.trim_matches([' ', '"'])).ok_or(malformed)?);
        }
    }
    Ok(RequestedContact {
        uri: uri.to_string(),
        expires,
    })
}

/// Offsets of the `<` and `>` around a name-addr's URI, skipping a quoted display name.
fn angle_brackets(entry: &str) -> Option<(usize, usize)> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, character) in entry.char_indices() {
        if in_quotes {
            match (escaped, character) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
        } else if character == '"' {
            in_quotes = true;
        } else if character == '<' {
            let close = entry[index..].find('>')? + index;
            return Some((index, close));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contacts(values: &[&str]) -> Result<ContactList, &'static str> {
        parse_contacts(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    }

    fn contact(uri: &str, expires: Option<u32>) -> RequestedContact {
        RequestedContact {
            uri: uri.into(),
            expires,
        }
    }

    #[test]
    fn contact_forms() {
        assert_eq!(contacts(&[]), Ok(ContactList::Query));
        assert_eq!(contacts(&["*"]), Ok(ContactList::Wildcard));
        assert_eq!(
            contacts(&[
                r#""Alice, at home" <sip:alice@10.0.0.5:5062;transport=udp>;expires=600;q=0.7"#,
                "sip:alice@10.0.0.6;expires=0, <sips:alice@example.com>"
            ]),
            Ok(ContactList::Contacts(vec![
                contact("sip:alice@10.0.0.5:5062;transport=udp", Some(600)),
                contact("sip:alice@10.0.0.6", Some(0)),
                contact("sips:alice@example.com", None),
            ]))
        );
        assert_eq!(
            contacts(&["<sip:a@b>;expires=99999999999"]),
            Ok(ContactList::Contacts(vec![contact(
                "sip:a@b",
                Some(u32::MAX)
            )]))
        );
    }

    #[test]
    fn bad_contacts() {
        assert!(contacts(&["*, <sip:a@b>"]).is_err());
        assert!(contacts(&["<http://example.com>"]).is_err());
        assert!(contacts(&["<sip:a@b>;expires=soon"]).is_err());
        assert!(contacts(&["<sip:a@b"]).is_err());
        assert!(contacts(&["\"unterminated <sip:a@b>"]).is_err());
        assert!(contacts(&["sip:"]).is_err());
    }

    #[test]
    fn expires_values() {
        assert_eq!(parse_expires(" 3600 "), Some(3600));
        assert_eq!(parse_expires("0"), Some(0));
        assert_eq!(parse_expires("99999999999"), Some(u32::MAX));
        assert_eq!(parse_expires("-1"), None);
        assert_eq!(parse_expires(""), None);
    }

    #[test]
    fn replies_carry_their_headers() {
        let challenge = reply_headers(&RegisterReply::Challenge {
            www_authenticate: "Digest realm=\"ivory\"".into(),
        });
        assert_eq!(challenge[0].name(), "WWW-Authenticate");
        let registered = reply_headers(&RegisterReply::Registered {
            contacts: vec![("sip:a@10.0.0.1".into(), 60)],
        });
        assert_eq!(registered[0].value(), "<sip:a@10.0.0.1>;expires=60");
        let brief = reply_headers(&RegisterReply::IntervalTooBrief { min_expires: 60 });
        assert_eq!(brief[0].value(), "60");
    }
}

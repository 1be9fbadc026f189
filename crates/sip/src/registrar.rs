//! The registrar for softphones (RFC 3261 §10): configured users REGISTER with digest
//! authentication, and ivory keeps where each can be reached.
//!
//! [`RegistrarCore`] is the whole decision, without I/O: it takes one REGISTER's facts
//! ([`RegisterRequest`]), the monotonic `now` and the wall-clock `unix_seconds` (for nonces), and
//! returns the [`RegisterReply`] to send. The dispatcher (`register_handling.rs`) reads requests
//! into that form and writes the reply. [`Registrar`] is the shared handle the engine uses to find
//! a user's bindings ([`Registrar::lookup`]).
//!
//! Rules:
//! - Authentication: `401` with `WWW-Authenticate: Digest realm=..., nonce=..., qop="auth",
//!   algorithm=MD5`. Nonces expire after five minutes (a correct answer to an old one gets a new
//!   challenge with `stale=true`). The digest username must be the user of the To URI (the
//!   address-of-record), so alice cannot move bob's bindings. A wrong password, an unknown user or
//!   a mismatched username all get the same `401`, never a hint of which part was wrong; after
//!   [`RegistrarPolicy::max_failures`] consecutive failures from one source address, that address
//!   gets `403` until [`RegistrarPolicy::lockout`] has passed without another attempt.
//! - Bindings: several contacts per user (at most [`RegistrarPolicy::max_contacts`]; beyond
//!   that, the ones closest to expiry are dropped). Expiry comes from the contact's `expires`
//!   parameter, else the `Expires` header, else [`RegistrarPolicy::default_expires`]; `0` removes
//!   the contact, `Contact: *` with `Expires: 0` removes them all; a non-zero expiry below
//!   [`RegistrarPolicy::min_expires`] gets `423` with `Min-Expires`; above
//!   [`RegistrarPolicy::max_expires`] it is shortened. A REGISTER without Contact queries.
//! - Each binding keeps the address and transport the REGISTER came from, so a softphone behind
//!   NAT is called where it registered from (as with `rport`), not at its private Contact.
//!
//! Not done: Call-ID/CSeq ordering of refreshes (RFC 3261 §10.3 step 7), GRUU and outbound
//! (RFC 5626), and persistence: bindings are lost on restart, and softphones re-register.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::digest::{self, DigestCredentials, NonceStatus};
use crate::endpoint::TransportKind;

/// A softphone account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccount {
    pub username: String,
    pub password: String,
}

/// Where a registered user can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI the softphone registered (the Request-URI of a call to it).
    pub contact: String,
    /// The address the REGISTER came from: where requests to this binding are sent.
    pub source: SocketAddr,
    pub transport: TransportKind,
    pub expires_at: Instant,
}

/// The registrar's limits.
#[derive(Debug, Clone)]
pub struct RegistrarPolicy {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
    pub max_failures: u32,
    pub lockout: Duration,
}

impl Default for RegistrarPolicy {
    fn default() -> Self {
        Self {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
            max_failures: 5,
            lockout: Duration::from_secs(60),
        }
    }
}

/// One contact of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedContact {
    pub uri: String,
    pub expires: Option<u32>,
}

/// The Contact header(s) of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList {
    /// No Contact: a query for the current bindings.
    Query,
    /// `Contact: *`.
    Wildcard,
    Contacts(Vec<RequestedContact>),
}

/// The facts of one REGISTER the registrar decides on.
#[derive(Debug, Clone)]
pub struct RegisterRequest<'a> {
    /// User part of the To URI: the address-of-record.
    pub to_user: &'a str,
    /// The `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
    pub contacts: ContactList,
    pub expires_header: Option<u32>,
    pub source: SocketAddr,
    pub transport: TransportKind,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterReply {
    /// 401 with this `WWW-Authenticate` value.
    Challenge { www_authenticate: String },
    /// 403: too many failures from this source.
    Forbidden,
    /// 423 with `Min-Expires`.
    IntervalTooBrief { min_expires: u32 },
    /// 400 with a reason for the `Warning`.
    BadRequest { reason: &'static str },
    /// 200 listing every current binding of the user with its remaining seconds.
    Registered { contacts: Vec<(String, u32)> },
}

impl RegisterReply {
    pub fn status(&self) -> u16 {
        match self {
            RegisterReply::Challenge { .. } => 401,
            RegisterReply::Forbidden => 403,
            RegisterReply::IntervalTooBrief { .. } => 423,
            RegisterReply::BadRequest { .. } => 400,
            RegisterReply::Registered { .. } => 200,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The registrar's state and decisions; see the module docs.
#[derive(Debug)]
pub struct RegistrarCore {
    realm: String,
    passwords: HashMap<String, String>,
    secret: Vec<u8>,
    policy: RegistrarPolicy,
    bindings: HashMap<String, Vec<Binding>>,
    failures: HashMap<IpAddr, Failures>,
}

/// Failure records kept at most, so spoofed sources cannot grow the table without bound.
const MAX_FAILURE_RECORDS: usize = 10_000;

impl RegistrarCore {
    /// `secret` keys the nonces; give it random bytes (tests give fixed ones).
    pub fn new(
        realm: String,
        users: &[UserAccount],
        secret: Vec<u8>,
        policy: RegistrarPolicy,
    ) -> Self {
        Self {
            realm,
            passwords: users
                .iter()
                .map(|user| (user.username.clone(), user.password.clone()))
                .collect(),
            secret,
            policy,
            bindings: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// Whether any user is configured (REGISTER is accepted only then).
    pub fn has_users(&self) -> bool {
        !self.passwords.is_empty()
    }

    /// Whether `username` is a configured user.
    pub fn is_user(&self, username: &str) -> bool {
        self.passwords.contains_key(username)
    }

    /// Decides on one REGISTER.
    pub fn handle(
        &mut self,
        request: &RegisterRequest<'_>,
        now: Instant,
        unix_seconds: u64,
    ) -> RegisterReply {
        let source_ip = request.source.ip();
        self.forget_old_failures(now);
        if self
            .failures
            .get(&source_ip)
            .is_some_and(|failures| failures.count >= self.policy.max_failures)
        {
            self.record_failure(source_ip, now);
            return RegisterReply::Forbidden;
        }
        let Some(authorization) = request.authorization else {
            return self.challenge(false, unix_seconds);
        };
        match self.authenticate(authorization, request.to_user, unix_seconds) {
            Authentication::Accepted => {}
            Authentication::Stale => return self.challenge(true, unix_seconds),
            Authentication::UnknownNonce => return self.challenge(false, unix_seconds),
            Authentication::Rejected => {
                self.record_failure(source_ip, now);
                return self.challenge(false, unix_seconds);
            }
        }
        self.failures.remove(&source_ip);
        self.apply_contacts(request, now)
    }

    /// The current bindings of `username` (expired ones are never returned).
    pub fn lookup(&self, username: &str, now: Instant) -> Vec<Binding> {
        self.bindings
            .get(username)
            .map(|bindings| {
                bindings
                    .iter()
                    .filter(|binding| binding.expires_at > now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `address` is the source of a current binding of any user.
    pub fn is_registered_source(&self, address: IpAddr, now: Instant) -> bool {
        self.bindings
            .values()
            .flatten()
            .any(|binding| binding.expires_at > now && same_ip(binding.source.ip(), address))
    }

    fn challenge(&self, stale: bool, unix_seconds: u64) -> RegisterReply {
        let nonce = digest::make_nonce(&self.secret, unix_seconds);
        let stale = if stale { ", stale=true" } else { "" };
        RegisterReply::Challenge {
            www_authenticate: format!(
                "Digest realm=\"{}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{stale}",
                self.realm
            ),
        }
    }

    fn authenticate(
        &self,
        authorization: &str,
        to_user: &str,
        unix_seconds: u64,
    ) -> Authentication {
        let Ok(credentials) = DigestCredentials::parse(authorization) else {
            return Authentication::Rejected;
        };
        if credentials.realm != self.realm {
            return Authentication::UnknownNonce;
        }
        let nonce = digest::check_nonce(&self.secret, &credentials.nonce, unix_seconds);
        if nonce == NonceStatus::Invalid {
            // Issued before a restart, or by someone else: a fresh challenge, not a failure.
            return Authentication::UnknownNonce;
        }
        // An unknown user is checked against a password nobody has, so that it costs the same
        // work and gets the same answer as a wrong password.
        let password = self
            .passwords
            .get(&credentials.username)
            .map(String::as_str);
        let correct = credentials.verify(password.unwrap_or("\u{0}no-such-user"), "REGISTER")
            && password.is_some()
            && credentials.username == to_user;
        match (correct, nonce) {
            (true, NonceStatus::Fresh) => Authentication::Accepted,
            (true, _) => Authentication::Stale,
            (false, _) => Authentication::Rejected,
        }
    }

    fn record_failure(&mut self, address: IpAddr, now: Instant) {
        if self.failures.len() >= MAX_FAILURE_RECORDS && !self.failures.contains_key(&address) {
            self.failures.clear();
        }
        let entry = self.failures.entry(address).or_insert(Failures {
            count: 0,
            last: now,
        });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    fn forget_old_failures(&mut self, now: Instant) {
        let lockout = self.policy.lockout;
        self.failures
            .retain(|_, failures| now.saturating_duration_since(failures.last) < lockout);
    }

    fn apply_contacts(&mut self, request: &RegisterRequest<'_>, now: Instant) -> RegisterReply {
        let user = request.to_user.to_string();
        let policy = self.policy.clone();
        let bindings = self.bindings.entry(user.clone()).or_default();
        bindings.retain(|binding| binding.expires_at > now);
        match &request.contacts {
            ContactList::Query => {}
            ContactList::Wildcard => {
                if request.expires_header != Some(0) {
                    return RegisterReply::BadRequest {
                        reason: "Contact * needs Expires: 0",
                    };
                }
                bindings.clear();
            }
            ContactList::Contacts(contacts) => {
                let expiries: Vec<u32> = contacts
                    .iter()
                    .map(|contact| {
                        contact
                            .expires
                            .or(request.expires_header)
                            .unwrap_or(policy.default_expires)
                    })
                    .collect();
                if expiries
                    .iter()
                    .any(|&expires| expires != 0 && expires < policy.min_expires)
                {
                    return RegisterReply::IntervalTooBrief {
                        min_expires: policy.min_expires,
                    };
                }
                for (contact, expires) in contacts.iter().zip(expiries) {
                    bindings.retain(|binding| !same_contact(&binding.contact, &contact.uri));
                    if expires == 0 {
                        continue;
                    }
                    let seconds = u64::from(expires.min(policy.max_expires));
                    bindings.push(Binding {
                        contact: contact.uri.clone(),
                        source: request.source,
                        transport: request.transport,
                        expires_at: now + Duration::from_secs(seconds),
                    });
                }
                if bindings.len() > policy.max_contacts {
                    bindings.sort_by_key(|binding| std::cmp::Reverse(binding.expires_at));
                    bindings.truncate(policy.max_contacts);
                }
            }
        }
        let contacts = bindings
            .iter()
            .map(|binding| {
                let remaining = binding.expires_at.saturating_duration_since(now).as_secs();
                (
                    binding.contact.clone(),
                    u32::try_from(remaining).unwrap_or(u32::MAX),
                )
            })
            .collect();
        if bindings.is_empty() {
            self.bindings.remove(&user);
        }
        RegisterReply::Registered { contacts }
    }
}

enum Authentication {
    Accepted,
    Stale,
    UnknownNonce,
    Rejected,
}

/// Two contact URIs name the same binding: compared without case (hosts and schemes are
/// case-insensitive; user parts rarely differ only by case).
fn same_contact(left: &str, right: &str) -> bool {
    left.trim().eq_ignore_ascii_case(right.trim())
}

fn same_ip(left: IpAddr, right: IpAddr) -> bool {
    left.to_canonical() == right.to_canonical()
}

/// The shared registrar handle: cheap to clone.
#[derive(Debug, Clone)]
pub struct Registrar {
    core: Arc<Mutex<RegistrarCore>>,
}

impl Registrar {
    pub fn new(core: RegistrarCore) -> Self {
        Self {
            core: Arc::new(Mutex::new(core)),
        }
    }

    /// The current bindings of `username`, most recently refreshed last; empty when the user is
    /// unknown or not registered.
    pub fn lookup(&self, username: &str) -> Vec<Binding> {
        self.lock().lookup(username, Instant::now())
    }

    /// Whether `username` is a configured user (registered or not).
    pub fn is_user(&self, username: &str) -> bool {
        self.lock().is_user(username)
    }

    /// Whether REGISTER is accepted (users are configured).
    pub fn is_enabled(&self) -> bool {
        self.lock().has_users()
    }

    pub(crate) fn is_registered_source(&self, address: IpAddr) -> bool {
        self.lock().is_registered_source(address, Instant::now())
    }

    pub(crate) fn handle(&self, request: &RegisterRequest<'_>) -> RegisterReply {
        let unix_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        self.lock().handle(request, Instant::now(), unix_seconds)
    }

    fn lock(&self) -> MutexGuard<'_, RegistrarCore> {
        // The state stays consistent between statements, so a panic elsewhere leaves it usable.
        self.core
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Random bytes for the nonce key, from the standard library's per-process random hash keys.
pub(crate) fn random_secret() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let mut secret = Vec::with_capacity(32);
    for round in 0u64..4 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(round);
        secret.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    secret
}

#[cfg(test)]
mod tests;

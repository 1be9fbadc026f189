use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::digest::{DigestAlgorithm, DigestInput, digest_response};

const REALM: &str = "ivory";
const SECRET: &[u8] = b"test-secret";
const T0: u64 = 1_700_000_000;

fn core() -> RegistrarCore {
    RegistrarCore::new(
        REALM.into(),
        &[
            UserAccount {
                username: "alice".into(),
                password: "wonderland".into(),
            },
            UserAccount {
                username: "bob".into(),
                password: "builder".into(),
            },
        ],
        SECRET.to_vec(),
        RegistrarPolicy::default(),
    )
}

fn source() -> SocketAddr {
    "192.0.2.10:5062".parse().expect("address")
}

/// The Authorization a softphone computes for `nonce`.
fn authorization(username: &str, password: &str, nonce: &str) -> String {
    let uri = "sip:ivory.example";
    let response = digest_response(&DigestInput {
        algorithm: DigestAlgorithm::Md5,
        username,
        realm: REALM,
        password,
        method: "REGISTER",
        uri,
        nonce,
        qop_auth: Some(("00000001", "abcdef")),
    });
    format!(
        r#"Digest username="{username}", realm="{REALM}", nonce="{nonce}", uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="abcdef""#
    )
}

fn contacts(list: &[(&str, Option<u32>)]) -> ContactList {
    ContactList::Contacts(
        list.iter()
            .map(|(uri, expires)| RequestedContact {
                uri: uri.to_string(),
                expires: *expires,
            })
            .collect(),
    )
}

fn request<'a>(user: &'a str, auth: Option<&'a str>, contacts: ContactList) -> RegisterRequest<'a> {
    RegisterRequest {
        to_user: user,
        authorization: auth,
        contacts,
        expires_header: None,
        source: source(),
        transport: TransportKind::Udp,
    }
}

fn nonce() -> String {
    digest::make_nonce(SECRET, T0)
}

#[test]
fn a_register_without_credentials_is_challenged() {
    let mut registrar = core();
    let reply = registrar.handle(
        &request(
            "alice",
            None,
            contacts(&[("sip:alice@10.0.0.5:5062", None)]),
        ),
        Instant::now(),
        T0,
    );
    let RegisterReply::Challenge { www_authenticate } = &reply else {
        panic!("expected a challenge, got {reply:?}");
    };
    assert_eq!(reply.status(), 401);
    assert!(www_authenticate.starts_with("Digest realm=\"ivory\", nonce=\""));
    assert!(www_authenticate.contains("qop=\"auth\""));
    assert!(!www_authenticate.contains("stale"));
    assert!(registrar.lookup("alice", Instant::now()).is_empty());
}

#[test]
fn correct_credentials_store_the_binding_with_its_source() {
    let mut registrar = core();
    let now = Instant::now();
    let auth = authorization("alice", "wonderland", &nonce());
    let reply = registrar.handle(
        &request(
            "alice",
            Some(&auth),
            contacts(&[("sip:alice@10.0.0.5:5062", Some(600))]),
        ),
        now,
        T0 + 10,
    );
    assert_eq!(
        reply,
        RegisterReply::Registered {
            contacts: vec![("sip:alice@10.0.0.5:5062".into(), 600)]
        }
    );
    let bindings = registrar.lookup("alice", now);
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].source, source());
    assert_eq!(bindings[0].expires_at, now + Duration::from_secs(600));
    assert!(registrar.is_registered_source(source().ip(), now));
    assert!(!registrar.is_registered_source("192.0.2.11".parse().expect("ip"), now));
    // Expired bindings are never returned.
    let later = now + Duration::from_secs(600);
    assert!(registrar.lookup("alice", later).is_empty());
    assert!(!registrar.is_registered_source(source().ip(), later));
}

#[test]
fn wrong_password_unknown_user_and_foreign_aor_look_the_same() {
    let mut registrar = core();
    let now = Instant::now();
    let attempts = [
        ("alice", authorization("alice", "wrong", &nonce())),
        ("carol", authorization("carol", "anything", &nonce())),
        // bob's valid credentials used to register alice's address-of-record.
        ("alice", authorization("bob", "builder", &nonce())),
        ("alice", "Digest garbage".to_string()),
    ];
    for (user, auth) in &attempts {
        let reply = registrar.handle(
            &request(user, Some(auth), contacts(&[("sip:x@10.0.0.5", None)])),
            now,
            T0,
        );
        let RegisterReply::Challenge { www_authenticate } = reply else {
            panic!("expected a challenge for {user}");
        };
        assert!(!www_authenticate.contains("stale"));
    }
    assert!(registrar.lookup("alice", now).is_empty());
}

#[test]
fn repeated_failures_get_403_until_the_lockout_passes() {
    let mut registrar = core();
    let now = Instant::now();
    let wrong = authorization("alice", "wrong", &nonce());
    let policy = RegistrarPolicy::default();
    for _ in 0..policy.max_failures {
        let reply = registrar.handle(&request("alice", Some(&wrong), ContactList::Query), now, T0);
        assert_eq!(reply.status(), 401);
    }
    let right = authorization("alice", "wonderland", &nonce());
    let reply = registrar.handle(&request("alice", Some(&right), ContactList::Query), now, T0);
    assert_eq!(reply, RegisterReply::Forbidden);
    // Another source is not affected.
    let mut other = request("alice", Some(&right), ContactList::Query);
    other.source = "198.51.100.1:5060".parse().expect("address");
    assert_eq!(registrar.handle(&other, now, T0).status(), 200);
    // After a quiet lockout period, the first source may try again.
    let later = now + policy.lockout + Duration::from_secs(1);
    let reply = registrar.handle(
        &request("alice", Some(&right), ContactList::Query),
        later,
        T0,
    );
    assert_eq!(reply.status(), 200);
}

#[test]
fn old_nonces_are_stale_and_foreign_nonces_are_rechallenged() {
    let mut registrar = core();
    let now = Instant::now();
    let auth = authorization("alice", "wonderland", &nonce());
    let reply = registrar.handle(
        &request("alice", Some(&auth), ContactList::Query),
        now,
        T0 + digest::NONCE_LIFETIME_SECONDS + 1,
    );
    let RegisterReply::Challenge { www_authenticate } = reply else {
        panic!("expected a stale challenge");
    };
    assert!(www_authenticate.ends_with("stale=true"));
    let foreign = authorization("alice", "wonderland", &digest::make_nonce(b"other", T0));
    for _ in 0..10 {
        let reply = registrar.handle(
            &request("alice", Some(&foreign), ContactList::Query),
            now,
            T0,
        );
        assert_eq!(reply.status(), 401);
    }
    // Unknown nonces are not failures: no lockout.
    let reply = registrar.handle(&request("alice", Some(&auth), ContactList::Query), now, T0);
    assert_eq!(reply.status(), 200);
}

#[test]
fn several_contacts_removal_and_wildcard() {
    let mut registrar = core();
    let now = Instant::now();
    let auth = authorization("alice", "wonderland", &nonce());
    let mut register = request(
        "alice",
        Some(&auth),
        contacts(&[
            ("sip:alice@10.0.0.5:5062", None),
            ("sip:alice@10.0.0.6", Some(120)),
        ]),
    );
    register.expires_header = Some(300);
    let reply = registrar.handle(&register, now, T0);
    assert_eq!(
        reply,
        RegisterReply::Registered {
            contacts: vec![
                ("sip:alice@10.0.0.5:5062".into(), 300),
                ("sip:alice@10.0.0.6".into(), 120)
            ]
        }
    );
    // expires=0 removes one; the contact compares without case.
    let remove = request(
        "alice",
        Some(&auth),
        contacts(&[("SIP:alice@10.0.0.6", Some(0))]),
    );
    let reply = registrar.handle(&remove, now, T0);
    assert_eq!(
        reply,
        RegisterReply::Registered {
            contacts: vec![("sip:alice@10.0.0.5:5062".into(), 300)]
        }
    );
    // A wildcard needs Expires: 0.
    let wildcard = request("alice", Some(&auth), ContactList::Wildcard);
    assert_eq!(registrar.handle(&wildcard, now, T0).status(), 400);
    let mut wildcard = request("alice", Some(&auth), ContactList::Wildcard);
    wildcard.expires_header = Some(0);
    assert_eq!(
        registrar.handle(&wildcard, now, T0),
        RegisterReply::Registered { contacts: vec![] }
    );
    assert!(registrar.lookup("alice", now).is_empty());
}

#[test]
fn expiry_limits() {
    let mut registrar = core();
    let now = Instant::now();
    let auth = authorization("bob", "builder", &nonce());
    let brief = request(
        "bob",
        Some(&auth),
        contacts(&[("sip:bob@10.0.0.7", Some(10))]),
    );
    assert_eq!(
        registrar.handle(&brief, now, T0),
        RegisterReply::IntervalTooBrief { min_expires: 60 }
    );
    let long = request(
        "bob",
        Some(&auth),
        contacts(&[("sip:bob@10.0.0.7", Some(999_999))]),
    );
    assert_eq!(
        registrar.handle(&long, now, T0),
        RegisterReply::Registered {
            contacts: vec![("sip:bob@10.0.0.7".into(), 3600)]
        }
    );
    // A refresh replaces the binding instead of adding one.
    let refresh = request(
        "bob",
        Some(&auth),
        contacts(&[("sip:bob@10.0.0.7", Some(60))]),
    );
    registrar.handle(&refresh, now, T0);
    assert_eq!(registrar.lookup("bob", now).len(), 1);
}

#[test]
fn too_many_contacts_keep_the_longest_lived() {
    let mut registrar = core();
    let now = Instant::now();
    let auth = authorization("alice", "wonderland", &nonce());
    let max = RegistrarPolicy::default().max_contacts;
    for index in 0..max + 2 {
        let uri = format!("sip:alice@10.0.1.{index}");
        let expires = 100 + u32::try_from(index).expect("small");
        let reply = registrar.handle(
            &request("alice", Some(&auth), contacts(&[(&uri, Some(expires))])),
            now,
            T0,
        );
        assert_eq!(reply.status(), 200);
    }
    let bindings = registrar.lookup("alice", now);
    assert_eq!(bindings.len(), max);
    assert!(!bindings.iter().any(|b| b.contact == "sip:alice@10.0.1.0"));
    assert!(!bindings.iter().any(|b| b.contact == "sip:alice@10.0.1.1"));
}

#[test]
fn random_secrets_differ() {
    assert_ne!(random_secret(), random_secret());
    assert_eq!(random_secret().len(), 32);
}

//! What a UAS must refuse in an INVITE before it thinks about routing (RFC 3261 §8.2.2, RFC 4475 §3.3):
//! unknown required extensions (420), a body it cannot read (415), an `Accept` without SDP (406).
//!
//! Header values come in as plain strings so the rules are tested without a SIP stack.

/// The option tags ivory supports (none yet: no 100rel, no session timers).
pub const SUPPORTED_OPTION_TAGS: &[&str] = &[];

/// A refusal: the status, its reason phrase, and extra headers to put in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

/// The INVITE's relevant headers, each possibly repeated.
#[derive(Debug, Default, Clone)]
pub struct InviteHeaders<'a> {
    pub require: Vec<&'a str>,
    pub content_type: Option<&'a str>,
    pub accept: Vec<&'a str>,
    pub has_body: bool,
}

/// `Some(refusal)` when the INVITE must be refused before routing.
pub fn check_invite(headers: &InviteHeaders<'_>) -> Option<Refusal> {
    let unsupported: Vec<&str> = headers
        .require
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .filter(|tag| {
            !SUPPORTED_OPTION_TAGS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(tag))
        })
        .collect();
    if !unsupported.is_empty() {
        return Some(Refusal {
            status: 420,
            reason: "Bad Extension",
            headers: vec![("Unsupported", unsupported.join(", "))],
        });
    }
    if headers.has_body {
        let media_type = headers
            .content_type
            .map(|v| v.split(';').next().unwrap_or_default().trim())
            .unwrap_or_default();
        if !media_type.eq_ignore_ascii_case("application/sdp") {
            return Some(Refusal {
                status: 415,
                reason: "Unsupported Media Type",
                headers: vec![("Accept", "application/sdp".into())],
            });
        }
    }
    if !headers.accept.is_empty() && !accepts_sdp(&headers.accept) {
        return Some(Refusal {
            status: 406,
            reason: "Not Acceptable",
            headers: vec![("Accept", "application/sdp".into())],
        });
    }
    None
}

fn accepts_sdp(accept: &[&str]) -> bool {
    accept
        .iter()
        .flat_map(|value| value.split(','))
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .any(|range| {
            matches!(
                range.as_str(),
                "application/sdp" | "application/*" | "*/*" | ""
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_invites_pass() {
        let headers = InviteHeaders {
            content_type: Some("application/sdp"),
            accept: vec!["application/sdp, application/dtmf-relay"],
            has_body: true,
            ..Default::default()
        };
        assert_eq!(check_invite(&headers), None);
        assert_eq!(check_invite(&InviteHeaders::default()), None);
    }

    #[test]
    fn unknown_required_extensions_get_420_listing_them() {
        let headers = InviteHeaders {
            require: vec!["nothingSupportsThis, nothingSupportsThisEither"],
            ..Default::default()
        };
        let refusal = check_invite(&headers).expect("refused");
        assert_eq!(refusal.status, 420);
        assert_eq!(
            refusal.headers,
            vec![(
                "Unsupported",
                "nothingSupportsThis, nothingSupportsThisEither".to_string()
            )]
        );
    }

    #[test]
    fn unknown_bodies_get_415_and_foreign_accept_406() {
        let body = InviteHeaders {
            content_type: Some("application/unknownformat"),
            has_body: true,
            ..Default::default()
        };
        assert_eq!(check_invite(&body).map(|r| r.status), Some(415));
        let accept = InviteHeaders {
            content_type: Some("application/sdp"),
            accept: vec!["text/nobodyKnowsThis"],
            has_body: true,
            ..Default::default()
        };
        assert_eq!(check_invite(&accept).map(|r| r.status), Some(406));
        let wildcard = InviteHeaders {
            accept: vec!["*/*"],
            ..Default::default()
        };
        assert_eq!(check_invite(&wildcard), None);
    }
}

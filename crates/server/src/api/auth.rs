//! `Authorization: App <key>`: the API key check in front of every API route.
//!
//! A refused request is logged with its method, path and why (missing, not `App`, unknown
//! key), never with the key itself. Keys are compared in constant time.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;

pub(super) async fn require_key(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or(""));
    let refusal = match header {
        None => Some("no Authorization header"),
        Some(value) => match value.split_once(' ') {
            Some((scheme, key)) if scheme.eq_ignore_ascii_case("App") => {
                let key = key.trim();
                let known = state
                    .api_keys
                    .iter()
                    .fold(false, |found, candidate| found | same(candidate, key));
                (!known).then_some("unknown API key")
            }
            _ => Some("Authorization is not `App <key>`"),
        },
    };
    match refusal {
        None => next.run(request).await,
        Some(reason) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                reason,
                "API request refused"
            );
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Compares without stopping at the first difference (timing does not leak the key).
fn same(expected: &str, given: &str) -> bool {
    let expected = expected.as_bytes();
    let given = given.as_bytes();
    let mut difference = expected.len() ^ given.len();
    for (index, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
    }
    difference == 0 && !expected.is_empty()
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn keys_match_exactly() {
        assert!(same("secret", "secret"));
        assert!(!same("secret", "secret2"));
        assert!(!same("secret", "secreT"));
        assert!(!same("secret", ""));
        assert!(!same("", ""));
    }
}

//! [`ValidJson`]: a JSON body extractor whose errors name the JSON path at fault.
//!
//! axum's own `Json` answers 422 with serde's message; a client of an Infobip-style API
//! expects 400 and the field. The body is parsed with `serde_path_to_error`, so a wrong type
//! deep in a launch reads `messages[0].destinations[2].to: invalid type: integer ...`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A deserialized JSON body.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge {
                        limit: super::BODY_LIMIT_BYTES,
                    }
                } else {
                    ApiError::bad_request("", format!("cannot read the body: {rejection}"))
                }
            })?;
        parse(&bytes).map(ValidJson)
    }
}

/// Parses `bytes` as `T`, naming the path of the first problem.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "",
            "the body is empty; JSON expected",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ApiError::bad_request(path, error.inner().to_string())
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::bad_request("", format!("trailing characters: {error}")))?;
    Ok(value)
}

/// Converts an already parsed JSON value to `T`, naming the path of the first problem.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ApiError::bad_request(path, error.inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::Problem;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn problems(result: Result<Outer, ApiError>) -> Vec<Problem> {
        match result {
            Err(ApiError::BadRequest { problems }) => problems,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn errors_carry_the_path() {
        let found = problems(parse(br#"{"items": [{"count": 1}, {"count": "x"}]}"#));
        assert_eq!(found[0].path, "items[1].count");
        let found = problems(parse(br#"{"items": [{"count": 1, "extra": 2}]}"#));
        assert!(found[0].path.starts_with("items[0]"), "{found:?}");
        assert!(found[0].message.contains("unknown field `extra`"));
        let found = problems(parse(b"  "));
        assert_eq!(found[0].path, "");
        let found = problems(parse(br#"{"items": []} x"#));
        assert!(found[0].message.contains("trailing"));
    }
}

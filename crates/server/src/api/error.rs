//! Every API error and its HTTP status, in one place.
//!
//! The body is Infobip's error shape:
//! `{"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "...",
//! "validationErrors": {"messages[0].from": ["..."]}}}}` (`validationErrors` only for 400).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StorageError;

/// One problem of a request, at a JSON path (`messages[0].destinations[3].to`) or a query
/// parameter name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid login details")]
    Unauthorized,
    #[error("bad request: {}", describe(problems))]
    BadRequest { problems: Vec<Problem> },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what}")]
    Conflict { what: String },
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ApiError {
    /// A 400 with one problem.
    pub fn bad_request(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            problems: vec![Problem::new(path, message)],
        }
    }
}

fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| {
            if problem.path.is_empty() {
                problem.message.clone()
            } else {
                format!("{}: {}", problem.path, problem.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message_id) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::Storage(error) => match error {
                StorageError::NotFound { .. } => (StatusCode::NOT_FOUND, "NOT_FOUND"),
                StorageError::Conflict { .. } | StorageError::InUse { .. } => {
                    (StatusCode::CONFLICT, "CONFLICT")
                }
                StorageError::Connect { .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
                }
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "GENERAL_ERROR"),
            },
        };
        let mut exception = json!({ "messageId": message_id, "text": self.to_string() });
        if status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
            // The details are in the log; the client learns only that it failed.
            exception["text"] = json!("internal error; see the server log");
        }
        if let ApiError::BadRequest { problems } = &self {
            let mut by_path: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for problem in problems {
                by_path
                    .entry(problem.path.as_str())
                    .or_default()
                    .push(problem.message.as_str());
            }
            exception["validationErrors"] = json!(by_path);
        }
        let body = json!({ "requestError": { "serviceException": exception } });
        (status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_their_status() {
        let cases = [
            (
                ApiError::from(StorageError::NotFound { what: "x".into() }),
                StatusCode::NOT_FOUND,
            ),
            (
                ApiError::from(StorageError::Conflict { what: "x".into() }),
                StatusCode::CONFLICT,
            ),
            (
                ApiError::from(StorageError::corrupt("row", "bad")),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (ApiError::Unauthorized, StatusCode::UNAUTHORIZED),
            (ApiError::bad_request("a.b", "no"), StatusCode::BAD_REQUEST),
        ];
        for (error, status) in cases {
            assert_eq!(error.into_response().status(), status);
        }
    }
}

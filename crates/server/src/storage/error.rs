//! Storage errors: what failed, with the operation named; mapped to HTTP in `api::error`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported storage URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl { url: String },
    #[error("cannot create the storage directory {}: {source}", path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{operation} failed: {source}")]
    Query {
        operation: &'static str,
        source: sqlx::Error,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("{what} is in use: {reason}")]
    InUse { what: String, reason: String },
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl StorageError {
    /// A closure for `map_err` naming the operation.
    pub(crate) fn query(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StorageError {
        move |source| StorageError::Query { operation, source }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> StorageError {
        StorageError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

/// `url` with any password replaced by `***`, fit for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://ivory:secret@db/ivory"),
            "postgres://ivory:***@db/ivory"
        );
        assert_eq!(
            redact_url("postgres://ivory@db/ivory"),
            "postgres://ivory@db/ivory"
        );
        assert_eq!(
            redact_url("sqlite://data/ivory.db"),
            "sqlite://data/ivory.db"
        );
    }
}

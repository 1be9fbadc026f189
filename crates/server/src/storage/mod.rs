//! Durable storage: scenarios, launches and their destinations with each attempt, delivery
//! reports and the webhook outbox, call logs and the recordings' index.
//!
//! One [`Storage`] over sqlx's `Any` driver, so the same code and the same migrations
//! (`migrations/*.sql`, compiled in) run on SQLite (`sqlite://data/ivory.db`, the embedded
//! default: the file and its directory are created) and on PostgreSQL (`postgres://...`, for
//! several nodes). Only `BIGINT` and `TEXT` columns; times are milliseconds since the Unix
//! epoch; JSON is stored as text.
//!
//! Concurrency:
//! - SQLite is single-writer: the pool holds one connection, so statements and transactions
//!   run one at a time (no `SQLITE_BUSY` between two of ivory's own writers).
//! - PostgreSQL: several nodes share the queue. Claims select their rows `FOR UPDATE SKIP
//!   LOCKED` and lease them to the node; starting an attempt is a compare-and-set on the
//!   attempt number, so no destination is ever called twice for one attempt.
//! - Every change that makes a destination final writes its report (and its outbox row) in
//!   the same transaction: exactly one final report per destination.

// Parts are used by the dialer worker once it is wired.

mod error;
mod launches;
mod logs;
mod outbox;
mod queue;
pub mod report;
mod scenarios;

use std::path::PathBuf;
use std::sync::Once;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, AssertSqlSafe, Row};

pub use error::{StorageError, redact_url};
pub use launches::{CallOptions, NewDestination, NewLaunch, NewLaunchGroup, NotifyTarget};
pub use logs::{CallLogEntry, LogFilter, LogRow, RecordingRow};
pub use outbox::OutboxItem;
pub use queue::{AttemptEnd, DestinationRow, QueueDepth};
pub use report::CallSummary;
pub use scenarios::ScenarioRecord;

/// The migrations, compiled in: the binary migrates whatever its working directory.
const MIGRATIONS: [(i64, &str, &str); 1] = [(
    1,
    "initial",
    include_str!("../../migrations/0001_initial.sql"),
)];

/// Which database is behind the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database, shared by the API, the dialer's worker and the webhook pusher.
#[derive(Debug, Clone)]
pub struct Storage {
    pool: AnyPool,
    backend: Backend,
}

static INSTALL_DRIVERS: Once = Once::new();

impl Storage {
    /// Opens (and for SQLite creates) the database at `url` and runs the migrations.
    pub async fn open(url: &str) -> Result<Storage, StorageError> {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        let (backend, connect_url) = if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            (Backend::Sqlite, sqlite_url(path)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StorageError::UnsupportedUrl {
                url: redact_url(url),
            });
        };
        let options = match backend {
            // One connection: SQLite has one writer at a time anyway.
            Backend::Sqlite => AnyPoolOptions::new().max_connections(1),
            Backend::Postgres => AnyPoolOptions::new().max_connections(8),
        };
        let pool = options
            .connect(&connect_url)
            .await
            .map_err(|source| StorageError::Connect {
                url: redact_url(url),
                source,
            })?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations).run(&pool).await?;
        Ok(Storage { pool, backend })
    }

    #[allow(dead_code, reason = "the storage tests branch on it")]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (at shutdown, and in tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a transaction that reads first and writes later would otherwise fail
    /// with "database is locked" instead of waiting when another connection writes.
    pub(crate) async fn begin(
        &self,
        operation: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StorageError> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(StorageError::query(operation))
    }

    /// The row-locking clause of a claim: PostgreSQL skips rows another node is claiming;
    /// SQLite's single writer needs none.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

use sqlx::SqlSafeStr as _;

/// The sqlx URL for a `sqlite://PATH`: creates PATH's directory, asks for the file to be
/// created.
fn sqlite_url(path: &str) -> Result<String, StorageError> {
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    if file.is_empty() {
        return Err(StorageError::UnsupportedUrl {
            url: format!("sqlite://{path}"),
        });
    }
    if file != ":memory:"
        && let Some(parent) = PathBuf::from(file).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::Directory {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let query = if query.is_empty() {
        "mode=rwc".to_string()
    } else if query.contains("mode=") {
        query.to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{file}?{query}"))
}

/// `$first, $first+1, ...` for `count` values: the placeholders of a batched statement
/// (SQLite reads `$N` as PostgreSQL does).
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a column, naming it in the error.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &'static str) -> Result<T, StorageError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name)
        .map_err(|error| StorageError::corrupt("column", format!("{name}: {error}")))
}

/// Parses a JSON text column.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    name: &'static str,
) -> Result<T, StorageError> {
    let text: String = column(row, name)?;
    serde_json::from_str(&text)
        .map_err(|error| StorageError::corrupt("JSON column", format!("{name}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file() {
        let dir = std::env::temp_dir().join(format!("ivory-url-{}", std::process::id()));
        let file = dir.join("sub/ivory.db");
        let url = sqlite_url(file.to_str().expect("utf-8")).expect("url");
        assert!(url.ends_with("ivory.db?mode=rwc"), "{url}");
        assert!(dir.join("sub").is_dir());
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            sqlite_url(":memory:?cache=shared").expect("url"),
            "sqlite://:memory:?cache=shared&mode=rwc"
        );
        assert!(sqlite_url("").is_err());
    }

    #[test]
    fn placeholders_count_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }
}

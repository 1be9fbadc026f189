//! Scenarios: the JSON a client stored, by id; compiled by the API before every write.

use sqlx::any::AnyRow;

use super::{Storage, StorageError, column};

/// A stored scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioRecord {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The scenario JSON (`name`, `description`, `script`, ...), without the metadata.
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioPage {
    pub scenarios: Vec<ScenarioRecord>,
    pub total: u64,
}

impl Storage {
    pub async fn insert_scenario(&self, scenario: &ScenarioRecord) -> Result<(), StorageError> {
        let result = sqlx::query(
            "INSERT INTO scenarios (id, name, description, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(scenario.id.clone())
        .bind(scenario.name.clone())
        .bind(scenario.description.clone())
        .bind(scenario.body.clone())
        .bind(scenario.created_at)
        .bind(scenario.updated_at)
        .execute(self.pool())
        .await
        .map_err(StorageError::query("inserting a scenario"))?;
        if result.rows_affected() == 0 {
            return Err(StorageError::Conflict {
                what: format!("scenario {}", scenario.id),
            });
        }
        Ok(())
    }

    pub async fn scenario(&self, id: &str) -> Result<ScenarioRecord, StorageError> {
        let row = sqlx::query("SELECT id, name, description, body, created_at, updated_at FROM scenarios WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(StorageError::query("reading a scenario"))?;
        match row {
            Some(row) => scenario_from_row(&row),
            None => Err(StorageError::NotFound {
                what: format!("scenario {id}"),
            }),
        }
    }

    /// Replaces a scenario's name, description and body; keeps its creation time.
    pub async fn update_scenario(
        &self,
        scenario: &ScenarioRecord,
    ) -> Result<ScenarioRecord, StorageError> {
        let result = sqlx::query(
            "UPDATE scenarios SET name = $2, description = $3, body = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(scenario.id.clone())
        .bind(scenario.name.clone())
        .bind(scenario.description.clone())
        .bind(scenario.body.clone())
        .bind(scenario.updated_at)
        .execute(self.pool())
        .await
        .map_err(StorageError::query("updating a scenario"))?;
        if result.rows_affected() == 0 {
            return Err(StorageError::NotFound {
                what: format!("scenario {}", scenario.id),
            });
        }
        self.scenario(&scenario.id).await
    }

    /// Deletes a scenario no waiting or calling destination still needs.
    pub async fn delete_scenario(&self, id: &str) -> Result<(), StorageError> {
        let pending: i64 = sqlx::query(
            "SELECT COUNT(*) AS pending FROM destinations \
             WHERE scenario_id = $1 AND state IN ('scheduled', 'retry_wait', 'calling')",
        )
        .bind(id.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(StorageError::query("counting a scenario's destinations"))
        .and_then(|row| column(&row, "pending"))?;
        if pending > 0 {
            return Err(StorageError::InUse {
                what: format!("scenario {id}"),
                reason: format!("{pending} destinations of running launches still use it"),
            });
        }
        let result = sqlx::query("DELETE FROM scenarios WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(StorageError::query("deleting a scenario"))?;
        if result.rows_affected() == 0 {
            return Err(StorageError::NotFound {
                what: format!("scenario {id}"),
            });
        }
        Ok(())
    }

    /// A page (`page` from 0) of scenarios by creation, optionally only those whose name
    /// contains `name` (case-insensitive).
    pub async fn list_scenarios(
        &self,
        name: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<ScenarioPage, StorageError> {
        let pattern = format!("%{}%", escape_like(&name.unwrap_or("").to_lowercase()));
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS total FROM scenarios WHERE LOWER(name) LIKE $1 ESCAPE '\\'",
        )
        .bind(pattern.clone())
        .fetch_one(self.pool())
        .await
        .map_err(StorageError::query("counting scenarios"))
        .and_then(|row| column(&row, "total"))?;
        let rows = sqlx::query(
            "SELECT id, name, description, body, created_at, updated_at FROM scenarios \
             WHERE LOWER(name) LIKE $1 ESCAPE '\\' ORDER BY created_at, id LIMIT $2 OFFSET $3",
        )
        .bind(pattern)
        .bind(i64::from(page_size))
        .bind(i64::from(page) * i64::from(page_size))
        .fetch_all(self.pool())
        .await
        .map_err(StorageError::query("listing scenarios"))?;
        Ok(ScenarioPage {
            scenarios: rows
                .iter()
                .map(scenario_from_row)
                .collect::<Result<_, _>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

fn scenario_from_row(row: &AnyRow) -> Result<ScenarioRecord, StorageError> {
    Ok(ScenarioRecord {
        id: column(row, "id")?,
        name: column(row, "name")?,
        description: column(row, "description")?,
        body: column(row, "body")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
    })
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

//! Storage failures, sorted by what a caller does about them.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached or is overloaded: try again later (HTTP 503).
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    /// A unique constraint refused the write.
    #[error("conflicts with an existing record: {0}")]
    Conflict(String),
    /// A row the write refers to is gone (e.g. its tenant was deleted meanwhile).
    #[error("a referenced record no longer exists: {0}")]
    MissingReference(String),
    /// A stored value cannot be read back; a bug or a manual edit.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(DbErr),
}

impl StorageError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DbErr> for StorageError {
    fn from(error: DbErr) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) => return Self::Conflict(message),
            Some(SqlErr::ForeignKeyConstraintViolation(message)) => {
                return Self::MissingReference(message);
            }
            _ => {}
        }
        if is_unavailable(&error) {
            return Self::Unavailable(error);
        }
        Self::Database(error)
    }
}

fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Protocol(_) => true,
                // SQLite answers BUSY/LOCKED under write contention beyond the busy timeout;
                // PostgreSQL signals shutdown and too many connections by SQLSTATE class 57/53.
                Sqlx::Database(db) => {
                    let code = db.code().unwrap_or_default();
                    matches!(code.as_ref(), "5" | "6" | "261" | "517")
                        || code.starts_with("57")
                        || code.starts_with("53")
                        || code.starts_with("08")
                }
                _ => false,
            }
        }
        _ => false,
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

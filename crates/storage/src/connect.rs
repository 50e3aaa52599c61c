//! Opening the database and bringing its schema up to date.

use std::sync::Arc;
use std::time::Duration;

use faxrelay_migrations::{Migrator, MigratorTrait};
use sea_orm::DbErr;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::StorageError;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// How long a query waits for a free connection before the database counts as
    /// unavailable.
    pub acquire_timeout: Duration,
    /// SQLite: how long a write waits for another writer before giving up.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// The database of one faxrelay deployment.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite: whose turn it is to write (see [`Store::write_transaction`]).
    write_turn: Option<Arc<Mutex<()>>>,
    /// How it was opened, so that [`Store::own_pool`] can open the same database again.
    opened_with: Arc<(String, StoreOptions)>,
}

/// A transaction that will write; for SQLite it holds this process's write turn until it
/// ends.
#[derive(Debug)]
pub(crate) struct WriteTransaction {
    transaction: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.transaction
    }
}

impl WriteTransaction {
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.transaction.commit().await
    }
}

impl Store {
    /// Opens `url` (`sqlite://file.db?mode=rwc` or `postgres://...`).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StorageError> {
        let db = open_pool(url, options).await?;
        let write_turn =
            (db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self {
            db,
            write_turn,
            opened_with: Arc::new((url.to_owned(), options.clone())),
        })
    }

    /// The same database through a pool of its own, of at most `max_connections`
    /// (PostgreSQL; SQLite shares this pool).
    ///
    /// A PostgreSQL connection is served by the I/O driver of the runtime it was opened
    /// on. The HTTP workers each run a runtime of their own, so a connection one of them
    /// opened, when used by a task of another runtime, waits at every round trip for that
    /// worker to notice its socket. Tasks that write on the hot path (ingest, delivery
    /// outcomes) get a pool of their own, opened on their runtime, and skip that hop.
    /// SQLite connections run on threads of their own, and `sqlite::memory:` opened twice
    /// would be two databases.
    pub async fn own_pool(&self, max_connections: u32) -> Result<Self, StorageError> {
        if self.backend() != DbBackend::Postgres {
            return Ok(self.clone());
        }
        let (url, options) = &*self.opened_with;
        let options = StoreOptions {
            max_connections,
            ..options.clone()
        };
        Ok(Self {
            db: open_pool(url, &options).await?,
            write_turn: self.write_turn.clone(),
            opened_with: self.opened_with.clone(),
        })
    }
}

/// Opens a pool on `url`. SQLite runs in WAL mode with full fsync on commit, since a 2xx to
/// Retarus promises the report is on disk.
async fn open_pool(url: &str, options: &StoreOptions) -> Result<DatabaseConnection, StorageError> {
    let busy_timeout = options.busy_timeout;
    let mut connect = ConnectOptions::new(url);
    connect
        .max_connections(options.max_connections)
        .min_connections(1)
        .connect_timeout(options.connect_timeout)
        .acquire_timeout(options.acquire_timeout)
        // A dead connection fails its query and is replaced; pinging before every
        // checkout would cost a round trip per query.
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    Ok(Database::connect(connect).await?)
}

impl Store {
    /// Applies pending migrations. Several processes may start at once against one
    /// PostgreSQL: an advisory lock lets one migrate while the others wait.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        if self.backend() == DbBackend::Postgres {
            let transaction = self.db.begin().await?;
            transaction
                .execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock(7204460519470)",
                ))
                .await?;
            Migrator::up(&transaction, None).await?;
            transaction.commit().await?;
        } else {
            Migrator::up(&self.db, None).await?;
        }
        Ok(())
    }

    /// Migrations that exist in this build but not in the database.
    pub async fn pending_migrations(&self) -> Result<usize, StorageError> {
        Ok(Migrator::get_pending_migrations(&self.db).await?.len())
    }

    /// A transaction that will write.
    ///
    /// SQLite has one writer at a time. Writers of this process take turns on an async
    /// mutex: waiting on SQLite's own lock means polling with growing sleeps (up to 100 ms),
    /// which showed as latency spikes when ingest and the worker write at once. The
    /// transaction still begins IMMEDIATE, taking the write lock at `BEGIN`, for writers in
    /// other processes; PostgreSQL ignores the mode.
    pub(crate) async fn write_transaction(&self) -> Result<WriteTransaction, StorageError> {
        let turn = match &self.write_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let transaction = self.db.begin_with_options(options).await?;
        Ok(WriteTransaction {
            transaction,
            _turn: turn,
        })
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.db.ping().await.map_err(StorageError::Unavailable)
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The connection itself, for tests that look at stored rows.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn close(self) -> Result<(), StorageError> {
        self.db.close().await.map_err(StorageError::from)
    }
}

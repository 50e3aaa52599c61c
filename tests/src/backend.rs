//! A fresh database (and queue namespace) per test.

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

/// Which storage and queue a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-process queue: the embedded default.
    Sqlite,
    /// PostgreSQL + Redis: production.
    Postgres,
}

pub fn postgres_admin_url() -> String {
    std::env::var("FAXRELAY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("FAXRELAY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A database that exists for one test and is removed after it.
#[derive(Debug)]
pub(crate) enum TestDatabase {
    Sqlite { dir: std::path::PathBuf },
    Postgres { name: String },
}

impl TestDatabase {
    pub(crate) async fn create(backend: Backend) -> (Self, String) {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("faxrelay-test-{suffix}"));
                std::fs::create_dir_all(&dir).expect("creating a temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.join("faxrelay.db").display());
                (Self::Sqlite { dir }, url)
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("faxrelay_test_{suffix}");
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is required at {admin_url} (set FAXRELAY_TEST_DATABASE_URL): {e}")
                });
                admin
                    .execute_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("CREATE DATABASE {name}"),
                    ))
                    .await
                    .expect("creating the test database");
                let _ = admin.close().await;
                let mut url = url::Url::parse(&admin_url).expect("a PostgreSQL URL");
                url.set_path(&format!("/{name}"));
                (Self::Postgres { name }, url.to_string())
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            Self::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres { name } => {
                let name = name.clone();
                // Drop runs outside async code: a thread with its own runtime does the work.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        if let Ok(admin) = Database::connect(&postgres_admin_url()).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = admin
                                .execute_raw(Statement::from_string(DbBackend::Postgres, sql))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                    Ok::<_, std::io::Error>(())
                })
                .join();
            }
        }
    }
}

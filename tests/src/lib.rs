//! The harness of the end-to-end tests: a real faxrelay on a random port, on a fresh
//! database per test (a SQLite file, or a PostgreSQL database with a Redis key prefix),
//! talked to over HTTP.
//!
//! PostgreSQL and Redis are expected at their default local ports (override with
//! `FAXRELAY_TEST_DATABASE_URL` and `FAXRELAY_TEST_REDIS_URL`). A test that needs them
//! fails with a clear message when they are missing: nothing is skipped.

mod app;
mod backend;
pub mod fixtures;
pub mod proxy;
pub mod relay;
pub mod sink;

pub use app::{Tenant, TestApp, TestAppBuilder, problem};
pub use backend::{Backend, postgres_admin_url, redis_url};

/// Declares a test that runs once on SQLite with the in-process queue and once on
/// PostgreSQL with Redis: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident : $backend_type:ty $(,)?) $body:block) => {
        $(#[$meta])*
        async fn $name($backend: $backend_type) $body

        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    };
}

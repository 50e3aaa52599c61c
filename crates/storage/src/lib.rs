//! faxrelay's storage: every query the services run, on SQLite (the embedded default) and
//! PostgreSQL alike.
//!
//! Every function the API calls for tenant-owned data takes the tenant's id and scopes
//! its queries by it, so a handler cannot forget the scope. The few unscoped reads
//! (`dispatch`, the sweeper's due deliveries) serve the worker, which acts for every
//! tenant and only ever holds ids the queue or the outbox handed it. The API and the
//! worker get plain records back; sea-orm stays inside this crate.

mod connect;
pub mod entities;
mod error;
pub mod group_commit;
pub mod paging;

pub mod api_keys;
pub mod deliveries;
pub mod dispatch;
pub mod ingest;

pub mod push;
pub mod rejected;
pub mod reports;

pub mod templates;
pub mod tenants;
pub mod webhooks;

pub use connect::{Store, StoreOptions};
pub use error::StorageError;
pub use paging::{Cursor, Page};

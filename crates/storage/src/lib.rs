//! faxrelay's storage: every query the services run, on SQLite (the embedded default) and
//! PostgreSQL alike.
//!
//! Each tenant-owned table is read and written only through functions that take the
//! tenant's id, so no caller can forget the scope. The API and the worker get plain
//! records back; sea-orm stays inside this crate.

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

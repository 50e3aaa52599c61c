//! The faxrelay schema, as sea-orm migrations that run alike on SQLite and PostgreSQL.
//!
//! Every table a tenant owns has a `tenant_id` with `ON DELETE CASCADE`, so deleting a
//! tenant removes everything it owns in one statement. Ids are UUIDv7 (see
//! `faxrelay_core::ids`); times are UTC.

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261204_000001_tenants_and_reports;
mod m20261204_000002_webhooks_and_deliveries;
mod m20261205_000003_push_bodies;

#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_tenants_and_reports::Migration),
            Box::new(m20261204_000002_webhooks_and_deliveries::Migration),
            Box::new(m20261205_000003_push_bodies::Migration),
        ]
    }
}

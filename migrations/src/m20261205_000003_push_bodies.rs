//! Push bodies of several jobs, stored once.
//!
//! A push may carry up to 1,000 jobs, and each becomes a report that answers the whole body
//! at `/raw`. Kept in every report row, a 1 MiB body of 1,000 jobs would be stored 1,000
//! times. Such bodies live here once, and their reports point at them with `body_id` (their
//! own `raw_body` left empty). A push of one report keeps its body in the report row, as
//! before: one row written per push, and nothing to move for the reports stored earlier.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::cascade;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    BodyId,
}

#[derive(DeriveIden)]
enum PushBodies {
    Table,
    Id,
    TenantId,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PushBodies::Table)
                    .col(pk_uuid(PushBodies::Id))
                    .col(uuid(PushBodies::TenantId))
                    .col(blob(PushBodies::Body))
                    .foreign_key(&mut cascade(
                        PushBodies::Table,
                        PushBodies::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .take(),
            )
            .await?;
        // No foreign key: SQLite cannot add one to an existing table. Reports and bodies
        // go together, with their tenant.
        manager
            .alter_table(
                Table::alter()
                    .table(Reports::Table)
                    .add_column(uuid_null(Reports::BodyId))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Reports::Table)
                    .drop_column(Reports::BodyId)
                    .take(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(PushBodies::Table).take())
            .await
    }
}

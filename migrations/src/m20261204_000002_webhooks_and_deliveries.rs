//! Templates, webhooks, deliveries (the outbox) and their attempts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{cascade, index};

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
    Id,
}

#[derive(DeriveIden)]
enum Templates {
    Table,
    Id,
    TenantId,
    Name,
    ContentType,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    TenantId,
    Url,
    Description,
    Enabled,
    Template,
    Filter,
    FanOut,
    Headers,
    AuthKind,
    AuthConfig,
    AuthSecretSealed,
    RetrySchedule,
    SigningSecretSealed,
    PreviousSecretSealed,
    PreviousSecretExpiresAt,
    DisabledReason,
    FailingSince,
    LastSuccessAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    TenantId,
    WebhookId,
    ReportId,
    RecipientPosition,
    Status,
    Attempts,
    ScheduleStart,
    NextAttemptAt,
    LastAttemptAt,
    LastStatusCode,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    TenantId,
    DeliveryId,
    Attempt,
    AttemptedAt,
    DurationMs,
    StatusCode,
    ResponseHeaders,
    ResponseBody,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Templates::Table)
                    .col(pk_uuid(Templates::Id))
                    .col(uuid(Templates::TenantId))
                    .col(string_len(Templates::Name, 200))
                    .col(string_len(Templates::ContentType, 255))
                    .col(text(Templates::Body))
                    .col(timestamp_with_time_zone(Templates::CreatedAt))
                    .col(timestamp_with_time_zone(Templates::UpdatedAt))
                    .foreign_key(&mut cascade(
                        Templates::Table,
                        Templates::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .take(),
            )
            .await?;
        index(
            manager,
            Templates::Table,
            "idx_templates_tenant",
            [Templates::TenantId, Templates::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(pk_uuid(Webhooks::Id))
                    .col(uuid(Webhooks::TenantId))
                    .col(text(Webhooks::Url))
                    .col(text_null(Webhooks::Description))
                    .col(boolean(Webhooks::Enabled))
                    .col(string_len(Webhooks::Template, 64))
                    .col(json_binary(Webhooks::Filter))
                    .col(string_len(Webhooks::FanOut, 16))
                    .col(json_binary(Webhooks::Headers))
                    .col(string_len(Webhooks::AuthKind, 16))
                    .col(json_binary_null(Webhooks::AuthConfig))
                    .col(text_null(Webhooks::AuthSecretSealed))
                    .col(string_len_null(Webhooks::RetrySchedule, 1024))
                    .col(text(Webhooks::SigningSecretSealed))
                    .col(text_null(Webhooks::PreviousSecretSealed))
                    .col(timestamp_with_time_zone_null(
                        Webhooks::PreviousSecretExpiresAt,
                    ))
                    .col(text_null(Webhooks::DisabledReason))
                    .col(timestamp_with_time_zone_null(Webhooks::FailingSince))
                    .col(timestamp_with_time_zone_null(Webhooks::LastSuccessAt))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(&mut cascade(
                        Webhooks::Table,
                        Webhooks::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .take(),
            )
            .await?;
        index(
            manager,
            Webhooks::Table,
            "idx_webhooks_tenant",
            [Webhooks::TenantId, Webhooks::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(pk_uuid(Deliveries::Id))
                    .col(uuid(Deliveries::TenantId))
                    .col(uuid(Deliveries::WebhookId))
                    .col(uuid(Deliveries::ReportId))
                    .col(integer_null(Deliveries::RecipientPosition))
                    .col(string_len(Deliveries::Status, 16))
                    .col(integer(Deliveries::Attempts))
                    .col(integer(Deliveries::ScheduleStart))
                    .col(timestamp_with_time_zone_null(Deliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Deliveries::LastAttemptAt))
                    .col(integer_null(Deliveries::LastStatusCode))
                    .col(text_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                    .foreign_key(&mut cascade(
                        Deliveries::Table,
                        Deliveries::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .foreign_key(&mut cascade(
                        Deliveries::Table,
                        Deliveries::WebhookId,
                        Webhooks::Table,
                        Webhooks::Id,
                    ))
                    .foreign_key(&mut cascade(
                        Deliveries::Table,
                        Deliveries::ReportId,
                        Reports::Table,
                        Reports::Id,
                    ))
                    .take(),
            )
            .await?;
        index(
            manager,
            Deliveries::Table,
            "idx_deliveries_tenant",
            [Deliveries::TenantId, Deliveries::Id],
        )
        .await?;
        index(
            manager,
            Deliveries::Table,
            "idx_deliveries_webhook",
            [Deliveries::WebhookId, Deliveries::Id],
        )
        .await?;
        index(
            manager,
            Deliveries::Table,
            "idx_deliveries_report",
            [Deliveries::ReportId],
        )
        .await?;
        // The sweeper's question: which unfinished deliveries are due?
        index(
            manager,
            Deliveries::Table,
            "idx_deliveries_due",
            [Deliveries::Status, Deliveries::NextAttemptAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .col(pk_uuid(DeliveryAttempts::Id))
                    .col(uuid(DeliveryAttempts::TenantId))
                    .col(uuid(DeliveryAttempts::DeliveryId))
                    .col(integer(DeliveryAttempts::Attempt))
                    .col(timestamp_with_time_zone(DeliveryAttempts::AttemptedAt))
                    .col(integer(DeliveryAttempts::DurationMs))
                    .col(integer_null(DeliveryAttempts::StatusCode))
                    .col(json_binary_null(DeliveryAttempts::ResponseHeaders))
                    .col(text_null(DeliveryAttempts::ResponseBody))
                    .col(text_null(DeliveryAttempts::Error))
                    .foreign_key(&mut cascade(
                        DeliveryAttempts::Table,
                        DeliveryAttempts::DeliveryId,
                        Deliveries::Table,
                        Deliveries::Id,
                    ))
                    .take(),
            )
            .await?;
        index(
            manager,
            DeliveryAttempts::Table,
            "idx_delivery_attempts_delivery",
            [DeliveryAttempts::DeliveryId, DeliveryAttempts::Attempt],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DeliveryAttempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
            Templates::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}

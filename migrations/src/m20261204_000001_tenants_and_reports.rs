//! Tenants, their API keys and push credentials, and the reports they receive.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{cascade, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    PushAuth,
    PushKey,
    DigestAlgorithms,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PushCredentials {
    Table,
    Id,
    TenantId,
    Method,
    Principal,
    SecretHash,
    KeyHash,
    Ha1Md5,
    Ha1Sha256,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum DigestNonceUses {
    Table,
    NonceCount,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    TenantId,
    JobId,
    DedupeKey,
    ReceivedAt,
    Format,
    Status,
    Pages,
    CustomerDefinedId,
    RecipientCount,
    Document,
    RawContentType,
    RawBody,
}

#[derive(DeriveIden)]
enum ReportRecipients {
    Table,
    ReportId,
    Position,
    TenantId,
    NumberDigits,
    Status,
    Category,
}

#[derive(DeriveIden)]
enum RejectedPushes {
    Table,
    Id,
    TenantId,
    ReceivedAt,
    ContentType,
    Error,
    Body,
}

fn owned_by_tenant(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    cascade(table, column, Tenants::Table, Tenants::Id)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(pk_uuid(Tenants::Id))
                    .col(string_len(Tenants::Name, 200))
                    .col(string_len(Tenants::PushAuth, 16))
                    .col(string_len_uniq(Tenants::PushKey, 64))
                    .col(string_len(Tenants::DigestAlgorithms, 32))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(pk_uuid(ApiKeys::Id))
                    .col(uuid(ApiKeys::TenantId))
                    .col(string_len_null(ApiKeys::Name, 200))
                    .col(string_len(ApiKeys::Prefix, 16))
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .foreign_key(&mut owned_by_tenant(ApiKeys::Table, ApiKeys::TenantId))
                    .take(),
            )
            .await?;
        index(
            manager,
            ApiKeys::Table,
            "idx_api_keys_tenant",
            [ApiKeys::TenantId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PushCredentials::Table)
                    .col(pk_uuid(PushCredentials::Id))
                    .col(uuid(PushCredentials::TenantId))
                    .col(string_len(PushCredentials::Method, 16))
                    .col(string_len_null(PushCredentials::Principal, 128).unique_key())
                    .col(string_len_null(PushCredentials::SecretHash, 64))
                    .col(string_len_null(PushCredentials::KeyHash, 64).unique_key())
                    .col(string_len_null(PushCredentials::Ha1Md5, 32))
                    .col(string_len_null(PushCredentials::Ha1Sha256, 64))
                    .col(timestamp_with_time_zone(PushCredentials::CreatedAt))
                    .col(timestamp_with_time_zone_null(PushCredentials::LastUsedAt))
                    .foreign_key(&mut owned_by_tenant(
                        PushCredentials::Table,
                        PushCredentials::TenantId,
                    ))
                    .take(),
            )
            .await?;
        index(
            manager,
            PushCredentials::Table,
            "idx_push_credentials_tenant",
            [PushCredentials::TenantId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(DigestNonceUses::Table)
                    .col(string_len(DigestNonceUses::NonceCount, 200).primary_key())
                    .col(timestamp_with_time_zone(DigestNonceUses::ExpiresAt))
                    .take(),
            )
            .await?;
        index(
            manager,
            DigestNonceUses::Table,
            "idx_digest_nonce_uses_expiry",
            [DigestNonceUses::ExpiresAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(pk_uuid(Reports::Id))
                    .col(uuid(Reports::TenantId))
                    .col(string_len(Reports::JobId, 128))
                    .col(string_len(Reports::DedupeKey, 64))
                    .col(timestamp_with_time_zone(Reports::ReceivedAt))
                    .col(string_len(Reports::Format, 32))
                    .col(string_len(Reports::Status, 16))
                    .col(integer_null(Reports::Pages))
                    .col(text_null(Reports::CustomerDefinedId))
                    .col(integer(Reports::RecipientCount))
                    .col(json_binary(Reports::Document))
                    .col(string_len(Reports::RawContentType, 255))
                    .col(blob(Reports::RawBody))
                    .foreign_key(&mut owned_by_tenant(Reports::Table, Reports::TenantId))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_reports_tenant_dedupe")
                    .table(Reports::Table)
                    .col(Reports::TenantId)
                    .col(Reports::DedupeKey)
                    .unique()
                    .take(),
            )
            .await?;
        index(
            manager,
            Reports::Table,
            "idx_reports_tenant_id",
            [Reports::TenantId, Reports::Id],
        )
        .await?;
        index(
            manager,
            Reports::Table,
            "idx_reports_tenant_job",
            [Reports::TenantId, Reports::JobId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReportRecipients::Table)
                    .col(uuid(ReportRecipients::ReportId))
                    .col(integer(ReportRecipients::Position))
                    .col(uuid(ReportRecipients::TenantId))
                    .col(string_len(ReportRecipients::NumberDigits, 64))
                    .col(string_len(ReportRecipients::Status, 64))
                    .col(string_len(ReportRecipients::Category, 32))
                    .primary_key(
                        Index::create()
                            .col(ReportRecipients::ReportId)
                            .col(ReportRecipients::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReportRecipients::Table, ReportRecipients::ReportId)
                            .to(Reports::Table, Reports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        index(
            manager,
            ReportRecipients::Table,
            "idx_report_recipients_number",
            [ReportRecipients::TenantId, ReportRecipients::NumberDigits],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RejectedPushes::Table)
                    .col(pk_uuid(RejectedPushes::Id))
                    .col(uuid(RejectedPushes::TenantId))
                    .col(timestamp_with_time_zone(RejectedPushes::ReceivedAt))
                    .col(string_len_null(RejectedPushes::ContentType, 255))
                    .col(text(RejectedPushes::Error))
                    .col(blob(RejectedPushes::Body))
                    .foreign_key(&mut owned_by_tenant(
                        RejectedPushes::Table,
                        RejectedPushes::TenantId,
                    ))
                    .take(),
            )
            .await?;
        index(
            manager,
            RejectedPushes::Table,
            "idx_rejected_pushes_tenant_id",
            [RejectedPushes::TenantId, RejectedPushes::Id],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RejectedPushes::Table.into_iden(),
            ReportRecipients::Table.into_iden(),
            Reports::Table.into_iden(),
            DigestNonceUses::Table.into_iden(),
            PushCredentials::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}

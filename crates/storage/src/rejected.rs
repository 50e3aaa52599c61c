//! Pushes that were authenticated but could not be read: kept with the reason, so that a
//! Retarus account with a custom layout loses nothing.

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{RejectedPushId, TenantId};
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use crate::entities::rejected_push;
use crate::paging::{Page, PageRequest};
use crate::reports::RawBody;
use crate::{StorageError, Store};

/// A rejected push without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedPush {
    pub id: RejectedPushId,
    pub received_at: DateTime<Utc>,
    pub content_type: Option<String>,
    pub error: String,
    pub size: u64,
}

type RejectedRow = (Uuid, DateTime<Utc>, Option<String>, String, i64);

fn rejected((id, received_at, content_type, error, size): RejectedRow) -> RejectedPush {
    RejectedPush {
        id: RejectedPushId::from_uuid(id),
        received_at,
        content_type,
        error,
        size: size.max(0) as u64,
    }
}

impl Store {
    pub async fn add_rejected_push(
        &self,
        tenant: TenantId,
        content_type: Option<String>,
        body: Vec<u8>,
        error: String,
    ) -> Result<RejectedPushId, StorageError> {
        let id = RejectedPushId::generate();
        rejected_push::ActiveModel {
            id: Set(id.as_uuid()),
            tenant_id: Set(tenant.as_uuid()),
            received_at: Set(Utc::now()),
            content_type: Set(content_type.map(|mut value| {
                faxrelay_core::text::truncate(&mut value, faxrelay_core::codec::MAX_CONTENT_TYPE);
                value
            })),
            error: Set(error),
            body: Set(body),
        }
        .insert(self.connection())
        .await?;
        Ok(id)
    }

    pub async fn list_rejected_pushes(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<RejectedPush>, StorageError> {
        let mut query = rejected_push::Entity::find()
            .filter(rejected_push::Column::TenantId.eq(tenant.as_uuid()));
        if let Some(cursor) = page.after {
            query = query.filter(rejected_push::Column::Id.lt(cursor.0));
        }
        let rows: Vec<RejectedRow> = query
            .select_only()
            .columns([
                rejected_push::Column::Id,
                rejected_push::Column::ReceivedAt,
                rejected_push::Column::ContentType,
                rejected_push::Column::Error,
            ])
            // `length` counts bytes of a blob on SQLite and of a bytea on PostgreSQL.
            .column_as(Expr::cust("CAST(length(body) AS BIGINT)"), "size")
            .order_by_desc(rejected_push::Column::Id)
            .limit(page.limit + 1)
            .into_tuple()
            .all(self.connection())
            .await?;
        Ok(Page::from_rows(rows, page.limit, |row| row.0).map(rejected))
    }

    pub async fn rejected_push_raw(
        &self,
        tenant: TenantId,
        id: RejectedPushId,
    ) -> Result<Option<RawBody>, StorageError> {
        let row = rejected_push::Entity::find()
            .filter(rejected_push::Column::TenantId.eq(tenant.as_uuid()))
            .filter(rejected_push::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        Ok(row.map(|model| RawBody {
            content_type: model
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            body: model.body,
        }))
    }
}

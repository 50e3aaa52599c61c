//! Typed, prefixed identifiers.
//!
//! Every id the API hands out says what it names (`rpt_...` is a report, `whk_...` a
//! webhook), so an id pasted into the wrong place fails to parse instead of silently
//! matching nothing. Underneath each is a UUIDv7: time-ordered, which keeps B-tree inserts
//! local and lets "newest first" paging order by id alone. The text form is the 128 bits in
//! Crockford base32 (26 characters), which sorts like the number it encodes.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ENCODED_LEN: usize = 26;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an id starting with `{expected}_`")]
    WrongPrefix { expected: &'static str },
    #[error("the id is malformed")]
    Malformed,
}

fn encode(value: u128) -> String {
    let mut out = [0u8; ENCODED_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (ENCODED_LEN - 1 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1f) as usize];
    }
    out.iter().map(|&b| b as char).collect()
}

fn decode(text: &str) -> Result<u128, IdError> {
    if text.len() != ENCODED_LEN {
        return Err(IdError::Malformed);
    }
    let mut value: u128 = 0;
    for (i, byte) in text.bytes().enumerate() {
        let digit = match byte.to_ascii_uppercase() {
            b @ b'0'..=b'9' => b - b'0',
            b'O' => 0,
            b'I' | b'L' => 1,
            b => CROCKFORD
                .iter()
                .position(|&c| c == b)
                .ok_or(IdError::Malformed)? as u8,
        };
        // 26 digits carry 130 bits: the first may only hold the top 3 bits of the u128.
        if i == 0 && digit > 0b111 {
            return Err(IdError::Malformed);
        }
        value = (value << 5) | u128::from(digit);
    }
    Ok(value)
}

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id, ordered after every id this process made before.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, encode(self.0.as_u128()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                let rest = text
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .ok_or(IdError::WrongPrefix { expected: $prefix })?;
                decode(rest).map(|value| Self(Uuid::from_u128(value)))
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(/// A tenant: one company using faxrelay.
    TenantId, "tnt");
typed_id!(/// A management API key.
    ApiKeyId, "key");
typed_id!(/// A credential Retarus uses to push to a tenant.
    PushCredentialId, "pcr");
typed_id!(/// A stored fax job report.
    ReportId, "rpt");
typed_id!(/// A push that was authenticated but could not be parsed.
    RejectedPushId, "rej");
typed_id!(/// A tenant's webhook endpoint.
    WebhookId, "whk");
typed_id!(/// A tenant's handlebars template.
    TemplateId, "tpl");
typed_id!(/// One report (or recipient) on its way to one webhook.
    DeliveryId, "dlv");
typed_id!(/// One HTTP attempt of a delivery.
    AttemptId, "att");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = ReportId::generate();
        let text = id.to_string();
        assert!(text.starts_with("rpt_"));
        assert_eq!(text.len(), 4 + ENCODED_LEN);
        assert_eq!(text.parse::<ReportId>(), Ok(id));
    }

    #[test]
    fn extreme_values_round_trip() {
        for value in [0u128, 1, u128::MAX, u128::MAX >> 1] {
            let id = TenantId::from_uuid(Uuid::from_u128(value));
            assert_eq!(id.to_string().parse::<TenantId>(), Ok(id));
        }
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let text = WebhookId::generate().to_string();
        assert_eq!(
            text.parse::<ReportId>(),
            Err(IdError::WrongPrefix { expected: "rpt" })
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for text in [
            "rpt_",
            "rpt_123",
            "rpt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "rpt_0000000000000000000000000U",
            "rpt",
        ] {
            assert!(text.parse::<ReportId>().is_err(), "{text}");
        }
    }

    #[test]
    fn text_order_follows_creation_order() {
        let first = DeliveryId::generate();
        let second = DeliveryId::generate();
        assert!(first.to_string() < second.to_string());
    }
}

//! sea-orm entities, one per table. They are the storage crate's own business: the other
//! crates call the query functions in the parent modules, which scope every read and write
//! by tenant.

pub mod api_key;
pub mod delivery;
pub mod delivery_attempt;
pub mod digest_nonce_use;
pub mod push_body;
pub mod push_credential;
pub mod rejected_push;
pub mod report;
pub mod report_recipient;
pub mod template;
pub mod tenant;
pub mod webhook;

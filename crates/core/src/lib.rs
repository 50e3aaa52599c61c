//! The faxrelay domain: what a Retarus fax status report is, how the Retarus XML and JSON
//! layouts map onto it, what each status code means, and the pure building blocks the
//! services share (typed ids, secrets, webhook signatures, retry policy, templates).
//!
//! Nothing in this crate performs IO, so every rule here is testable with plain values.

pub mod catalog;
pub mod codec;
pub mod crypto;
pub mod ids;
pub mod number;
pub mod push_auth;
pub mod report;
pub mod retry;
pub mod signing;
pub mod target;
pub mod template;
pub mod text;
pub mod webhook;

pub use catalog::StatusCategory;
pub use report::{FaxReport, JobStatus, Recipient, ReportFormat};

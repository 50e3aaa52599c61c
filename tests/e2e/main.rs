//! faxrelay end to end: a real server on a random port, real HTTP clients, and a fresh
//! database per test, on SQLite and on PostgreSQL + Redis.

mod accounts;
mod api_keys;
mod browse;
mod delivery;
mod docs;
mod errors;
mod ingest;
mod isolation;
mod push_auth;
mod resilience;
mod webhooks;

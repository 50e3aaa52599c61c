//! faxrelay end to end: a real server on a random port, real HTTP clients, and a fresh
//! database per test, on SQLite and on PostgreSQL + Redis.

mod accounts;
mod api_keys;
mod docs;
mod errors;

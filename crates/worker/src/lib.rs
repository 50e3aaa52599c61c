//! faxrelay-worker

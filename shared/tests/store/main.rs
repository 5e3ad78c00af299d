//! The store against real Postgres, as zed's `db/tests/*_tests.rs`: one private cluster for this
//! test binary, a fresh migrated database per test.

mod db;
mod events_tests;
mod groups_tests;
mod media_tests;
mod messages_tests;
mod notices_tests;
mod presence_tests;
mod rate_limits_tests;
mod sync_tests;

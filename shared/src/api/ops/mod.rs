//! Liveness, readiness, and where clients connect.

pub mod config;
pub mod healthz;
pub mod readyz;

//! Liveness and readiness.

pub mod healthz;
pub mod readyz;

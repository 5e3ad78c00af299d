//! `/v1/reports`: reports for operators.

pub mod create;

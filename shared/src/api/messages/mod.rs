//! `/v1/conversations/{id}/messages/*`: sending (and, later, changing) messages.

pub mod send;

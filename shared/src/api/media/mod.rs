//! `/v1/media`: uploads by presigned URL, completion, downloads by redirect.

pub mod complete;
pub mod create;
pub mod download;

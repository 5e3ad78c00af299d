//! What every route file uses: `use crate::api::prelude::*;`.

#[cfg(feature = "openapi")]
pub(crate) use super::responses::*;
pub(crate) use super::{Answer, Call, Method, Response, Route};
#[cfg(feature = "openapi")]
pub(crate) use crate::error::ErrorEnvelope;
pub(crate) use crate::ids::*;
pub(crate) use crate::model::*;
pub(crate) use crate::service::Env;

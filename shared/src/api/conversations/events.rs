//! `GET /v1/conversations/{id}/events`.

use crate::api::prelude::*;
use crate::service::messages::{self, EventsQuery};

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/conversations/{id}/events");

/// Query of `GET /v1/conversations/{id}/events`.
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct Params {
    /// Events with a greater seq, oldest first. Not together with `before_seq`. Without `after_seq`,
    /// `before_seq` and `cursor` the page starts at the beginning (`after_seq=0`).
    after_seq: Option<i64>,
    /// The `limit` events just before this seq, still in ascending seq order. Not together with
    /// `after_seq`.
    before_seq: Option<i64>,
}

/// A conversation's events
///
/// One page of the conversation's log, always in ascending seq order. Give `after_seq` or
/// `before_seq` (not both), or the previous page's `next_cursor` (which continues in the same
/// direction and wins over both).
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id."), Params, PageParams),
    responses(
        (status = 200, description = "One page, ascending seq.", body = EventPage),
        (
            status = 400,
            description = "`invalid_request`: both `after_seq` and `before_seq`, a non-integer, `limit` out of \
                range, or a `cursor` not from this API.",
            body = ErrorEnvelope
        ),
        (status = 401, response = Unauthorized),
        (status = 404, response = ConversationNotFound),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let me = call.caller().await?;
    let q = call.query()?;
    let query = EventsQuery {
        cursor: q.get("cursor"),
        after_seq: q.int("after_seq")?,
        before_seq: q.int("before_seq")?,
        limit: q.int("limit")?,
    };
    Ok(Response::json(200, &messages::events(call.env, &me, conv, query).await?))
}

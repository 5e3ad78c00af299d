//! `GET /v1/search/messages`.

use crate::api::prelude::*;
use crate::service::search;

/// Query of `GET /v1/search/messages`.
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct SearchQuery {
    /// What to look for (at most 200 characters, with at least one letter or digit).
    #[param(min_length = 1, max_length = 200, pattern = r"[^\W_]")]
    q: String,
    /// Only in this conversation.
    conversation_id: Option<ConversationId>,
}

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/search/messages");

/// Search messages
///
/// Full-text search over what the caller can read (their conversations, from where their view
/// starts; not recalled, not deleted for them), best match first, with a snippet around the first
/// match and where the matches are. Unspaced scripts (Chinese, Japanese, Korean, Thai, ...) match
/// by character pairs, so a query of two or more characters finds them inside longer runs; the last
/// word of a query also matches words it starts.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "search",
    security(("bearer" = [])),
    params(SearchQuery, PageParams),
    responses(
        (status = 200, description = "One page, best first.", body = SearchPage),
        (status = 400, description = "`invalid_request`: no `q`, nothing to search for in it, over 200 characters, `limit` out of range, or a `cursor` not from this API.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 404, response = ConversationNotFound),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    let page =
        search::messages(call.env, &me, q.get("q"), q.get("conversation_id"), q.get("cursor"), q.int("limit")?).await?;
    Ok(Response::json(200, &page))
}

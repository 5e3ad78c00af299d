//! `GET /v1/config`.

use crate::api::prelude::*;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/config");

/// Client configuration
///
/// Where clients open their realtime connection: the edge names the connection nodes; a node
/// answers an empty list, meaning its own origin. The web app reads this at start, so one build
/// works in dev mode and behind the edge.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "ops",
    responses((status = 200, description = "Where to connect.", body = ClientConfig)),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    Ok(Response::json(200, &ClientConfig { websocket_urls: call.env.websocket_urls() }))
}

//! The REST API as an OpenAPI 3.1 document, generated from the Rust types (feature `openapi`).
//!
//! Schemas come from `#[derive(ToSchema)]` on the serde types themselves (model, ids, time, error
//! and the handlers' request bodies), so the document cannot drift from the JSON the handlers
//! read and write. Operations are declared here, on empty marker functions, one per route of
//! [`crate::api::router`]; their statuses are the ones the handlers return.
//! `parley-node openapi` prints the document and `docs/openapi.json` is its committed copy; a test
//! below fails when the two differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse, ToSchema};

use crate::api::auth::{LoginBody, RefreshBody, RegisterBody};
use crate::api::conversations::{DirectBody, ReadBody, ReadState};
use crate::api::messages::SendBody;
use crate::error::{ErrorBody, ErrorCode, ErrorEnvelope};
use crate::ids::{ClientMsgId, ConversationId, EventId, SessionId, UserId};
use crate::model::{
    AuthResponse, ConversationKind, ConversationPage, ConversationSummary, DirectConversation, Event, EventBody,
    EventPage, User, UserPage,
};
use crate::time::Timestamp;

/// The name of the bearer security scheme in the document.
const BEARER: &str = "bearer";

/// The REST API as OpenAPI 3.1.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley API",
        version = "1",
        description = "Parley's REST API, generated from the Rust types (`parley-node openapi`).\n\n\
            JSON everywhere, UTF-8. Ids are UUIDv7 strings; times are RFC 3339 UTC strings with \
            milliseconds. Every error is `{\"error\": {\"code\", \"message\"}}` (`ErrorEnvelope`) with \
            the status that goes with its code. A known path with a method it does not serve \
            answers 405 `method_not_allowed`. Authenticated calls carry \
            `Authorization: Bearer <access token>`. 429 `rate_limited` responses carry `Retry-After`. \
            Lists are paginated with an opaque `cursor`; responses carry `next_cursor` (null at the \
            end); `limit` defaults to 50, max 200.\n\n\
            The realtime protocol (WebSocket `GET /v1/ws`, QUIC) is described in `docs/protocol.md`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::healthz,
        routes::readyz,
        routes::jwks,
        routes::register,
        routes::login,
        routes::refresh,
        routes::logout,
        routes::users_search,
        routes::users_me,
        routes::users_get,
        routes::conversations_list,
        routes::conversations_direct,
        routes::messages_send,
        routes::events_list,
        routes::conversations_read,
    ),
    components(schemas(
        UserId,
        ConversationId,
        EventId,
        SessionId,
        ClientMsgId,
        Timestamp,
        User,
        AuthResponse,
        ConversationKind,
        ConversationSummary,
        ConversationPage,
        UserPage,
        DirectConversation,
        Event,
        EventBody,
        EventPage,
        ReadState,
        RegisterBody,
        LoginBody,
        RefreshBody,
        DirectBody,
        SendBody,
        ReadBody,
        ErrorEnvelope,
        ErrorBody,
        ErrorCode,
        Status,
        Jwks,
        Jwk,
    ), responses(InvalidBody, Unauthorized, NoTokens, TooLarge, RateLimited, Internal, Unavailable)),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Liveness and readiness."),
        (name = "auth", description = "Accounts, tokens and the keys that verify them."),
        (name = "users", description = "Profiles."),
        (name = "conversations", description = "Conversations, their event logs, messages and read positions."),
    ),
)]
struct ApiDoc;

/// Adds the bearer scheme that authenticated operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from register, login or refresh: an Ed25519 (EdDSA) JWT whose \
                         `kid` names a key of `/.well-known/jwks.json`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// `/healthz` and `/readyz` answers.
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used
struct Status {
    /// `ok` (healthz) or `ready` (readyz).
    #[schema(examples("ok"))]
    status: String,
}

/// The public keys that verify access tokens.
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used
struct Jwks {
    /// One per signing key in use.
    keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037).
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used
struct Jwk {
    /// Always `OKP`.
    #[schema(examples("OKP"))]
    kty: String,
    /// Always `Ed25519`.
    #[schema(examples("Ed25519"))]
    crv: String,
    /// Always `EdDSA`.
    #[schema(examples("EdDSA"))]
    alg: String,
    /// Always `sig`.
    #[schema(rename = "use", examples("sig"))]
    key_use: String,
    /// Key id, matched against the `kid` of a token's header.
    kid: String,
    /// The public key, base64url without padding.
    x: String,
}

/// Query of `GET /v1/conversations`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct ListQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
}

/// Query of `GET /v1/users`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct UserSearchQuery {
    /// Prefix of a username or display name (case-insensitive), 1 to 64 characters.
    q: String,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
}

/// Query of `GET /v1/conversations/{id}/events`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct EventsQuery {
    /// Events with a greater seq, oldest first. Not together with `before_seq`. Without `after_seq`,
    /// `before_seq` and `cursor` the page starts at the beginning (`after_seq=0`).
    after_seq: Option<i64>,
    /// The `limit` events just before this seq, still in ascending seq order. Not together with
    /// `after_seq`.
    before_seq: Option<i64>,
    /// `next_cursor` of the previous page: continues in the same direction; wins over
    /// `after_seq`/`before_seq`.
    cursor: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
}

/// `invalid_request`: malformed JSON, or a missing or out-of-range field (the message names it).
#[derive(ToResponse)]
#[allow(dead_code)] // only its description is used
struct InvalidBody(ErrorEnvelope);

/// `unauthorized`: missing, expired or invalid access token.
#[derive(ToResponse)]
#[allow(dead_code)] // only its description is used
struct Unauthorized(ErrorEnvelope);

/// `not_found`: this server does not issue tokens.
#[derive(ToResponse)]
#[allow(dead_code)] // only its description is used
struct NoTokens(ErrorEnvelope);

/// `too_large`: the body is over 64 KiB.
#[derive(ToResponse)]
#[allow(dead_code)] // only its description is used
struct TooLarge(ErrorEnvelope);

/// `rate_limited`: slow down; `Retry-After` says for how long.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before trying again.")))]
#[allow(dead_code)] // only its description is used
struct RateLimited(ErrorEnvelope);

/// `internal`: the server's fault; the cause goes to its log, never to the client.
#[derive(ToResponse)]
#[allow(dead_code)] // only its description is used
struct Internal(ErrorEnvelope);

/// `unavailable`: the database is unreachable; try again later.
#[derive(ToResponse)]
#[allow(dead_code)] // only its description is used
struct Unavailable(ErrorEnvelope);

/// One marker function per route; only their `#[utoipa::path]` attributes matter.
#[allow(dead_code)]
mod routes {
    use super::*;

    /// Liveness
    ///
    /// 200 while the process serves requests; touches nothing else.
    #[utoipa::path(
        get,
        path = "/healthz",
        tag = "ops",
        responses((status = 200, description = "Alive.", body = Status, example = json!({"status": "ok"}))),
    )]
    pub(super) fn healthz() {}

    /// Readiness
    ///
    /// 200 when the database answers.
    #[utoipa::path(
        get,
        path = "/readyz",
        tag = "ops",
        responses(
            (status = 200, description = "The database answers.", body = Status, example = json!({"status": "ready"})),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn readyz() {}

    /// Token verification keys
    ///
    /// The Ed25519 public keys that verify access tokens (`kid` in the token header), so nodes and
    /// third parties verify tokens locally.
    #[utoipa::path(
        get,
        path = "/.well-known/jwks.json",
        tag = "auth",
        responses(
            (status = 200, description = "The JWKS.", body = Jwks),
            (status = 404, response = NoTokens),
        ),
    )]
    pub(super) fn jwks() {}

    /// Register
    ///
    /// Creates an account and a first session. `username`: 3–32 of `[a-z0-9_.]`, case-insensitive
    /// (stored lower-case), unique. `password`: 8–256 characters. `display_name` defaults to the
    /// username.
    #[utoipa::path(
        post,
        path = "/v1/auth/register",
        tag = "auth",
        request_body = RegisterBody,
        responses(
            (status = 201, description = "Account created; a token pair for its first session.", body = AuthResponse),
            (status = 400, response = InvalidBody),
            (status = 404, response = NoTokens),
            (status = 409, description = "`conflict`: the username is taken.", body = ErrorEnvelope),
            (status = 413, response = TooLarge),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn register() {}

    /// Log in
    ///
    /// Starts a new session. A wrong username and a wrong password get the same 401.
    #[utoipa::path(
        post,
        path = "/v1/auth/login",
        tag = "auth",
        request_body = LoginBody,
        responses(
            (status = 200, description = "A token pair for the new session.", body = AuthResponse),
            (status = 400, response = InvalidBody),
            (status = 401, description = "`unauthorized`: wrong username or password.", body = ErrorEnvelope),
            (status = 404, response = NoTokens),
            (status = 413, response = TooLarge),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn login() {}

    /// Refresh
    ///
    /// Trades a refresh token for a new pair. Refresh tokens are single use: presenting one again
    /// is a 401 and revokes its whole session.
    #[utoipa::path(
        post,
        path = "/v1/auth/refresh",
        tag = "auth",
        request_body = RefreshBody,
        responses(
            (status = 200, description = "A new token pair for the same session.", body = AuthResponse),
            (status = 400, description = "`invalid_request`: malformed JSON or a missing field.", body = ErrorEnvelope),
            (
                status = 401,
                description = "`unauthorized`: invalid, expired or already used refresh token (a reused one revokes \
                    the session).",
                body = ErrorEnvelope
            ),
            (status = 404, response = NoTokens),
            (status = 413, response = TooLarge),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn refresh() {}

    /// Log out
    ///
    /// Ends the caller's session: its refresh token dies and its realtime connections are closed
    /// within seconds, on every node. Safe to repeat.
    #[utoipa::path(
        post,
        path = "/v1/auth/logout",
        tag = "auth",
        security(("bearer" = [])),
        responses(
            (status = 204, description = "Logged out; no body."),
            (status = 401, response = Unauthorized),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn logout() {}

    /// Find users
    ///
    /// Users whose username or display name starts with `q`, ordered by username.
    #[utoipa::path(
        get,
        path = "/v1/users",
        tag = "users",
        security(("bearer" = [])),
        params(UserSearchQuery),
        responses(
            (status = 200, description = "One page.", body = UserPage),
            (
                status = 400,
                description = "`invalid_request`: `q` missing or too long, or `limit` out of range.",
                body = ErrorEnvelope
            ),
            (status = 401, response = Unauthorized),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn users_search() {}

    /// The caller's profile
    #[utoipa::path(
        get,
        path = "/v1/users/me",
        tag = "users",
        security(("bearer" = [])),
        responses(
            (status = 200, description = "The caller.", body = User),
            (
                status = 401,
                description = "`unauthorized`: missing, expired or invalid access token, or the account no longer \
                    exists.",
                body = ErrorEnvelope
            ),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn users_me() {}

    /// A user's profile
    #[utoipa::path(
        get,
        path = "/v1/users/{id}",
        tag = "users",
        security(("bearer" = [])),
        params(("id" = UserId, Path, description = "The user's id.")),
        responses(
            (status = 200, description = "The user.", body = User),
            (status = 401, response = Unauthorized),
            (
                status = 404,
                description = "`not_found`: no such user (also for an id that is not a UUID).",
                body = ErrorEnvelope
            ),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn users_get() {}

    /// The caller's conversations
    ///
    /// Most recent activity first, each from the caller's point of view (read position, unread and
    /// mention counts, settings).
    #[utoipa::path(
        get,
        path = "/v1/conversations",
        tag = "conversations",
        security(("bearer" = [])),
        params(ListQuery),
        responses(
            (status = 200, description = "One page.", body = ConversationPage),
            (
                status = 400,
                description = "`invalid_request`: `limit` out of range or `cursor` not from this API.",
                body = ErrorEnvelope
            ),
            (status = 401, response = Unauthorized),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn conversations_list() {}

    /// Open a direct conversation
    ///
    /// The one direct conversation between the caller and `user_id`: created by the first call,
    /// the same id on every later call.
    #[utoipa::path(
        post,
        path = "/v1/conversations/direct",
        tag = "conversations",
        security(("bearer" = [])),
        request_body = DirectBody,
        responses(
            (status = 201, description = "Created by this call.", body = DirectConversation),
            (status = 200, description = "Already existed.", body = DirectConversation),
            (
                status = 400,
                description = "`invalid_request`: malformed JSON, or `user_id` is the caller.",
                body = ErrorEnvelope
            ),
            (status = 401, response = Unauthorized),
            (status = 403, description = "`forbidden`: a block between the two users.", body = ErrorEnvelope),
            (status = 404, description = "`not_found`: no such user.", body = ErrorEnvelope),
            (status = 413, response = TooLarge),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn conversations_direct() {}

    /// Send a message
    ///
    /// Appends a `message` event. Idempotent on (sender, `client_msg_id`): a retry returns the same
    /// event (again 201), never a second one. A message needs `text` (at most 8000 characters)
    /// and/or `media_ids`; mentioned users must be members; `reply_to` must be a message of this
    /// conversation.
    #[utoipa::path(
        post,
        path = "/v1/conversations/{id}/messages",
        tag = "conversations",
        security(("bearer" = [])),
        params(("id" = ConversationId, Path, description = "The conversation's id.")),
        request_body = SendBody,
        responses(
            (status = 201, description = "The message event (also for an idempotent retry).", body = Event),
            (status = 400, response = InvalidBody),
            (status = 401, response = Unauthorized),
            (status = 403, description = "`forbidden`: blocked, or muted in the group.", body = ErrorEnvelope),
            (
                status = 404,
                description = "`not_found`: no such conversation, or the caller is not a member.",
                body = ErrorEnvelope
            ),
            (
                status = 409,
                description = "`conflict`: `client_msg_id` already used by the caller in another conversation.",
                body = ErrorEnvelope
            ),
            (status = 413, response = TooLarge),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn messages_send() {}

    /// A conversation's events
    ///
    /// One page of the conversation's log, always in ascending seq order. Give `after_seq` or
    /// `before_seq` (not both), or the previous page's `next_cursor`.
    #[utoipa::path(
        get,
        path = "/v1/conversations/{id}/events",
        tag = "conversations",
        security(("bearer" = [])),
        params(("id" = ConversationId, Path, description = "The conversation's id."), EventsQuery),
        responses(
            (status = 200, description = "One page, ascending seq.", body = EventPage),
            (
                status = 400,
                description = "`invalid_request`: both `after_seq` and `before_seq`, a non-integer, `limit` out of \
                    range, or a `cursor` not from this API.",
                body = ErrorEnvelope
            ),
            (status = 401, response = Unauthorized),
            (
                status = 404,
                description = "`not_found`: no such conversation, or the caller is not a member.",
                body = ErrorEnvelope
            ),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn events_list() {}

    /// Mark read
    ///
    /// Moves the caller's read position forward to `seq` (never back); unread counts follow and
    /// the other members' devices get a `read` frame.
    #[utoipa::path(
        post,
        path = "/v1/conversations/{id}/read",
        tag = "conversations",
        security(("bearer" = [])),
        params(("id" = ConversationId, Path, description = "The conversation's id.")),
        request_body = ReadBody,
        responses(
            (status = 200, description = "The caller's read position after the call.", body = ReadState),
            (
                status = 400,
                description = "`invalid_request`: malformed JSON or a negative `seq`.",
                body = ErrorEnvelope
            ),
            (status = 401, response = Unauthorized),
            (
                status = 404,
                description = "`not_found`: no such conversation, or the caller is not a member.",
                body = ErrorEnvelope
            ),
            (status = 413, response = TooLarge),
            (status = 429, response = RateLimited),
            (status = 500, response = Internal),
            (status = 503, response = Unavailable),
        ),
    )]
    pub(super) fn conversations_read() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn doc_json() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    #[test]
    fn openapi_json_is_up_to_date() {
        let generated = document().to_pretty_json().unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default().replace("\r\n", "\n");
        assert!(
            committed.trim_end() == generated.trim_end(),
            "docs/openapi.json is stale: run `cargo run -p parley-node -- openapi > docs/openapi.json`"
        );
    }

    /// Every route of `api::router`, as (method, OpenAPI path).
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/.well-known/jwks.json"),
        ("post", "/v1/auth/register"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/auth/logout"),
        ("get", "/v1/users"),
        ("get", "/v1/users/me"),
        ("get", "/v1/users/{id}"),
        ("get", "/v1/conversations"),
        ("post", "/v1/conversations/direct"),
        ("post", "/v1/conversations/{id}/messages"),
        ("get", "/v1/conversations/{id}/events"),
        ("post", "/v1/conversations/{id}/read"),
    ];

    #[test]
    fn openapi_lists_every_route() {
        let doc = doc_json();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in ROUTES {
            let op = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing"))[*method];
            assert!(op.is_object(), "{method} {path} missing");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, ROUTES.len(), "the document has operations the router does not serve");
    }

    #[test]
    fn openapi_authenticated_routes_need_bearer() {
        let doc = doc_json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Parley API");
        assert_eq!(doc["info"]["version"], "1");
        assert_eq!(doc["components"]["securitySchemes"][BEARER]["scheme"], "bearer");
        let public = [
            "/healthz",
            "/readyz",
            "/.well-known/jwks.json",
            "/v1/auth/register",
            "/v1/auth/login",
            "/v1/auth/refresh",
        ];
        for (method, path) in ROUTES {
            let op = &doc["paths"][*path][*method];
            let bearer = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get(BEARER).is_some()));
            assert_eq!(bearer, !public.contains(path), "{method} {path}: security");
            if bearer {
                assert!(op["responses"]["401"].is_object(), "{method} {path}: no 401");
            }
        }
    }

    #[test]
    fn openapi_event_schema_shows_kind_and_its_fields() {
        let doc = doc_json();
        let schemas = &doc["components"]["schemas"];
        let text = schemas["Event"].to_string();
        assert!(text.contains("#/components/schemas/EventBody"), "Event does not include EventBody: {text}");
        let variants = schemas["EventBody"]["oneOf"].as_array().expect("EventBody is a oneOf");
        let mut kinds = Vec::new();
        for v in variants {
            let kind = v["properties"]["kind"]["enum"][0].as_str().expect("each variant has a kind").to_owned();
            assert!(v["required"].as_array().unwrap().contains(&Value::from("kind")));
            kinds.push(kind);
        }
        assert_eq!(kinds, ["message", "edit", "recall", "reaction", "member_joined", "member_left"]);
        let message = &variants[0]["properties"];
        for f in ["text", "media_ids", "reply_to", "mentions", "client_msg_id"] {
            assert!(message.get(f).is_some(), "message lacks {f}");
        }
    }

    #[test]
    fn openapi_scalars_are_strings_with_formats() {
        let doc = doc_json();
        let schemas = &doc["components"]["schemas"];
        for id in ["UserId", "ConversationId", "EventId", "SessionId"] {
            assert_eq!(schemas[id]["type"], "string", "{id}");
            assert_eq!(schemas[id]["format"], "uuid", "{id}");
        }
        assert_eq!(schemas["Timestamp"]["type"], "string");
        assert_eq!(schemas["Timestamp"]["format"], "date-time");
        assert_eq!(schemas["Timestamp"]["examples"][0], "2026-11-22T10:00:00.123Z");
        assert_eq!(schemas["ClientMsgId"]["type"], "string");
    }

    /// Every `$ref` names a component of the document (a type utoipa cannot see through, such as
    /// the `Seq` alias, would otherwise point nowhere).
    #[test]
    fn openapi_refs_resolve() {
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {r}"));
                        assert!(doc.pointer(pointer).is_some(), "$ref to nothing: {r}");
                    }
                    m.values().for_each(|v| walk(v, doc));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, doc)),
                _ => {}
            }
        }
        let doc = doc_json();
        walk(&doc, &doc);
    }

    /// The limits written as literals in `#[schema(...)]` attributes match the rules.
    #[test]
    fn openapi_limits_match_the_rules() {
        use crate::rules;
        let doc = doc_json();
        let s = &doc["components"]["schemas"];
        assert_eq!(s["SendBody"]["properties"]["text"]["maxLength"], rules::MAX_TEXT_CHARS);
        assert_eq!(s["SendBody"]["properties"]["mentions"]["maxItems"], rules::MAX_MENTIONS);
        assert_eq!(s["EventBody"]["oneOf"][0]["properties"]["text"]["maxLength"], rules::MAX_TEXT_CHARS);
        assert_eq!(s["RegisterBody"]["properties"]["display_name"]["maxLength"], rules::MAX_DISPLAY_NAME_CHARS);
        assert_eq!(s["RegisterBody"]["properties"]["device_name"]["maxLength"], rules::MAX_DEVICE_NAME_CHARS);
        assert_eq!(s["LoginBody"]["properties"]["device_name"]["maxLength"], rules::MAX_DEVICE_NAME_CHARS);
        for (path, method) in [("/v1/conversations", "get"), ("/v1/conversations/{id}/events", "get")] {
            let params = doc["paths"][path][method]["parameters"].as_array().unwrap();
            let limit = params.iter().find(|p| p["name"] == "limit").expect("limit parameter");
            assert_eq!(limit["schema"]["maximum"], rules::MAX_LIMIT, "{path}");
            assert_eq!(limit["schema"]["default"], rules::DEFAULT_LIMIT, "{path}");
        }
    }

    /// The JWK schema names every member the signer publishes.
    #[test]
    fn openapi_jwk_schema_matches_the_signer() {
        let doc = doc_json();
        let props = doc["components"]["schemas"]["Jwk"]["properties"].as_object().unwrap().clone();
        let jwks = crate::auth::Signer::generate().jwks();
        for key in jwks["keys"][0].as_object().unwrap().keys() {
            assert!(props.contains_key(key), "Jwk schema lacks `{key}`");
        }
    }
}

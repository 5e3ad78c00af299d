//! The REST API as an OpenAPI 3.1 document, generated from the Rust types (feature `openapi`).
//!
//! Schemas come from `#[derive(ToSchema)]` on the serde types themselves (model, ids, time,
//! error), and each operation from the `#[utoipa::path]` on its handler, collected through the
//! route table ([`crate::api::routes`]), so the document cannot drift from the routes the router
//! serves or the JSON the handlers read and write. `parley-node openapi` prints the document and
//! `docs/openapi.json` is its committed copy; a test below fails when the two differ.

use utoipa::openapi::path::Paths;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::responses::{
    BadPage, ConversationNotFound, GroupNotFound, Internal, InvalidBody, NoTokens, RateLimited, TooLarge, Unauthorized,
    Unavailable,
};
use crate::api::routes;
use crate::error::{ErrorBody, ErrorCode, ErrorEnvelope};
use crate::ids::{ClientMsgId, ConversationId, EventId, MediaId, SessionId, UserId};
use crate::time::Timestamp;

/// The name of the bearer security scheme in the document.
const BEARER: &str = "bearer";

/// The REST API as OpenAPI 3.1.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let mut paths = Paths::new();
    let components = doc.components.get_or_insert_with(Default::default);
    for op in routes::operations() {
        paths.add_path_operation(op.route.path, op.doc_methods, op.operation);
        for (name, schema) in op.schemas {
            components.schemas.entry(name).or_insert(schema);
        }
    }
    doc.paths = paths;
    harden(doc)
}

/// The pattern every free-text string carries: Postgres cannot store U+0000, so every rule
/// refuses it, and a generated client should too.
pub const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

/// Bodies whose fields are all optional but not all absent (the derive has no container
/// `minProperties`).
const AT_LEAST_ONE_FIELD: &[&str] = &["UpdateMember"];

/// What the derives cannot say: [`NO_NUL_PATTERN`] on each string schema that has no format,
/// pattern or enum of its own (those already exclude U+0000), in bodies, responses and
/// parameters alike; [`AT_LEAST_ONE_FIELD`]; and a body whose every field is optional is optional itself, since the
/// router reads an empty body as `{}`.
fn harden(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                let is_string = match map.get("type") {
                    Some(serde_json::Value::String(t)) => t == "string",
                    Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                    _ => false,
                };
                let constrained = ["format", "pattern", "enum", "const"].iter().any(|k| map.contains_key(*k));
                if is_string && !constrained {
                    map.insert("pattern".into(), NO_NUL_PATTERN.into());
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(&doc).expect("the document serialises");
    walk(&mut v);
    for name in AT_LEAST_ONE_FIELD {
        v["components"]["schemas"][*name]["minProperties"] = 1.into();
    }
    let schemas = v["components"]["schemas"].clone();
    for item in v["paths"].as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
        for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let Some(body) = op.get_mut("requestBody") else { continue };
            let schema = &body["content"]["application/json"]["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                None => schema,
            };
            let needs_fields = schema["required"].as_array().is_some_and(|r| !r.is_empty());
            if schema["type"] == "object" && !needs_fields && schema.get("minProperties").is_none() {
                body["required"] = false.into();
            }
        }
    }
    serde_json::from_value(v).expect("the document still parses after adding patterns")
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
            answers 405 `method_not_allowed` with an `Allow` header. Authenticated calls carry \
            `Authorization: Bearer <access token>`. 429 `rate_limited` responses carry `Retry-After`. \
            Lists are paginated with an opaque `cursor`; responses carry `next_cursor` (null at the \
            end); `limit` defaults to 50, max 200.\n\n\
            The realtime protocol (WebSocket `GET /v1/ws`, QUIC) is described in `docs/protocol.md`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(
        schemas(UserId, ConversationId, EventId, SessionId, MediaId, ClientMsgId, Timestamp, ErrorEnvelope, ErrorBody, ErrorCode),
        responses(
            InvalidBody,
            Unauthorized,
            NoTokens,
            TooLarge,
            RateLimited,
            Internal,
            Unavailable,
            ConversationNotFound,
            GroupNotFound,
            BadPage
        ),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Liveness, readiness, and where clients connect."),
        (name = "auth", description = "Accounts, tokens and the keys that verify them."),
        (name = "users", description = "Profiles and the caller's account."),
        (name = "account", description = "The caller's sessions (devices)."),
        (name = "friends", description = "Friends, friend requests and blocks."),
        (name = "notices", description = "What happened to the caller outside their conversations."),
        (name = "conversations", description = "Conversations, their event logs, messages and read positions."),
        (name = "search", description = "Full-text search over what the caller can read."),
        (name = "moderation", description = "Reports for operators."),
        (name = "media", description = "Uploads and downloads by presigned URL: the bytes go straight to object storage."),
        (name = "groups", description = "Groups: roles, settings, members, invites and join requests (docs/groups.md)."),
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
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn doc_json() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    /// The media rules and the document name the same types and the same default cap.
    #[test]
    fn media_constraints_follow_the_rules() {
        let doc = doc_json();
        let props = &doc["components"]["schemas"]["CreateMedia"]["properties"];
        let types = format!("^({})$", crate::rules::media::ALLOWED_TYPES.join("|"));
        assert_eq!(props["content_type"]["pattern"], types.as_str());
        assert_eq!(props["size"]["maximum"], crate::rules::media::DEFAULT_MAX_SIZE);
        // Free text refuses U+0000 in the document as in the rules.
        assert_eq!(props["filename"]["pattern"], NO_NUL_PATTERN);
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

    /// Every route of the route table, as (lower-case method, OpenAPI path).
    fn routes() -> Vec<(String, &'static str)> {
        crate::api::ROUTES.iter().map(|r| (r.method.as_str().to_ascii_lowercase(), r.path)).collect()
    }

    #[test]
    fn openapi_lists_every_route() {
        let doc = doc_json();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in routes() {
            let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[&method];
            assert!(op.is_object(), "{method} {path} missing");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, routes().len(), "the document has operations the router does not serve");
    }

    /// Each handler's `#[utoipa::path]` names the method and path of its route.
    #[test]
    fn openapi_attributes_match_the_route_table() {
        for op in routes::operations() {
            assert_eq!(op.doc_path, op.route.path);
            let methods: Vec<String> =
                op.doc_methods.iter().map(|m| serde_json::to_value(m).unwrap().as_str().unwrap().to_owned()).collect();
            assert_eq!(methods, vec![op.route.method.as_str().to_ascii_lowercase()], "{}", op.route.path);
        }
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
            "/v1/config",
            "/.well-known/jwks.json",
            "/v1/auth/register",
            "/v1/auth/login",
            "/v1/auth/refresh",
        ];
        for (method, path) in routes() {
            let op = &doc["paths"][path][&method];
            let bearer = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get(BEARER).is_some()));
            assert_eq!(bearer, !public.contains(&path), "{method} {path}: security");
            if bearer {
                assert!(op["responses"]["401"].is_object(), "{method} {path}: no 401");
            }
        }
    }

    /// A variant's own object schema: itself, or the inline part of an `allOf` beside its `$ref`s.
    /// The properties of a schema, following `$ref`s and nested `allOf`s.
    fn variant_properties<'a>(v: &'a Value, schemas: &'a Value) -> Vec<(String, &'a Value)> {
        let v = match v["$ref"].as_str() {
            Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
            None => v,
        };
        let mut out: Vec<(String, &Value)> = match v["properties"].as_object() {
            Some(props) => props.iter().map(|(k, v)| (k.clone(), v)).collect(),
            None => Vec::new(),
        };
        for part in v["allOf"].as_array().into_iter().flatten() {
            out.extend(variant_properties(part, schemas));
        }
        out
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
            let props = variant_properties(v, schemas);
            let kind = props.iter().find(|(k, _)| k == "kind").expect("each variant has a kind").1["enum"][0]
                .as_str()
                .unwrap()
                .to_owned();
            kinds.push(kind);
        }
        assert_eq!(
            kinds,
            [
                "message",
                "edit",
                "recall",
                "reaction",
                "group_created",
                "member_joined",
                "member_left",
                "role_changed",
                "member_muted",
                "group_updated",
                "announcement",
                "group_dissolved"
            ]
        );
        let message: Vec<String> = variant_properties(&variants[0], schemas).into_iter().map(|(k, _)| k).collect();
        for f in ["text", "media_ids", "reply_to", "mentions", "client_msg_id"] {
            assert!(message.iter().any(|k| k == f), "message lacks {f}: {message:?}");
        }
    }

    /// Every `$ref` in the document names a component it defines (a response or schema used in an
    /// attribute but not registered would leave a dangling reference).
    #[test]
    fn openapi_references_resolve() {
        fn walk(v: &serde_json::Value, doc: &serde_json::Value, bad: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        let ptr = r.trim_start_matches('#');
                        if doc.pointer(ptr).is_none() {
                            bad.push(r.to_owned());
                        }
                    }
                    m.values().for_each(|x| walk(x, doc, bad));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, doc, bad)),
                _ => {}
            }
        }
        let doc = doc_json();
        let mut bad = Vec::new();
        walk(&doc, &doc, &mut bad);
        bad.sort();
        bad.dedup();
        assert!(bad.is_empty(), "dangling references: {bad:?}");
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
        use crate::rules::{accounts, messages, pagination};
        let doc = doc_json();
        let s = &doc["components"]["schemas"];
        let draft = &s["MessageDraft"]["properties"];
        assert_eq!(draft["text"]["maxLength"], messages::MAX_TEXT_CHARS);
        assert_eq!(draft["mentions"]["maxItems"], messages::MAX_MENTIONS);
        assert_eq!(draft["client_msg_id"]["maxLength"], messages::MAX_CLIENT_MSG_ID_LEN);
        assert!(s["SendMessage"].to_string().contains("#/components/schemas/MessageDraft"));
        let register = &s["Register"]["properties"];
        assert_eq!(register["username"]["minLength"], accounts::MIN_USERNAME_LEN);
        assert_eq!(register["username"]["maxLength"], accounts::MAX_USERNAME_LEN);
        assert_eq!(register["password"]["minLength"], accounts::MIN_PASSWORD_CHARS);
        assert_eq!(register["password"]["maxLength"], accounts::MAX_PASSWORD_CHARS);
        assert_eq!(register["display_name"]["maxLength"], accounts::MAX_DISPLAY_NAME_CHARS);
        assert_eq!(register["device_name"]["maxLength"], accounts::MAX_DEVICE_NAME_CHARS);
        assert_eq!(s["Login"]["properties"]["device_name"]["maxLength"], accounts::MAX_DEVICE_NAME_CHARS);
        for (path, method) in
            [("/v1/conversations", "get"), ("/v1/conversations/{id}/events", "get"), ("/v1/users", "get")]
        {
            let params = doc["paths"][path][method]["parameters"].as_array().unwrap();
            let limit = params.iter().find(|p| p["name"] == "limit").expect("limit parameter");
            assert_eq!(limit["schema"]["maximum"], pagination::MAX_LIMIT, "{path}");
            assert_eq!(limit["schema"]["default"], pagination::DEFAULT_LIMIT, "{path}");
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

//! The route table: every route of the REST API, once, in matching order (a literal segment
//! before a `{param}` in the same place). The router, 405 `method_not_allowed` with its `Allow`
//! header, the OpenAPI document's paths and the route tests all come from this list. Adding a
//! route is its file under `api/<area>/` and one line here.

use super::{Answer, Call, Request, Response, Route};
use crate::error::{ApiError, ErrorCode};
use crate::service::Env;

macro_rules! routes {
    ($($($seg:ident)::+),* $(,)?) => {
        /// Every route, in matching order.
        pub const ROUTES: &[Route] = &[$(super::$($seg)::+::ROUTE),*];

        async fn dispatch<E: Env>(env: &E, req: &Request<'_>, path: &str) -> Answer {
            let template = template(path);
            $(
                if super::$($seg)::+::ROUTE.method == req.method
                    && Some(super::$($seg)::+::ROUTE.path) == template
                    && let Some(params) = super::$($seg)::+::ROUTE.captures(path)
                {
                    return super::$($seg)::+::handler(Call::new(env, req, params)).await;
                }
            )*
            Err(unrouted(path))
        }

        /// Each route's OpenAPI operation (from the `#[utoipa::path]` on its handler), the
        /// route it documents, and the schemas it references.
        #[cfg(feature = "openapi")]
        pub(crate) fn operations() -> Vec<Operation> {
            vec![$(Operation::of::<super::$($seg)::+::__path_handler>(
                super::$($seg)::+::ROUTE,
                stringify!($($seg)::+),
            )),*]
        }
    };
}

routes! {
    ops::healthz,
    ops::readyz,
    ops::config,
    auth::jwks,
    auth::register,
    auth::login,
    auth::refresh,
    auth::logout,
    users::search,
    users::me,
    users::update_me,
    users::delete_me,
    users::password,
    users::get,
    sessions::list,
    sessions::revoke,
    friends::list,
    friends::requests,
    friends::send_request,
    friends::accept,
    friends::decline,
    friends::cancel,
    friends::remove,
    blocks::list,
    blocks::put,
    blocks::delete,
    notices::list,
    notices::seen,
    conversations::list,
    conversations::direct,
    messages::send,
    messages::edit,
    messages::hide,
    messages::recall,
    messages::react,
    messages::unreact,
    conversations::events,
    conversations::read,
    conversations::settings,
    search::messages,
    reports::create,
    media::create,
    media::complete,
    media::download,
    groups::create,
    groups::join,
    groups::get,
    groups::update,
    groups::dissolve,
    groups::members,
    groups::add_members,
    groups::remove_member,
    groups::update_member,
    groups::leave,
    groups::transfer,
    groups::announcement,
    groups::create_invite,
    groups::invites,
    groups::revoke_invite,
    groups::join_requests,
    groups::approve,
    groups::decline,
}

/// Serves one REST request.
pub async fn handle<E: Env>(env: &E, req: Request<'_>) -> Response {
    let path = req.path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    match dispatch(env, &req, path).await {
        Ok(resp) => resp,
        Err(e) => {
            let mut resp = Response::error(&e);
            if e.code == ErrorCode::MethodNotAllowed {
                resp.allow = Some(allowed(path).join(", "));
            }
            resp
        }
    }
}

/// The path template `path` belongs to: of those that match, the one with a literal segment
/// where the others have a `{param}`, earliest, for every method alike (`PATCH
/// /v1/groups/join` is a 405 of `/v1/groups/join`, not an edit of a group whose id is "join").
fn template(path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .filter(|r| r.captures(path).is_some())
        // Segment by segment, a literal (false) sorts before a `{param}` (true); no allocation,
        // since every REST request asks.
        .min_by(|a, b| params(a.path).cmp(params(b.path)))
        .map(|r| r.path)
}

/// Which segments of a path template are `{param}`s.
fn params(template: &str) -> impl Iterator<Item = bool> + '_ {
    template.split('/').map(|s| s.starts_with('{'))
}

/// The methods some route serves at `path`, in table order.
pub fn allowed(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = Vec::new();
    let template = template(path);
    for r in ROUTES.iter().filter(|r| Some(r.path) == template) {
        let m = r.method.as_str();
        if !methods.contains(&m) {
            methods.push(m);
        }
        if m == "GET" && !methods.contains(&"HEAD") {
            methods.push("HEAD");
        }
    }
    methods
}

/// No route matched: 405 when the path exists with other methods, else 404.
fn unrouted(path: &str) -> ApiError {
    if allowed(path).is_empty() {
        ApiError::not_found(format!("no route for {path}"))
    } else {
        ApiError::new(ErrorCode::MethodNotAllowed, format!("method not allowed on {path}"))
    }
}

/// One route's OpenAPI operation.
#[cfg(feature = "openapi")]
pub(crate) struct Operation {
    /// The route, from the table.
    pub route: Route,
    /// What its `#[utoipa::path]` says the path is (checked against the table by a test).
    #[cfg_attr(not(test), allow(dead_code))]
    pub doc_path: String,
    /// What its `#[utoipa::path]` says the methods are.
    pub doc_methods: Vec<utoipa::openapi::path::HttpMethod>,
    /// The operation.
    pub operation: utoipa::openapi::path::Operation,
    /// Schemas its request and responses reference.
    pub schemas: Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
}

#[cfg(feature = "openapi")]
impl Operation {
    /// The operation of the handler whose `#[utoipa::path]` made `P`, at `module` (`auth::login`,
    /// which becomes its `operationId` `auth_login`).
    fn of<P>(route: Route, module: &str) -> Operation
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
    {
        let mut schemas = Vec::new();
        P::schemas(&mut schemas);
        let mut operation = P::operation();
        operation.operation_id = Some(module.split("::").map(str::trim).collect::<Vec<_>>().join("_"));
        operation.tags = Some(P::tags().into_iter().map(str::to_owned).collect());
        Operation { route, doc_path: P::path(), doc_methods: P::methods(), operation, schemas }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique_and_reachable() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(r.path.starts_with('/'), "{r:?}");
            // An earlier route of the same method that captures this path would shadow it.
            let example = r.path.replace('{', "x").replace('}', "");
            let first = ROUTES.iter().position(|o| o.method == r.method && o.captures(&example).is_some());
            assert_eq!(first, Some(i), "{} {} is shadowed", r.method.as_str(), r.path);
        }
    }

    #[test]
    fn allow_lists_the_methods_of_a_path() {
        assert_eq!(allowed("/v1/auth/login"), vec!["POST"]);
        assert_eq!(allowed("/v1/users/me"), vec!["GET", "HEAD", "PATCH", "DELETE"]);
        assert_eq!(allowed("/v1/conversations"), vec!["GET", "HEAD"]);
        assert!(allowed("/v1/nothing").is_empty());
        // A literal segment owns its path for every method.
        assert_eq!(allowed("/v1/groups/join"), vec!["POST"]);
        assert_eq!(allowed("/v1/groups/0190a3c2-0000-7000-8000-000000000000"), vec!["GET", "HEAD", "PATCH", "DELETE"]);
        assert_eq!(unrouted("/v1/auth/login").code, ErrorCode::MethodNotAllowed);
        assert_eq!(unrouted("/v1/nothing").code, ErrorCode::NotFound);
    }
}

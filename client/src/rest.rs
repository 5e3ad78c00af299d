//! The REST half of the contract, typed with `parley-shared`'s serde types.
//!
//! A [`Rest`] holds one or more base URLs (the edge, or nodes serving REST): a request that fails
//! at the transport level (connection refused, reset, timeout) moves on to the next base URL and
//! is tried there once; an HTTP answer, even an error, is final.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parley_shared::error::{ErrorCode, ErrorEnvelope};
use parley_shared::ids::{ClientMsgId, ConversationId, Seq, UserId};
use parley_shared::model::{
    AddMembers, AddOutcome, AuthResponse, ConversationPage, CreateGroup, CreateInvite, DirectConversation, Event,
    EventPage, Group, GroupInvite, GroupMember, JoinGroup, JoinOutcome, Login, MemberPage, MessageDraft, OpenDirect,
    Refresh, Register, SendMessage, SetAnnouncement, TransferGroup, UpdateGroup, UpdateMember, User, UserPage,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// Every REST call gives up after this long.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest page the contract allows.
pub const MAX_PAGE: u32 = 200;

/// A REST client over one or more equivalent base URLs.
#[derive(Clone, Debug)]
pub struct Rest {
    bases: Arc<Vec<String>>,
    current: Arc<AtomicUsize>,
    http: reqwest::Client,
}

/// Query of `GET /v1/conversations/{id}/events`.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventsQuery {
    /// Events with a larger seq.
    pub after_seq: Option<Seq>,
    /// Events with a smaller seq.
    pub before_seq: Option<Seq>,
    /// Page size (server default 50, max 200).
    pub limit: Option<u32>,
}

impl Rest {
    /// A client for `base` (`https://chat.example`, `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Rest> {
        Rest::with_bases(&[base.to_owned()])
    }

    /// A client that fails over between `bases`.
    pub fn with_bases(bases: &[String]) -> Result<Rest> {
        install_crypto_provider();
        if bases.is_empty() {
            return Err(Error::Config("no REST base URL".into()));
        }
        for b in bases {
            if !(b.starts_with("http://") || b.starts_with("https://")) {
                return Err(Error::Config(format!("REST base URL must be http(s): {b}")));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        Ok(Rest {
            bases: Arc::new(bases.iter().map(|b| b.trim_end_matches('/').to_owned()).collect()),
            current: Arc::new(AtomicUsize::new(0)),
            http,
        })
    }

    /// The base URL requests go to now.
    pub fn base(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Every base URL.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// One request with an optional JSON body; returns the answer as JSON (`Value::Null` for an
    /// empty one).
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<Value> {
        let n = self.bases.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last_err = None;
        for k in 0..n {
            let i = (start + k) % n;
            let mut req = self.http.request(method.clone(), format!("{}{path}", self.bases[i]));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            match req.send().await {
                Ok(resp) => {
                    if i != start {
                        self.current.store(i, Ordering::Relaxed);
                    }
                    return finish(method.as_str(), path, resp).await;
                }
                Err(e) => {
                    let what = if e.is_timeout() { "timed out" } else { "failed" };
                    let err = format!("{method} {}{path} {what}: {e}", self.bases[i]);
                    last_err = Some(if e.is_timeout() { Error::Timeout(err) } else { Error::Transport(err) });
                }
            }
        }
        Err(last_err.unwrap_or(Error::Closed))
    }

    async fn typed<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T> {
        let v = self.call(method.clone(), path, token, body).await?;
        serde_json::from_value(v).map_err(|e| Error::Protocol(format!("{method} {path}: unexpected response: {e}")))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> Result<T> {
        self.typed::<T, ()>(Method::GET, path, token, None).await
    }

    // ----- auth -----

    /// `POST /v1/auth/register`.
    pub async fn register(&self, username: &str, password: &str, display_name: Option<&str>) -> Result<AuthResponse> {
        let body = Register {
            username: username.to_owned(),
            password: password.to_owned(),
            display_name: display_name.map(str::to_owned),
            device_name: None,
        };
        self.typed(Method::POST, "/v1/auth/register", None, Some(&body)).await
    }

    /// `POST /v1/auth/login`.
    pub async fn login(&self, username: &str, password: &str, device_name: Option<&str>) -> Result<AuthResponse> {
        let body = Login {
            username: username.to_owned(),
            password: password.to_owned(),
            device_name: device_name.map(str::to_owned),
        };
        self.typed(Method::POST, "/v1/auth/login", None, Some(&body)).await
    }

    /// `POST /v1/auth/refresh`: a new pair; the old refresh token is spent.
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthResponse> {
        let body = Refresh { refresh_token: refresh_token.to_owned() };
        self.typed(Method::POST, "/v1/auth/refresh", None, Some(&body)).await
    }

    /// `POST /v1/auth/logout`.
    pub async fn logout(&self, access_token: &str) -> Result<()> {
        self.call::<()>(Method::POST, "/v1/auth/logout", Some(access_token), None).await.map(drop)
    }

    // ----- users -----

    /// `GET /v1/users/me`.
    pub async fn me(&self, access_token: &str) -> Result<User> {
        self.get("/v1/users/me", Some(access_token)).await
    }

    /// `GET /v1/users/{id}`.
    pub async fn user(&self, access_token: &str, id: UserId) -> Result<User> {
        self.get(&format!("/v1/users/{id}"), Some(access_token)).await
    }

    /// `GET /v1/users?q=prefix`: users whose username or display name starts with `q` (the first
    /// page).
    pub async fn search_users(&self, access_token: &str, q: &str) -> Result<Vec<User>> {
        let path = format!("/v1/users?q={}", percent_encode(q));
        let page: UserPage = self.get(&path, Some(access_token)).await?;
        Ok(page.users)
    }

    // ----- conversations -----

    /// `POST /v1/conversations/direct`: the one direct conversation with `user_id`.
    pub async fn direct(&self, access_token: &str, user_id: UserId) -> Result<DirectConversation> {
        self.typed(Method::POST, "/v1/conversations/direct", Some(access_token), Some(&OpenDirect { user_id })).await
    }

    /// `GET /v1/conversations` (one page).
    pub async fn conversations(&self, access_token: &str, cursor: Option<&str>) -> Result<ConversationPage> {
        let path = match cursor {
            Some(c) => format!("/v1/conversations?cursor={}", percent_encode(c)),
            None => "/v1/conversations".to_owned(),
        };
        self.get(&path, Some(access_token)).await
    }

    /// `POST /v1/conversations/{id}/messages` (idempotent on `client_msg_id`).
    pub async fn send_message(
        &self,
        access_token: &str,
        conversation_id: ConversationId,
        client_msg_id: &ClientMsgId,
        text: &str,
    ) -> Result<Event> {
        let body = SendMessage { message: MessageDraft::text(client_msg_id.clone(), text) };
        self.typed(
            Method::POST,
            &format!("/v1/conversations/{conversation_id}/messages"),
            Some(access_token),
            Some(&body),
        )
        .await
    }

    /// `GET /v1/conversations/{id}/events` (one page).
    pub async fn events(
        &self,
        access_token: &str,
        conversation_id: ConversationId,
        q: EventsQuery,
    ) -> Result<EventPage> {
        let mut parts = Vec::new();
        if let Some(s) = q.after_seq {
            parts.push(format!("after_seq={s}"));
        }
        if let Some(s) = q.before_seq {
            parts.push(format!("before_seq={s}"));
        }
        if let Some(l) = q.limit {
            parts.push(format!("limit={l}"));
        }
        let query = if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) };
        self.get(&format!("/v1/conversations/{conversation_id}/events{query}"), Some(access_token)).await
    }

    /// Every event after `after_seq` (up to and including `up_to` when given), ascending, paging
    /// with `after_seq`.
    pub async fn events_after(
        &self,
        access_token: &str,
        conversation_id: ConversationId,
        after_seq: Seq,
        up_to: Option<Seq>,
    ) -> Result<Vec<Event>> {
        let mut out: Vec<Event> = Vec::new();
        let mut after = after_seq;
        loop {
            if up_to.is_some_and(|u| after >= u) {
                return Ok(out);
            }
            let q = EventsQuery { after_seq: Some(after), before_seq: None, limit: Some(MAX_PAGE) };
            let page = self.events(access_token, conversation_id, q).await?;
            let Some(last) = page.events.last().map(|e| e.seq) else {
                return Ok(out);
            };
            if last <= after {
                return Err(Error::Protocol(format!("paging events after seq {after} did not advance")));
            }
            after = last;
            out.extend(page.events.into_iter().filter(|e| up_to.is_none_or(|u| e.seq <= u)));
        }
    }
}

/// Groups: the routes under `/v1/groups` (see docs/groups.md).
impl Rest {
    /// `POST /v1/groups`.
    pub async fn create_group(&self, access_token: &str, body: &CreateGroup) -> Result<Group> {
        self.typed(Method::POST, "/v1/groups", Some(access_token), Some(body)).await
    }

    /// `GET /v1/groups/{id}`.
    pub async fn group(&self, access_token: &str, id: ConversationId) -> Result<Group> {
        self.get(&format!("/v1/groups/{id}"), Some(access_token)).await
    }

    /// `PATCH /v1/groups/{id}`.
    pub async fn update_group(&self, access_token: &str, id: ConversationId, body: &UpdateGroup) -> Result<Group> {
        self.typed(Method::PATCH, &format!("/v1/groups/{id}"), Some(access_token), Some(body)).await
    }

    /// `DELETE /v1/groups/{id}`: dissolves it.
    pub async fn dissolve_group(&self, access_token: &str, id: ConversationId) -> Result<()> {
        self.call::<()>(Method::DELETE, &format!("/v1/groups/{id}"), Some(access_token), None).await.map(drop)
    }

    /// `GET /v1/groups/{id}/members` (one page).
    pub async fn group_members(
        &self,
        access_token: &str,
        id: ConversationId,
        cursor: Option<&str>,
    ) -> Result<MemberPage> {
        let path = match cursor {
            Some(c) => format!("/v1/groups/{id}/members?limit={MAX_PAGE}&cursor={}", percent_encode(c)),
            None => format!("/v1/groups/{id}/members?limit={MAX_PAGE}"),
        };
        self.get(&path, Some(access_token)).await
    }

    /// `POST /v1/groups/{id}/members`.
    pub async fn add_members(
        &self,
        access_token: &str,
        id: ConversationId,
        user_ids: Vec<UserId>,
    ) -> Result<AddOutcome> {
        let body = AddMembers { user_ids };
        self.typed(Method::POST, &format!("/v1/groups/{id}/members"), Some(access_token), Some(&body)).await
    }

    /// `DELETE /v1/groups/{id}/members/{user_id}`.
    pub async fn remove_member(&self, access_token: &str, id: ConversationId, user: UserId) -> Result<()> {
        let path = format!("/v1/groups/{id}/members/{user}");
        self.call::<()>(Method::DELETE, &path, Some(access_token), None).await.map(drop)
    }

    /// `PATCH /v1/groups/{id}/members/{user_id}`: role and/or mute.
    pub async fn update_member(
        &self,
        access_token: &str,
        id: ConversationId,
        user: UserId,
        body: &UpdateMember,
    ) -> Result<GroupMember> {
        self.typed(Method::PATCH, &format!("/v1/groups/{id}/members/{user}"), Some(access_token), Some(body)).await
    }

    /// `POST /v1/groups/{id}/leave`.
    pub async fn leave_group(&self, access_token: &str, id: ConversationId) -> Result<()> {
        self.call::<()>(Method::POST, &format!("/v1/groups/{id}/leave"), Some(access_token), None).await.map(drop)
    }

    /// `POST /v1/groups/{id}/transfer`.
    pub async fn transfer_group(&self, access_token: &str, id: ConversationId, to: UserId) -> Result<Group> {
        let body = TransferGroup { user_id: to };
        self.typed(Method::POST, &format!("/v1/groups/{id}/transfer"), Some(access_token), Some(&body)).await
    }

    /// `PUT /v1/groups/{id}/announcement` (an empty text clears it).
    pub async fn set_announcement(&self, access_token: &str, id: ConversationId, text: &str) -> Result<Group> {
        let body = SetAnnouncement { text: text.to_owned() };
        self.typed(Method::PUT, &format!("/v1/groups/{id}/announcement"), Some(access_token), Some(&body)).await
    }

    /// `POST /v1/groups/{id}/invites`.
    pub async fn create_invite(
        &self,
        access_token: &str,
        id: ConversationId,
        body: &CreateInvite,
    ) -> Result<GroupInvite> {
        self.typed(Method::POST, &format!("/v1/groups/{id}/invites"), Some(access_token), Some(body)).await
    }

    /// `POST /v1/groups/join`.
    pub async fn join_group(&self, access_token: &str, code: &str) -> Result<JoinOutcome> {
        let body = JoinGroup { code: code.to_owned() };
        self.typed(Method::POST, "/v1/groups/join", Some(access_token), Some(&body)).await
    }
}

/// Makes ring the process's TLS crypto provider, which reqwest (built without one, so that the
/// workspace links a single provider) takes for HTTPS. Calling it again does nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn finish(method: &str, path: &str, resp: reqwest::Response) -> Result<Value> {
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| Error::Transport(format!("{method} {path}: reading the body: {e}")))?;
    if (200..300).contains(&status) {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(&text)
            .map_err(|e| Error::Protocol(format!("{method} {path}: response is not JSON: {e}")));
    }
    Err(error_from_response(status, &text))
}

/// The contract error envelope of a failed response as an [`Error`].
pub fn error_from_response(status: u16, text: &str) -> Error {
    let (code, message) = match serde_json::from_str::<ErrorEnvelope>(text) {
        Ok(env) => (env.error.code, env.error.message),
        Err(_) => (code_for_status(status), text.chars().take(300).collect()),
    };
    if status == 401 || code == ErrorCode::Unauthorized {
        return Error::Unauthorized(message);
    }
    Error::Api { code, message, status }
}

fn code_for_status(status: u16) -> ErrorCode {
    match status {
        400 => ErrorCode::InvalidRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::TooLarge,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_follow_the_envelope() {
        let e = error_from_response(404, r#"{"error":{"code":"not_found","message":"conversation not found"}}"#);
        assert!(matches!(e, Error::Api { code: ErrorCode::NotFound, status: 404, .. }));
        assert!(matches!(error_from_response(401, "{}"), Error::Unauthorized(_)));
        assert!(matches!(error_from_response(502, "bad gateway"), Error::Api { code: ErrorCode::Internal, .. }));
        assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
    }
}

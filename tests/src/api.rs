//! A REST client for the contract's routes.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};

use crate::check;

/// Every REST call gives up after this long.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The password `Api::signup` uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// A REST client bound to one node.
#[derive(Clone, Debug)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// A raw response: status, headers, body text and (when it parses) JSON.
#[derive(Debug, Clone)]
pub struct Resp {
    /// `METHOD path`, for messages.
    pub what: String,
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The raw body text.
    pub text: String,
    /// The body as JSON, `Value::Null` when empty or not JSON.
    pub json: Value,
}

impl Resp {
    /// The JSON body if the status is `status`, else an error showing the response.
    pub fn ok(self, status: u16) -> Result<Value> {
        self.ok_any(&[status])
    }

    /// The JSON body if the status is one of `statuses`.
    pub fn ok_any(self, statuses: &[u16]) -> Result<Value> {
        if !statuses.contains(&self.status) {
            bail!("{}: expected status {statuses:?}, got {}: {}", self.what, self.status, self.text);
        }
        Ok(self.json)
    }

    /// Checks the status and the contract error envelope with `code`; returns the message.
    pub fn error(&self, status: u16, code: &str) -> Result<String> {
        ensure!(self.status == status, "{}: expected {status} {code}, got {}: {}", self.what, self.status, self.text);
        check::error_envelope(&self.json, code).with_context(|| format!("{} ({})", self.what, self.status))
    }

    /// Like `error`, with several acceptable `(status, code)` pairs; returns the pair seen.
    pub fn error_any(&self, allowed: &[(u16, &str)]) -> Result<(u16, String)> {
        let Some(&(status, code)) = allowed.iter().find(|(s, _)| *s == self.status) else {
            bail!("{}: expected one of {allowed:?}, got {}: {}", self.what, self.status, self.text);
        };
        check::error_envelope(&self.json, code).with_context(|| format!("{} ({})", self.what, self.status))?;
        Ok((status, code.to_owned()))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

/// A logged-in session of a user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's id from the auth response.
    pub user_id: String,
    /// The username used to register or log in.
    pub username: String,
    /// The password used to register or log in.
    pub password: String,
    /// The access token (bearer for REST and realtime).
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The whole register/login response.
    pub body: Value,
}

impl Session {
    /// Parses a register/login/refresh response body (checking its shape), with the
    /// credentials used.
    pub fn from_auth_body(body: Value, username: &str, password: &str) -> Result<Session> {
        check::auth_response(&body)?;
        Ok(Session {
            user_id: check::str_field(&body["user"], "id")?.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            access_token: check::str_field(&body, "access_token")?.to_owned(),
            refresh_token: check::str_field(&body, "refresh_token")?.to_owned(),
            body,
        })
    }

    /// The access token, for `Authorization: Bearer`.
    pub fn token(&self) -> &str {
        &self.access_token
    }
}

/// Query of `GET /v1/conversations/{id}/events`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventsQuery {
    /// `after_seq`: only events with a greater seq.
    pub after_seq: Option<i64>,
    /// `before_seq`: only events with a smaller seq.
    pub before_seq: Option<i64>,
    /// `limit`: the page size.
    pub limit: Option<u32>,
}

impl EventsQuery {
    /// A query for the events after `seq`.
    pub fn after(seq: i64) -> EventsQuery {
        EventsQuery { after_seq: Some(seq), ..Default::default() }
    }

    /// A query for the events before `seq`.
    pub fn before(seq: i64) -> EventsQuery {
        EventsQuery { before_seq: Some(seq), ..Default::default() }
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> EventsQuery {
        self.limit = Some(limit);
        self
    }

    fn to_query(self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.after_seq {
            parts.push(format!("after_seq={s}"));
        }
        if let Some(s) = self.before_seq {
            parts.push(format!("before_seq={s}"));
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit={l}"));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

impl Api {
    /// A client for `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Api {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            // A 302 (media downloads) is an answer to check, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build the reqwest client");
        Api { base: base.trim_end_matches('/').to_owned(), http }
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request with an optional bearer token and JSON body.
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Result<Resp> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        finish(format!("{method} {path}"), req).await
    }

    /// One request with raw headers and a raw body (for malformed input).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Resp> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        finish(format!("{method} {path}"), req).await
    }

    /// Like [`Api::raw`] with a body of any bytes (not UTF-8, say).
    pub async fn raw_bytes(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Resp> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        finish(format!("{method} {path}"), req.body(body)).await
    }

    /// The sum of a metric's samples whose line holds every one of `labels` (`reason="too_slow"`),
    /// from the node's Prometheus metrics; 0 before its first increment.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> Result<f64> {
        let text = self.get("/metrics", None).await?.text;
        Ok(text
            .lines()
            .filter(|l| l.split([' ', '{']).next() == Some(name) && labels.iter().all(|want| l.contains(want)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// `GET path` with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Resp> {
        self.request(Method::GET, path, token, None).await
    }

    /// `POST path` with an optional bearer token and a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<Resp> {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// `PATCH path` with a bearer token and a JSON body.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Result<Resp> {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }

    /// `PUT path` with a bearer token and no body.
    pub async fn put(&self, path: &str, token: &str) -> Result<Resp> {
        self.request(Method::PUT, path, Some(token), None).await
    }

    /// `DELETE path` with a bearer token and an optional JSON body.
    pub async fn delete(&self, path: &str, token: &str, body: Option<&Value>) -> Result<Resp> {
        self.request(Method::DELETE, path, Some(token), body).await
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<Resp> {
        self.get("/healthz", None).await
    }

    // ----- auth -----

    /// `POST /v1/auth/register` with `username` and `password`.
    pub async fn register(&self, username: &str, password: &str) -> Result<Resp> {
        self.post("/v1/auth/register", None, &json!({"username": username, "password": password})).await
    }

    /// Registers `username` with `PASSWORD` (expects 201) and returns the session.
    pub async fn signup(&self, username: &str) -> Result<Session> {
        let body = self
            .post(
                "/v1/auth/register",
                None,
                &json!({"username": username, "password": PASSWORD, "display_name": format!("User {username}")}),
            )
            .await?
            .ok(201)
            .with_context(|| format!("registering {username}"))?;
        Session::from_auth_body(body, username, PASSWORD)
    }

    /// `POST /v1/auth/login` with `username` and `password`.
    pub async fn login(&self, username: &str, password: &str) -> Result<Resp> {
        self.post("/v1/auth/login", None, &json!({"username": username, "password": password})).await
    }

    /// A new session of the same user (expects 200).
    pub async fn login_again(&self, s: &Session) -> Result<Session> {
        let body = self
            .post(
                "/v1/auth/login",
                None,
                &json!({"username": s.username, "password": s.password, "device_name": "second device"}),
            )
            .await?
            .ok(200)
            .with_context(|| format!("logging in {}", s.username))?;
        Session::from_auth_body(body, &s.username, &s.password)
    }

    /// `POST /v1/auth/refresh` with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Resp> {
        self.post("/v1/auth/refresh", None, &json!({"refresh_token": refresh_token})).await
    }

    /// `POST /v1/auth/logout` for the session of `access_token`.
    pub async fn logout(&self, access_token: &str) -> Result<Resp> {
        self.request(Method::POST, "/v1/auth/logout", Some(access_token), None).await
    }

    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<Resp> {
        self.get("/.well-known/jwks.json", None).await
    }

    /// `GET /v1/users/me`.
    pub async fn me(&self, access_token: &str) -> Result<Resp> {
        self.get("/v1/users/me", Some(access_token)).await
    }

    // ----- friends, blocks, notices -----

    /// `POST /v1/friends/requests` from `from` to `to` (expects 201); the request.
    pub async fn friend_request(&self, from: &Session, to: &Session) -> Result<Value> {
        self.post("/v1/friends/requests", Some(from.token()), &json!({"user_id": to.user_id}))
            .await?
            .ok(201)
            .with_context(|| format!("{} asks {} to be friends", from.username, to.username))
    }

    /// Makes `a` and `b` friends: `a` asks, `b` accepts.
    pub async fn befriend(&self, a: &Session, b: &Session) -> Result<()> {
        let req = self.friend_request(a, b).await?;
        let id = check::str_field(&req, "id")?;
        self.post(&format!("/v1/friends/requests/{id}/accept"), Some(b.token()), &json!({}))
            .await?
            .ok(200)
            .with_context(|| format!("{} accepts {}", b.username, a.username))?;
        Ok(())
    }

    /// How `viewer` stands with `other`, from `GET /v1/users/{id}`.
    pub async fn relationship(&self, viewer: &Session, other: &Session) -> Result<String> {
        let p = self.get(&format!("/v1/users/{}", other.user_id), Some(viewer.token())).await?.ok(200)?;
        Ok(check::str_field(&p, "relationship")?.to_owned())
    }

    /// `viewer`'s notices (first page), newest first.
    pub async fn notices(&self, viewer: &Session) -> Result<Value> {
        self.get("/v1/notices", Some(viewer.token())).await?.ok(200)
    }

    // ----- conversations -----

    /// `POST /v1/conversations/direct` with `user_id`: opens (or finds) the direct conversation.
    pub async fn direct(&self, access_token: &str, user_id: &str) -> Result<Resp> {
        self.post("/v1/conversations/direct", Some(access_token), &json!({"user_id": user_id})).await
    }

    /// The id of the direct conversation between `a` and `b` (created on first call).
    pub async fn direct_id(&self, a: &Session, b: &Session) -> Result<String> {
        let body = self
            .direct(&a.access_token, &b.user_id)
            .await?
            .ok_any(&[200, 201])
            .with_context(|| format!("direct conversation {} → {}", a.username, b.username))?;
        Ok(check::conversation_id(&body)?.to_owned())
    }

    /// `GET /v1/conversations`.
    pub async fn conversations(&self, access_token: &str) -> Result<Resp> {
        self.get("/v1/conversations", Some(access_token)).await
    }

    /// The items of `GET /v1/conversations` (expects 200).
    pub async fn conversation_list(&self, access_token: &str) -> Result<Vec<Value>> {
        let body = self.conversations(access_token).await?.ok(200)?;
        check::list_items(&body, "conversations")
    }

    /// One item of the caller's conversation list.
    pub async fn conversation(&self, access_token: &str, conversation_id: &str) -> Result<Value> {
        self.conversation_list(access_token)
            .await?
            .into_iter()
            .find(|c| c["id"].as_str() == Some(conversation_id))
            .ok_or_else(|| anyhow!("conversation {conversation_id} is not in the caller's list"))
    }

    /// `POST /v1/conversations/{id}/messages` with `client_msg_id` and `text`.
    pub async fn send(
        &self,
        access_token: &str,
        conversation_id: &str,
        client_msg_id: &str,
        text: &str,
    ) -> Result<Resp> {
        self.post(
            &format!("/v1/conversations/{conversation_id}/messages"),
            Some(access_token),
            &json!({"client_msg_id": client_msg_id, "text": text}),
        )
        .await
    }

    /// Sends `text` with a fresh client_msg_id; expects 201 and returns the event.
    pub async fn send_text(&self, access_token: &str, conversation_id: &str, text: &str) -> Result<Value> {
        self.send(access_token, conversation_id, &crate::cmid(), text)
            .await?
            .ok(201)
            .with_context(|| format!("sending {text:?}"))
    }

    /// `GET /v1/conversations/{id}/events` with the query `q`.
    pub async fn events(&self, access_token: &str, conversation_id: &str, q: EventsQuery) -> Result<Resp> {
        self.get(&format!("/v1/conversations/{conversation_id}/events{}", q.to_query()), Some(access_token)).await
    }

    /// One page: `(events, next_cursor)`; checks ascending seq order.
    pub async fn events_page(
        &self,
        access_token: &str,
        conversation_id: &str,
        q: EventsQuery,
    ) -> Result<(Vec<Value>, Value)> {
        let body = self.events(access_token, conversation_id, q).await?.ok(200)?;
        let events = body
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| anyhow!("events response has no `events` array: {body}"))?;
        let next =
            body.get("next_cursor").cloned().ok_or_else(|| anyhow!("events response has no `next_cursor`: {body}"))?;
        let seqs = events.iter().map(check::seq).collect::<Result<Vec<_>>>()?;
        ensure!(seqs.windows(2).all(|w| w[0] < w[1]), "events are not in ascending seq order: {seqs:?}");
        Ok((events, next))
    }

    /// The whole history of a conversation, ascending, paging with `after_seq`.
    pub async fn history(&self, access_token: &str, conversation_id: &str) -> Result<Vec<Value>> {
        let mut all: Vec<Value> = Vec::new();
        let mut after = 0;
        for _ in 0..1000 {
            let (page, _) =
                self.events_page(access_token, conversation_id, EventsQuery::after(after).limit(200)).await?;
            let Some(last) = page.last() else {
                return Ok(all);
            };
            let last_seq = check::seq(last)?;
            ensure!(last_seq > after, "paging with after_seq={after} did not advance");
            after = last_seq;
            all.extend(page);
        }
        bail!("history of {conversation_id} did not end after 1000 pages")
    }

    /// The `message` events of the history.
    pub async fn messages(&self, access_token: &str, conversation_id: &str) -> Result<Vec<Value>> {
        Ok(self.history(access_token, conversation_id).await?.into_iter().filter(|e| e["kind"] == "message").collect())
    }

    /// `POST /v1/conversations/{id}/read` marking the conversation read up to `seq`.
    pub async fn read(&self, access_token: &str, conversation_id: &str, seq: i64) -> Result<Resp> {
        self.post(&format!("/v1/conversations/{conversation_id}/read"), Some(access_token), &json!({"seq": seq})).await
    }

    // ----- groups -----

    /// `PUT path` with a bearer token and a JSON body.
    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> Result<Resp> {
        self.request(Method::PUT, path, Some(token), Some(body)).await
    }

    /// Creates a group named `name` owned by `owner` with `members` (expects 201); returns it.
    pub async fn create_group(&self, owner: &Session, name: &str, members: &[&Session]) -> Result<Value> {
        let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        self.post("/v1/groups", Some(owner.token()), &json!({"name": name, "member_ids": ids}))
            .await?
            .ok(201)
            .with_context(|| format!("{} creates group {name:?}", owner.username))
    }

    /// Every member of a group (all pages), as `GET /v1/groups/{id}/members` lists them.
    pub async fn group_members(&self, access_token: &str, group_id: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let path = match &cursor {
                Some(c) => format!("/v1/groups/{group_id}/members?limit=200&cursor={c}"),
                None => format!("/v1/groups/{group_id}/members?limit=200"),
            };
            let page = self.get(&path, Some(access_token)).await?.ok(200)?;
            all.extend(check::list_items(&page, "members")?);
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(all),
            }
        }
        bail!("members of {group_id} did not end after 1000 pages")
    }
}

async fn finish(what: String, req: reqwest::RequestBuilder) -> Result<Resp> {
    let resp = req.send().await.with_context(|| format!("{what}: request failed"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.with_context(|| format!("{what}: reading the body"))?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Resp { what, status, headers, text, json })
}

//! `parley`: the command-line client. `parley --help` lists the commands.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

mod group;

use clap::{Parser, Subcommand};
use parley_client::store::{SessionFile, StoredSession};
use parley_client::{
    Auth, Client, ClientConfig, ClientEvent, ConnectOptions, Credentials, Endpoint, Error, QuicTls, Rest, Result,
    Transport,
};
use parley_shared::error::ErrorCode;
use parley_shared::ids::{ClientMsgId, ConversationId, UserId, new_uuid_v7};
use parley_shared::model::{ConversationSummary, Event, EventBody, LeftReason};
use parley_shared::protocol::ServerFrame;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(name = "parley", version, about = "Parley chat from the command line")]
struct Cli {
    /// REST base URL (defaults to the one stored at login).
    #[arg(long, global = true, env = "PARLEY_SERVER")]
    server: Option<String>,
    /// Realtime endpoints, comma-separated: ws://host:port, wss://..., quic://host:port.
    /// Default: the WebSocket of --server.
    #[arg(long, global = true, env = "PARLEY_NODES", value_delimiter = ',')]
    nodes: Vec<String>,
    /// Realtime transport: ws or quic (picks the matching --nodes entries).
    #[arg(long, global = true, env = "PARLEY_TRANSPORT")]
    transport: Option<String>,
    /// SHA-256 (hex) of the nodes' QUIC certificates, as printed by the nodes (comma-separated).
    #[arg(long, global = true, env = "PARLEY_QUIC_CERT_SHA256")]
    quic_cert_sha256: Option<String>,
    /// PEM file of a CA to trust for QUIC instead of a pinned fingerprint.
    #[arg(long, global = true, env = "PARLEY_QUIC_CA")]
    quic_ca: Option<PathBuf>,
    /// Where session.json lives (default $XDG_CONFIG_HOME/parley or ~/.config/parley).
    #[arg(long, global = true, env = "PARLEY_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// One JSON object per line instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create an account and keep its session.
    Register {
        username: String,
        /// Password (else PARLEY_PASSWORD, else a line on stdin).
        #[arg(long, env = "PARLEY_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Log in and keep the session.
    Login {
        username: String,
        /// Password (else PARLEY_PASSWORD, else a line on stdin).
        #[arg(long, env = "PARLEY_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// End the session (here and on the server).
    Logout,
    /// Show the logged-in user.
    Whoami,
    /// Send a message: `send <username | user id | conversation id> <text...>`.
    Send {
        /// Target then text; with --to-user-id or --conversation every word is text.
        #[arg(required = true, num_args = 1..)]
        args: Vec<String>,
        /// Send to the direct conversation with this user id.
        #[arg(long)]
        to_user_id: Option<UserId>,
        /// Send to this conversation.
        #[arg(long)]
        conversation: Option<ConversationId>,
        /// Send over REST instead of the realtime connection.
        #[arg(long)]
        rest: bool,
        /// Give up after this many seconds without an acknowledgement.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Print events as they arrive (reconnecting as needed) until interrupted.
    Tail,
    /// Print a conversation's history.
    History {
        conversation_id: ConversationId,
        /// Only the last N events.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// List conversations.
    Conversations,
    /// Groups: create, members, roles, mutes, invites, ...
    Group {
        #[command(subcommand)]
        action: group::GroupCmd,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PARLEY_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley: {e}");
            match e {
                Error::Unauthorized(_) => {
                    eprintln!("parley: log in again (`parley login <username>`)");
                    ExitCode::from(2)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

struct Ctx {
    cli: Cli,
    file: SessionFile,
}

impl Ctx {
    fn out(&self, v: impl serde::Serialize) {
        let line = serde_json::to_string(&v).unwrap_or_default();
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    }

    fn say(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    }

    fn stored(&self) -> Result<StoredSession> {
        self.file
            .load()?
            .ok_or_else(|| Error::Unauthorized(format!("not logged in (no session in {})", self.file.dir().display())))
    }

    fn server(&self, stored: Option<&StoredSession>) -> Result<String> {
        self.cli
            .server
            .clone()
            .or_else(|| stored.map(|s| s.server.clone()))
            .ok_or_else(|| Error::Config("no server: pass --server http://host:port".into()))
    }

    /// Endpoints, transport and TLS from the flags, else what login stored.
    fn realtime(&self, stored: &StoredSession, server: &str) -> Result<(Vec<Endpoint>, ConnectOptions)> {
        let transport = match self.cli.transport.as_deref().or(stored.transport.as_deref()) {
            Some(t) => Some(t.parse::<Transport>()?),
            None => None,
        };
        let nodes: Vec<String> = if self.cli.nodes.is_empty() { stored.nodes.clone() } else { self.cli.nodes.clone() };
        let mut endpoints = nodes.iter().map(|n| n.parse::<Endpoint>()).collect::<Result<Vec<_>>>()?;
        if let Some(t) = transport {
            endpoints.retain(|e| e.transport() == t);
        }
        if endpoints.is_empty() {
            if transport == Some(Transport::Quic) {
                return Err(Error::Config("QUIC needs --nodes quic://host:port".into()));
            }
            endpoints.push(Endpoint::ws_from_http(server)?);
        }
        let mut opts = ConnectOptions::default();
        if let Some(hex) = self.cli.quic_cert_sha256.as_deref().or(stored.quic_cert_sha256.as_deref()) {
            opts.quic_tls = QuicTls::from_hex(hex)?;
        } else if let Some(path) = &self.cli.quic_ca {
            opts.quic_tls = QuicTls::CaPem(
                std::fs::read(path).map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?,
            );
        }
        Ok((endpoints, opts))
    }

    fn auth(&self, stored: &StoredSession) -> Result<Arc<Auth>> {
        let rest = Rest::new(&self.server(Some(stored))?)?;
        Ok(Auth::with_store(rest, stored.credentials.clone(), Arc::new(self.file.clone())))
    }
}

fn password(given: Option<String>) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn run(cli: Cli) -> Result<()> {
    let dir = cli
        .config_dir
        .clone()
        .or_else(SessionFile::default_dir)
        .ok_or_else(|| Error::Config("no config directory: set --config-dir or HOME".into()))?;
    let ctx = Ctx { file: SessionFile::new(dir), cli };
    match &ctx.cli.cmd {
        Cmd::Register { username, password: pw, display_name } => {
            let server = ctx.server(None)?;
            let rest = Rest::new(&server)?;
            let resp = rest.register(username, &password(pw.clone())?, display_name.as_deref()).await?;
            keep_session(&ctx, server, Credentials::from_auth(resp))
        }
        Cmd::Login { username, password: pw } => {
            let server = ctx.server(None)?;
            let rest = Rest::new(&server)?;
            let resp = rest.login(username, &password(pw.clone())?, Some("parley cli")).await?;
            keep_session(&ctx, server, Credentials::from_auth(resp))
        }
        Cmd::Logout => {
            let stored = ctx.stored()?;
            let res = ctx.auth(&stored)?.logout().await;
            ctx.file.remove()?;
            if ctx.cli.json {
                ctx.out(json!({"logged_out": true}));
            } else {
                ctx.say("logged out");
            }
            res.or_else(|e| if matches!(e, Error::Unauthorized(_)) { Ok(()) } else { Err(e) })
        }
        Cmd::Whoami => {
            let stored = ctx.stored()?;
            let auth = ctx.auth(&stored)?;
            let rest = auth.rest().clone();
            let me = auth
                .with_token(|t| {
                    let rest = rest.clone();
                    async move { rest.me(&t).await }
                })
                .await?;
            if ctx.cli.json {
                ctx.out(json!({"user": me, "server": stored.server}));
            } else {
                ctx.say(&format!("{} ({}) on {}", me.username, me.id, stored.server));
            }
            Ok(())
        }
        Cmd::Send { args, to_user_id, conversation, rest: via_rest, timeout } => {
            let stored = ctx.stored()?;
            let auth = ctx.auth(&stored)?;
            let (conv, text) = resolve_target(&auth, args, *to_user_id, *conversation).await?;
            let fut = async {
                if *via_rest {
                    let cmid = ClientMsgId(new_uuid_v7().to_string());
                    let rest = auth.rest().clone();
                    auth.with_token(|t| {
                        let (rest, cmid, text) = (rest.clone(), cmid.clone(), text.clone());
                        async move { rest.send_message(&t, conv, &cmid, &text).await }
                    })
                    .await
                } else {
                    let server = ctx.server(Some(&stored))?;
                    let (endpoints, connect) = ctx.realtime(&stored, &server)?;
                    let mut cfg = ClientConfig::new(endpoints);
                    cfg.connect = connect;
                    let (client, mut events) = Client::start(auth.clone(), cfg)?;
                    let drain = tokio::spawn(async move {
                        while let Some(ev) = events.recv().await {
                            if let ClientEvent::Closed(e) = ev {
                                return Some(e);
                            }
                        }
                        None
                    });
                    let res = client.send(conv, text.clone()).await;
                    client.close().await;
                    drain.abort();
                    res
                }
            };
            let event = tokio::time::timeout(Duration::from_secs(*timeout), fut)
                .await
                .map_err(|_| Error::Timeout(format!("no acknowledgement within {timeout} s")))??;
            if ctx.cli.json {
                ctx.out(serde_json::to_value(&event).unwrap_or_default());
            } else {
                ctx.say(&format!("sent #{} to {}", event.seq, event.conversation_id));
            }
            Ok(())
        }
        Cmd::Tail => tail(&ctx).await,
        Cmd::History { conversation_id, limit } => {
            let stored = ctx.stored()?;
            let auth = ctx.auth(&stored)?;
            let rest = auth.rest().clone();
            let conv = *conversation_id;
            let mut events = auth
                .with_token(|t| {
                    let rest = rest.clone();
                    async move { rest.events_after(&t, conv, 0, None).await }
                })
                .await?;
            if let Some(n) = limit {
                let skip = events.len().saturating_sub(*n);
                events.drain(..skip);
            }
            let mut names = Names::new(auth.clone());
            for e in &events {
                print_event(&ctx, &mut names, e).await;
            }
            Ok(())
        }
        Cmd::Group { action } => {
            let stored = ctx.stored()?;
            let auth = ctx.auth(&stored)?;
            group::run(&ctx, &auth, action).await
        }
        Cmd::Conversations => {
            let stored = ctx.stored()?;
            let auth = ctx.auth(&stored)?;
            for c in &all_conversations(&auth).await? {
                if ctx.cli.json {
                    ctx.out(serde_json::to_value(c).unwrap_or_default());
                } else {
                    let name = c
                        .title
                        .clone()
                        .or_else(|| c.peer.as_ref().map(|p| p.username.clone()))
                        .unwrap_or_else(|| "?".into());
                    ctx.say(&format!("{}  {:<20} last #{} unread {}", c.id, name, c.last_seq, c.unread_count));
                }
            }
            Ok(())
        }
    }
}

/// Every conversation of the signed-in user, following `next_cursor` to the end.
async fn all_conversations(auth: &Auth) -> Result<Vec<ConversationSummary>> {
    let rest = auth.rest().clone();
    let (mut all, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let c = cursor.clone();
        let page = auth
            .with_token(|t| {
                let (rest, c) = (rest.clone(), c.clone());
                async move { rest.conversations(&t, c.as_deref()).await }
            })
            .await?;
        all.extend(page.conversations);
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => return Ok(all),
        }
    }
}

fn keep_session(ctx: &Ctx, server: String, creds: Credentials) -> Result<()> {
    let stored = StoredSession {
        server,
        nodes: ctx.cli.nodes.clone(),
        transport: ctx.cli.transport.clone(),
        quic_cert_sha256: ctx.cli.quic_cert_sha256.clone(),
        credentials: creds,
    };
    ctx.file.save(&stored)?;
    let user = &stored.credentials.user;
    if ctx.cli.json {
        ctx.out(json!({"user": user, "session_id": stored.credentials.session_id, "server": stored.server}));
    } else {
        ctx.say(&format!(
            "logged in as {} ({}); session kept in {}",
            user.username,
            user.id,
            ctx.file.path().display()
        ));
    }
    Ok(())
}

/// The conversation and text of `send`.
async fn resolve_target(
    auth: &Arc<Auth>,
    args: &[String],
    to_user_id: Option<UserId>,
    conversation: Option<ConversationId>,
) -> Result<(ConversationId, String)> {
    let rest = auth.rest().clone();
    let direct = |uid: UserId| {
        let rest = rest.clone();
        async move {
            auth.with_token(|t| {
                let rest = rest.clone();
                async move { rest.direct(&t, uid).await }
            })
            .await
        }
    };
    if let Some(c) = conversation {
        return Ok((c, args.join(" ")));
    }
    if let Some(u) = to_user_id {
        return Ok((direct(u).await?.id, args.join(" ")));
    }
    let (target, words) = args.split_first().ok_or_else(|| Error::Config("send needs a target and a text".into()))?;
    if words.is_empty() {
        return Err(Error::Config("send needs a text after the target".into()));
    }
    let text = words.join(" ");
    let target = target.trim_start_matches('@');
    if let Ok(id) = target.parse::<uuid::Uuid>() {
        // A user id opens the direct conversation; anything else is taken as a conversation id.
        let user = auth
            .with_token(|t| {
                let rest = rest.clone();
                async move { rest.user(&t, UserId(id)).await }
            })
            .await;
        return match user {
            Ok(u) => Ok((direct(u.id).await?.id, text)),
            Err(Error::Api { code: ErrorCode::NotFound, .. }) => Ok((ConversationId(id), text)),
            Err(e) => Err(e),
        };
    }
    let q = target.to_lowercase();
    let found = auth
        .with_token(|t| {
            let (rest, q) = (rest.clone(), q.clone());
            async move { rest.search_users(&t, &q).await }
        })
        .await;
    match found {
        Ok(users) => match users.into_iter().find(|u| u.username.eq_ignore_ascii_case(&q)) {
            Some(u) => Ok((direct(u.id).await?.id, text)),
            None => Err(Error::Api { code: ErrorCode::NotFound, message: format!("no user named {q}"), status: 404 }),
        },
        Err(Error::Api { code: ErrorCode::NotFound | ErrorCode::MethodNotAllowed, .. }) => Err(Error::Config(format!(
            "this server cannot look users up by name (GET /v1/users?q=); pass the user id of {q} (or --to-user-id)"
        ))),
        Err(e) => Err(e),
    }
}

/// Usernames by id, fetched once each.
struct Names {
    auth: Arc<Auth>,
    cache: HashMap<UserId, String>,
}

impl Names {
    fn new(auth: Arc<Auth>) -> Names {
        Names { auth, cache: HashMap::new() }
    }

    async fn get(&mut self, id: UserId) -> String {
        if let Some(n) = self.cache.get(&id) {
            return n.clone();
        }
        let rest = self.auth.rest().clone();
        let name = match self
            .auth
            .with_token(|t| {
                let rest = rest.clone();
                async move { rest.user(&t, id).await }
            })
            .await
        {
            Ok(u) => u.username,
            Err(_) => id.to_string()[..8].to_owned(),
        };
        self.cache.insert(id, name.clone());
        name
    }
}

async fn print_event(ctx: &Ctx, names: &mut Names, e: &Event) {
    if ctx.cli.json {
        ctx.out(json!({"type": "event", "event": e}));
        return;
    }
    let who = names.get(e.sender_id).await;
    let time = e.created_at.0.with_timezone(&chrono::Local).format("%H:%M:%S");
    let what = match &e.body {
        EventBody::Message(m) => {
            let mut s = m.text.clone().unwrap_or_default();
            if !m.media_ids.is_empty() {
                s.push_str(&format!(" [{} attachment(s)]", m.media_ids.len()));
            }
            s
        }
        EventBody::Edit { text, .. } => format!("(edited) {}", text.as_deref().unwrap_or("(recalled)")),
        EventBody::Recall { .. } => "(recalled a message)".into(),
        EventBody::Reaction { emoji, added, .. } => {
            format!("({} {emoji})", if *added { "reacted" } else { "unreacted" })
        }
        EventBody::GroupCreated { name } => format!("(created the group {name:?})"),
        EventBody::MemberJoined { user_id, .. } if *user_id == e.sender_id => "(joined)".into(),
        EventBody::MemberJoined { user_id, .. } => format!("(added {})", names.get(*user_id).await),
        EventBody::MemberLeft { user_id, reason } => match reason {
            Some(LeftReason::Removed) => format!("(removed {})", names.get(*user_id).await),
            Some(LeftReason::AccountDeleted) => "(account deleted)".into(),
            _ => "(left)".into(),
        },
        EventBody::RoleChanged { user_id, role } => {
            format!("(made {} {})", names.get(*user_id).await, role.as_str())
        }
        EventBody::MemberMuted { user_id, until: Some(t) } => {
            format!("(muted {} until {})", names.get(*user_id).await, t.to_rfc3339())
        }
        EventBody::MemberMuted { user_id, until: None } => format!("(unmuted {})", names.get(*user_id).await),
        EventBody::GroupUpdated(c) => format!("(changed the group: {})", serde_json::to_string(c).unwrap_or_default()),
        EventBody::Announcement { text: Some(t) } => format!("(announcement) {t}"),
        EventBody::Announcement { text: None } => "(cleared the announcement)".into(),
        EventBody::GroupDissolved {} => "(dissolved the group)".into(),
    };
    ctx.say(&format!("[{time}] {who}: {what}"));
}

async fn tail(ctx: &Ctx) -> Result<()> {
    let stored = ctx.stored()?;
    let auth = ctx.auth(&stored)?;
    let server = ctx.server(Some(&stored))?;
    let (endpoints, connect) = ctx.realtime(&stored, &server)?;
    let mut cfg = ClientConfig::new(endpoints);
    cfg.connect = connect;
    // Start every known conversation at its head: print only what arrives from now on.
    for conv in all_conversations(&auth).await? {
        cfg.positions.insert(conv.id, conv.last_seq);
    }
    let (client, mut events) = Client::start(auth.clone(), cfg)?;
    let mut names = Names::new(auth);
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::signal::ctrl_c() => {
                client.close().await;
                return Ok(());
            }
        };
        let Some(ev) = ev else { return Ok(()) };
        match ev {
            ClientEvent::Event(e) => print_event(ctx, &mut names, &e).await,
            ClientEvent::Connected { endpoint, ready } => {
                if ctx.cli.json {
                    ctx.out(json!({"type": "connected", "endpoint": endpoint.to_string(), "node_id": ready.node_id}));
                } else {
                    eprintln!("-- connected to {} ({endpoint})", ready.node_id);
                }
            }
            ClientEvent::Synced { .. } => {
                if ctx.cli.json {
                    ctx.out(json!({"type": "synced"}));
                }
            }
            ClientEvent::Disconnected { endpoint, reason } => {
                if ctx.cli.json {
                    ctx.out(json!({"type": "disconnected", "endpoint": endpoint.to_string(), "reason": reason}));
                } else {
                    eprintln!("-- disconnected from {endpoint}: {reason}; reconnecting");
                }
            }
            ClientEvent::Read(r) => {
                if ctx.cli.json {
                    ctx.out(ServerFrame::Read(r));
                }
            }
            ClientEvent::Delivered(d) => {
                if ctx.cli.json {
                    ctx.out(ServerFrame::Delivered(d));
                }
            }
            ClientEvent::MessageHidden { conversation_id, message_id } => {
                if ctx.cli.json {
                    ctx.out(
                        json!({"type": "message_hidden", "conversation_id": conversation_id, "message_id": message_id}),
                    );
                }
            }
            ClientEvent::Typing(t) => {
                if ctx.cli.json {
                    ctx.out(ServerFrame::Typing(t));
                } else {
                    eprintln!("-- {} is typing", names.get(t.user_id).await);
                }
            }
            ClientEvent::Notice(n) => {
                if ctx.cli.json {
                    ctx.out(ServerFrame::Notice(n));
                } else {
                    eprintln!("-- notice: {}", serde_json::to_string(&n.body).unwrap_or_default());
                }
            }
            ClientEvent::Presence(p) => {
                if ctx.cli.json {
                    ctx.out(ServerFrame::Presence(p));
                } else {
                    let state = if p.online { "online" } else { "offline" };
                    eprintln!("-- {} is {state}", names.get(p.user_id).await);
                }
            }
            ClientEvent::PresenceSnapshot(online) => {
                if ctx.cli.json {
                    ctx.out(ServerFrame::PresenceSnapshot { online });
                }
            }
            ClientEvent::Other(_) => {}
            ClientEvent::Closed(e) => return Err(e),
        }
    }
}

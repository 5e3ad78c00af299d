//! `parley group ...`: groups from the command line, one REST call per command.

use std::sync::Arc;

use clap::Subcommand;
use parley_client::{Auth, Error, Rest, Result};
use parley_shared::error::ErrorCode;
use parley_shared::ids::{ConversationId, UserId};
use parley_shared::model::{CreateGroup, CreateInvite, Group, Role, UpdateMember};
use parley_shared::time::Timestamp;
use serde_json::json;

use crate::Ctx;

/// What to do with groups.
#[derive(Subcommand, Debug)]
pub enum GroupCmd {
    /// Create a group owned by you: `group create <name> [--member <user>]...`.
    Create {
        /// Its name.
        name: String,
        /// What it is about.
        #[arg(long)]
        description: Option<String>,
        /// A first member (username or user id); repeat for more.
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// Show a group.
    Info { group: ConversationId },
    /// List a group's members with their roles.
    Members { group: ConversationId },
    /// Add members (usernames or user ids).
    Add {
        group: ConversationId,
        #[arg(required = true, num_args = 1..)]
        users: Vec<String>,
    },
    /// Remove a member.
    Remove { group: ConversationId, user: String },
    /// Make a member `admin`, `member` or `guest`.
    Role { group: ConversationId, user: String, role: String },
    /// Mute a member for some minutes (`--minutes 0` unmutes).
    Mute {
        group: ConversationId,
        user: String,
        #[arg(long, default_value_t = 60)]
        minutes: i64,
    },
    /// Set the announcement (no text clears it).
    Announce { group: ConversationId, text: Vec<String> },
    /// Give the group to another member (you become an admin).
    Transfer { group: ConversationId, user: String },
    /// Leave a group.
    Leave { group: ConversationId },
    /// Make an invite code.
    Invite {
        group: ConversationId,
        /// Most joins it admits.
        #[arg(long)]
        max_uses: Option<i64>,
        /// Seconds it stays valid (default 7 days).
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// Join with an invite code.
    Join { code: String },
    /// Dissolve a group you own (its history stays, read-only).
    Dissolve { group: ConversationId },
}

/// Runs one group command.
pub async fn run(ctx: &Ctx, auth: &Arc<Auth>, cmd: &GroupCmd) -> Result<()> {
    let rest = auth.rest().clone();
    // One authenticated call (refreshing the token once on a 401).
    macro_rules! call {
        (|$r:ident, $t:ident| $body:expr) => {
            auth.with_token(|$t| {
                let $r = rest.clone();
                async move { $body }
            })
            .await
        };
    }
    match cmd {
        GroupCmd::Create { name, description, members } => {
            let mut member_ids = Vec::new();
            for m in members {
                member_ids.push(user_id(auth, m).await?);
            }
            let body =
                CreateGroup { name: name.clone(), description: description.clone(), member_ids, ..Default::default() };
            let body = &body;
            let g = call!(|r, t| r.create_group(&t, body).await)?;
            show(ctx, &g);
        }
        GroupCmd::Info { group } => {
            let g = call!(|r, t| r.group(&t, *group).await)?;
            show(ctx, &g);
        }
        GroupCmd::Members { group } => {
            let mut cursor: Option<String> = None;
            loop {
                let c = cursor.as_deref();
                let page = call!(|r, t| r.group_members(&t, *group, c).await)?;
                for m in &page.members {
                    if ctx.cli.json {
                        ctx.out(m);
                    } else {
                        let muted =
                            m.muted_until.map(|t| format!(" (muted until {})", t.to_rfc3339())).unwrap_or_default();
                        ctx.say(&format!("{} {:<20} {}{muted}", m.user.id, m.user.username, m.role.as_str()));
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        GroupCmd::Add { group, users } => {
            let mut ids = Vec::new();
            for u in users {
                ids.push(user_id(auth, u).await?);
            }
            let ids = &ids;
            let out = call!(|r, t| r.add_members(&t, *group, ids.clone()).await)?;
            if ctx.cli.json {
                ctx.out(&out);
            } else {
                ctx.say(&format!("added {}", out.added.len()));
                for s in &out.skipped {
                    ctx.say(&format!("skipped {}: {:?}", s.user_id, s.reason));
                }
            }
        }
        GroupCmd::Remove { group, user } => {
            let u = user_id(auth, user).await?;
            call!(|r, t| r.remove_member(&t, *group, u).await)?;
            done(ctx, "removed");
        }
        GroupCmd::Role { group, user, role } => {
            let role = match role.as_str() {
                "admin" => Role::Admin,
                "member" => Role::Member,
                "guest" => Role::Guest,
                other => return Err(Error::Config(format!("role: admin, member or guest, not {other:?}"))),
            };
            let u = user_id(auth, user).await?;
            let body = &UpdateMember { role: Some(role), muted_until: None };
            let m = call!(|r, t| r.update_member(&t, *group, u, body).await)?;
            member(ctx, &m);
        }
        GroupCmd::Mute { group, user, minutes } => {
            let u = user_id(auth, user).await?;
            let until = (*minutes > 0).then(|| Timestamp(Timestamp::now().0 + chrono::Duration::minutes(*minutes)));
            let body = &UpdateMember { role: None, muted_until: Some(until) };
            let m = call!(|r, t| r.update_member(&t, *group, u, body).await)?;
            member(ctx, &m);
        }
        GroupCmd::Announce { group, text } => {
            let text = &text.join(" ");
            let g = call!(|r, t| r.set_announcement(&t, *group, text).await)?;
            show(ctx, &g);
        }
        GroupCmd::Transfer { group, user } => {
            let u = user_id(auth, user).await?;
            let g = call!(|r, t| r.transfer_group(&t, *group, u).await)?;
            show(ctx, &g);
        }
        GroupCmd::Leave { group } => {
            call!(|r, t| r.leave_group(&t, *group).await)?;
            done(ctx, "left");
        }
        GroupCmd::Invite { group, max_uses, expires_in } => {
            let body = &CreateInvite { expires_in: *expires_in, max_uses: *max_uses };
            let inv = call!(|r, t| r.create_invite(&t, *group, body).await)?;
            if ctx.cli.json {
                ctx.out(&inv);
            } else {
                ctx.say(&format!("{}  (until {})", inv.code, inv.expires_at.to_rfc3339()));
            }
        }
        GroupCmd::Join { code } => {
            let out = call!(|r, t| r.join_group(&t, code).await)?;
            if ctx.cli.json {
                ctx.out(&out);
            } else if out.pending {
                ctx.say(&format!("asked to join {}; an admin will decide", out.group_id));
            } else {
                ctx.say(&format!("joined {}", out.group_id));
            }
        }
        GroupCmd::Dissolve { group } => {
            call!(|r, t| r.dissolve_group(&t, *group).await)?;
            done(ctx, "dissolved");
        }
    }
    Ok(())
}

/// A user id, or the user with this username (exactly).
async fn user_id(auth: &Arc<Auth>, who: &str) -> Result<UserId> {
    let who = who.trim_start_matches('@');
    if let Ok(id) = who.parse::<uuid::Uuid>() {
        return Ok(UserId(id));
    }
    let rest: Rest = auth.rest().clone();
    let q = who.to_lowercase();
    let users = auth
        .with_token(|t| {
            let (rest, q) = (rest.clone(), q.clone());
            async move { rest.search_users(&t, &q).await }
        })
        .await?;
    users.into_iter().find(|u| u.username.eq_ignore_ascii_case(&q)).map(|u| u.id).ok_or_else(|| Error::Api {
        code: ErrorCode::NotFound,
        message: format!("no user named {q}"),
        status: 404,
    })
}

fn show(ctx: &Ctx, g: &Group) {
    if ctx.cli.json {
        ctx.out(g);
        return;
    }
    ctx.say(&format!("{}  {}  ({} members, you are {})", g.id, g.name, g.member_count, g.my_role.as_str()));
    if let Some(a) = &g.announcement {
        ctx.say(&format!("announcement: {}", a.text));
    }
    if g.dissolved_at.is_some() {
        ctx.say("dissolved (read-only)");
    }
}

fn member(ctx: &Ctx, m: &parley_shared::model::GroupMember) {
    if ctx.cli.json {
        ctx.out(m);
    } else {
        let muted = m.muted_until.map(|t| format!(", muted until {}", t.to_rfc3339())).unwrap_or_default();
        ctx.say(&format!("{} is {}{muted}", m.user.username, m.role.as_str()));
    }
}

fn done(ctx: &Ctx, what: &str) {
    if ctx.cli.json {
        ctx.out(json!({ what: true }));
    } else {
        ctx.say(what);
    }
}

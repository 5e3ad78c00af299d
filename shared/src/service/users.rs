//! Profiles and user search; readiness.

use super::Env;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::model::{OwnProfile, PresenceChange, PresenceView, Profile, UpdateProfile, UserPage};
use crate::rules;
use crate::store::notify;
use crate::store::tx::transact;
use crate::store::users::ProfileUpdate;
use crate::store::{StoreError, media, presence, social, users};

/// Live users whose username or display name starts with `q`, by username, after the page
/// cursor; users who blocked the caller are left out.
pub async fn search<E: Env>(
    env: &E,
    me: &AccessClaims,
    q: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<UserPage, ApiError> {
    let prefix = rules::users::search_prefix(q)?;
    let limit = rules::pagination::limit(limit)?;
    let db = env.db().await?;
    let mut found = users::search(&*db, me.user_id, prefix, cursor, limit + 1).await?;
    let next_cursor = super::social::page_end(&mut found, limit, |u| u.username.clone());
    Ok(UserPage { users: found, next_cursor })
}

/// The caller's own profile and settings; 401 when the account is gone.
pub async fn me<E: Env>(env: &E, me: &AccessClaims) -> Result<OwnProfile, ApiError> {
    let db = env.db().await?;
    users::own_profile(&*db, me.user_id).await?.ok_or_else(|| ApiError::unauthorized("account no longer exists"))
}

/// Edits the caller's profile and settings. Hiding presence while online looks like going
/// offline to friends; showing it again, like coming back.
pub async fn update_me<E: Env>(env: &E, me: &AccessClaims, b: UpdateProfile) -> Result<OwnProfile, ApiError> {
    let edit = rules::users::profile_edit(&b)?;
    let words = env.words().await?;
    let update = ProfileUpdate {
        display_name: words.apply_opt("display_name", edit.display_name)?,
        bio: edit.bio.map(|b| words.apply_opt("bio", b)).transpose()?,
        dm_policy: b.dm_policy,
        show_presence: b.show_presence,
        avatar: b.avatar_media_id,
    };
    let mut db = env.db().await?;
    let updated = transact!(db, |tx| {
        if let Some(Some(id)) = update.avatar {
            let found = media::lock_for_attach(tx, &[id]).await?.pop();
            rules::media::avatar(me.user_id, id, found.as_ref().map(|m| m.attach_facts()))
                .map_err(StoreError::refused)?;
        }
        let Some((profile, presence_toggled)) = users::update_profile(tx, me.user_id, &update).await? else {
            return Ok(None);
        };
        if presence_toggled && presence::is_online(tx, me.user_id).await? {
            let change = PresenceChange { user_id: me.user_id, online: profile.show_presence, last_seen_at: None };
            notify::send_presence(tx, &[change]).await?;
        }
        Ok(Some(profile))
    })?;
    updated.ok_or_else(|| ApiError::unauthorized("account no longer exists"))
}

/// A user's public profile, how the caller stands with them, and their presence for a friend.
pub async fn profile<E: Env>(env: &E, me: &AccessClaims, id: UserId) -> Result<Profile, ApiError> {
    let db = env.db().await?;
    let (user, tie, seen) = futures_util::future::try_join3(
        users::get(&*db, id),
        social::tie(&*db, me.user_id, id),
        social::presence_of(&*db, id),
    )
    .await?;
    let user = user.ok_or_else(|| ApiError::not_found("user not found"))?;
    let presence = if rules::social::may_see_presence(tie.friends && !tie.blocked(), true) {
        seen
    } else {
        PresenceView::default()
    };
    Ok(Profile { user, relationship: rules::social::relationship(&tie), presence })
}

/// Whether the database answers: `Unavailable` when it does not.
pub async fn ready<E: Env>(env: &E) -> Result<(), ApiError> {
    let db = env.db().await?;
    db.simple_query("SELECT 1").await.map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("database: {e}")))?;
    Ok(())
}

//! Accounts and profiles.

use tokio_postgres::GenericClient;
use tokio_postgres::Row;

use super::{StoreError, Type};
use crate::ids::{MediaId, UserId};
use crate::model::{DmPolicy, OwnProfile, User};
use crate::time::Timestamp;

/// Columns [`user_from_row`] reads, for a table aliased `u`.
pub(crate) const USER_COLS: &str =
    "u.id, u.username, u.display_name, u.bio, u.created_at, u.deleted_at IS NOT NULL, u.avatar_media_id";
/// How many columns [`USER_COLS`] is.
pub(crate) const USER_COL_COUNT: usize = 7;

/// What a deleted account shows as.
const DELETED_NAME: &str = "Deleted user";

pub(crate) fn user_from_row(row: &Row, at: usize) -> User {
    User {
        id: UserId(row.get(at)),
        // A deleted account has freed its username.
        username: row.get::<_, Option<String>>(at + 1).unwrap_or_default(),
        display_name: row.get(at + 2),
        bio: row.get(at + 3),
        created_at: Timestamp(row.get(at + 4)),
        deleted: row.get(at + 5),
        avatar_media_id: row.get::<_, Option<uuid::Uuid>>(at + 6).map(MediaId),
    }
}

/// Inserts a user; `Err(Unique("users_username_key"))` when the name is taken.
pub async fn insert<C: GenericClient>(
    c: &C,
    id: UserId,
    username: &str,
    display_name: &str,
    password_hash: &str,
) -> Result<User, StoreError> {
    let sql = format!(
        "INSERT INTO users AS u (id, username, display_name, password_hash) VALUES ($1, $2, $3, $4) \
         RETURNING {USER_COLS}"
    );
    let row = c
        .query_typed_one(
            &sql,
            &[(&id.0, Type::UUID), (&username, Type::TEXT), (&display_name, Type::TEXT), (&password_hash, Type::TEXT)],
        )
        .await?;
    Ok(user_from_row(&row, 0))
}

/// The user and their password hash, by (already lower-cased) username; deleted accounts have
/// none.
pub async fn find_credentials<C: GenericClient>(c: &C, username: &str) -> Result<Option<(User, String)>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLS}, u.password_hash FROM users u WHERE lower(u.username) = $1 AND u.deleted_at IS NULL"
    );
    let row = c.query_typed(&sql, &[(&username, Type::TEXT)]).await?.into_iter().next();
    Ok(row.map(|r| (user_from_row(&r, 0), r.get(USER_COL_COUNT))))
}

/// A user by id (deleted ones too: they still appear as senders).
pub async fn get<C: GenericClient>(c: &C, id: UserId) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
    let row = c.query_typed(&sql, &[(&id.0, Type::UUID)]).await?.into_iter().next();
    Ok(row.map(|r| user_from_row(&r, 0)))
}

/// A live account's password hash.
pub async fn password_hash<C: GenericClient>(c: &C, id: UserId) -> Result<Option<String>, StoreError> {
    let rows = c
        .query_typed("SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL", &[(&id.0, Type::UUID)])
        .await?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// Replaces a live account's password hash.
pub async fn set_password<C: GenericClient>(c: &C, id: UserId, hash: &str) -> Result<(), StoreError> {
    c.query_typed(
        "UPDATE users SET password_hash = $2 WHERE id = $1 AND deleted_at IS NULL",
        &[(&id.0, Type::UUID), (&hash, Type::TEXT)],
    )
    .await?;
    Ok(())
}

fn own_from_row(row: &Row) -> OwnProfile {
    OwnProfile {
        user: user_from_row(row, 0),
        dm_policy: DmPolicy::from_db(row.get(USER_COL_COUNT)),
        show_presence: row.get(USER_COL_COUNT + 1),
    }
}

/// A live account's own profile and settings.
pub async fn own_profile<C: GenericClient>(c: &C, id: UserId) -> Result<Option<OwnProfile>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLS}, u.dm_policy, u.show_presence FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL"
    );
    Ok(c.query_typed(&sql, &[(&id.0, Type::UUID)]).await?.first().map(own_from_row))
}

/// A profile edit; `None` leaves a field as it is, `bio: Some(None)` clears the bio.
#[derive(Clone, Debug, Default)]
pub struct ProfileUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New bio.
    pub bio: Option<Option<String>>,
    /// New direct-message policy.
    pub dm_policy: Option<DmPolicy>,
    /// Show presence to friends.
    pub show_presence: Option<bool>,
    /// New avatar (`Some(None)`: none), checked by the caller under [`super::media::lock_for_attach`].
    pub avatar: Option<Option<MediaId>>,
}

/// Applies `u` to a live account; returns the profile after, and whether `show_presence` changed.
pub async fn update_profile<C: GenericClient>(
    c: &C,
    id: UserId,
    u: &ProfileUpdate,
) -> Result<Option<(OwnProfile, bool)>, StoreError> {
    let set_bio = u.bio.is_some();
    let bio = u.bio.clone().flatten();
    let policy = u.dm_policy.map(DmPolicy::as_str);
    let sql = format!(
        "WITH old AS (SELECT show_presence FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE) \
         UPDATE users u SET display_name = COALESCE($2, u.display_name), \
                bio = CASE WHEN $3 THEN $4 ELSE u.bio END, \
                dm_policy = COALESCE($5, u.dm_policy), show_presence = COALESCE($6, u.show_presence), \
                avatar_media_id = CASE WHEN $7 THEN $8 ELSE u.avatar_media_id END \
         FROM old WHERE u.id = $1 \
         RETURNING {USER_COLS}, u.dm_policy, u.show_presence, u.show_presence <> old.show_presence"
    );
    let rows = c
        .query_typed(
            &sql,
            &[
                (&id.0, Type::UUID),
                (&u.display_name, Type::TEXT),
                (&set_bio, Type::BOOL),
                (&bio, Type::TEXT),
                (&policy, Type::TEXT),
                (&u.show_presence, Type::BOOL),
                (&u.avatar.is_some(), Type::BOOL),
                (&u.avatar.flatten().map(|m| m.0), Type::UUID),
            ],
        )
        .await?;
    Ok(rows.first().map(|r| (own_from_row(r), r.get(USER_COL_COUNT + 2))))
}

/// Erases an account: credentials and profile gone, username freed, the row kept so its
/// messages stay in others' history as from a deleted user. Friendships, blocks, requests,
/// notices and presence go with it; sessions are revoked (returned, to close their
/// connections). Returns the former friends.
pub async fn erase<C: GenericClient>(c: &C, id: UserId) -> Result<Vec<UserId>, StoreError> {
    c.query_typed(
        "UPDATE users SET username = NULL, display_name = $2, bio = NULL, password_hash = '', \
                deleted_at = now(), show_presence = false, avatar_media_id = NULL WHERE id = $1",
        &[(&id.0, Type::UUID), (&DELETED_NAME, Type::TEXT)],
    )
    .await?;
    let friends =
        c.query_typed("DELETE FROM friendships WHERE user_id = $1 RETURNING friend_id", &[(&id.0, Type::UUID)]).await?;
    futures_util::future::try_join4(
        c.query_typed("DELETE FROM friendships WHERE friend_id = $1", &[(&id.0, Type::UUID)]),
        c.query_typed("DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1", &[(&id.0, Type::UUID)]),
        c.query_typed(
            "UPDATE friend_requests SET status = 'cancelled', decided_at = now() \
             WHERE (from_user_id = $1 OR to_user_id = $1) AND status = 'pending'",
            &[(&id.0, Type::UUID)],
        ),
        c.query_typed("DELETE FROM notices WHERE user_id = $1", &[(&id.0, Type::UUID)]),
    )
    .await?;
    c.query_typed("DELETE FROM presence WHERE user_id = $1", &[(&id.0, Type::UUID)]).await?;
    Ok(friends.iter().map(|r| UserId(r.get(0))).collect())
}

/// Live users whose username or display name starts with `prefix` (case-insensitive), by
/// username, after the username `after`; at most `limit`. Users who blocked `viewer` are left out.
pub async fn search<C: GenericClient>(
    c: &C,
    viewer: UserId,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    // LIKE wildcards in the user's text are literal.
    let escaped: String = prefix
        .to_lowercase()
        .chars()
        .flat_map(|ch| if matches!(ch, '%' | '_' | '\\') { vec!['\\', ch] } else { vec![ch] })
        .collect();
    let pattern = format!("{escaped}%");
    let sql = format!(
        "SELECT {USER_COLS} FROM users u \
         WHERE (lower(u.username) LIKE $1 OR lower(u.display_name) LIKE $1) AND u.deleted_at IS NULL \
           AND ($2::text IS NULL OR lower(u.username) > $2) \
           AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $4) \
         ORDER BY lower(u.username) LIMIT $3"
    );
    let rows = c
        .query_typed(
            &sql,
            &[(&pattern, Type::TEXT), (&after, Type::TEXT), (&limit, Type::INT8), (&viewer.0, Type::UUID)],
        )
        .await?;
    Ok(rows.iter().map(|r| user_from_row(r, 0)).collect())
}

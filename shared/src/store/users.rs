//! Accounts.

use tokio_postgres::GenericClient;
use tokio_postgres::Row;

use super::{StoreError, Type};
use crate::ids::UserId;
use crate::model::User;
use crate::time::Timestamp;

pub(crate) const USER_COLS: &str = "u.id, u.username, u.display_name, u.bio, u.created_at";

pub(crate) fn user_from_row(row: &Row, at: usize) -> User {
    User {
        id: UserId(row.get(at)),
        username: row.get(at + 1),
        display_name: row.get(at + 2),
        bio: row.get(at + 3),
        created_at: Timestamp(row.get(at + 4)),
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

/// The user and their password hash, by (already lower-cased) username.
pub async fn find_credentials<C: GenericClient>(c: &C, username: &str) -> Result<Option<(User, String)>, StoreError> {
    let sql = format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE lower(u.username) = $1");
    let row = c.query_typed(&sql, &[(&username, Type::TEXT)]).await?.into_iter().next();
    Ok(row.map(|r| (user_from_row(&r, 0), r.get(5))))
}

/// A user by id.
pub async fn get<C: GenericClient>(c: &C, id: UserId) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
    let row = c.query_typed(&sql, &[(&id.0, Type::UUID)]).await?.into_iter().next();
    Ok(row.map(|r| user_from_row(&r, 0)))
}

/// Users whose username or display name starts with `prefix` (case-insensitive), by username,
/// after the username `after`; at most `limit`.
pub async fn search<C: GenericClient>(
    c: &C,
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
         WHERE (lower(u.username) LIKE $1 OR lower(u.display_name) LIKE $1) \
           AND ($2::text IS NULL OR lower(u.username) > $2) \
         ORDER BY lower(u.username) LIMIT $3"
    );
    let rows = c.query_typed(&sql, &[(&pattern, Type::TEXT), (&after, Type::TEXT), (&limit, Type::INT8)]).await?;
    Ok(rows.iter().map(|r| user_from_row(r, 0)).collect())
}

//! `GET /v1/search/messages`: full-text search over what the caller can read, ranked, with a
//! snippet around the first match (how terms are made: `rules::search`).

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::ConversationId;
use crate::model::{EventBody, SearchHit, SearchPage};
use crate::rules;
use crate::rules::limits::Costly;
use crate::store::search::{self, SearchCursor};
use crate::store::{conversations, messages};

/// One page of results for `q`, best first; within one conversation when given (404 unless the
/// caller is a member).
pub async fn messages<E: Env>(
    env: &E,
    me: &AccessClaims,
    q: Option<&str>,
    conversation: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<SearchPage, ApiError> {
    let query = rules::search::query(q.unwrap_or_default())?;
    let limit = rules::pagination::limit(limit)?;
    let conv =
        conversation.map(|c| c.parse::<ConversationId>().map_err(|_| rules::conversations::not_found())).transpose()?;
    let after = cursor
        .map(|c| SearchCursor::decode(c).ok_or_else(|| ApiError::invalid("cursor: not a cursor from this API")))
        .transpose()?;
    let mut db = env.db().await?;
    super::limits::spend(env, &mut db, Costly::Search, me.user_id).await?;
    if let Some(c) = conv {
        rules::conversations::member(conversations::membership(&*db, c, me.user_id).await?)?;
    }
    let mut found = search::messages(&*db, me.user_id, &query.tsquery(), conv, after, limit + 1).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_cursor = if more { found.last().map(|(e, r)| SearchCursor { rank: *r, id: e.id }.encode()) } else { None };
    let events = messages::as_seen_by(&*db, me.user_id, found.into_iter().map(|(e, _)| e).collect(), true).await?;
    let hits = events
        .into_iter()
        .map(|event| {
            let text = match &event.body {
                EventBody::Message(m) => m.text.clone().unwrap_or_default(),
                _ => String::new(),
            };
            let s = rules::search::snippet(&text, &query);
            SearchHit { event, snippet: s.text, highlights: s.highlights }
        })
        .collect();
    Ok(SearchPage { hits, next_cursor })
}

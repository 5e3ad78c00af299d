//! Moderation: the sensitive-word list (one for the whole deployment, in the database) and
//! reports for operators.

use tokio_postgres::GenericClient;

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::model::{CreateReport, Report};
use crate::rules;
use crate::rules::words::{WordAction, WordFilter};
use crate::store::notify::{self, Announcement};
use crate::store::{StoreError, conversations, messages, moderation, users};

/// Longest report reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// The word list, compiled.
pub async fn load_words<C: GenericClient>(c: &C) -> Result<WordFilter, ApiError> {
    Ok(WordFilter::new(&moderation::words(c).await?))
}

/// Lists (or, with `None`, unlists) a word and tells every node to reload (operators: `parley-node
/// words`). Answers whether anything changed.
pub async fn set_word<C: GenericClient>(c: &C, word: &str, action: Option<WordAction>) -> Result<bool, StoreError> {
    let word = word.trim();
    let changed = match action {
        Some(a) => {
            moderation::put_word(c, word, a).await?;
            true
        }
        None => moderation::delete_word(c, word).await?,
    };
    if changed {
        notify::send(c, &Announcement::Words).await?;
    }
    Ok(changed)
}

/// `POST /v1/reports`: a message the caller can read, or a user, with a reason.
pub async fn report<E: Env>(env: &E, me: &AccessClaims, b: CreateReport) -> Result<Report, ApiError> {
    let reason = match rules::optional_text("reason", Some(b.reason), MAX_REASON_CHARS)? {
        Some(r) => r,
        None => return Err(ApiError::invalid(format!("reason: 1 to {MAX_REASON_CHARS} characters"))),
    };
    let db = env.db().await?;
    let (message, user) = match (b.message_id, b.user_id) {
        (Some(m), None) => {
            let facts = messages::facts(&*db, m).await?.ok_or_else(|| ApiError::not_found("message not found"))?;
            let mine = conversations::membership(&*db, facts.conversation_id, me.user_id)
                .await?
                .ok_or_else(|| ApiError::not_found("message not found"))?;
            rules::messages::target(facts.conversation_id, &mine, Some(facts))?;
            (Some(m), Some(facts.sender_id))
        }
        (None, Some(u)) => {
            users::get(&*db, u).await?.ok_or_else(|| ApiError::not_found("user not found"))?;
            (None, Some(u))
        }
        _ => return Err(ApiError::invalid("invalid request body: give message_id or user_id, not both")),
    };
    Ok(moderation::create_report(&*db, me.user_id, message, user, &reason).await?)
}

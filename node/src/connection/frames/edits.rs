//! `edit`, `recall` and `react`: the same use cases as their REST routes, answered with a
//! `reply` carrying the event the change appended (none for a reaction that changed nothing).

use parley_shared::ApiError;
use parley_shared::ids::{ConversationId, EventId};
use parley_shared::model::{EditMessage, Event};
use parley_shared::protocol::{RequestId, ServerFrame};
use parley_shared::service::{edits, reactions};

use crate::connection::sink::{FrameSink, SinkError};
use crate::connection::{Connection, log_internal};
use crate::http::NodeEnv;

/// A change to a message, as the client asked.
pub(super) enum Change {
    /// New text.
    Edit(String),
    /// Withdraw it.
    Recall,
    /// Add or remove an emoji.
    React(String, bool),
}

/// Applies `change` to `message` and replies.
pub(super) async fn change<S: FrameSink>(
    c: &mut Connection<S>,
    id: RequestId,
    conv: ConversationId,
    message: EventId,
    change: Change,
) -> Result<(), SinkError> {
    let env = NodeEnv(&c.node);
    let outcome: Result<Option<Event>, ApiError> = match change {
        Change::Edit(text) => edits::edit(&env, &c.claims, conv, message, EditMessage { text }).await.map(Some),
        Change::Recall => edits::recall(&env, &c.claims, conv, message).await.map(Some),
        Change::React(emoji, added) => reactions::react(&env, &c.claims, conv, message, &emoji, added).await,
    };
    match outcome {
        Ok(event) => c.send(&ServerFrame::Reply { id, ok: true, event: event.map(Box::new), error: None }).await,
        Err(e) => {
            log_internal(&e);
            c.send(&ServerFrame::reply_err(id, &e)).await
        }
    }
}

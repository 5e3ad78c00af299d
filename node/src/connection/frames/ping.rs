//! `ping` → `pong`.

use parley_shared::protocol::{RequestId, ServerFrame};

use crate::connection::Connection;
use crate::connection::sink::{FrameSink, SinkError};

/// Answers a liveness check.
pub(super) async fn ping<S: FrameSink>(c: &mut Connection<S>, id: RequestId) -> Result<(), SinkError> {
    c.send(&ServerFrame::Pong { id }).await
}

//! Newtypes for every id on the wire and in the database, so a user id can never be passed where a
//! conversation id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A fresh UUIDv7: time-ordered, so ids sort by creation and index well.
///
/// Ids made by one process are strictly increasing, even within one millisecond (RFC 9562's
/// "fixed-length dedicated counter" in the 12 `rand_a` bits, the millisecond borrowed forward when
/// 4,096 ids share one): cursors such as "everything up to this notice" depend on it.
///
/// Built from raw randomness rather than uuid's own `v7` feature so that the crate has exactly one
/// randomness source (getrandom) to configure for wasm32.
pub fn new_uuid_v7() -> Uuid {
    static LAST: std::sync::Mutex<(u64, u16)> = std::sync::Mutex::new((0, 0));
    let mut rand = [0u8; 10];
    getrandom::fill(&mut rand).expect("the OS random source is available");
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let (millis, counter) = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        *last = if now > last.0 {
            // A new millisecond starts the counter low, with room to count up.
            (now, u16::from_be_bytes([rand[0], rand[1]]) & 0x07ff)
        } else if last.1 < 0x0fff {
            (last.0, last.1 + 1)
        } else {
            (last.0 + 1, 0)
        };
        *last
    };
    let bytes = counter.to_be_bytes();
    rand[0] = bytes[0];
    rand[1] = bytes[1];
    uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid, examples("019aa9f3-5c2e-7d41-9b0a-3f6e2d8c4a17")))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(new_uuid_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

uuid_id!(
    /// A user account.
    UserId
);
uuid_id!(
    /// A direct or group conversation (its event log).
    ConversationId
);
uuid_id!(
    /// One event of a conversation's log.
    EventId
);
uuid_id!(
    /// An auth session: one login on one device, the `sid` of its access tokens.
    SessionId
);
uuid_id!(
    /// An uploaded media object (image, file).
    MediaId
);
uuid_id!(
    /// A friend request.
    FriendRequestId
);
uuid_id!(
    /// A notice to one user (a friend request arrived, was accepted, ...).
    NoticeId
);
uuid_id!(
    /// A report of a message or a user, for operators.
    ReportId
);
uuid_id!(
    /// One realtime connection (a WebSocket or a QUIC connection) held by a node. An auth
    /// session may have several at once.
    ConnectionId
);

/// A connection node's name (`PARLEY_NODE_ID`, host name by default).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's idempotency key for a send: unique per sender, chosen by the client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, examples("a1b2c3d4-0001")))]
#[serde(transparent)]
pub struct ClientMsgId(pub String);

impl fmt::Display for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A position in one conversation's event log; the first event has seq 1, 0 means "before all".
pub type Seq = i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_are_version_7_and_time_ordered() {
        let a = UserId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = UserId::new();
        assert_eq!(a.0.get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<UserId>().unwrap(), a);
    }

    #[test]
    fn ids_made_in_one_millisecond_still_increase() {
        // 10,000 ids take well under the time 4,096 per millisecond allows, so the counter and
        // the borrowed millisecond are both exercised.
        let ids: Vec<Uuid> = (0..10_000).map(|_| new_uuid_v7()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|u| u.get_version_num() == 7 && u.get_variant() == uuid::Variant::RFC4122));
    }
}

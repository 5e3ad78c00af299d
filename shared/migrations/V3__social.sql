-- Parley schema v3: profiles and account settings, friends, blocks, per-user notices, presence.

ALTER TABLE users
    -- Who may open a direct conversation with (and message) this user: everyone, or friends only.
    ADD COLUMN dm_policy text NOT NULL DEFAULT 'everyone' CHECK (dm_policy IN ('everyone', 'friends')),
    -- Whether friends see this user online.
    ADD COLUMN show_presence boolean NOT NULL DEFAULT true,
    -- A deleted account keeps its row (its messages stay in others' history) with its
    -- credentials and profile erased and its username freed (NULL).
    ADD COLUMN deleted_at timestamptz,
    -- The newest notice the user has marked seen (notices are UUIDv7: ordered by id).
    ADD COLUMN notices_seen_id uuid,
    ALTER COLUMN username DROP NOT NULL;

-- The transport of the session's latest realtime connection, for the session list.
ALTER TABLE auth_sessions ADD COLUMN last_transport text;

-- Friend requests. A pending request is unique per direction; decided ones stay for the record.
CREATE TABLE friend_requests (
    id           uuid PRIMARY KEY,
    from_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message      text,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    CHECK (from_user_id <> to_user_id)
);
CREATE UNIQUE INDEX friend_requests_pending_key ON friend_requests (from_user_id, to_user_id) WHERE status = 'pending';
CREATE INDEX friend_requests_incoming_idx ON friend_requests (to_user_id, created_at, id) WHERE status = 'pending';
CREATE INDEX friend_requests_outgoing_idx ON friend_requests (from_user_id, created_at, id) WHERE status = 'pending';

-- A friendship is two rows, one per side, so each side's list is one index range.
CREATE TABLE friendships (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, friend_id),
    CHECK (user_id <> friend_id)
);

CREATE TABLE blocks (
    blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id);

-- What happened to a user outside their conversations (a friend request, an acceptance, ...),
-- kept so an offline user finds it later; pushed to their connected devices as `notice` frames.
CREATE TABLE notices (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notices_user_idx ON notices (user_id, id);

-- Whether a user is online anywhere, as last announced to their friends. `offline_since` is set
-- when their last connection closed and cleared when one opens: the user goes offline only once
-- it is older than the grace period, so a reconnect within it announces nothing.
CREATE TABLE presence (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    online        boolean NOT NULL,
    offline_since timestamptz,
    last_seen_at  timestamptz
);
CREATE INDEX presence_pending_offline_idx ON presence (offline_since) WHERE online AND offline_since IS NOT NULL;

-- Parley schema v1: accounts, auth sessions, conversations, the per-conversation event log,
-- and node leases with the sessions each node holds.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL,
    display_name  text NOT NULL,
    bio           text,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Usernames are stored lower-cased; the unique index is the case-insensitive uniqueness rule.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- One row per login on one device. Revoked sessions stay for reuse detection and audit.
CREATE TABLE auth_sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);

-- Refresh tokens, stored as SHA-256. A token is used once (used_at set); presenting a used one
-- again is reuse, and revokes its session.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('direct', 'group')),
    title       text,
    -- For direct conversations: "<smaller user id>:<larger user id>", so the pair has one.
    direct_key  text UNIQUE,
    -- The seq of the latest event; the writer bumps it under the row lock, which serialises
    -- appends per conversation and makes seqs consecutive.
    last_seq    bigint NOT NULL DEFAULT 0,
    last_event_at timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    read_seq        bigint NOT NULL DEFAULT 0,
    -- Seq of the conversation when this member joined: they see events after it.
    joined_seq      bigint NOT NULL DEFAULT 0,
    pinned          boolean NOT NULL DEFAULT false,
    muted_until     timestamptz,
    archived        boolean NOT NULL DEFAULT false,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_user_idx ON members (user_id);

CREATE TABLE events (
    id              uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    kind            text NOT NULL,
    sender_id       uuid NOT NULL REFERENCES users (id),
    client_msg_id   text,
    -- The kind's own fields, exactly as the event's JSON carries them.
    body            jsonb NOT NULL,
    mentions        uuid[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_conversation_seq_key UNIQUE (conversation_id, seq),
    CONSTRAINT events_sender_client_msg_key UNIQUE (sender_id, client_msg_id)
);

-- A connection node's lease: renewed while it lives; a dead node's rows expire with it.
CREATE TABLE node_leases (
    node_id     text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- The realtime sessions each node holds (presence and push decisions read this).
CREATE TABLE node_sessions (
    node_id      text NOT NULL REFERENCES node_leases (node_id) ON DELETE CASCADE,
    connection_id uuid NOT NULL,
    session_id   uuid NOT NULL,
    user_id      uuid NOT NULL,
    transport    text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, connection_id)
);
CREATE INDEX node_sessions_user_idx ON node_sessions (user_id);

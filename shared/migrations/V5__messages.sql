-- Parley schema v5: what happens to messages after they are sent (edits, recalls, reactions,
-- delete-for-me), delivered receipts, exact unread counts, full-text search, moderation and
-- per-user send limits.

-- A message row holds its current state: an edit rewrites `body.text` (and the search entry), a
-- recall scrubs the text, media and mentions out of it and out of its edits.
ALTER TABLE events ADD COLUMN edited_at timestamptz;
ALTER TABLE events ADD COLUMN recalled_at timestamptz;
-- `@all` in a group (owner and admins).
ALTER TABLE events ADD COLUMN mention_all boolean NOT NULL DEFAULT false;
-- For edit, recall and reaction events: the message they are about.
ALTER TABLE events ADD COLUMN target_id uuid;
-- Search terms (see `rules::search::terms`), NULL for everything but live messages.
ALTER TABLE events ADD COLUMN search tsvector;
CREATE INDEX events_target_idx ON events (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX events_search_idx ON events USING gin (search) WHERE search IS NOT NULL;
-- Unread and mention counts scan only live messages after a read position.
CREATE INDEX events_unread_idx ON events (conversation_id, seq) INCLUDE (sender_id, mention_all)
    WHERE kind = 'message' AND recalled_at IS NULL;

-- How far each member's devices have received the log (batched by the nodes).
ALTER TABLE members ADD COLUMN delivered_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE reactions (
    message_id      uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Messages a user deleted for themselves: hidden from their history, sync, search and counts.
CREATE TABLE hidden_events (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL,
    seq             bigint NOT NULL,
    hidden_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX hidden_events_conversation_idx ON hidden_events (user_id, conversation_id, seq);

-- Reports for operators.
CREATE TABLE reports (
    id              uuid PRIMARY KEY,
    reporter_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    message_id      uuid REFERENCES events (id) ON DELETE SET NULL,
    user_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    reason          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX reports_open_idx ON reports (created_at) WHERE resolved_at IS NULL;

-- The sensitive-word list: every node and the edge read it (and reload it on change).
CREATE TABLE word_filters (
    word            text PRIMARY KEY,
    action          text NOT NULL CHECK (action IN ('mask', 'reject')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Per-user send limit (GCRA): the theoretical arrival time of the user's next send. Shared by
-- every node and the edge, so the limit holds across all of a user's connections and REST.
CREATE TABLE send_limits (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tat             timestamptz NOT NULL
);

-- Parley schema v4: groups. A group is a conversation (kind 'group') with a row here; its id is
-- the conversation's id. Membership stays in `members`, every change of it is an event.

ALTER TABLE members DROP CONSTRAINT members_role_check;
ALTER TABLE members ADD CONSTRAINT members_role_check CHECK (role IN ('owner', 'admin', 'member', 'guest'));
-- Muted by an owner or admin (may not post) until then; not the member's own notification mute
-- (`muted_until`).
ALTER TABLE members ADD COLUMN silenced_until timestamptz;
-- Who added or invited the member.
ALTER TABLE members ADD COLUMN added_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX members_conversation_joined_idx ON members (conversation_id, joined_at, user_id);

CREATE TABLE groups (
    conversation_id uuid PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    description     text,
    owner_id        uuid NOT NULL REFERENCES users (id),
    -- Only the owner and admins post ("mute all").
    broadcast_only  boolean NOT NULL DEFAULT false,
    -- New members may read the history from before they joined.
    history_visible boolean NOT NULL DEFAULT false,
    -- Joining by invite waits for an owner's or admin's approval.
    join_approval   boolean NOT NULL DEFAULT false,
    announcement    text,
    announcement_by uuid REFERENCES users (id) ON DELETE SET NULL,
    announcement_at timestamptz,
    member_count    integer NOT NULL DEFAULT 0,
    max_members     integer NOT NULL,
    dissolved_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE group_invites (
    code        text PRIMARY KEY,
    group_id    uuid NOT NULL REFERENCES groups (conversation_id) ON DELETE CASCADE,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    max_uses    integer,
    uses        integer NOT NULL DEFAULT 0,
    revoked_at  timestamptz
);
CREATE INDEX group_invites_group_idx ON group_invites (group_id, created_at);

-- People who asked to join a group that needs approval, until an owner or admin decides.
CREATE TABLE group_join_requests (
    group_id    uuid NOT NULL REFERENCES groups (conversation_id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invite_code text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);

-- Who left or was removed, and where their view of the log ended: a former member's sync
-- replays up to their own `member_left` event (so an offline client learns of it), never past.
CREATE TABLE former_members (
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_seq      bigint NOT NULL,
    left_seq        bigint NOT NULL,
    left_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, conversation_id)
);

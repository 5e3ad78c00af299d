-- Media: uploads by presigned URL. A row exists from `POST /v1/media`; the object is usable
-- (`ready`) only once `complete` found it with the declared size and type.
CREATE TABLE media (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type  text NOT NULL,
    size          bigint NOT NULL CHECK (size > 0),
    filename      text NOT NULL,
    object_key    text NOT NULL UNIQUE,
    ready         boolean NOT NULL DEFAULT false,
    width         integer,
    height        integer,
    has_thumbnail boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    completed_at  timestamptz
);
-- The cleanup of uploads never completed walks these oldest first.
CREATE INDEX media_pending_idx ON media (created_at) WHERE NOT ready;

-- Where each medium was posted: who may download it follows from these rows (members of the
-- conversation who can see the event), so a recall removes its rows.
CREATE TABLE media_uses (
    media_id        uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    PRIMARY KEY (media_id, event_id)
);
CREATE INDEX media_uses_event_idx ON media_uses (event_id);

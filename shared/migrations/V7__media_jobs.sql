-- Media, second part: thumbnails made by a job any node can take, the sweeps that delete what
-- nobody needs, and avatars.

-- One row per image waiting for its thumbnail. A node takes a job by moving `run_after` past its
-- lease; a node that dies holding it loses nothing: the job is due again when the lease ends.
CREATE TABLE media_jobs (
    media_id   uuid PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
    run_after  timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX media_jobs_due_idx ON media_jobs (run_after);

ALTER TABLE media
    ADD COLUMN thumb_key text,
    ADD COLUMN thumb_content_type text,
    -- Why no thumbnail could be made (a decompression bomb, an undecodable image).
    ADD COLUMN thumb_error text;

-- The retention sweep walks completed media oldest first.
CREATE INDEX media_ready_idx ON media (completed_at) WHERE ready;

-- Avatars: readable by anyone signed in. A deleted medium clears the avatar.
ALTER TABLE users ADD COLUMN avatar_media_id uuid REFERENCES media (id) ON DELETE SET NULL;
ALTER TABLE groups ADD COLUMN avatar_media_id uuid REFERENCES media (id) ON DELETE SET NULL;
CREATE INDEX users_avatar_idx ON users (avatar_media_id) WHERE avatar_media_id IS NOT NULL;
CREATE INDEX groups_avatar_idx ON groups (avatar_media_id) WHERE avatar_media_id IS NOT NULL;

-- Replies, threads and formatting (docs/threads.md).
-- A reply names its thread's root; `in_room` = 0 keeps it out of the room's
-- history. `html` is the text rendered from Markdown and sanitized, stored
-- when the message is posted or edited ('' until then for older rows).
ALTER TABLE messages ADD COLUMN reply_to BIGINT REFERENCES messages (id);
ALTER TABLE messages ADD COLUMN in_room BIGINT NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN html TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_reply_to ON messages (reply_to, id);

-- Who follows which thread, and how far they have read it.
CREATE TABLE thread_follows (
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    root_id       BIGINT  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    following     BIGINT  NOT NULL DEFAULT 1,
    last_read_id  BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, root_id)
);
CREATE INDEX thread_follows_root ON thread_follows (root_id);

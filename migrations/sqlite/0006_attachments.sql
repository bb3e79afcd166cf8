-- Pictures and files in messages (docs/attachments.md).
-- An upload belongs to its uploader and to one conversation; `message_id`
-- is set when a message sends it. `complete` is 0 while its chunks are
-- still arriving; `claim` marks it taken by a message being stored.
-- Pictures keep their (re-encoded) thumbnail here; every file's bytes are
-- in `attachment_chunks`, in order of `seq`.
CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token         TEXT    NOT NULL UNIQUE,
    uploader_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room          TEXT    NOT NULL,
    message_id    INTEGER REFERENCES messages (id),
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    width         BIGINT,
    height        BIGINT,
    thumbnail     BLOB,
    complete      BIGINT  NOT NULL DEFAULT 0,
    claim         TEXT,
    claimed_at    BIGINT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX attachments_uploader ON attachments (uploader_id);
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL;

CREATE TABLE attachment_chunks (
    attachment_id  INTEGER NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq            BIGINT  NOT NULL,
    data           BLOB    NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);

-- Rooms, direct messages, edits, reactions, mentions, read markers, search
-- and moderation (docs/rooms.md).
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN suspended_at BIGINT;
UPDATE users SET is_admin = 1 WHERE id = (SELECT MIN(id) FROM users);

ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;

-- Public rooms and direct-message conversations; `global` is implicit.
CREATE TABLE rooms (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    topic       TEXT    NOT NULL DEFAULT '',
    created_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX rooms_kind ON rooms (kind, id);

CREATE TABLE room_members (
    room       TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at  BIGINT  NOT NULL,
    PRIMARY KEY (room, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE read_markers (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room          TEXT    NOT NULL,
    last_read_id  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, room)
);

CREATE TABLE reactions (
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE mentions (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room        TEXT    NOT NULL,
    PRIMARY KEY (user_id, message_id)
);

-- Full-text search over message text, kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5 (text, content = 'messages', content_rowid = 'id');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

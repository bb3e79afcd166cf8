-- Times are unix milliseconds (BIGINT); booleans are 0/1 integers, so the
-- same queries run unchanged on PostgreSQL.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT    NOT NULL,
    username_key    TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    email           TEXT,
    email_key       TEXT,
    email_verified  INTEGER NOT NULL DEFAULT 0,
    avatar_hash     TEXT,
    created_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX users_verified_email ON users (email_key) WHERE email_verified = 1;

CREATE TABLE avatars (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL
);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       TEXT,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room        TEXT    NOT NULL,
    author_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    text        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX messages_room_id ON messages (room, id);
CREATE INDEX messages_author ON messages (author_id);

CREATE TABLE mail_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body_text        TEXT    NOT NULL,
    body_html        TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    claimed_until    BIGINT  NOT NULL DEFAULT 0,
    sent_at          BIGINT,
    failed_at        BIGINT,
    last_error       TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

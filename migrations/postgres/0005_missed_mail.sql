-- Missed-message mail (docs/threads.md): each account's choice, how far
-- the worker got for each account, the unsubscribe links it mailed, and
-- the extra headers a queued mail carries.
ALTER TABLE users ADD COLUMN notify_email TEXT NOT NULL DEFAULT 'dms_and_mentions';

-- `Name: value` lines added to the mail's header (List-Unsubscribe, …).
ALTER TABLE mail_outbox ADD COLUMN headers TEXT NOT NULL DEFAULT '';

-- Per account: the newest message id a missed-message mail covered and
-- when that mail was queued (0: never). Workers claim an account by
-- compare-and-set on `mailed_through_id`.
CREATE TABLE missed_mail (
    user_id            BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    mailed_through_id  BIGINT  NOT NULL,
    mailed_at          BIGINT  NOT NULL DEFAULT 0
);
-- Accounts older than this feature start from the newest message: nobody
-- is mailed about what they left unread long before.
INSERT INTO missed_mail (user_id, mailed_through_id, mailed_at)
    SELECT id, (SELECT COALESCE(MAX(id), 0) FROM messages), 0 FROM users;

-- One-click unsubscribe links (RFC 8058): one per mail, stored only as the
-- SHA-256 of the token.
CREATE TABLE unsubscribe_tokens (
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX unsubscribe_tokens_user ON unsubscribe_tokens (user_id);
CREATE INDEX unsubscribe_tokens_created ON unsubscribe_tokens (created_at);

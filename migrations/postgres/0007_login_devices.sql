-- Browsers that signed in to an account (SECURITY.md, "Login limits"):
-- the `chatroom_device` cookie's token, stored only as its SHA-256. A login
-- presenting one for the account it names is limited per device, not per
-- address and account. Password changes, resets and deletion remove them.
CREATE TABLE login_devices (
    id            BIGSERIAL PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT  NOT NULL
);
CREATE INDEX login_devices_user ON login_devices (user_id, last_used_at);

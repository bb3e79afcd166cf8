-- Conversations a person muted (docs/rooms.md, "Muting"): kept on the
-- server so the choice follows them to every device. A row means muted.
CREATE TABLE room_mutes (
    user_id   BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room      TEXT    NOT NULL,
    muted_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, room)
);

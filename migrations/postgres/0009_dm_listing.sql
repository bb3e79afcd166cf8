-- A DM shows up in a participant's list (GET /api/v1/me/rooms, room_joined)
-- once they opened it or a message was posted in it (docs/rooms.md); until
-- then the other participant is a member (may read and write it by id)
-- whose membership is not listed. Existing memberships stay listed.
ALTER TABLE room_members ADD COLUMN listed BIGINT NOT NULL DEFAULT 1;

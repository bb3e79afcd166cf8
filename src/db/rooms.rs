//! Public rooms and direct-message conversations, their members and each
//! member's read marker. The global room has no row: everyone is in it.

use sqlx::FromRow;

use super::{is_unique_violation, now_ms, Db};

/// A room with what its listing shows.
#[derive(Debug, Clone, FromRow)]
pub struct RoomRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub topic: String,
    pub created_at: i64,
    pub member_count: i64,
    pub last_activity: Option<i64>,
}

/// The listing columns of `rooms r`.
const SUMMARY: &str = "SELECT r.id, r.kind, r.name, r.topic, r.created_at, \
     (SELECT COUNT(*) FROM room_members c WHERE c.room = r.id) AS member_count, \
     (SELECT g.created_at FROM messages g WHERE g.room = r.id ORDER BY g.id DESC LIMIT 1) AS last_activity \
     FROM rooms r";

/// Why a room could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a room with that name exists")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// One room, by id.
pub async fn find(db: &Db, id: &str) -> sqlx::Result<Option<RoomRow>> {
    let sql = format!("{SUMMARY} WHERE r.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// The global room's listing: every account is a member; it began with
/// the first account.
pub async fn global_summary(db: &Db) -> sqlx::Result<(i64, Option<i64>, Option<i64>)> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users) AS members, (SELECT MIN(created_at) FROM users) AS began, \
         (SELECT g.created_at FROM messages g WHERE g.room = 'global' ORDER BY g.id DESC LIMIT 1) AS last_activity",
    )
    .fetch_one(&db.pool)
    .await
}

/// Public rooms whose name or topic contains `needle` (lower case),
/// most recent activity first.
pub async fn directory(db: &Db, needle: &str, limit: i64) -> sqlx::Result<Vec<RoomRow>> {
    let sql = format!(
        "SELECT * FROM ({SUMMARY} WHERE r.kind = 'public' \
         AND (LOWER(r.name) LIKE $1 ESCAPE '\\' OR LOWER(r.topic) LIKE $1 ESCAPE '\\')) AS listed \
         ORDER BY COALESCE(last_activity, created_at) DESC, id LIMIT $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(super::like_contains(needle))
        .bind(limit)
        .fetch_all(&db.pool)
        .await
}

/// The rooms and DMs a user is in and has listed (a DM someone else
/// opened is listed from its first message), most recent activity first.
pub async fn of_user(db: &Db, user_id: i64) -> sqlx::Result<Vec<RoomRow>> {
    let sql = format!(
        "SELECT * FROM ({SUMMARY} WHERE r.id IN \
         (SELECT room FROM room_members WHERE user_id = $1 AND listed = 1)) AS mine \
         ORDER BY COALESCE(last_activity, created_at) DESC, id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_all(&db.pool)
        .await
}

/// The ids of the rooms and DMs a user is in.
pub async fn ids_of_user(db: &Db, user_id: i64) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT room FROM room_members WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Whether the user is a member of the room.
pub async fn is_member(db: &Db, room: &str, user_id: i64) -> sqlx::Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT user_id FROM room_members WHERE room = $1 AND user_id = $2")
            .bind(room)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.is_some())
}

/// The members of a room among `candidates`.
pub async fn members_among(db: &Db, room: &str, candidates: &[i64]) -> sqlx::Result<Vec<i64>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT user_id FROM room_members WHERE room = $1 AND user_id IN ({})",
        super::placeholders(2, candidates.len())
    );
    let mut query = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(room);
    for id in candidates {
        query = query.bind(*id);
    }
    Ok(query
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect())
}

/// Up to `limit` member ids of a room.
pub async fn member_ids(db: &Db, room: &str, limit: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT user_id FROM room_members WHERE room = $1 ORDER BY user_id LIMIT $2",
    )
    .bind(room)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Creates a public room with its creator as first member.
pub async fn create_public(
    db: &Db,
    id: &str,
    name: &str,
    topic: &str,
    creator: i64,
) -> Result<(), CreateError> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO rooms (id, kind, name, topic, created_by, created_at) VALUES ($1, 'public', $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(name)
    .bind(topic)
    .bind(creator)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => return Err(CreateError::Taken),
        Err(err) => return Err(err.into()),
    }
    sqlx::query("INSERT INTO room_members (room, user_id, joined_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(creator)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes the user a member (again); true when they were not one.
pub async fn join(db: &Db, room: &str, user_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO room_members (room, user_id, joined_at) VALUES ($1, $2, $3) \
         ON CONFLICT (room, user_id) DO NOTHING",
    )
    .bind(room)
    .bind(user_id)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends a membership; true when there was one.
pub async fn leave(db: &Db, room: &str, user_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM room_members WHERE room = $1 AND user_id = $2")
        .bind(room)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Creates the DM conversation between two users if it does not exist
/// and makes both members — listed for `a`, who opens it, not yet for `b`;
/// true when it was created now.
pub async fn open_dm(db: &Db, id: &str, a: i64, b: i64) -> sqlx::Result<bool> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let created = sqlx::query(
        "INSERT INTO rooms (id, kind, name, topic, created_by, created_at) VALUES ($1, 'dm', '', '', $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(a)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if created {
        for (user, listed) in [(a, 1_i64), (b, 0)] {
            sqlx::query(
                "INSERT INTO room_members (room, user_id, joined_at, listed) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (room, user_id) DO NOTHING",
            )
            .bind(id)
            .bind(user)
            .bind(now)
            .bind(listed)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(created)
}

/// Lists the room for its members who had it unlisted (a DM's other
/// participant, at its first message; or `only` when given, who opened it
/// themselves); returns whose listing changed now.
pub async fn list_for_members(db: &Db, room: &str, only: Option<i64>) -> sqlx::Result<Vec<i64>> {
    // Read first: almost every call finds nothing to change, and a read
    // takes no write lock.
    let hidden: Vec<(i64,)> =
        sqlx::query_as("SELECT user_id FROM room_members WHERE room = $1 AND listed = 0")
            .bind(room)
            .fetch_all(&db.pool)
            .await?;
    let mut changed = Vec::new();
    for (user_id,) in hidden {
        if only.is_some_and(|only| only != user_id) {
            continue;
        }
        let done = sqlx::query(
            "UPDATE room_members SET listed = 1 WHERE room = $1 AND user_id = $2 AND listed = 0",
        )
        .bind(room)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
        if done.rows_affected() > 0 {
            changed.push(user_id);
        }
    }
    Ok(changed)
}

/// The user's read marker in a room (0 when none).
pub async fn read_marker(db: &Db, user_id: i64, room: &str) -> sqlx::Result<i64> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT last_read_id FROM read_markers WHERE user_id = $1 AND room = $2")
            .bind(user_id)
            .bind(room)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(id,)| id).unwrap_or(0))
}

/// Moves the user's read marker forward to `id` (never back); returns
/// where it is now.
pub async fn mark_read(db: &Db, user_id: i64, room: &str, id: i64) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO read_markers (user_id, room, last_read_id) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, room) DO UPDATE SET last_read_id = \
         CASE WHEN excluded.last_read_id > read_markers.last_read_id \
         THEN excluded.last_read_id ELSE read_markers.last_read_id END",
    )
    .bind(user_id)
    .bind(room)
    .bind(id)
    .execute(&db.pool)
    .await?;
    read_marker(db, user_id, room).await
}

/// Messages by others after the marker, not deleted, counted up to `cap`;
/// and the unread messages that mention the user.
pub async fn unread(
    db: &Db,
    user_id: i64,
    room: &str,
    after: i64,
    cap: i64,
) -> sqlx::Result<(i64, i64)> {
    let (unread,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT 1 AS one FROM messages WHERE room = $1 AND id > $2 \
         AND in_room = 1 AND deleted_at IS NULL AND (author_id IS NULL OR author_id <> $3) \
         LIMIT $4) AS recent",
    )
    .bind(room)
    .bind(after)
    .bind(user_id)
    .bind(cap)
    .fetch_one(&db.pool)
    .await?;
    let (mentions,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mentions n JOIN messages m ON m.id = n.message_id \
         WHERE n.user_id = $1 AND n.room = $2 AND n.message_id > $3 AND m.in_room = 1",
    )
    .bind(user_id)
    .bind(room)
    .bind(after)
    .fetch_one(&db.pool)
    .await?;
    Ok((unread, mentions))
}

//! The JSON shapes clients see (docs/protocol.md, docs/rooms.md): users,
//! authors, messages and rooms.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::messages::StoredMessage;
use crate::db::reactions::ReactionRow;
use crate::db::rfc3339;
use crate::db::users::User;
use crate::domain::NotifyEmail;

/// Where a user's picture is served: their photo, or the generated default.
pub fn avatar_url(user_id: i64, username: &str, avatar_hash: Option<&str>) -> String {
    match avatar_hash {
        Some(hash) => format!("/avatars/{user_id}/{hash}.png"),
        None => format!("/avatars/default/{username}.svg"),
    }
}

/// A user as others see them. `is_admin` is shown to signed-in people only
/// (SECURITY.md: what a signed-out caller can learn).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub struct PublicUser {
    pub id: i64,
    pub username: String,
    pub avatar_url: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Shown to signed-in people only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub is_admin: Option<bool>,
}

impl PublicUser {
    /// The profile as a signed-out caller sees it: no roles.
    pub fn for_anyone(mut self) -> Self {
        self.is_admin = None;
        self
    }
}

impl From<&User> for PublicUser {
    fn from(user: &User) -> Self {
        PublicUser {
            id: user.id,
            username: user.username.clone(),
            avatar_url: avatar_url(user.id, &user.username, user.avatar_hash.as_deref()),
            created_at: rfc3339(user.created_at),
            is_admin: Some(user.is_admin),
        }
    }
}

/// A user as they see themselves (`/me`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnUser {
    #[serde(flatten)]
    pub public: PublicUser,
    pub email: Option<String>,
    pub email_verified: bool,
    /// An address waiting for its verification link to be opened.
    pub pending_email: Option<String>,
    /// Which missed messages are mailed to the verified address.
    pub notify_email: NotifyEmail,
}

impl OwnUser {
    pub fn new(user: &User, pending_email: Option<String>) -> Self {
        OwnUser {
            public: PublicUser::from(user),
            email: user.email.clone(),
            email_verified: user.email_verified,
            pending_email,
            notify_email: user.notify_email,
        }
    }
}

/// `{"user": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope<T: Serialize> {
    pub user: T,
}

/// The author shown with a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Author {
    pub id: i64,
    pub username: String,
    pub avatar_url: String,
}

impl From<&User> for Author {
    fn from(user: &User) -> Self {
        Author {
            id: user.id,
            username: user.username.clone(),
            avatar_url: avatar_url(user.id, &user.username, user.avatar_hash.as_deref()),
        }
    }
}

/// A chat message.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    pub id: i64,
    pub room: String,
    /// Null for a deleted account.
    pub author: Option<Author>,
    /// Empty once deleted.
    pub text: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub edited_at: Option<String>,
    pub deleted: bool,
    /// Empty once deleted.
    pub reactions: Vec<ReactionView>,
    /// The id its sender chose, on the ack and broadcast of a new message
    /// only (never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
}

/// Everyone who reacted to a message with one emoji.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Reaction)]
pub struct ReactionView {
    pub emoji: String,
    pub count: usize,
    pub users: Vec<ReactedBy>,
}

/// Who reacted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct ReactedBy {
    pub id: i64,
    pub username: String,
}

impl MessageView {
    /// Attaches reactions (rows of any messages; only this one's are kept),
    /// grouped by emoji in the order each was first used.
    pub fn with_reactions(mut self, rows: &[ReactionRow]) -> Self {
        if self.deleted {
            return self;
        }
        for row in rows.iter().filter(|r| r.message_id == self.id) {
            let by = ReactedBy {
                id: row.user_id,
                username: row.username.clone(),
            };
            match self.reactions.iter_mut().find(|r| r.emoji == row.emoji) {
                Some(group) => {
                    group.count += 1;
                    group.users.push(by);
                }
                None => self.reactions.push(ReactionView {
                    emoji: row.emoji.clone(),
                    count: 1,
                    users: vec![by],
                }),
            }
        }
        self
    }
}

impl From<StoredMessage> for MessageView {
    fn from(m: StoredMessage) -> Self {
        let author = match (m.author_id, m.author_username) {
            (Some(id), Some(username)) => Some(Author {
                id,
                avatar_url: avatar_url(id, &username, m.author_avatar_hash.as_deref()),
                username,
            }),
            _ => None,
        };
        let deleted = m.deleted_at.is_some();
        MessageView {
            id: m.id,
            room: m.room,
            author,
            text: if deleted { String::new() } else { m.text },
            created_at: rfc3339(m.created_at),
            edited_at: m.edited_at.map(rfc3339),
            deleted,
            reactions: Vec::new(),
            client_id: None,
        }
    }
}

/// `{"messages": […]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagesEnvelope {
    pub messages: Vec<MessageView>,
}

/// A conversation as one user sees it (docs/rooms.md).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Room)]
pub struct RoomView {
    /// `global`, the lower-cased name, or `dm:<smaller user id>:<larger user id>`.
    pub id: String,
    /// `global`, `public` or `dm`.
    #[schema(value_type = String, example = "public")]
    pub kind: &'static str,
    /// As typed; for a DM the other participant's username (`Deleted user` once deleted).
    pub name: String,
    pub topic: String,
    pub member_count: i64,
    #[schema(format = DateTime)]
    pub last_activity_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub joined: bool,
    /// The other participant of a DM (null once they deleted their account).
    pub peer: Option<Author>,
    /// In `GET /api/v1/me/rooms` only: messages by others after your read
    /// marker, not deleted, counted up to 100 (100 means "100 or more").
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    pub unread: Option<i64>,
    /// In `GET /api/v1/me/rooms` only: unread messages mentioning you.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0)]
    pub mentions: Option<i64>,
    /// In `GET /api/v1/me/rooms` only: the last message id you have read
    /// here (0: none yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0)]
    pub last_read_id: Option<i64>,
}

/// `{"room": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomEnvelope {
    pub room: RoomView,
}

/// `{"rooms": […]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomsEnvelope {
    pub rooms: Vec<RoomView>,
}

/// `{"message": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEnvelope {
    pub message: MessageView,
}

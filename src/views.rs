//! The JSON shapes clients see (SPEC §4): users, authors and messages.

use serde::{Deserialize, Serialize};

use crate::db::messages::StoredMessage;
use crate::db::rfc3339;
use crate::db::users::User;

/// Where a user's picture is served: their photo, or the generated default.
pub fn avatar_url(user_id: i64, username: &str, avatar_hash: Option<&str>) -> String {
    match avatar_hash {
        Some(hash) => format!("/avatars/{user_id}/{hash}.png"),
        None => format!("/avatars/default/{username}.svg"),
    }
}

/// A user as anyone may see them.
#[derive(Debug, Clone, Serialize)]
pub struct PublicUser {
    pub id: i64,
    pub username: String,
    pub avatar_url: String,
    pub created_at: String,
}

impl From<&User> for PublicUser {
    fn from(user: &User) -> Self {
        PublicUser {
            id: user.id,
            username: user.username.clone(),
            avatar_url: avatar_url(user.id, &user.username, user.avatar_hash.as_deref()),
            created_at: rfc3339(user.created_at),
        }
    }
}

/// A user as they see themselves (`/me`).
#[derive(Debug, Clone, Serialize)]
pub struct OwnUser {
    #[serde(flatten)]
    pub public: PublicUser,
    pub email: Option<String>,
    pub email_verified: bool,
    /// An address waiting for its verification link to be opened.
    pub pending_email: Option<String>,
}

impl OwnUser {
    pub fn new(user: &User, pending_email: Option<String>) -> Self {
        OwnUser {
            public: PublicUser::from(user),
            email: user.email.clone(),
            email_verified: user.email_verified,
            pending_email,
        }
    }
}

/// `{"user": …}`.
#[derive(Debug, Serialize)]
pub struct UserEnvelope<T: Serialize> {
    pub user: T,
}

/// The author shown with a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub room: String,
    pub author: Option<Author>,
    pub text: String,
    pub created_at: String,
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
        MessageView {
            id: m.id,
            room: m.room,
            author,
            text: m.text,
            created_at: rfc3339(m.created_at),
        }
    }
}

/// `{"messages": […]}`.
#[derive(Debug, Serialize)]
pub struct MessagesEnvelope {
    pub messages: Vec<MessageView>,
}

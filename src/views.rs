//! The JSON shapes clients see (docs/protocol.md, docs/rooms.md): users,
//! authors, messages and rooms.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::attachments::StoredAttachment;
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
    /// As typed (Markdown); empty once deleted.
    pub text: String,
    /// The text rendered from Markdown and sanitized (docs/threads.md): only
    /// `p br strong em del code pre blockquote ul ol li a`, links with
    /// http/https/mailto targets only. Empty once deleted.
    pub html: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub edited_at: Option<String>,
    pub deleted: bool,
    /// Empty once deleted.
    pub reactions: Vec<ReactionView>,
    /// The id of the thread's root, or null for a top-level message.
    pub reply_to: Option<i64>,
    /// False for a reply that stays in its thread (not in room history).
    pub in_room: bool,
    /// On a root with replies: its thread's summary; null otherwise.
    pub thread: Option<ThreadSummary>,
    /// Pictures and files sent with it, in upload order (docs/attachments.md);
    /// empty when none and once deleted.
    pub attachments: Vec<AttachmentView>,
    /// The id its sender chose, on the ack and broadcast of a new message
    /// only (never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
}

/// What a root shows of its thread.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct ThreadSummary {
    /// Replies not deleted.
    pub reply_count: i64,
    /// When the newest of them was sent.
    #[schema(format = DateTime)]
    pub last_reply_at: String,
    /// Who wrote them (accounts that still exist), newest first, at most 10.
    pub participants: Vec<Author>,
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

impl MessageView {
    /// Attaches its files (rows of any messages; only this one's are kept).
    pub fn with_attachments(mut self, rows: &[StoredAttachment]) -> Self {
        if self.deleted {
            return self;
        }
        self.attachments = rows
            .iter()
            .filter(|a| a.message_id == Some(self.id))
            .map(AttachmentView::from)
            .collect();
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
            html: if deleted { String::new() } else { m.html },
            created_at: rfc3339(m.created_at),
            edited_at: m.edited_at.map(rfc3339),
            deleted,
            reactions: Vec::new(),
            reply_to: m.reply_to,
            in_room: m.in_room != 0,
            thread: None,
            attachments: Vec::new(),
            client_id: None,
        }
    }
}

/// A picture or file sent with a message (docs/attachments.md).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Attachment)]
pub struct AttachmentView {
    pub id: i64,
    /// The file name, sanitized: no path separators or control characters.
    pub name: String,
    /// `image/png` or `image/jpeg` for pictures (re-encoded); the declared type of other files, or `application/octet-stream`.
    pub content_type: String,
    /// Bytes of the stored file.
    pub size: i64,
    /// Pictures only: width in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub width: Option<i64>,
    /// Pictures only: height in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<i64>,
    /// `/attachments/{token}`: the bytes, for whoever may read the conversation.
    pub url: String,
    /// Pictures only: `/attachments/{token}/thumbnail`, fitted within 480×480.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub thumbnail_url: Option<String>,
}

impl From<&StoredAttachment> for AttachmentView {
    fn from(a: &StoredAttachment) -> Self {
        let url = format!("/attachments/{}", a.token);
        AttachmentView {
            id: a.id,
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            width: a.width,
            height: a.height,
            thumbnail_url: (a.has_thumbnail != 0).then(|| format!("{url}/thumbnail")),
            url,
        }
    }
}

/// `{"attachment": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentEnvelope {
    pub attachment: AttachmentView,
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
    /// Whether its members cannot post new messages, files or typing
    /// notices here (a DM whose other participant deleted their account).
    pub read_only: bool,
    /// When `read_only`: why, in the sentence a refused post is answered
    /// with; null otherwise.
    #[schema(value_type = Option<String>)]
    pub read_only_reason: Option<&'static str>,
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
    /// In `GET /api/v1/me/rooms` only: whether you muted this conversation
    /// (no notifications and no unread weight, but for mentions).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub muted: Option<bool>,
}

/// `{"room": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomEnvelope {
    pub room: RoomView,
}

/// `{"users": […]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersEnvelope {
    pub users: Vec<PublicUser>,
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

/// `{"root": …, "messages": […]}`: a thread and a page of its replies.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadEnvelope {
    pub root: MessageView,
    /// Replies, oldest first.
    pub messages: Vec<MessageView>,
}

/// A thread someone follows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowedThread {
    pub root: MessageView,
    /// Replies by others, not deleted, after your thread marker.
    pub unread: i64,
    #[schema(format = DateTime)]
    pub last_reply_at: String,
}

/// `{"threads": […]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadsEnvelope {
    pub threads: Vec<FollowedThread>,
}

//! Values that can only exist when valid: parse, don't validate.

pub mod attachment;
pub mod avatar;
pub mod email;
pub mod message_text;
pub mod notify_email;
pub mod password;
pub mod reaction;
pub mod room_id;
pub mod room_name;
pub mod search_text;
pub mod username;

pub use email::Email;
pub use message_text::MessageText;
pub use notify_email::NotifyEmail;
pub use password::Password;
pub use reaction::Reaction;
pub use room_id::RoomId;
pub use room_name::RoomName;
pub use username::Username;

/// The comparison key of a username or an email address: ASCII letters
/// compare without case, every other character exactly. No Unicode case
/// folding or compatibility mapping, so a look-alike (a Kelvin sign for
/// `k`, a full-width letter) never matches an account (SECURITY.md).
pub fn comparison_key(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

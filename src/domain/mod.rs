//! Values that can only exist when valid: parse, don't validate.

pub mod avatar;
pub mod email;
pub mod message_text;
pub mod password;
pub mod reaction;
pub mod room_name;
pub mod username;

pub use email::Email;
pub use message_text::MessageText;
pub use password::Password;
pub use reaction::Reaction;
pub use room_name::RoomName;
pub use username::Username;

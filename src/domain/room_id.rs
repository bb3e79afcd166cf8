//! Conversation ids (docs/rooms.md): `global`, a public room's lower-case
//! name, or `dm:<lo>:<hi>` for the direct conversation of two accounts.
//! Parsed once at every edge (REST path and query, socket payloads, forms);
//! a `RoomId` that exists is well-formed, so nothing else re-parses ids.

use std::fmt;

use super::room_name::{MAX_NAME, MIN_NAME};

/// Longest text a client may send as a room id (anything longer is not an id).
pub const MAX_ID_CHARS: usize = 100;

/// A well-formed conversation id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomId {
    /// The room everyone is in.
    Global,
    /// A public room, by its id (its name in lower case).
    Public(String),
    /// The direct conversation of two accounts, lower id first.
    Dm(i64, i64),
}

/// The id of the global room, as clients write it.
pub const GLOBAL: &str = "global";

impl RoomId {
    /// Reads an id as a client typed it: surrounding spaces and ASCII letter
    /// case do not matter (`Rust-Fans` names `rust-fans`). `None` for text
    /// that cannot be any conversation's id (such a room does not exist).
    pub fn parse(raw: &str) -> Option<RoomId> {
        let id = raw.trim();
        if id.is_empty() || id.len() > MAX_ID_CHARS {
            return None;
        }
        let id = id.to_ascii_lowercase();
        if id == GLOBAL {
            return Some(RoomId::Global);
        }
        if let Some(pair) = id.strip_prefix("dm:") {
            let (a, b) = pair.split_once(':')?;
            let (a, b) = (dm_part(a)?, dm_part(b)?);
            // One spelling per conversation: the lower id first.
            return (a < b).then_some(RoomId::Dm(a, b));
        }
        is_public_id(&id).then_some(RoomId::Public(id))
    }

    /// The DM conversation between two accounts (the same both ways).
    pub fn dm(a: i64, b: i64) -> RoomId {
        RoomId::Dm(a.min(b), a.max(b))
    }

    /// Whether this is the room everyone is in.
    pub fn is_global(&self) -> bool {
        matches!(self, RoomId::Global)
    }

    /// The other participant of a DM, as seen by `me`; `None` when this is
    /// not a DM of theirs.
    pub fn dm_peer(&self, me: i64) -> Option<i64> {
        match *self {
            RoomId::Dm(a, b) if a == me => Some(b),
            RoomId::Dm(a, b) if b == me => Some(a),
            _ => None,
        }
    }

    /// The kind, as the `kind` field of a room names it.
    pub fn kind(&self) -> &'static str {
        match self {
            RoomId::Global => "global",
            RoomId::Public(_) => "public",
            RoomId::Dm(..) => "dm",
        }
    }

    /// The id as stored and sent.
    pub fn as_string(&self) -> String {
        self.to_string()
    }
}

/// A positive account id written without sign or leading zeros.
fn dm_part(text: &str) -> Option<i64> {
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

/// The id rule of public rooms: a room name (`RoomName`) in lower case.
fn is_public_id(id: &str) -> bool {
    (MIN_NAME..=MAX_NAME).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomId::Global => f.write_str(GLOBAL),
            RoomId::Public(id) => f.write_str(id),
            RoomId::Dm(a, b) => write!(f, "dm:{a}:{b}"),
        }
    }
}

impl serde::Serialize for RoomId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_in_any_case() {
        assert_eq!(RoomId::parse(" Global "), Some(RoomId::Global));
        assert_eq!(
            RoomId::parse("Rust-Fans"),
            Some(RoomId::Public("rust-fans".into()))
        );
        assert_eq!(RoomId::parse("dm:3:9"), Some(RoomId::Dm(3, 9)));
        assert_eq!(RoomId::parse("DM:3:9"), Some(RoomId::Dm(3, 9)));
        assert_eq!(RoomId::dm(9, 3), RoomId::Dm(3, 9));
        assert_eq!(RoomId::Dm(3, 9).to_string(), "dm:3:9");
        assert_eq!(RoomId::Dm(3, 9).dm_peer(3), Some(9));
        assert_eq!(RoomId::Dm(3, 9).dm_peer(9), Some(3));
        assert_eq!(RoomId::Dm(3, 9).dm_peer(4), None);
    }

    #[test]
    fn refuses_what_no_conversation_is_called() {
        for bad in [
            "",
            "  ",
            "a",
            "dm:9:3",
            "dm:3:3",
            "dm:03:9",
            "dm:-1:9",
            "dm:x:9",
            "dm:3:9:1",
            "dm:3",
            "rust\u{0}fans",
            "rust fans",
            "-lead",
            "émile",
            "rust\u{212a}",
            &"x".repeat(33),
            &"x".repeat(101),
        ] {
            assert_eq!(RoomId::parse(bad), None, "{bad:?}");
        }
    }
}

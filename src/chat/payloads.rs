//! What each socket event carries, deserialized once with the same rules
//! and errors as a request body (`web::extract`): the data must be an
//! object (or absent), no string may hold a NUL, wrong types name the
//! field.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::room_id::MAX_ID_CHARS;
use crate::domain::RoomId;
use crate::error::AppError;
use crate::web::extract::from_value;

/// An event's data as `T`; absent or `null` data is an empty object.
pub fn parse<T: DeserializeOwned>(data: Option<Value>) -> Result<T, AppError> {
    match data {
        None | Some(Value::Null) => from_value(Value::Object(Default::default())),
        Some(value) => from_value(value),
    }
}

/// The conversation an event is about: `room`, or the global room when it
/// is absent. Text that cannot be a room id is `validation_failed`; a well
/// formed id of no conversation one can see is `not_found` (by the
/// service).
pub fn room(raw: Option<&Value>) -> Result<RoomId, AppError> {
    let raw = match raw {
        None | Some(Value::Null) => return Ok(RoomId::Global),
        Some(Value::String(raw)) if !raw.trim().is_empty() && raw.len() <= MAX_ID_CHARS => raw,
        Some(_) => return Err(AppError::field("room", "must be a room id")),
    };
    RoomId::parse(raw).ok_or(AppError::NotFound)
}

/// A message id in an event.
pub fn message_id(id: i64) -> Result<i64, AppError> {
    if id < 0 {
        return Err(AppError::field("id", "must be a message id"));
    }
    Ok(id)
}

/// `message`: `{"text", "room"?, "client_id"?, "reply_to"?, "also_in_room"?,
/// "attachments"?}` (`text` may be absent when attachments are given).
#[derive(Deserialize)]
pub struct Post {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub room: Option<Value>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Any message of the thread this one answers.
    #[serde(default)]
    pub reply_to: Option<i64>,
    /// A reply also shown in the room.
    #[serde(default)]
    pub also_in_room: Option<bool>,
    /// Ids of the sender's uploads to send with it.
    #[serde(default)]
    pub attachments: Option<Vec<i64>>,
}

/// `directory`: `{"watch": bool}`.
#[derive(Deserialize)]
pub struct Watch {
    pub watch: bool,
}

/// `thread`: `{"id", "before"?, "after"?, "limit"?}`.
#[derive(Deserialize)]
pub struct Thread {
    pub id: i64,
    #[serde(default)]
    pub before: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
    #[serde(default)]
    pub limit: Option<Value>,
}

/// `thread_read`: `{"id", "last_read_id"}`.
#[derive(Deserialize)]
pub struct ThreadRead {
    pub id: i64,
    pub last_read_id: i64,
}

/// `history`: `{"room"?, "before"?, "after"?, "limit"?}` (ids as numbers or
/// numeric strings).
#[derive(Deserialize)]
pub struct History {
    #[serde(default)]
    pub room: Option<Value>,
    #[serde(default)]
    pub before: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
    #[serde(default)]
    pub limit: Option<Value>,
}

/// `presence` and `typing`: `{"room"?}`.
#[derive(Deserialize)]
pub struct InRoom {
    #[serde(default)]
    pub room: Option<Value>,
}

/// `edit`: `{"id", "text"}`.
#[derive(Deserialize)]
pub struct Edit {
    pub id: i64,
    pub text: String,
}

/// `delete`: `{"id"}`.
#[derive(Deserialize)]
pub struct Delete {
    pub id: i64,
}

/// `react` and `unreact`: `{"id", "emoji"}`.
#[derive(Deserialize)]
pub struct React {
    pub id: i64,
    pub emoji: String,
}

/// `read`: `{"room"?, "id"}`.
#[derive(Deserialize)]
pub struct Read {
    #[serde(default)]
    pub room: Option<Value>,
    pub id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_must_be_an_object_without_nul() {
        assert!(parse::<InRoom>(None).is_ok());
        assert!(parse::<InRoom>(Some(Value::Null)).is_ok());
        for bad in [
            json!("garbage"),
            json!(7),
            json!([1]),
            json!({"room": "a\u{0}b"}),
        ] {
            assert!(
                matches!(
                    parse::<InRoom>(Some(bad.clone())),
                    Err(AppError::Validation(_))
                ),
                "{bad}"
            );
        }
        match parse::<Edit>(Some(json!({"id": "seven", "text": "x"}))) {
            Err(AppError::Validation(fields)) => assert!(fields.contains_key("id")),
            _ => panic!("a wrong type names its field"),
        }
    }

    #[test]
    fn rooms_are_parsed_once() {
        assert_eq!(room(None).ok(), Some(RoomId::Global));
        assert_eq!(
            room(Some(&json!("Rust-Fans"))).ok(),
            Some(RoomId::Public("rust-fans".into()))
        );
        assert!(matches!(
            room(Some(&json!(" "))),
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            room(Some(&json!(5))),
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            room(Some(&json!("no such!"))),
            Err(AppError::NotFound)
        ));
    }
}

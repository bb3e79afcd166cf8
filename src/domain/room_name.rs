//! Public room names and topics (docs/rooms.md).

/// Shortest and longest room name, in characters.
pub const MIN_NAME: usize = 2;
pub const MAX_NAME: usize = 32;
/// Longest topic, in characters.
pub const MAX_TOPIC: usize = 200;

/// A valid public room name, shown as typed; its id is [`RoomName::id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    /// 2–32 characters of `A–Z a–z 0–9 _ -`, starting with a letter or digit.
    /// (`global` is valid but always taken.)
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let len = name.chars().count();
        if !(MIN_NAME..=MAX_NAME).contains(&len) {
            return Err(format!("must be {MIN_NAME} to {MAX_NAME} characters long"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("may only use letters, digits, _ and -".into());
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or a digit".into());
        }
        Ok(RoomName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The room's id: the name in lower case.
    pub fn id(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Checks a topic: trimmed, at most 200 characters, no control characters.
pub fn parse_topic(raw: &str) -> Result<String, String> {
    let topic = raw.trim();
    if topic.chars().count() > MAX_TOPIC {
        return Err(format!("must be at most {MAX_TOPIC} characters"));
    }
    if topic.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(topic.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_and_derives_the_id() {
        let name = RoomName::parse("  Rust-Fans_2 ").unwrap();
        assert_eq!(name.as_str(), "Rust-Fans_2");
        assert_eq!(name.id(), "rust-fans_2");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "a",
            "",
            "-lead",
            "has space",
            "dm:1:2",
            "é-room",
            &"x".repeat(33),
        ] {
            assert!(RoomName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn topics() {
        assert_eq!(parse_topic("  hi ").unwrap(), "hi");
        assert!(parse_topic(&"t".repeat(201)).is_err());
        assert!(parse_topic("a\u{7}b").is_err());
    }
}

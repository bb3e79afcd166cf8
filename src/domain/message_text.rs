//! Chat message text: trimmed, 1–2000 characters, no control characters but
//! newline and tab.

/// Longest message, in characters.
pub const MAX_CHARS: usize = 2000;

/// Text that may be stored and broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// Trims, then checks length and characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.chars().count() > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters"));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("must not contain control characters".into());
        }
        Ok(MessageText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_newlines_and_tabs() {
        let t = MessageText::parse("  hi\n\tthere  ").unwrap();
        assert_eq!(t.as_str(), "hi\n\tthere");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(MessageText::parse(&"é".repeat(2000)).is_ok());
        assert!(MessageText::parse(&"é".repeat(2001)).is_err());
    }

    #[test]
    fn rejects_empty_and_control_characters() {
        for t in [
            "",
            "   \n ",
            "a\u{0}b",
            "bell\u{7}",
            "esc\u{1b}[31m",
            "del\u{7f}",
        ] {
            assert!(MessageText::parse(t).is_err(), "{t:?}");
        }
    }
}

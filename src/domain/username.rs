//! Usernames: 3–32 characters of `A–Z a–z 0–9 _ . -`, shown as typed.

use std::fmt;

/// The fewest and most characters of a username.
pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 32;

/// A valid username, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Accepts 3–32 characters of letters, digits, `_`, `.` and `-`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err(format!("must be at least {MIN_LEN} characters"));
        }
        if len > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("may contain only letters, digits, _ . and -".into());
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for name in ["abc", "Alice_B.c-9", &"x".repeat(32)] {
            assert!(Username::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_bad_lengths_and_characters() {
        for name in [
            "ab",
            "",
            &"x".repeat(33),
            "a b c",
            "ali<ce>",
            "émile",
            "al/ice",
            "a\u{0}bc",
        ] {
            assert!(Username::parse(name).is_err(), "{name:?}");
        }
    }
}

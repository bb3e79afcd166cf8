//! Passwords: 8–256 characters, not too guessable, never the username.

use std::fmt;

/// A password that passed the strength rules. Its Debug output is redacted.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Accepts 8–256 characters with a zxcvbn score of at least 3 that neither
    /// equal nor contain the username.
    pub fn parse(raw: &str, username: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len < 8 {
            return Err("must be at least 8 characters".into());
        }
        if len > 256 {
            return Err("must be at most 256 characters".into());
        }
        let lower = raw.to_lowercase();
        let name = username.to_lowercase();
        if !name.is_empty() && lower.contains(&name) {
            return Err("must not contain your username".into());
        }
        let score = zxcvbn::zxcvbn(raw, &[username]).score();
        if (score as u8) < 3 {
            return Err("is too easy to guess; try a longer phrase of unrelated words".into());
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_strong_passphrase() {
        assert!(Password::parse("correct horse battery staple", "alice").is_ok());
    }

    #[test]
    fn rejects_weak_short_long_and_username_passwords() {
        assert!(Password::parse("short1", "alice").is_err());
        assert!(Password::parse("password123", "alice").is_err());
        assert!(Password::parse(&"Zq9!".repeat(65), "alice").is_err());
        assert!(Password::parse("xX_alice_wonder_Xx!", "alice").is_err());
        assert!(Password::parse("Alice-Wonderland-1987!", "ALICE").is_err());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let p = Password::parse("correct horse battery staple", "bob").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}

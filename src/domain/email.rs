//! Email addresses: a pragmatic syntax check, the real test is the mailed link.

use std::fmt;

/// A syntactically plausible email address, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` of at most 254 characters, without spaces,
    /// control characters or angle brackets.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is required".into());
        }
        if raw.len() > 254 {
            return Err("is too long".into());
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err("is not a valid email address".into());
        };
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c);
        if local.is_empty()
            || local.len() > 64
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || local.contains('@')
            || raw.chars().any(bad_char)
        {
            return Err("is not a valid email address".into());
        }
        Ok(Email(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How the address is compared and looked up ([`super::comparison_key`]).
    pub fn key(&self) -> String {
        super::comparison_key(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for e in ["a@b.co", "first.last+tag@example.org", "  x@y.io  "] {
            assert!(Email::parse(e).is_ok(), "{e}");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for e in [
            "",
            "plain",
            "@x.io",
            "a@b",
            "a@.io",
            "a b@c.io",
            "a@b..io",
            "<a@b.io>",
            "a@b.io\r\nBcc: x@y.io",
        ] {
            assert!(Email::parse(e).is_err(), "{e:?}");
        }
    }
}

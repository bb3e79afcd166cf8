//! The emoji a message can be reacted with.

/// The allowed reactions, in the order pickers show them.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/// One of [`REACTIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaction(&'static str);

impl Reaction {
    pub fn parse(raw: &str) -> Result<Self, String> {
        REACTIONS
            .iter()
            .find(|r| **r == raw)
            .map(|r| Reaction(r))
            .ok_or_else(|| format!("must be one of {}", REACTIONS.join(" ")))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_set() {
        assert_eq!(Reaction::parse("👍").unwrap().as_str(), "👍");
        assert!(Reaction::parse("\u{2764}\u{fe0f}").is_ok());
        assert!(Reaction::parse("\u{2764}").is_err());
        assert!(Reaction::parse("x").is_err());
        assert!(Reaction::parse("").is_err());
    }
}

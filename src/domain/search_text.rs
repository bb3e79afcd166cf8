//! Text typed into a find box (the room and people directories): at most
//! a given length, no control characters.

/// Why `text` cannot be looked for, if it cannot.
pub fn check(text: &str, max: usize) -> Result<(), String> {
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn long_text_and_control_characters_are_refused() {
        assert!(check("maria", 5).is_ok());
        assert!(check("", 5).is_ok());
        assert!(check("mariam", 5).is_err());
        assert!(check("a\u{0}b", 5).is_err());
        assert!(check("a\nb", 5).is_err());
    }
}

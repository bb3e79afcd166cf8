//! Message validation: anything accepted is trimmed, 1–2000 characters,
//! free of control characters but newline and tab, and survives JSON.
#![no_main]

use chatroom::domain::MessageText;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(text) = MessageText::parse(raw) {
        let s = text.as_str();
        assert_eq!(s, s.trim());
        let count = s.chars().count();
        assert!((1..=2000).contains(&count));
        assert!(!s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        let json = serde_json::to_string(s).expect("serialises");
        let back: String = serde_json::from_str(&json).expect("round-trips");
        assert_eq!(back, s);
    }
});

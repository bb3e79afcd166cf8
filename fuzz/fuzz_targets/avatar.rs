//! The photo pipeline must refuse or process any bytes without panicking,
//! and whatever it accepts is a 256×256 PNG.
#![no_main]

use chatroom::domain::avatar::process_avatar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(avatar) = process_avatar(data) {
        assert_eq!(avatar.content_type, "image/png");
        assert!(avatar.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&avatar.bytes[16..24], &[0, 0, 1, 0, 0, 0, 1, 0], "256×256");
    }
});

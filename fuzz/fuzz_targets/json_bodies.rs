//! JSON request bodies and history parameters: any input gets a typed
//! value or one of our errors (never a panic), and errors map to 4xx.
#![no_main]

use chatroom::chat::history::{parse_page, Param};
use chatroom::web::extract::parse_json;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Login {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Register {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    for result in [
        parse_json::<Login>(data).map(|_| ()),
        parse_json::<Register>(data).map(|_| ()),
        parse_json::<serde_json::Value>(data).map(|_| ()),
    ] {
        if let Err(err) = result {
            let (status, code) = err.status_and_code();
            assert!(status.is_client_error(), "{code} for bad input");
        }
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let param = |name: &str| match value.get(name) {
            Some(v) => Param::Json(v),
            None => Param::Absent,
        };
        if let Ok(page) = parse_page(param("before"), param("after"), param("limit")) {
            assert!((1..=100).contains(&page.limit));
        }
    }
});

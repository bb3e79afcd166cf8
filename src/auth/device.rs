//! Device cookies (SECURITY.md, "Login limits"): a browser that signed in
//! to an account carries `chatroom_device`, holding a random token per
//! account it signed in to (up to [`MAX_TOKENS`], newest first, joined by
//! `.`). The database keeps only each token's hash (`db::devices`).

use axum::http::{HeaderMap, HeaderValue};

use super::secret;
use super::session::cookie_value;
use crate::db::devices::DEVICE_LIFETIME_MS;

/// The device cookie's name.
pub const COOKIE_NAME: &str = "chatroom_device";

/// Accounts one browser's cookie remembers (a shared computer).
pub const MAX_TOKENS: usize = 5;

/// The device tokens a request carries (well-formed ones only, at most
/// [`MAX_TOKENS`]).
pub fn tokens(headers: &HeaderMap) -> Vec<String> {
    let Some(value) = cookie_value(headers, COOKIE_NAME) else {
        return Vec::new();
    };
    value
        .split('.')
        .filter(|token| is_token(token))
        .take(MAX_TOKENS)
        .map(str::to_owned)
        .collect()
}

/// The stored hashes of the request's device tokens.
pub fn hashes(tokens: &[String]) -> Vec<String> {
    tokens.iter().map(|t| secret::hash_token(t)).collect()
}

/// A token as [`secret::random_token`] makes them: 43 URL-safe characters.
fn is_token(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `Set-Cookie` remembering `token` first, then the request's other tokens.
pub fn cookie(token: &str, others: &[String], secure: bool) -> HeaderValue {
    let mut list = vec![token];
    list.extend(
        others
            .iter()
            .map(String::as_str)
            .filter(|t| *t != token)
            .take(MAX_TOKENS - 1),
    );
    let max_age = DEVICE_LIFETIME_MS / 1000;
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}",
        list.join(".")
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn only_well_formed_tokens_are_read() {
        let a = secret::random_token();
        let b = secret::random_token();
        let h = headers(&format!("x=1; {COOKIE_NAME}={a}.junk.{b}"));
        assert_eq!(tokens(&h), vec![a, b]);
        assert!(tokens(&headers("chatroom_session=abc")).is_empty());
    }

    #[test]
    fn the_newest_token_comes_first_and_the_list_is_bounded() {
        let others: Vec<String> = (0..8).map(|_| secret::random_token()).collect();
        let new = secret::random_token();
        let value = cookie(&new, &others, true);
        let text = value.to_str().unwrap();
        let list = text
            .strip_prefix(&format!("{COOKIE_NAME}="))
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let parts: Vec<&str> = list.split('.').collect();
        assert_eq!(parts.len(), MAX_TOKENS);
        assert_eq!(parts[0], new);
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"));
        assert!(text.contains("Path=/") && text.ends_with("; Secure"));
        let again = cookie(&new, std::slice::from_ref(&new), false);
        assert!(!again.to_str().unwrap().contains('.'));
    }
}

//! Headers every response carries: a strict Content-Security-Policy and friends.

use std::sync::OnceLock;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;
use crate::web::import_map;

/// No inline script or style anywhere — except the chat page's import map,
/// allowed by its hash ([`import_map::ChatModules::csp_source`]), never by
/// `'unsafe-inline'`; nothing may frame us. Built once: the import map is
/// fixed for a given binary.
pub fn content_security_policy() -> &'static HeaderValue {
    static POLICY: OnceLock<HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| {
        let policy = policy_with(&import_map::chat_modules().csp_source);
        HeaderValue::from_str(&policy).expect("the policy is visible ASCII")
    })
}

fn policy_with(import_map_source: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' {import_map_source}; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the security headers (and HSTS behind https).
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A handler may set a stricter policy of its own (downloads: `sandbox`).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy().clone(),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if state.config.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_import_map_by_hash_and_nothing_inline() {
        let policy = content_security_policy().to_str().unwrap();
        let source = &import_map::chat_modules().csp_source;
        assert!(policy.contains(&format!("script-src 'self' {source};")));
        assert!(source.starts_with("'sha256-"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("unsafe-eval"));
        assert!(policy.contains("frame-ancestors 'none'"));
    }
}

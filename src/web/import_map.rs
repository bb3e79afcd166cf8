//! The chat page's scripts are ES modules loaded without a bundler: one entry
//! (`<script type="module">`, `main.js`) and an inline import map giving
//! every module its cache-busting URL (`?v=<content hash>`), so each file is
//! cached until it changes. The Content-Security-Policy allows exactly that
//! import map by its SHA-256 hash (never `'unsafe-inline'`); its text is
//! fixed for a given binary, since the assets are embedded, so it is built
//! once.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::assets;

/// Where the chat page's modules are, under `static/`: every `.js` file
/// there is one. Each imports the others by a relative specifier
/// (`./state.js`), which the import map maps to the versioned URL.
pub const CHAT_MODULE_DIR: &str = "js/chat/";

/// The chat page's modules (every embedded `static/js/chat/*.js`).
pub fn chat_module_paths() -> Vec<String> {
    assets::files_in(CHAT_MODULE_DIR, ".js")
}

/// The module the page loads; it imports every other one.
pub const CHAT_ENTRY: &str = "js/chat/main.js";

/// What the chat page puts in its `<head>`/scripts, and the CSP source for it.
#[derive(Debug)]
pub struct ChatModules {
    /// The import map, exactly the text between `<script type="importmap">`
    /// and `</script>` (JSON without `<`, safe to put there unescaped).
    pub import_map: String,
    /// The versioned URL of [`CHAT_ENTRY`], for `<script type="module" src>`.
    pub entry: String,
    /// `'sha256-…'` of [`ChatModules::import_map`], for `script-src`.
    pub csp_source: String,
}

/// The chat page's modules, built on first use.
pub fn chat_modules() -> &'static ChatModules {
    static CHAT: OnceLock<ChatModules> = OnceLock::new();
    CHAT.get_or_init(|| build(&chat_module_paths(), CHAT_ENTRY))
}

/// `/static/<path>?v=<content hash>`.
fn versioned(path: &str) -> String {
    format!("/static/{path}?v={}", assets::version(path))
}

fn build(modules: &[String], entry: &str) -> ChatModules {
    let imports: serde_json::Map<String, serde_json::Value> = modules
        .iter()
        .map(|path| (format!("/static/{path}"), versioned(path).into()))
        .collect();
    let import_map = serde_json::json!({ "imports": imports }).to_string();
    // Put into the page raw: it must not be able to end the <script> element.
    assert!(
        !import_map.contains('<'),
        "an import map with '<' cannot be inlined"
    );
    ChatModules {
        csp_source: csp_source(&import_map),
        entry: versioned(entry),
        import_map,
    }
}

/// The CSP hash source of an inline script's text.
pub fn csp_source(inline_text: &str) -> String {
    let digest = Sha256::digest(inline_text.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_is_mapped_to_its_versioned_url() {
        let chat = chat_modules();
        let map: serde_json::Value = serde_json::from_str(&chat.import_map).unwrap();
        let imports = map["imports"].as_object().unwrap();
        let modules = chat_module_paths();
        assert!(modules.len() >= 14, "{modules:?}");
        assert_eq!(imports.len(), modules.len());
        for path in &modules {
            let url = imports[&format!("/static/{path}")].as_str().unwrap();
            let version = assets::version(path);
            assert!(!version.is_empty(), "{path} is not embedded");
            assert_eq!(url, format!("/static/{path}?v={version}"));
        }
        assert_eq!(chat.entry, versioned(CHAT_ENTRY));
        assert!(modules.iter().any(|m| m == CHAT_ENTRY));
    }

    #[test]
    fn the_csp_source_is_the_hash_of_the_exact_text() {
        // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            csp_source("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
        let chat = chat_modules();
        assert_eq!(chat.csp_source, csp_source(&chat.import_map));
    }
}

//! The server-rendered pages and their forms, without JavaScript.

mod common;

use common::{spawn_app, spawn_with, unique_name, TestApp, PASSWORD};
use reqwest::StatusCode;

/// The hidden CSRF token of the first form on a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn get_page(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_login() {
    let app = spawn_app().await;
    let client = app.client();
    for path in ["/", "/discover", "/profile"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
}

#[tokio::test]
async fn register_and_login_pages_have_the_labelled_controls() {
    let app = spawn_app().await;
    let client = app.client();
    for (path, button) in [("/register", "Sign up"), ("/login", "Log in")] {
        let (status, html) = get_page(&client, &app, path).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("<label for=\"username\">Username</label>"),
            "{path}"
        );
        assert!(
            html.contains("<label for=\"password\">Password</label>"),
            "{path}"
        );
        assert!(html.contains(&format!(">{button}</button>")), "{path}");
        assert!(
            !html.contains("<script>") && !html.contains("style=\""),
            "{path}: no inline script/style"
        );
    }
}

#[tokio::test]
async fn register_form_signs_up_and_lands_on_discover() {
    let app = spawn_app().await;
    let client = app.browser();
    let (_, html) = get_page(&client, &app, "/register").await;
    let token = csrf_of(&html);
    let name = unique_name("formuser");

    // A field error first, shown next to the field, input kept.
    let response = client
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", name.as_str()),
            ("password", "short"),
            ("email", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"password-error\""), "{html}");
    assert!(html.contains(&format!("value=\"{name}\"")));

    let token = csrf_of(&html);
    let response = client
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", name.as_str()),
            ("password", PASSWORD),
            ("email", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/discover");
    let (status, html) = get_page(&client, &app, "/discover").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<label for=\"message-input\" class=\"visually-hidden\">Message</label>")
            || html.contains(">Message</label>")
    );
    assert!(html.contains("aria-label=\"Online\""));
    assert!(html.contains(&name));
}

#[tokio::test]
async fn forms_without_the_token_are_refused() {
    let app = spawn_app().await;
    let client = app.browser();
    let name = unique_name("notoken");
    get_page(&client, &app, "/register").await;
    let response = client
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", "forged"),
            ("username", name.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let lookup = app
        .client()
        .get(app.url(&format!("/api/v1/users/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 404, "nothing was created");
    // A foreign origin is refused before the form is even read.
    let foreign = client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("username", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
}

#[tokio::test]
async fn login_form_errors_then_succeeds_and_logout_returns_to_login() {
    let app = spawn_app().await;
    let name = unique_name("pageuser");
    app.register(&name).await;
    let client = app.browser();
    let (_, html) = get_page(&client, &app, "/login").await;
    let token = csrf_of(&html);
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", name.as_str()),
            ("password", "wrong password!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let html = response.text().await.unwrap();
    assert!(html.contains("Wrong username or password"));

    let token = csrf_of(&html);
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", name.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/discover");
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let response = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(
        response.status(),
        303,
        "signed-in users skip the login page"
    );

    let (_, html) = get_page(&client, &app, "/profile").await;
    assert!(html.contains(">Log out</button>"));
    assert!(html.contains("alt=\"Your avatar\""));
    assert!(html.contains("<label for=\"photo\">Photo</label>"));
    assert!(html.contains(">Upload</button>"));
    assert!(html.contains(">Delete account</button>"));
    let token = csrf_of(&html);
    let response = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn profile_forms_change_password_and_delete_the_account() {
    let app = spawn_app().await;
    let name = unique_name("profform");
    let client = app.browser();
    let (_, html) = get_page(&client, &app, "/register").await;
    let response = client
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("username", name.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    let (_, html) = get_page(&client, &app, "/profile").await;
    let token = csrf_of(&html);
    let response = client
        .post(app.url("/profile/password"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", "wrong one here"),
            ("new_password", "a whole new phrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("id=\"current_password-error\""));
    let new_password = "ocean maple ribbon thunder";
    let response = client
        .post(app.url("/profile/password"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", PASSWORD),
            ("new_password", new_password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let (_, html) = get_page(&client, &app, "/profile?done=password").await;
    assert!(html.contains("Your password was changed"));

    let response = client
        .post(app.url("/profile/delete"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        422,
        "the old password no longer confirms"
    );
    let response = client
        .post(app.url("/profile/delete"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", new_password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login"));
    let lookup = app
        .client()
        .get(app.url(&format!("/api/v1/users/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 404);
}

#[tokio::test]
async fn user_text_is_escaped_in_pages() {
    let app = spawn_app().await;
    let client = app.browser();
    let (_, html) = get_page(&client, &app, "/register").await;
    let hostile = "<script>alert(1)</script>";
    let response = client
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("username", hostile),
            ("password", PASSWORD),
            ("email", "\"><img src=x onerror=alert(1)>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(!html.contains(hostile));
    assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
    assert!(!html.contains("<img src=x"));
}

#[tokio::test]
async fn recovery_pages_render() {
    let app = spawn_app().await;
    let client = app.browser();
    let (status, html) = get_page(&client, &app, "/forgot-password").await;
    assert_eq!(status, 200);
    let response = client
        .post(app.url("/forgot-password"))
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("email", "someone@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("If an account has this verified address"));
    let (_, forgot) = get_page(&client, &app, "/forgot-password").await;
    let response = client
        .post(app.url("/reset-password"))
        .form(&[
            ("csrf_token", csrf_of(&forgot).as_str()),
            ("token", "bogus"),
            ("new_password", "ocean maple ribbon thunder"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("This link no longer works"), "{html}");
    assert!(!html.contains("name=\"new_password\""));
    let (status, html) = get_page(&client, &app, "/verify-email?token=bogus").await;
    assert_eq!(status, 422);
    assert!(html.contains("does not work"));
}

/// The chat page's scripts get the server's rules from the page itself,
/// rendered from the code that enforces them.
#[tokio::test]
async fn the_chat_page_carries_the_rules_its_scripts_use() {
    let app = spawn_with(|config| config.max_upload = 3 * 1024 * 1024).await;
    let (client, _) = app.register(&unique_name("rules")).await;
    let (status, html) = get_page(&client, &app, "/discover").await;
    assert_eq!(status, 200);
    let marker = "<meta name=\"chatroom-config\" content=\"";
    let start = html.find(marker).expect("the config meta") + marker.len();
    let raw = html[start..].split('"').next().unwrap();
    let json = raw
        .replace("&quot;", "\"")
        .replace("&#x22;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&");
    let config: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(config["max_message_chars"], 2000);
    assert_eq!(config["reactions"].as_array().unwrap().len(), 6);
    assert_eq!(config["room_name"]["min"], 2);
    assert_eq!(config["room_name"]["max"], 32);
    assert_eq!(config["max_topic_chars"], 200);
    // The upload limit is the server's setting, not a copy of its default.
    assert_eq!(config["max_upload"], 3 * 1024 * 1024);
    assert_eq!(config["max_attachments"], 10);
}

/// The chat page loads one ES module entry and an inline import map that
/// gives every module its versioned URL; the Content-Security-Policy allows
/// exactly that import map by its hash, and nothing inline otherwise.
#[tokio::test]
async fn the_chat_pages_import_map_is_allowed_by_its_hash_and_maps_every_module() {
    use base64::Engine;
    use sha2::{Digest, Sha256};

    let app = spawn_app().await;
    let (client, _) = app.register(&unique_name("modules")).await;
    let response = client.get(app.url("/discover")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();

    let open = "<script type=\"importmap\">";
    let start = html.find(open).expect("an import map") + open.len();
    let text = &html[start..start + html[start..].find("</script>").unwrap()];
    assert_eq!(html.matches(open).count(), 1);
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()));
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .expect("a script-src directive");
    assert_eq!(script_src, format!("script-src 'self' 'sha256-{hash}'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // The same policy on every response, not only on this page.
    let login = app.client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.headers()["content-security-policy"], csp.as_str());

    // No classic chat script is left; the entry is a module the map knows.
    let map: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let imports = map["imports"].as_object().expect("imports");
    let entry_marker = "<script type=\"module\" src=\"";
    let entry_start = html.find(entry_marker).expect("a module entry") + entry_marker.len();
    let entry = html[entry_start..].split('"').next().unwrap();
    assert!(entry.starts_with("/static/js/chat/main.js?v="), "{entry}");
    assert!(imports.values().any(|url| url == entry), "{entry}");
    assert!(
        !html.contains("<script src=\"/static/js/"),
        "classic scripts left"
    );

    // Every mapped module is served as JavaScript, and every module it imports
    // by a relative specifier is in the map (so it is versioned too).
    for (key, url) in imports {
        let url = url.as_str().unwrap();
        assert!(url.starts_with(&format!("{key}?v=")), "{key} → {url}");
        let module = client.get(app.url(url)).send().await.unwrap();
        assert_eq!(module.status(), 200, "{url}");
        let content_type = module.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.contains("javascript"), "{url}: {content_type}");
        let source = module.text().await.unwrap();
        let dir = &key[..key.rfind('/').unwrap() + 1];
        for piece in source
            .split("from \"./")
            .skip(1)
            .chain(source.split("import \"./").skip(1))
        {
            let file = piece.split('"').next().unwrap();
            let imported = format!("{dir}{file}");
            assert!(
                imports.contains_key(&imported),
                "{key} imports {imported}, not in the map"
            );
        }
    }
}

/// Every form checks its token the same way: a stale one is 403 and a page
/// that says so, with a way back to the form; nothing is changed.
#[tokio::test]
async fn a_stale_form_is_refused_with_a_way_back() {
    let app = spawn_app().await;
    let name = unique_name("stale");
    let (client, _) = app.register(&name).await;
    let browser = app.browser();
    let cookie = app.session_cookie(&name).await;
    for (path, fields) in [
        (
            "/profile/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        ),
        (
            "/profile/email",
            vec![("email", "x@example.net"), ("current_password", PASSWORD)],
        ),
        ("/profile/delete", vec![("current_password", PASSWORD)]),
        ("/forgot-password", vec![("email", "x@example.net")]),
        (
            "/login",
            vec![("username", name.as_str()), ("password", PASSWORD)],
        ),
    ] {
        let mut form = fields.clone();
        form.push(("csrf_token", "not the token"));
        let response = browser
            .post(app.url(path))
            .header("cookie", &cookie)
            .header("referer", app.url("/profile"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("This form expired"), "{path}: {html}");
        assert!(html.contains("href=\"/profile\""), "{path}: a way back");
    }
    // Nothing happened: the account and its password are as they were.
    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
}

/// A reset link is checked when it is opened: only one that still works
/// shows the form; an unknown, used or expired one says so, offers a new
/// link and shows no form.
#[tokio::test]
async fn a_used_or_expired_reset_link_says_so_instead_of_showing_the_form() {
    let app = spawn_app().await;
    let name = unique_name("forgetful");
    app.register(&name).await;
    let user = chatroom::db::users::find_by_username(&app.state.db, &name)
        .await
        .unwrap()
        .unwrap();
    let link = chatroom::accounts::recovery::issue_reset_link(&app.state, &user)
        .await
        .unwrap();
    let path = &link[app.base.len()..];
    let client = app.browser();

    let (status, html) = get_page(&client, &app, path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Choose a new password"));
    assert!(html.contains("name=\"new_password\""));
    let response = client
        .post(app.url("/reset-password"))
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("token", link.split("token=").nth(1).unwrap()),
            ("new_password", "ocean maple ribbon thunder"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the link works once");

    let no_longer_works = |status: StatusCode, html: &str, what: &str| {
        assert_eq!(status, 422, "{what}");
        assert!(html.contains("This link no longer works"), "{what}: {html}");
        assert!(html.contains("was already used, has expired"), "{what}");
        assert!(html.contains("href=\"/forgot-password\""), "{what}");
        assert!(html.contains("Ask for a new link"), "{what}");
        assert!(!html.contains("<form"), "{what}: no form");
        assert!(!html.contains("name=\"new_password\""), "{what}");
    };
    let (status, html) = get_page(&client, &app, path).await;
    no_longer_works(status, &html, "a used link");
    let (status, html) = get_page(&client, &app, "/reset-password?token=bogus").await;
    no_longer_works(status, &html, "an unknown link");
    let (status, html) = get_page(&client, &app, "/reset-password").await;
    no_longer_works(status, &html, "no token");

    let user = chatroom::db::users::find_by_username(&app.state.db, &name)
        .await
        .unwrap()
        .unwrap();
    let link = chatroom::accounts::recovery::issue_reset_link(&app.state, &user)
        .await
        .unwrap();
    sqlx::query("UPDATE tokens SET expires_at = 1 WHERE used_at IS NULL")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (status, html) = get_page(&client, &app, &link[app.base.len()..]).await;
    no_longer_works(status, &html, "an expired link");
}

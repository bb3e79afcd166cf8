//! What the page's composer asks of the server (docs/rooms.md): the people
//! who can read a conversation (`GET /api/v1/rooms/{room}/members`, for
//! @-autocomplete), reactions from the whole emoji set, and the picker's
//! data (`GET /api/v1/emoji`).

mod common;

use common::rooms::{
    api, assert_ack_error, assert_error, connect, create_room, encode, get, id_of, join, open_dm,
    reaction, send, user, User,
};
use common::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn names(body: &Value) -> Vec<String> {
    body["users"]
        .as_array()
        .unwrap_or_else(|| panic!("no users in {body}"))
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_owned())
        .collect()
}

async fn members(app: &TestApp, who: &User, room: &str, query: &str) -> (u16, Value) {
    get(app, who, &format!("/api/v1/rooms/{room}/members{query}")).await
}

fn reaction_path(id: i64, emoji: &str) -> String {
    format!("/api/v1/messages/{id}/reactions/{}", encode(emoji))
}

#[tokio::test]
async fn members_are_the_people_who_can_read_the_conversation() {
    let app = spawn_app().await;
    let maria = user(&app, "maria").await;
    let mario = user(&app, "mario").await;
    let amara = user(&app, "amara").await;
    let bob = user(&app, "bob").await;

    // A public room: its members only, those starting with the text first.
    create_room(&app, &maria, "Cafe").await;
    join(&app, &amara, "cafe").await;
    let (status, body) = members(&app, &maria, "cafe", "?q=MA").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), [maria.name.clone(), amara.name.clone()]);
    let first = &body["users"][0];
    assert!(first["id"].is_i64() && first["avatar_url"].is_string());
    assert!(first.get("email").is_none(), "public fields only: {first}");
    assert_eq!(names(&members(&app, &amara, "cafe", "").await.1).len(), 2);
    let first = names(&members(&app, &amara, "cafe", "?limit=1").await.1);
    assert_eq!(first, [amara.name.as_str()], "alphabetically; limit caps");

    // The global room: everyone.
    let (status, body) = members(&app, &bob, "global", "?q=mar").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        names(&body),
        [maria.name.clone(), mario.name.clone(), amara.name.clone()]
    );
    assert_eq!(names(&members(&app, &bob, "GLOBAL", "").await.1).len(), 4);

    // A DM: its two people.
    let dm = open_dm(&app, &maria, &mario.name).await;
    let dm = dm["id"].as_str().expect("dm id").to_owned();
    let mut both = names(&members(&app, &mario, &dm, "").await.1);
    both.sort();
    assert_eq!(both, [maria.name.clone(), mario.name.clone()]);

    // LIKE's wildcards are plain characters.
    assert!(names(&members(&app, &maria, "global", "?q=%25").await.1).is_empty());
    assert!(names(&members(&app, &maria, "global", "?q=_").await.1).is_empty());
}

#[tokio::test]
async fn members_of_a_conversation_you_cannot_read_are_not_found() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let eve = user(&app, "eve").await;
    create_room(&app, &alice, "secret-club").await;
    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().expect("dm id").to_owned();

    for room in [
        dm.as_str(),    // a DM of other people
        "secret-club",  // a public room not joined: 404 here, not 403
        "no-such-room", // does not exist
        "dm%3A1%3A1",   // cannot be an id
        "%FF",          // not even text
    ] {
        // (A NUL anywhere in a query is refused before any route, for
        // every path alike: it tells nothing about the room.)
        for query in ["", "?q=a", "?q=a%01", "?limit=0"] {
            assert_error(
                &members(&app, &eve, room, query).await,
                404,
                "not_found",
                &format!("{room}{query}"),
            );
        }
    }

    // Signed out.
    let response = app
        .client()
        .get(app.url("/api/v1/rooms/global/members"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 401);

    // Bad queries from a reader name their field.
    for (query, field) in [
        (format!("?q={}", "x".repeat(33)), "q"),
        ("?q=a%01b".to_owned(), "q"),
        ("?q=a%00".to_owned(), "q"),
        ("?limit=0".to_owned(), "limit"),
        ("?limit=lots".to_owned(), "limit"),
    ] {
        let answer = members(&app, &alice, "secret-club", &query).await;
        assert_error(&answer, 422, "validation_failed", &query);
        assert!(
            answer.1["error"]["fields"][field].is_string(),
            "{query}: {}",
            answer.1
        );
    }
}

#[tokio::test]
async fn any_single_emoji_is_a_reaction_seen_live() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let b = connect(&app, &bob).await;
    let id = id_of(&send(&mut a, "global", "react to me").await);
    let _ = b.next("message").await;

    // A plain one, a skin tone, ZWJ sequences (the longest kind: two
    // people with two skin tones), a flag and a keycap.
    let some = [
        "\u{1F980}",
        "\u{1F44B}\u{1F3FD}",
        "\u{1F469}\u{200D}\u{1F4BB}",
        "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",
        "\u{1F9D1}\u{1F3FF}\u{200D}\u{2764}\u{FE0F}\u{200D}\u{1F48B}\u{200D}\u{1F9D1}\u{1F3FB}",
        "\u{1F1EB}\u{1F1F7}",
        "1\u{FE0F}\u{20E3}",
    ];
    for emoji in some {
        let (status, body) = api(&app, &alice, Method::PUT, &reaction_path(id, emoji), None).await;
        assert_eq!(status, 200, "{emoji}: {body}");
        let entry = reaction(&body["message"], emoji).unwrap_or_else(|| panic!("{emoji}: {body}"));
        assert_eq!(entry["count"], 1);
        // Bob sees it live, spelled the same.
        let update = b.next("message_updated").await;
        assert!(reaction(&update, emoji).is_some(), "{emoji}: {update}");
    }
    // Stored and read back exactly (PostgreSQL and SQLite alike).
    let (_, page) = get(&app, &bob, "/api/v1/rooms/global/messages").await;
    let stored = &page["messages"][0];
    for emoji in some {
        assert!(reaction(stored, emoji).is_some(), "{emoji}: {stored}");
    }

    // Over the socket too, and removing works.
    let ack = a
        .call("react", json!({"id": id, "emoji": "\u{1F680}"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let ack = a
        .call("unreact", json!({"id": id, "emoji": "\u{1F980}"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert!(reaction(&ack["message"], "\u{1F980}").is_none());
}

#[tokio::test]
async fn text_several_emoji_and_look_alikes_are_not_reactions() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let id = id_of(&send(&mut a, "global", "picky").await);
    for emoji in [
        "thumbs up",
        ":+1:",
        "x",
        "\u{1F44D}\u{1F44D}",
        " \u{1F44D}",
        "\u{2764}",
        "\u{1F3FD}",
        "\u{1F1EB}",
        "\u{200D}",
        "\u{1F469}\u{200D}",
        "\u{1F44D}\u{0}",
        "\u{0}",
        "\u{FF01}",
    ] {
        // (A path holding a NUL byte is 404 for every route.)
        if !emoji.contains('\0') {
            let answer = api(&app, &alice, Method::PUT, &reaction_path(id, emoji), None).await;
            assert_error(&answer, 422, "validation_failed", &format!("{emoji:?}"));
            assert!(
                answer.1["error"]["fields"]["emoji"].is_string(),
                "{emoji:?}: {}",
                answer.1
            );
        }
        let ack = a.call("react", json!({"id": id, "emoji": emoji})).await;
        assert_ack_error(&ack, "validation_failed", &format!("{emoji:?}"));
    }
    let (_, page) = get(&app, &alice, "/api/v1/rooms/global/messages").await;
    assert_eq!(page["messages"][0]["reactions"], json!([]));
}

#[tokio::test]
async fn a_message_carries_at_most_twenty_different_emoji() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let id = id_of(&send(&mut a, "global", "popular").await);
    let (_, catalog) = app_emoji(&app).await;
    let many: Vec<String> = catalog["groups"][3]["emoji"]
        .as_array()
        .expect("food")
        .iter()
        .take(21)
        .map(|e| e["emoji"].as_str().expect("emoji").to_owned())
        .collect();
    for emoji in &many[..20] {
        let (status, body) = api(&app, &alice, Method::PUT, &reaction_path(id, emoji), None).await;
        assert_eq!(status, 200, "{emoji}: {body}");
    }
    let answer = api(&app, &bob, Method::PUT, &reaction_path(id, &many[20]), None).await;
    assert_error(&answer, 422, "validation_failed", "a 21st different emoji");
    assert_eq!(
        answer.1["error"]["fields"]["emoji"],
        "This message already has 20 different reactions. Add one of those instead."
    );
    // One already there is always fine, for someone else too, and again.
    for _ in 0..2 {
        let (status, body) = api(&app, &bob, Method::PUT, &reaction_path(id, &many[0]), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            reaction(&body["message"], &many[0]).expect("there")["count"],
            2
        );
    }
}

async fn app_emoji(app: &TestApp) -> (reqwest::header::HeaderMap, Value) {
    let response = app
        .client()
        .get(app.url("/api/v1/emoji"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.json().await.expect("json"))
}

#[tokio::test]
async fn the_emoji_catalog_is_public_cached_and_every_entry_is_a_reaction() {
    let app = spawn_app().await;
    // No session needed.
    let (headers, catalog) = app_emoji(&app).await;
    assert_eq!(headers["cache-control"], "public, max-age=86400");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let again = app
        .client()
        .get(app.url("/api/v1/emoji"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);

    assert_eq!(
        catalog["quick"],
        json!([
            "\u{1F44D}",
            "\u{2764}\u{FE0F}",
            "\u{1F602}",
            "\u{1F389}",
            "\u{1F62E}",
            "\u{1F622}"
        ])
    );
    let groups = catalog["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 9);
    assert_eq!(groups[0]["id"], "smileys-emotion");
    assert_eq!(groups[0]["name"], "Smileys & Emotion");
    let all: Vec<&Value> = groups
        .iter()
        .flat_map(|g| g["emoji"].as_array().expect("emoji").iter())
        .collect();
    assert!(all.len() > 1500, "{}", all.len());
    let thumbs = all
        .iter()
        .find(|e| e["emoji"] == "\u{1F44D}")
        .expect("thumbs up listed");
    assert_eq!(thumbs["name"], "thumbs up");
    assert_eq!(
        thumbs["skin_tones"],
        json!(["👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"]),
        "toned spellings, light to dark"
    );
    let rocket = all.iter().find(|e| e["emoji"] == "🚀").expect("rocket");
    assert!(
        rocket.get("skin_tones").is_none(),
        "only where a tone applies"
    );
    assert!(thumbs["shortcodes"]
        .as_array()
        .expect("shortcodes")
        .contains(&json!("+1")));

    // The first and last of each group are accepted as reactions.
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    for group in groups {
        let id = id_of(&send(&mut a, "global", "each group").await);
        let list = group["emoji"].as_array().expect("emoji");
        for entry in [&list[0], &list[list.len() - 1]] {
            let emoji = entry["emoji"].as_str().expect("emoji");
            if let Some(toned) = entry["skin_tones"].as_array() {
                let dark = toned[4].as_str().expect("toned");
                let (status, body) =
                    api(&app, &alice, Method::PUT, &reaction_path(id, dark), None).await;
                assert_eq!(status, 200, "{dark}: {body}");
            }
            let (status, body) =
                api(&app, &alice, Method::PUT, &reaction_path(id, emoji), None).await;
            assert_eq!(status, 200, "{emoji}: {body}");
        }
    }
}

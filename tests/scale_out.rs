//! Several instances as one: two servers sharing one PostgreSQL and one
//! Redis (a private redis-server per test, so tests can stop it).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::sio::{self, SioClient};
use common::smtp::free_port;
use common::{spawn_with, unique_name, TestApp, PASSWORD};
use serde_json::{json, Value};

/// A redis-server child process on a free port.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    fn start() -> Option<Redis> {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Option<Redis> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            common::skip_or_fail("redis-server (apt-get install redis-server)");
            return None;
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Redis {
            child: Some(child),
            port,
        })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn postgres_reachable() -> bool {
    let url = common::postgres_base_url();
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    std::net::TcpStream::connect(host_port).is_ok()
}

/// Two instances on one fresh PostgreSQL schema and a private Redis.
struct Cluster {
    a: TestApp,
    b: TestApp,
    redis: Redis,
    schema: Option<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            common::drop_schema(schema);
        }
    }
}

async fn cluster() -> Option<Cluster> {
    cluster_with(None).await
}

async fn cluster_with(smtp_url: Option<String>) -> Option<Cluster> {
    if !postgres_reachable() {
        common::skip_or_fail("PostgreSQL for the scale-out tests");
        return None;
    }
    let redis = Redis::start()?;
    let (schema, db_url) = common::fresh_postgres_schema().await;
    let redis_url = redis.url();
    let settings = |c: &mut chatroom::config::Config| {
        c.database_url = db_url.clone();
        c.redis_url = Some(redis_url.parse().unwrap());
        c.smtp_url = smtp_url.as_ref().map(|u| u.parse().unwrap());
    };
    let a = spawn_with(settings).await;
    let b = spawn_with(settings).await;
    Some(Cluster {
        a,
        b,
        redis,
        schema: Some(schema),
    })
}

async fn connect(app: &TestApp, cookie: &str) -> SioClient {
    sio::connect(&app.base, Some(cookie), None)
        .await
        .expect("socket connects")
}

#[tokio::test]
async fn messages_cross_instances_with_the_same_ids_and_history_agrees() {
    let Some(c) = cluster().await else { return };
    let (_, _, alice_cookie) = c.a.user_with_cookie("xa").await;
    let (_, _, bob_cookie) = c.a.user_with_cookie("xb").await;
    let mut alice = connect(&c.a, &alice_cookie).await;
    let mut bob = connect(&c.b, &bob_cookie).await;

    let ack = alice.call("message", json!({"text": "from A"})).await;
    assert_eq!(ack["ok"], true);
    let got = bob.next("message").await;
    assert_eq!(got, ack["message"]);
    let echo = alice.next("message").await;
    assert_eq!(echo["id"], got["id"], "the sender's own echo");
    let ack = bob.call("message", json!({"text": "from B"})).await;
    let got = alice.next("message").await;
    assert_eq!(got["id"], ack["message"]["id"]);
    // Each message arrives once.
    assert!(
        bob.next_within("message", Duration::from_millis(300))
            .await
            .is_some(),
        "own echo"
    );
    assert!(
        bob.next_within("message", Duration::from_millis(300))
            .await
            .is_none(),
        "no duplicates"
    );

    let history_a = alice.call("history", json!({})).await;
    let history_b = bob.call("history", json!({})).await;
    assert_eq!(history_a["messages"], history_b["messages"]);
    assert_eq!(history_a["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn presence_is_global_and_counts_users_once() {
    let Some(c) = cluster().await else { return };
    let (alice_name, alice_id, alice_cookie) = c.a.user_with_cookie("pa").await;
    let (bob_name, bob_id, bob_cookie) = c.a.user_with_cookie("pb").await;
    let mut alice = connect(&c.a, &alice_cookie).await;
    let _ = alice.next("presence").await;
    let _ = alice
        .next_within("presence_diff", Duration::from_millis(700))
        .await;

    let bob_on_b = connect(&c.b, &bob_cookie).await;
    let first = bob_on_b.next("presence").await;
    let names: Vec<&str> = first["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&alice_name.as_str()) && names.contains(&bob_name.as_str()),
        "{first}"
    );
    assert_eq!(first["count"], 2);

    let diff = alice.next("presence_diff").await;
    assert_eq!(diff["joined"][0]["id"], bob_id, "{diff}");
    assert_eq!(diff["count"], 2);

    // Bob also on instance A: not news, listed once.
    let bob_on_a = connect(&c.a, &bob_cookie).await;
    assert!(alice
        .next_within("presence_diff", Duration::from_millis(900))
        .await
        .is_none());
    let listed = alice.call("presence", json!({})).await;
    assert_eq!(listed["count"], 2, "{listed}");

    // Leaving B while still on A: not news either.
    bob_on_b.close();
    assert!(alice
        .next_within("presence_diff", Duration::from_millis(900))
        .await
        .is_none());
    bob_on_a.close();
    let diff = alice.next("presence_diff").await;
    assert_eq!(
        diff["left"],
        json!([{ "id": bob_id, "username": bob_name }])
    );
    assert_eq!(diff["count"], 1);
    let _ = alice_id;
}

/// What a client believes is online: the `presence` snapshot, then every
/// `presence_diff` after it, in arrival order.
#[derive(Default)]
struct PresenceView {
    online: std::collections::BTreeSet<i64>,
    count: i64,
    snapshot_seen: bool,
}

impl PresenceView {
    /// Applies what arrived until nothing more came for `quiet`.
    async fn settle(&mut self, socket: &SioClient, quiet: Duration) {
        while let Some((name, data)) = socket.next_of(&["presence", "presence_diff"], quiet).await {
            let ids = |list: &Value| -> Vec<i64> {
                list.as_array()
                    .map(|l| l.iter().filter_map(|u| u["id"].as_i64()).collect())
                    .unwrap_or_default()
            };
            if name == "presence" {
                self.online = ids(&data["online"]).into_iter().collect();
                self.snapshot_seen = true;
            } else if self.snapshot_seen {
                self.online.extend(ids(&data["joined"]));
                for id in ids(&data["left"]) {
                    self.online.remove(&id);
                }
            }
            self.count = data["count"].as_i64().unwrap_or(-1);
        }
    }
}

/// People connecting and leaving at once on two instances: every socket's
/// view (snapshot + diffs) ends up listing exactly who is online, with
/// `count` equal to the list.
#[tokio::test]
async fn every_socket_sees_everyone_online_on_both_instances() {
    let Some(c) = cluster().await else { return };
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(c.a.user_with_cookie("crowd").await);
    }
    // Everyone at once, alternating instances; the last user has a tab on
    // each instance, opened together.
    let mut connects = Vec::new();
    for (i, (_, _, cookie)) in users.iter().enumerate() {
        let app = if i % 2 == 0 { &c.a } else { &c.b };
        connects.push(connect(app, cookie));
    }
    connects.push(connect(&c.a, &users[7].2));
    let sockets = futures_util::future::join_all(connects).await;
    let everyone: std::collections::BTreeSet<i64> = users.iter().map(|u| u.1).collect();
    let mut views: Vec<PresenceView> = sockets.iter().map(|_| PresenceView::default()).collect();
    let quiet = Duration::from_millis(1500);
    futures_util::future::join_all(
        sockets
            .iter()
            .zip(views.iter_mut())
            .map(|(socket, view)| view.settle(socket, quiet)),
    )
    .await;
    for (i, view) in views.iter().enumerate() {
        assert_eq!(view.online, everyone, "socket {i} sees {:?}", view.online);
        assert_eq!(view.count, 8, "socket {i}");
    }

    // Three leave at once (one of them from one of two tabs only).
    for i in [0, 3, 8] {
        sockets[i].close();
    }
    let gone = [users[0].1, users[3].1];
    let remaining: std::collections::BTreeSet<i64> = everyone
        .iter()
        .copied()
        .filter(|id| !gone.contains(id))
        .collect();
    futures_util::future::join_all(
        sockets
            .iter()
            .zip(views.iter_mut())
            .map(|(socket, view)| view.settle(socket, quiet)),
    )
    .await;
    for (i, view) in views.iter().enumerate() {
        if [0, 3, 8].contains(&i) {
            continue;
        }
        assert_eq!(view.online, remaining, "socket {i} after leaves");
        assert_eq!(view.count, 6, "socket {i} after leaves");
    }
    // A newcomer's snapshot says the same.
    let (_, _, cookie) = c.b.user_with_cookie("late").await;
    let late = connect(&c.b, &cookie).await;
    let snapshot = late.next("presence").await;
    assert_eq!(snapshot["count"], 7, "{snapshot}");
    assert_eq!(
        snapshot["online"].as_array().unwrap().len(),
        7,
        "{snapshot}"
    );
}

#[tokio::test]
async fn logout_on_one_instance_disconnects_sockets_on_the_other() {
    let Some(c) = cluster().await else { return };
    let (_, _, cookie) = c.a.user_with_cookie("lo").await;
    let socket_on_b = connect(&c.b, &cookie).await;
    let response = reqwest::Client::new()
        .post(c.a.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(socket_on_b.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn concurrent_senders_on_both_instances_are_seen_in_one_order() {
    let Some(c) = cluster().await else { return };
    let mut listeners = Vec::new();
    for app in [&c.a, &c.b] {
        let (_, _, cookie) = app.user_with_cookie("lis").await;
        listeners.push(connect(app, &cookie).await);
    }
    let mut tasks = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &c.a } else { &c.b };
        let (_, _, cookie) = app.user_with_cookie("snd").await;
        let mut client = connect(app, &cookie).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..10 {
                let ack = client
                    .call("message", json!({"text": format!("{i}-{n}")}))
                    .await;
                assert_eq!(ack["ok"], true);
            }
            client
        }));
    }
    let mut keep = Vec::new();
    for task in tasks {
        keep.push(task.await.unwrap());
    }
    let mut orders = Vec::new();
    for listener in &listeners {
        let mut ids = Vec::new();
        for _ in 0..100 {
            ids.push(listener.next("message").await["id"].as_i64().unwrap());
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order: {ids:?}");
        orders.push(ids);
    }
    assert_eq!(orders[0], orders[1]);
}

#[tokio::test]
async fn failed_logins_are_counted_across_instances() {
    let Some(c) = cluster().await else { return };
    let name = unique_name("shared");
    c.a.register(&name).await;
    for i in 0..20 {
        let app = if i % 2 == 0 { &c.a } else { &c.b };
        let r = app
            .post_json(
                &app.client(),
                "/api/v1/auth/login",
                json!({"username": name, "password": "nope nope nope"}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    for app in [&c.a, &c.b] {
        let r = app
            .post_json(
                &app.client(),
                "/api/v1/auth/login",
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), 429);
    }
}

/// Sixty wrong logins at once, half on each instance: the limit is counted
/// in Redis before the hash, so exactly twenty are checked.
#[tokio::test]
async fn concurrent_failed_logins_on_two_instances_pass_the_limit_exactly() {
    let Some(c) = cluster().await else { return };
    let name = unique_name("racing");
    c.a.register(&name).await;
    let attempts = (0..60).map(|i| {
        let app = if i % 2 == 0 { &c.a } else { &c.b };
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 8, (i % 3) as u8 + 1]))
            .build()
            .unwrap();
        let name = name.clone();
        async move {
            app.post_json(
                &client,
                "/api/v1/auth/login",
                json!({"username": name, "password": "nope nope nope"}),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, limited), (20, 40), "{statuses:?}");
}

/// A trusted device's own limit is counted in Redis too: on an account
/// locked for untrusted browsers, sixty wrong logins with its device cookie,
/// half on each instance, get exactly the device's twenty; then the
/// device is no longer trusted on either instance.
#[tokio::test]
async fn a_devices_failures_are_counted_across_instances() {
    let Some(c) = cluster().await else { return };
    let name = unique_name("device");
    let home = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 9, 1]))
        .build()
        .unwrap();
    let registered =
        c.a.post_json(
            &home,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    let device = registered
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chatroom_device="))
        .and_then(|v| v.split(';').next())
        .expect("a device cookie")
        .to_owned();
    for i in 0..20u8 {
        let app = if i % 2 == 0 { &c.a } else { &c.b };
        let attacker = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 9, 10 + i]))
            .build()
            .unwrap();
        let r = app
            .post_json(
                &attacker,
                "/api/v1/auth/login",
                json!({"username": name, "password": "nope nope nope"}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let login = |app: &TestApp, password: &'static str| {
        let request = home
            .post(app.url("/api/v1/auth/login"))
            .header("cookie", &device)
            .json(&json!({"username": name, "password": password}));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        login(&c.b, PASSWORD).await,
        200,
        "the owner's browser signs in"
    );
    let statuses = futures_util::future::join_all(
        (0..60).map(|i| login(if i % 2 == 0 { &c.a } else { &c.b }, "nope nope nope")),
    )
    .await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, limited), (20, 40), "{statuses:?}");
    for app in [&c.a, &c.b] {
        assert_eq!(login(app, PASSWORD).await, 429);
    }
}

#[tokio::test]
async fn redis_outage_degrades_health_and_service_resumes() {
    let Some(mut c) = cluster().await else { return };
    let (_, _, cookie) = c.a.user_with_cookie("out").await;
    let health: Value =
        c.a.client()
            .get(c.a.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(health["redis"], "ok");

    let port = c.redis.port;
    c.redis.stop();
    let response = c.a.client().get(c.a.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "degraded");
    // The instance still serves its own users.
    let me = reqwest::Client::new()
        .get(c.a.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    c.redis = Redis::start_on(port).expect("redis restarts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = c.a.client().get(c.a.url("/healthz")).send().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut socket = connect(&c.a, &cookie).await;
    let (_, _, other_cookie) = c.b.user_with_cookie("back").await;
    let listener_on_b = connect(&c.b, &other_cookie).await;
    let ack = socket
        .call("message", json!({"text": "after the outage"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    // Fan-out between the instances works again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(seen) = listener_on_b
            .next_within("message", Duration::from_secs(1))
            .await
        {
            if seen["text"] == "after the outage" || seen["text"] == "and again" {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance B never heard from A again"
        );
        let _ = socket.call("message", json!({"text": "and again"})).await;
    }
}

#[tokio::test]
async fn a_crashed_instance_leaves_no_ghosts() {
    let Some(c) = cluster().await else { return };
    let (_, _, alice_cookie) = c.a.user_with_cookie("alive").await;
    let (ghost_name, ghost_id, ghost_cookie) = c.a.user_with_cookie("ghost").await;
    let alice = connect(&c.a, &alice_cookie).await;
    let _ = alice.next("presence").await;
    let _ = alice
        .next_within("presence_diff", Duration::from_millis(700))
        .await;

    // A third instance as a real process, killed without any clean-up.
    let dir = tempfile::tempdir().unwrap();
    let db_url = c.a.state.config.database_url.clone();
    let redis_url = c.redis.url();
    let victim = common::process::start(
        dir.path(),
        &[
            ("CHATROOM_DATABASE_URL", db_url.as_str()),
            ("CHATROOM_REDIS_URL", redis_url.as_str()),
        ],
    );
    let ghost = sio::connect(&victim.base, Some(&ghost_cookie), None)
        .await
        .unwrap();
    let mut joined = false;
    for _ in 0..5 {
        if let Some(diff) = alice
            .next_within("presence_diff", Duration::from_secs(2))
            .await
        {
            joined |= diff["joined"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["id"] == ghost_id);
        }
        if joined {
            break;
        }
    }
    assert!(joined, "the user on the third instance came online");
    drop(victim); // SIGKILL
    drop(ghost);
    let mut left = None;
    for _ in 0..10 {
        if let Some(diff) = alice
            .next_within("presence_diff", Duration::from_secs(5))
            .await
        {
            if diff["left"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["id"] == ghost_id)
            {
                left = Some(diff);
                break;
            }
        }
    }
    let left = left.expect("the dead instance's users were reaped");
    assert!(left["left"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["username"] == ghost_name.as_str()));
}

#[tokio::test]
async fn mail_workers_on_two_instances_send_each_mail_once() {
    let Some(smtp) = common::smtp::SmtpSink::start() else {
        return;
    };
    let Some(c) = cluster_with(Some(smtp.url())).await else {
        return;
    };
    let mut addresses = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { &c.a } else { &c.b };
        let name = unique_name("mailer");
        let address = format!("{name}@example.com");
        let r = app
            .post_json(
                &app.client(),
                "/api/v1/auth/register",
                json!({"username": name, "password": PASSWORD, "email": address}),
            )
            .await;
        assert_eq!(r.status(), 201);
        addresses.push(address);
    }
    for address in &addresses {
        smtp.wait_for(address, 1, Duration::from_secs(15)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for address in &addresses {
        assert_eq!(smtp.mails_to(address).len(), 1, "{address} got one mail");
    }
}

#[tokio::test]
async fn rooms_dms_and_changes_reach_members_on_the_other_instance_only() {
    let Some(c) = cluster().await else { return };
    let (_, _, admin_cookie) = c.a.user_with_cookie("xadm").await;
    let (_, _, alice_cookie) = c.a.user_with_cookie("xra").await;
    let (bob_name, _, bob_cookie) = c.a.user_with_cookie("xrb").await;
    let (_, _, eve_cookie) = c.a.user_with_cookie("xre").await;
    let mut alice = connect(&c.a, &alice_cookie).await;
    let bob = connect(&c.b, &bob_cookie).await;
    let eve = connect(&c.b, &eve_cookie).await;
    let http = reqwest::Client::new();

    // Alice creates a room on A; Bob, already connected to B, joins it on A.
    let room = unique_name("xr").to_lowercase();
    let created = http
        .post(c.a.url("/api/v1/rooms"))
        .header("cookie", &alice_cookie)
        .json(&json!({ "name": room }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let joined = http
        .put(c.a.url(&format!("/api/v1/rooms/{room}/membership")))
        .header("cookie", &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    assert_eq!(bob.next("room_joined").await["room"]["id"], room);

    // A room message reaches Bob on B, not Eve (not a member) on B.
    let ack = alice
        .call("message", json!({ "text": "room only", "room": room }))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(bob.next("message").await["id"], ack["message"]["id"]);
    // An edit made on A reaches Bob on B as message_updated.
    let edited = alice
        .call(
            "edit",
            json!({ "id": ack["message"]["id"], "text": "room only, edited" }),
        )
        .await;
    assert_eq!(edited["ok"], true, "{edited}");
    let update = bob.next("message_updated").await;
    assert_eq!(update["text"], "room only, edited");
    assert!(update["edited_at"].is_string());

    // A DM opened on A reaches Bob's socket on B without reconnecting.
    let dm: Value = http
        .post(c.a.url("/api/v1/dms"))
        .header("cookie", &alice_cookie)
        .json(&json!({ "username": bob_name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dm_id = dm["room"]["id"].as_str().unwrap().to_owned();
    // Bob's list gets it with its first message (docs/rooms.md).
    let ack = alice
        .call("message", json!({ "text": "just us", "room": dm_id }))
        .await;
    assert_eq!(bob.next("room_joined").await["room"]["id"], dm_id.as_str());
    assert_eq!(bob.next("message").await["id"], ack["message"]["id"]);

    // Eve saw none of it; a global message proves her socket is live.
    let global = alice.call("message", json!({ "text": "everyone" })).await;
    let seen = eve.next("message").await;
    assert_eq!(
        seen["id"], global["message"]["id"],
        "the first message Eve sees is the global one"
    );
    assert!(eve
        .next_within("message_updated", Duration::from_millis(300))
        .await
        .is_none());

    // The admin (first account) suspends Bob on A; his socket on B ends.
    let suspended = http
        .put(c.a.url(&format!("/api/v1/admin/users/{bob_name}/suspension")))
        .header("cookie", &admin_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(suspended.status(), 204);
    assert!(bob.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn messages_sent_while_redis_is_away_reach_the_other_instance_afterwards() {
    let Some(mut c) = cluster().await else { return };
    let (_, _, alice_cookie) = c.a.user_with_cookie("gapa").await;
    let (_, _, bob_cookie) = c.b.user_with_cookie("gapb").await;
    let mut alice = connect(&c.a, &alice_cookie).await;
    let mut bob = connect(&c.b, &bob_cookie).await;
    let first = alice.call("message", json!({"text": "before"})).await;
    assert_eq!(bob.next("message").await["id"], first["message"]["id"]);

    // Redis goes away: A still stores, acknowledges and shows the message
    // to its own clients; B cannot hear of it yet.
    let port = c.redis.port;
    c.redis.stop();
    let during = alice
        .call("message", json!({"text": "while redis is away"}))
        .await;
    assert_eq!(during["ok"], true, "{during}");
    let during_id = during["message"]["id"].as_i64().unwrap();

    c.redis = Redis::start_on(port).expect("redis restarts");
    // Once the channel works again, the next relayed message shows B the
    // gap, which it fills from the database: Bob, connected throughout,
    // gets every message, in id order, once.
    let mut seen: Vec<i64> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last_sent = during_id;
    while !seen.contains(&last_sent) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never heard from A again; saw {seen:?}"
        );
        let ack = alice.call("message", json!({"text": "after"})).await;
        if ack["ok"] == true {
            last_sent = ack["message"]["id"].as_i64().unwrap();
        }
        while let Some(message) = bob.next_within("message", Duration::from_millis(500)).await {
            seen.push(message["id"].as_i64().unwrap());
        }
    }
    let history = bob
        .call(
            "history",
            json!({ "after": first["message"]["id"], "limit": 100 }),
        )
        .await;
    let stored: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(stored.contains(&during_id));
    assert_eq!(
        seen, stored,
        "B missed nothing while connected, in order, once"
    );
    // A, which showed the message itself while Redis was away, does not
    // show it again when the gap is filled.
    let mut echoed: Vec<i64> = Vec::new();
    while let Some(message) = alice
        .next_within("message", Duration::from_millis(300))
        .await
    {
        echoed.push(message["id"].as_i64().unwrap());
    }
    let after_first: Vec<i64> = echoed
        .into_iter()
        .filter(|id| *id > first["message"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        after_first, stored,
        "A's own clients: each message once, in order"
    );
}

#[tokio::test]
async fn a_thread_reply_on_one_instance_reaches_a_reader_on_the_other() {
    let Some(c) = cluster().await else { return };
    let (_, _, alice_cookie) = c.a.user_with_cookie("ta").await;
    let (_, _, bob_cookie) = c.b.user_with_cookie("tb").await;
    let mut alice = connect(&c.a, &alice_cookie).await;
    let mut bob = connect(&c.b, &bob_cookie).await;
    let root = alice.call("message", json!({"text": "root on A"})).await;
    let root_id = root["message"]["id"].as_i64().expect("root id");
    assert_eq!(bob.next("message").await["id"], root_id);

    let ack = bob
        .call(
            "message",
            json!({"text": "reply on B", "reply_to": root_id}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let reply = &ack["message"];
    assert_eq!(reply["in_room"], false);
    // The reply and the root's new summary reach the reader on A.
    let got = alice.next("message").await;
    assert_eq!(got["id"], root_id, "own echo first");
    let got = alice.next("message").await;
    assert_eq!(&got, reply);
    let updated = alice.next("message_updated").await;
    assert_eq!(updated["id"], root_id);
    assert_eq!(updated["thread"]["reply_count"], 1);
    // Both instances serve the same thread.
    let from_a = alice.call("thread", json!({"id": root_id})).await;
    let from_b = bob.call("thread", json!({"id": root_id})).await;
    assert_eq!(from_a["messages"], from_b["messages"]);
    assert_eq!(from_a["messages"][0]["id"], reply["id"]);
}

#[tokio::test]
async fn member_counts_sign_outs_and_first_dm_messages_cross_instances() {
    let Some(c) = cluster().await else { return };
    let (_, _, alice_cookie) = c.a.user_with_cookie("lsa").await;
    let (bob_name, _, bob_cookie) = c.a.user_with_cookie("lsb").await;
    let (_, _, eve_cookie) = c.a.user_with_cookie("lse").await;
    let (_, _, carol_cookie) = c.a.user_with_cookie("lsc").await;
    let mut alice = connect(&c.a, &alice_cookie).await;
    let bob = connect(&c.b, &bob_cookie).await;
    let mut eve = connect(&c.b, &eve_cookie).await;
    let carol = connect(&c.b, &carol_cookie).await;
    let http = reqwest::Client::new();

    // Eve watches the directory on B; Bob joins Alice's room through A.
    let ack = eve.call("directory", json!({ "watch": true })).await;
    assert_eq!(ack["ok"], true, "{ack}");
    let room = unique_name("ls").to_lowercase();
    let created = http
        .post(c.a.url("/api/v1/rooms"))
        .header("cookie", &alice_cookie)
        .json(&json!({ "name": room }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(eve.next("room_updated").await["room"]["member_count"], 1);
    let joined = http
        .put(c.a.url(&format!("/api/v1/rooms/{room}/membership")))
        .header("cookie", &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    assert_eq!(bob.next("room_joined").await["room"]["id"], room.as_str());
    let to_bob = bob.next("room_updated").await;
    assert_eq!(to_bob["room"]["id"], room.as_str());
    assert_eq!(to_bob["room"]["member_count"], 2);
    assert_eq!(to_bob["room"]["joined"], true);
    let to_eve = eve.next("room_updated").await;
    assert_eq!(to_eve["room"]["member_count"], 2);
    assert_eq!(to_eve["room"]["joined"], false);

    // A DM Alice opens on A reaches Bob on B with its first message only.
    let dm: Value = http
        .post(c.a.url("/api/v1/dms"))
        .header("cookie", &alice_cookie)
        .json(&json!({ "username": bob_name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dm_id = dm["room"]["id"].as_str().unwrap().to_owned();
    let hello = alice
        .call("message", json!({ "text": "first", "room": dm_id }))
        .await;
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(bob.next("room_joined").await["room"]["id"], dm_id.as_str());
    assert_eq!(bob.next("message").await["id"], hello["message"]["id"]);

    // Carol, on B, heard none of it: a global message is the first thing.
    let global = alice.call("message", json!({ "text": "everyone" })).await;
    assert_eq!(carol.next("message").await["id"], global["message"]["id"]);
    for event in ["room_updated", "room_joined", "signed_out"] {
        assert!(
            carol
                .next_within(event, Duration::from_millis(300))
                .await
                .is_none(),
            "carol got {event}"
        );
    }

    // Bob logs out through A: his socket on B is told why, then cut.
    let out = http
        .post(c.a.url("/api/v1/auth/logout"))
        .header("cookie", &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(bob.closed_within(Duration::from_secs(5)).await);
    assert_eq!(
        bob.next_within("signed_out", Duration::ZERO).await,
        Some(json!({ "reason": "logged_out" })),
        "signed_out arrived before the disconnect"
    );
    assert!(!carol.closed_within(Duration::from_millis(200)).await);
}

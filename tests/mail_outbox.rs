//! Where mail goes without SMTP (README, docs/protocol.md): `outbox/`
//! beside the SQLite file, or `./data/outbox/` when the database URL names
//! no directory (PostgreSQL, in-memory or bare-file SQLite).

mod common;

use std::path::PathBuf;

#[test]
fn the_outbox_is_beside_the_sqlite_file_or_under_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    for (url, data_dir) in [
        ("sqlite://data/chatroom.db", "data"),
        (
            "sqlite:///var/lib/chatroom/chatroom.db",
            "/var/lib/chatroom",
        ),
        ("sqlite://elsewhere/chat.db?mode=rwc", "elsewhere"),
        ("sqlite://chatroom.db", "data"),
        ("sqlite::memory:", "data"),
        ("postgres://postgres@127.0.0.1:5432/chat", "data"),
    ] {
        config.database_url = url.to_owned();
        assert_eq!(config.data_dir(), PathBuf::from(data_dir), "{url}");
    }
}

//! `chatroom import-legacy DIR`: brings the users of the old Flask app in.
//!
//! The old app kept `users.txt` (one `username password` per line), one
//! `<username>.csv` per user (columns: username, password, profile photo,
//! email, written by pandas with its index column) and photos under
//! `static/`. Passwords were plain text: they are
//! hashed with Argon2id at once and never stored or logged as text. Emails
//! come in unverified; photos go through the upload pipeline. Usernames are
//! kept as they are; invalid ones are reported, never changed. Running it
//! twice changes nothing the second time.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use crate::auth::password::hash_password;
use crate::db::users::{self, UserWriteError};
use crate::db::{avatars, Db};
use crate::domain::avatar::process_avatar;
use crate::domain::{Email, Username};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub imported: Vec<String>,
    pub already_present: Vec<String>,
    /// Username (as found) and why it was not imported.
    pub rejected: Vec<(String, String)>,
    /// Non-fatal problems with imported users (bad email, unreadable photo).
    pub warnings: Vec<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "imported {}, already present {}, rejected {}",
            self.imported.len(),
            self.already_present.len(),
            self.rejected.len()
        )?;
        for (name, reason) in &self.rejected {
            writeln!(f, "  rejected {name:?}: {reason}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        Ok(())
    }
}

/// One user as the old files describe them.
#[derive(Debug, Default, Clone)]
struct LegacyUser {
    password: String,
    photo: Option<String>,
    email: Option<String>,
}

/// The columns of a `<name>.csv`, found by their header names. The old app
/// wrote these files with pandas' `to_csv`, which adds an unnamed index
/// column, and re-wrote them on every profile save, adding `Unnamed: 0`
/// columns: only the named columns matter, wherever they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    username: usize,
    password: Option<usize>,
    photo: Option<usize>,
    email: Option<usize>,
}

impl Columns {
    /// The layout a header row names; `None` when it has no `username`.
    fn from_header(header: &csv::StringRecord) -> Option<Columns> {
        let find = |names: &[&str]| {
            header.iter().position(|h| {
                let h = h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
                names.contains(&h.as_str())
            })
        };
        Some(Columns {
            username: find(&["username"])?,
            password: find(&["password"]),
            photo: find(&["profile photo", "profile_photo", "photo"]),
            email: find(&["email", "e-mail"]),
        })
    }

    /// Files without a header row: username, password, photo, email.
    const POSITIONAL: Columns = Columns {
        username: 0,
        password: Some(1),
        photo: Some(2),
        email: Some(3),
    };
}

/// The user's row of their `<name>.csv`, read with a real CSV reader.
fn read_csv_row(text: &str, name: &str) -> Result<Option<LegacyUser>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut columns = None;
    for (number, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {}: {e}", number + 1))?;
        if number == 0 {
            if let Some(found) = Columns::from_header(&record) {
                columns = Some(found);
                continue;
            }
        }
        let columns = columns.unwrap_or(Columns::POSITIONAL);
        let field = |index: Option<usize>| {
            index
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        if field(Some(columns.username)).as_deref() != Some(name) {
            continue;
        }
        return Ok(Some(LegacyUser {
            password: field(columns.password).unwrap_or_default(),
            photo: field(columns.photo),
            email: field(columns.email),
        }));
    }
    Ok(None)
}

fn read_users(dir: &Path, summary: &mut Summary) -> std::io::Result<BTreeMap<String, LegacyUser>> {
    let mut found: BTreeMap<String, LegacyUser> = BTreeMap::new();
    let list = std::fs::read_to_string(dir.join("users.txt"))?;
    for (number, line) in list.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once(char::is_whitespace) {
            Some((name, password)) => {
                found.insert(
                    name.to_owned(),
                    LegacyUser {
                        password: password.trim().to_owned(),
                        ..Default::default()
                    },
                );
            }
            None => summary.rejected.push((
                line.chars().take(40).collect(),
                format!("users.txt line {}: no password", number + 1),
            )),
        }
    }
    for (name, user) in found.iter_mut() {
        // Names with path separators never name a file of ours.
        if name.contains(['/', '\\']) || name.starts_with('.') {
            continue;
        }
        let file = format!("{name}.csv");
        let Ok(text) = std::fs::read_to_string(dir.join(&file)) else {
            continue;
        };
        match read_csv_row(&text, name) {
            Ok(Some(row)) => {
                if !row.password.is_empty() {
                    user.password = row.password;
                }
                user.photo = row.photo;
                user.email = row.email;
            }
            Ok(None) => summary.warnings.push(format!(
                "{name}: {file} has no row for this user; photo and email not carried over"
            )),
            Err(reason) => summary.warnings.push(format!(
                "{name}: {file} is not readable CSV ({reason}); photo and email not carried over"
            )),
        }
    }
    Ok(found)
}

/// Reads `static/<photo>` if the name stays inside that folder.
fn read_photo(dir: &Path, photo: &str) -> Option<Vec<u8>> {
    let relative = Path::new(photo);
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return None;
    }
    std::fs::read(dir.join("static").join(relative)).ok()
}

/// Imports every user of the old app found in `dir`.
pub async fn run(db: &Db, dir: &Path) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    let legacy = read_users(dir, &mut summary)?;
    for (raw_name, user) in legacy {
        let Ok(username) = Username::parse(&raw_name) else {
            summary.rejected.push((
                raw_name,
                "not a valid username (3–32 of A–Z a–z 0–9 _ . -)".into(),
            ));
            continue;
        };
        match users::find_by_username(db, username.as_str()).await {
            Ok(Some(_)) => {
                summary.already_present.push(raw_name);
                continue;
            }
            Ok(None) => {}
            Err(err) => {
                summary
                    .rejected
                    .push((raw_name, format!("database: {err}")));
                continue;
            }
        }
        if user.password.is_empty() {
            summary.rejected.push((raw_name, "no password".into()));
            continue;
        }
        let hash = match hash_password(user.password).await {
            Ok(hash) => hash,
            Err(err) => {
                summary
                    .rejected
                    .push((raw_name, format!("hashing failed: {err}")));
                continue;
            }
        };
        let email = match user.email.as_deref().map(Email::parse) {
            Some(Ok(email)) => Some(email),
            Some(Err(reason)) => {
                summary
                    .warnings
                    .push(format!("{raw_name}: email {reason}; left out"));
                None
            }
            None => None,
        };
        let created = match users::create(
            db,
            username.as_str(),
            &hash,
            email.as_ref().map(Email::as_str),
        )
        .await
        {
            Ok(created) => created,
            Err(UserWriteError::UsernameTaken) => {
                summary.already_present.push(raw_name);
                continue;
            }
            Err(err) => {
                summary
                    .rejected
                    .push((raw_name, format!("database: {err}")));
                continue;
            }
        };
        if let Some(photo) = user.photo.as_deref() {
            match read_photo(dir, photo).map(|bytes| process_avatar(&bytes)) {
                Some(Ok(avatar)) => {
                    if let Err(err) = avatars::set(
                        db,
                        created.id,
                        &avatar.hash,
                        avatar.content_type,
                        &avatar.bytes,
                    )
                    .await
                    {
                        summary
                            .warnings
                            .push(format!("{raw_name}: photo not stored: {err}"));
                    }
                }
                Some(Err(reason)) => summary
                    .warnings
                    .push(format!("{raw_name}: photo {photo:?}: {reason}")),
                None => summary.warnings.push(format!(
                    "{raw_name}: photo {photo:?} not found under static/"
                )),
            }
        }
        summary.imported.push(raw_name);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::read_csv_row;

    #[test]
    fn pandas_files_are_read_by_their_header_names() {
        let once = ",username,password,profile photo,email\n0,alice,pw one,a.png,a@x.io\n";
        let user = read_csv_row(once, "alice").unwrap().unwrap();
        assert_eq!(user.password, "pw one");
        assert_eq!(user.photo.as_deref(), Some("a.png"));
        assert_eq!(user.email.as_deref(), Some("a@x.io"));
        let twice = ",Unnamed: 0.1,Unnamed: 0,username,password,profile photo,email\n\
                     0,0,0,bob,\"with, comma\",,\n";
        let user = read_csv_row(twice, "bob").unwrap().unwrap();
        assert_eq!(user.password, "with, comma");
        assert_eq!((user.photo, user.email), (None, None));
    }

    #[test]
    fn headerless_files_are_positional_and_other_rows_are_ignored() {
        let user = read_csv_row("carol,pw,c.png,c@x.io\n", "carol")
            .unwrap()
            .unwrap();
        assert_eq!(user.email.as_deref(), Some("c@x.io"));
        assert!(read_csv_row("username,password\nsomeone,pw\n", "carol")
            .unwrap()
            .is_none());
        assert!(read_csv_row("a,\"unterminated\n", "a").is_ok());
    }
}

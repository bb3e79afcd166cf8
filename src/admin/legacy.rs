//! `chatroom import-legacy DIR`: brings the users of the old Flask app in.
//!
//! The old app kept `users.txt` (one `username password` per line), one
//! `<username>.csv` per user (columns: username, password, profile photo,
//! email) and photos under `static/`. Passwords were plain text: they are
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

/// Splits one CSV line (commas, double-quoted fields with "" escapes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields.into_iter().map(|f| f.trim().to_owned()).collect()
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
        let Ok(csv) = std::fs::read_to_string(dir.join(format!("{name}.csv"))) else {
            continue;
        };
        for line in csv.lines() {
            let fields = csv_fields(line);
            if fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("username"))
            {
                continue;
            }
            if fields.first() != Some(name) {
                continue;
            }
            if let Some(password) = fields.get(1).filter(|p| !p.is_empty()) {
                user.password = password.clone();
            }
            user.photo = fields.get(2).filter(|p| !p.is_empty()).cloned();
            user.email = fields.get(3).filter(|e| !e.is_empty()).cloned();
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
    use super::csv_fields;

    #[test]
    fn csv_lines_split_with_quotes() {
        assert_eq!(csv_fields("a,b, c ,"), vec!["a", "b", "c", ""]);
        assert_eq!(
            csv_fields("\"x,y\",\"say \"\"hi\"\"\""),
            vec!["x,y", "say \"hi\""]
        );
    }
}

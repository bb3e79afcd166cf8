//! `chatroom user …`: an operator's account commands. Each one goes through
//! the same services as the API (the same rules, the same mail, the same
//! cut sockets), on a state built without a listener; they work while
//! servers run, against SQLite or PostgreSQL.

use crate::accounts::{moderation, profile, recovery, sessions};
use crate::auth::password::hash_password;
use crate::auth::sign_out::SignOutReason;
use crate::config::UserCommand;
use crate::db::rfc3339;
use crate::db::users::{self, User, UserWriteError};
use crate::domain::{Email, Password, Username};
use crate::error::AppError;
use crate::state::AppState;

/// Why a command failed: one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("no account is called {0:?}")]
    NoSuchUser(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    App(String),
}

impl From<AppError> for OperatorError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Validation(fields) => OperatorError::Invalid(
                fields
                    .iter()
                    .map(|(field, reason)| format!("{field} {reason}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => OperatorError::App(format!("{other}")),
        }
    }
}

impl From<sqlx::Error> for OperatorError {
    fn from(err: sqlx::Error) -> Self {
        OperatorError::App(format!("database: {err}"))
    }
}

async fn find(state: &AppState, name: &str) -> Result<User, OperatorError> {
    let username = Username::parse(name).map_err(|_| OperatorError::NoSuchUser(name.to_owned()))?;
    users::find_by_username(&state.db, username.as_str())
        .await?
        .ok_or_else(|| OperatorError::NoSuchUser(name.to_owned()))
}

/// Runs one command; `password` is what standard input held (for the
/// commands that read one). Returns what to print.
pub async fn run(
    state: &AppState,
    command: UserCommand,
    password: impl FnOnce() -> std::io::Result<String>,
) -> Result<String, OperatorError> {
    let read_password = |read: std::io::Result<String>| {
        read.map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| {
                OperatorError::Invalid(format!("cannot read the password from standard input: {e}"))
            })
    };
    match command {
        UserCommand::Create { name, email } => {
            let username = Username::parse(&name)
                .map_err(|reason| OperatorError::Invalid(format!("username {reason}")))?;
            let email = email
                .map(|raw| {
                    Email::parse(&raw)
                        .map_err(|reason| OperatorError::Invalid(format!("email {reason}")))
                })
                .transpose()?;
            let password = read_password(password())?;
            let password = Password::parse(&password, username.as_str())
                .map_err(|reason| OperatorError::Invalid(format!("password {reason}")))?;
            let hash = hash_password(password.expose().to_owned())
                .await
                .map_err(|e| OperatorError::App(e.to_string()))?;
            let user = users::create(
                &state.db,
                username.as_str(),
                &hash,
                email.as_ref().map(Email::as_str),
            )
            .await
            .map_err(|err| match err {
                UserWriteError::UsernameTaken => {
                    OperatorError::Invalid(format!("username {name:?} is taken"))
                }
                UserWriteError::EmailTaken => OperatorError::Invalid("email is taken".into()),
                UserWriteError::Db(err) => err.into(),
            })?;
            Ok(format!("created {} (id {})", user.username, user.id))
        }
        UserCommand::SetAdmin { name, admin } => {
            let user = find(state, &name).await?;
            users::set_admin(&state.db, user.id, admin).await?;
            Ok(format!(
                "{} is {}an admin",
                user.username,
                if admin { "" } else { "no longer " }
            ))
        }
        UserCommand::ResetPassword { name, link } => {
            let user = find(state, &name).await?;
            if link {
                let link = recovery::issue_reset_link(state, &user).await?;
                let ended =
                    sessions::end_all(state, user.id, None, SignOutReason::SessionEnded).await?;
                return Ok(format!(
                    "{link}\n({ended} sessions ended; the link works once, for 30 minutes)"
                ));
            }
            let password = read_password(password())?;
            let password = Password::parse(&password, &user.username)
                .map_err(|reason| OperatorError::Invalid(format!("password {reason}")))?;
            profile::set_password(state, &user, &password, None).await?;
            Ok(format!(
                "password of {} set; its sessions ended",
                user.username
            ))
        }
        UserCommand::Suspend { name } => {
            let user = find(state, &name).await?;
            moderation::suspend_account(state, &user).await?;
            Ok(format!("{} suspended", user.username))
        }
        UserCommand::Reinstate { name } => {
            let user = find(state, &name).await?;
            moderation::reinstate_account(state, &user).await?;
            Ok(format!("{} reinstated", user.username))
        }
        UserCommand::EndSessions { name } => {
            let user = find(state, &name).await?;
            let ended =
                sessions::end_all(state, user.id, None, SignOutReason::SessionEnded).await?;
            state
                .live
                .sign_out_user(user.id, SignOutReason::SessionEnded)
                .await;
            Ok(format!("{ended} sessions of {} ended", user.username))
        }
        UserCommand::List => {
            let mut out = String::from("id\tusername\tadmin\tsuspended\tcreated");
            for user in users::list(&state.db).await? {
                out.push_str(&format!(
                    "\n{}\t{}\t{}\t{}\t{}",
                    user.id,
                    user.username,
                    user.is_admin,
                    user.suspended,
                    rfc3339(user.created_at)
                ));
            }
            Ok(out)
        }
    }
}

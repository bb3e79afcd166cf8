//! Runtime settings: command-line flags with environment fallbacks
//! (docs/protocol.md, the README's configuration table).

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use url::Url;

/// chatroom — a self-hosted real-time chat server.
#[derive(Debug, Clone, Parser)]
#[command(name = "chatroom", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Operator subcommands; without one the server runs.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Copy a SQLite database into an empty PostgreSQL database (ids kept).
    MigrateToPostgres {
        /// The source, e.g. sqlite://data/chatroom.db
        #[arg(long)]
        from: String,
        /// The target, e.g. postgres://user@host/chatroom
        #[arg(long)]
        to: String,
    },
    /// Create many accounts at once, `<prefix>0` … (load tests, demos).
    SeedUsers {
        /// How many accounts.
        #[arg(long, default_value_t = 1000)]
        count: u32,
        /// Username prefix.
        #[arg(long, default_value = "user")]
        prefix: String,
        /// The password every seeded account gets.
        #[arg(long, env = "CHATROOM_SEED_PASSWORD")]
        password: String,
        /// Also open one session per account and write `username<TAB>cookie`
        /// lines to this file (for load tests).
        #[arg(long)]
        sessions_out: Option<std::path::PathBuf>,
    },
    /// Import the users of the old Flask app (users.txt, <name>.csv, static/).
    ImportLegacy {
        /// The old app's directory.
        dir: std::path::PathBuf,
    },
    /// Print the effective settings (secrets masked); exit 2 on a bad one.
    CheckConfig,
    /// Copy the SQLite database, consistently, while the server runs.
    Backup {
        /// Where the copy goes (must not exist yet).
        file: std::path::PathBuf,
    },
    /// Check a backup and put it in place of the SQLite database (the
    /// server must be stopped).
    Restore {
        /// A file made by `chatroom backup`.
        file: std::path::PathBuf,
    },
    /// Manage accounts (works while the server runs; sockets follow on every
    /// instance).
    #[command(subcommand)]
    User(UserCommand),
}

/// `chatroom user …`.
#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create an account; its password is read from standard input.
    Create {
        /// The username.
        name: String,
        /// Also its (unverified) recovery address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Make an account an admin (`true`) or not (`false`).
    SetAdmin {
        name: String,
        #[arg(action = clap::ArgAction::Set)]
        admin: bool,
    },
    /// Set a new password read from standard input, or with `--link` print a
    /// one-time reset link; either way the account's sessions end.
    ResetPassword {
        name: String,
        /// Print a reset link (valid 30 minutes) instead of reading a password.
        #[arg(long)]
        link: bool,
    },
    /// Suspend an account: its sessions end, its sockets are cut, logging in
    /// is refused until it is reinstated.
    Suspend { name: String },
    /// Reinstate a suspended account.
    Reinstate { name: String },
    /// End every session and socket of an account.
    EndSessions { name: String },
    /// One account a line: id, username, admin, suspended, created.
    List,
}

/// Every setting the server reads.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A TOML file with these same settings (keys: the variable names
    /// without `CHATROOM_`, in lower case). Flags beat the environment,
    /// which beats the file, which beats the defaults.
    #[arg(long, env = "CHATROOM_CONFIG")]
    pub config: Option<std::path::PathBuf>,

    /// Listen address.
    #[arg(long, env = "CHATROOM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Absolute base URL for links in mails; also the only allowed Origin.
    /// Defaults to `http://<bind>`.
    #[arg(long, env = "CHATROOM_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<Url>,

    /// Prefix of every Redis key and channel, so several deployments (or
    /// test runs) can share one Redis.
    #[arg(long, env = "CHATROOM_REDIS_PREFIX", default_value = "chatroom")]
    pub redis_prefix: String,

    /// `sqlite://…` or `postgres://…`.
    #[arg(
        long,
        env = "CHATROOM_DATABASE_URL",
        default_value = "sqlite://data/chatroom.db",
        value_parser = parse_database_url
    )]
    pub database_url: String,

    /// When set, chat fan-out and presence go through Redis.
    #[arg(long, env = "CHATROOM_REDIS_URL", value_parser = parse_redis_url)]
    pub redis_url: Option<Url>,

    /// `smtp://host:port`, `smtp://user:pass@host:587?tls=required`, `smtps://…`;
    /// unset: mails are written to `<data>/outbox/*.eml`.
    #[arg(long, env = "CHATROOM_SMTP_URL", value_parser = parse_smtp_url)]
    pub smtp_url: Option<Url>,

    /// Sender address of every mail.
    #[arg(
        long,
        env = "CHATROOM_MAIL_FROM",
        default_value = "chatroom <noreply@localhost>"
    )]
    pub mail_from: String,

    /// `Secure` attribute on cookies; defaults to true when the public URL is https.
    #[arg(long, env = "CHATROOM_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,

    /// Broadcast writes (messages, edits, deletes, reactions) per second per
    /// account, over REST and the socket alike; bursts of up to
    /// max(10, 5 × this) pass.
    #[arg(long, env = "CHATROOM_CHAT_RATE", default_value_t = 2.0, value_parser = parse_rate)]
    pub chat_rate: f64,

    /// Failed logins allowed per 15 minutes, per IP address and per account.
    #[arg(long, env = "CHATROOM_LOGIN_LIMIT", default_value_t = 20)]
    pub login_limit: u32,

    /// Registrations allowed per hour per IP address.
    #[arg(long, env = "CHATROOM_REGISTER_LIMIT", default_value_t = 20)]
    pub register_limit: u32,

    /// Concurrent TCP connections allowed per client address.
    #[arg(long, env = "CHATROOM_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Packets a chat socket may have waiting; a socket found full is
    /// disconnected (with the rest of its room) rather than skipped.
    #[arg(long, env = "CHATROOM_SOCKET_BUFFER", default_value_t = crate::live::delivery::SOCKET_BUFFER,
          value_parser = clap::value_parser!(u32).range(16..=1_048_576))]
    pub socket_buffer: u32,

    /// How SQLite commits: `full` (every acknowledged message is on disk,
    /// even after a power loss) or `normal` (survives a crash of the
    /// process, not of the machine; faster on slow disks).
    #[arg(long, env = "CHATROOM_SQLITE_SYNCHRONOUS", default_value = "full")]
    pub sqlite_synchronous: crate::db::SqliteSync,

    /// Where to answer `GET /metrics` (Prometheus text format), on a
    /// listener of its own; unset: no metrics.
    #[arg(long, env = "CHATROOM_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Seconds to keep serving after SIGTERM while `/readyz` answers 503,
    /// so a load balancer that polls it stops sending traffic first.
    #[arg(long, env = "CHATROOM_DRAIN_SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub drain_seconds: u64,

    /// Bytes per attached file (docs/attachments.md).
    #[arg(long, env = "CHATROOM_MAX_UPLOAD", default_value_t = 26_214_400,
          value_parser = clap::value_parser!(u64).range(1..=(1_u64 << 40)))]
    pub max_upload: u64,

    /// Bytes of stored attachments per account.
    #[arg(long, env = "CHATROOM_UPLOAD_QUOTA", default_value_t = 1_073_741_824,
          value_parser = clap::value_parser!(u64).range(0..=(1_u64 << 50)))]
    pub upload_quota: u64,

    /// Seconds an uploaded attachment that was never sent is kept.
    #[arg(long, env = "CHATROOM_UNSENT_UPLOAD_SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=(1_u64 << 32)))]
    pub unsent_upload_seconds: u64,

    /// Seconds a direct message or a mention stays unread (by someone with
    /// no open socket) before it is mailed to their verified address; at
    /// most one such mail per account per this many seconds.
    #[arg(long, env = "CHATROOM_MISSED_MAIL_DELAY", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=MAX_MISSED_MAIL_DELAY))]
    pub missed_mail_delay: u64,

    /// `text` or `json`.
    #[arg(long, env = "CHATROOM_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// The longest missed-message mail delay, in seconds (30 days).
pub const MAX_MISSED_MAIL_DELAY: u64 = 30 * 24 * 3600;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The public base URL, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// The origin (`scheme://host[:port]`) browsers send for our own pages.
    pub fn public_origin(&self) -> String {
        match &self.public_url {
            Some(url) => url.origin().ascii_serialization(),
            None => format!("http://{}", self.bind),
        }
    }

    /// Whether cookies carry `Secure`.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| {
            self.public_url
                .as_ref()
                .is_some_and(|url| url.scheme() == "https")
        })
    }

    /// Whether the public URL is https (enables HSTS).
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    }

    /// The directory that holds local data (the outbox); next to the SQLite
    /// file, or `./data` for PostgreSQL.
    pub fn data_dir(&self) -> std::path::PathBuf {
        crate::db::sqlite_path(&self.database_url)
            .and_then(|path| path.parent().map(|p| p.to_path_buf()))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| std::path::PathBuf::from("data"))
    }
}

fn parse_public_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err("must be an absolute http:// or https:// URL".into()),
    }
}

fn parse_database_url(value: &str) -> Result<String, String> {
    if value.starts_with("sqlite:") {
        Ok(value.to_owned())
    } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Url::parse(value).map_err(|e| e.to_string())?;
        Ok(value.to_owned())
    } else {
        Err("must start with sqlite:// or postgres://".into())
    }
}

fn parse_redis_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| e.to_string())?;
    match url.scheme() {
        "redis" | "rediss" => Ok(url),
        _ => Err("must start with redis:// or rediss://".into()),
    }
}

fn parse_smtp_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| e.to_string())?;
    match url.scheme() {
        "smtp" | "smtps" if url.host().is_some() => Ok(url),
        _ => Err("must be smtp://host:port or smtps://host:port".into()),
    }
}

fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value.parse().map_err(|_| "must be a number".to_string())?;
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err("must be a positive number".into())
    }
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A flag or a variable is wrong (clap's own message).
    #[error("{0}")]
    Cli(#[from] clap::Error),
    #[error("CHATROOM_CONFIG: cannot read {0}: {1}")]
    Read(std::path::PathBuf, std::io::Error),
    #[error("CHATROOM_CONFIG: {0} is not valid TOML: {1}")]
    Toml(std::path::PathBuf, String),
    #[error("CHATROOM_CONFIG: {0}: unknown setting `{1}`")]
    Unknown(std::path::PathBuf, String),
    #[error("CHATROOM_CONFIG: {0}: `{1}` must be a string, a number or a boolean")]
    Shape(std::path::PathBuf, String),
}

impl Cli {
    /// Reads flags, the environment and (when `--config` or
    /// `CHATROOM_CONFIG` names one) a TOML file, in that order of
    /// precedence; every value goes through the same parsers either way.
    pub fn load_from<I, T>(args: I) -> Result<Cli, SettingsError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};

        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let matches = Cli::command().try_get_matches_from(&args)?;
        let first = Cli::from_arg_matches(&matches)?;
        let Some(path) = first.config.config.clone() else {
            return Ok(first);
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| SettingsError::Read(path.clone(), e))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            // One line: where, and what.
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let reason = match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_owned(),
            };
            SettingsError::Toml(path.clone(), reason)
        })?;
        let command = Cli::command();
        let mut from_file: Vec<std::ffi::OsString> = Vec::new();
        for (key, value) in table {
            let known = command
                .get_arguments()
                .find(|arg| arg.get_id().as_str() == key && key != "config");
            let Some(arg) = known else {
                return Err(SettingsError::Unknown(path.clone(), key));
            };
            // Given as a flag or in the environment: that wins.
            if matches!(
                matches.value_source(&key),
                Some(ValueSource::CommandLine) | Some(ValueSource::EnvVariable)
            ) {
                continue;
            }
            let text = match value {
                toml::Value::String(text) => text,
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(n) => n.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(SettingsError::Shape(path.clone(), key)),
            };
            let long = arg.get_long().unwrap_or(key.as_str());
            from_file.push(format!("--{long}={text}").into());
        }
        let mut all = Vec::with_capacity(args.len() + from_file.len());
        all.extend(args.first().cloned());
        all.extend(from_file);
        all.extend(args.iter().skip(1).cloned());
        Ok(Cli::try_parse_from(all)?)
    }
}

/// A URL with its password (if any) replaced by `***`.
fn masked(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// The effective settings as `CHATROOM_*` names and values, secrets
    /// masked (`chatroom check-config`).
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let opt = |value: Option<String>| value.unwrap_or_else(|| "(unset)".to_owned());
        vec![
            (
                "CHATROOM_CONFIG",
                opt(self.config.as_ref().map(|p| p.display().to_string())),
            ),
            ("CHATROOM_BIND", self.bind.to_string()),
            ("CHATROOM_PUBLIC_URL", self.public_base()),
            ("CHATROOM_DATABASE_URL", masked(&self.database_url)),
            (
                "CHATROOM_REDIS_URL",
                opt(self.redis_url.as_ref().map(|u| masked(u.as_str()))),
            ),
            ("CHATROOM_REDIS_PREFIX", self.redis_prefix.clone()),
            (
                "CHATROOM_SMTP_URL",
                opt(self.smtp_url.as_ref().map(|u| masked(u.as_str()))),
            ),
            ("CHATROOM_MAIL_FROM", self.mail_from.clone()),
            ("CHATROOM_SECURE_COOKIES", self.cookies_secure().to_string()),
            ("CHATROOM_CHAT_RATE", self.chat_rate.to_string()),
            ("CHATROOM_LOGIN_LIMIT", self.login_limit.to_string()),
            ("CHATROOM_REGISTER_LIMIT", self.register_limit.to_string()),
            (
                "CHATROOM_MAX_CONNECTIONS_PER_IP",
                self.max_connections_per_ip.to_string(),
            ),
            ("CHATROOM_SOCKET_BUFFER", self.socket_buffer.to_string()),
            (
                "CHATROOM_METRICS_BIND",
                opt(self.metrics_bind.map(|a| a.to_string())),
            ),
            ("CHATROOM_DRAIN_SECONDS", self.drain_seconds.to_string()),
            ("CHATROOM_MAX_UPLOAD", self.max_upload.to_string()),
            ("CHATROOM_UPLOAD_QUOTA", self.upload_quota.to_string()),
            (
                "CHATROOM_UNSENT_UPLOAD_SECONDS",
                self.unsent_upload_seconds.to_string(),
            ),
            (
                "CHATROOM_MISSED_MAIL_DELAY",
                self.missed_mail_delay.to_string(),
            ),
            (
                "CHATROOM_SQLITE_SYNCHRONOUS",
                format!("{:?}", self.sqlite_synchronous).to_lowercase(),
            ),
            (
                "CHATROOM_LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
        ]
    }

    /// Checks what can be checked without connecting to anything: the
    /// settings that parse only at start (the sender address).
    pub fn validate(&self) -> Result<(), String> {
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("CHATROOM_MAIL_FROM: {e}"))?;
        Ok(())
    }
}

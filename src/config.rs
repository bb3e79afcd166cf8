//! Runtime settings: command-line flags with environment fallbacks (SPEC §1).

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
}

/// Every setting the server reads.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
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

    /// Chat messages per second allowed per account (bursts of up to ten times
    /// this are absorbed).
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

    /// `text` or `json`.
    #[arg(long, env = "CHATROOM_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

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

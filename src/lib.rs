//! chatroom: a self-hosted real-time chat server.
//!
//! [`Application::build`] is the only wiring: it binds the listener, opens
//! the database, and assembles routes and layers. `main` and every test use
//! the same path.

pub mod accounts;
pub mod admin;
pub mod attachments;
pub mod auth;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod live;
pub mod mail;
pub mod messages;
pub mod missed_mail;
pub mod monitoring;
pub mod people;
pub mod rooms;
pub mod state;
pub mod views;
pub mod web;

mod listener;
mod server;
pub mod severable;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Extension, Router};
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::RequestBodyDeadlineLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::rate_limit::RateLimits;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::db::Db;
use crate::live::bus::ClusterAdapter;
use crate::live::redis_driver::ResilientDriver;
use crate::live::{Bus, Live};
use crate::mail::{Mailer, Transport};
use crate::messages::Messages;
use crate::state::{AppState, Inner};
use socketioxide_redis::{RedisAdapterConfig, RedisAdapterCtr};

/// Largest JSON or form body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why the server could not start; each names the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("CHATROOM_BIND: cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("CHATROOM_DATABASE_URL: {0}")]
    Database(#[from] db::ConnectError),
    #[error("CHATROOM_SMTP_URL: {0}")]
    Smtp(anyhow::Error),
    #[error("CHATROOM_MAIL_FROM: {0}")]
    MailFrom(String),
    #[error("outbox directory: {0}")]
    Outbox(anyhow::Error),
    #[error("CHATROOM_REDIS_URL: {0}")]
    Redis(String),
    #[error("CHATROOM_DATABASE_URL: {0}")]
    Lock(String),
    #[error("CHATROOM_METRICS_BIND: cannot listen on {0}: {1}")]
    Metrics(SocketAddr, std::io::Error),
}

/// A built server, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    state: AppState,
    /// Held while serving: a SQLite file is one server's (see
    /// [`db::lock_sqlite`]).
    database_lock: Option<std::fs::File>,
    /// Where `/metrics` is answered, when it is.
    metrics_addr: Option<SocketAddr>,
}

enum SocketLayer {
    Local(socketioxide::layer::SocketIoLayer),
    Redis(socketioxide::layer::SocketIoLayer<ClusterAdapter>),
}

impl Application {
    /// Binds, connects, migrates and assembles the app.
    pub async fn build(mut config: Config) -> Result<Self, StartError> {
        let listener =
            listener::listen(config.bind).map_err(|e| StartError::Bind(config.bind, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(config.bind, e))?;
        // With port 0 the real port is only known now.
        config.bind = addr;
        let database_lock = db::lock_sqlite(&config.database_url).map_err(|err| {
            StartError::Lock(match err.kind() {
                std::io::ErrorKind::WouldBlock => {
                    "the SQLite database is in use by another chatroom server".to_owned()
                }
                _ => format!("cannot lock the SQLite database: {err}"),
            })
        })?;

        let metrics_bind = config.metrics_bind;
        let (state, socket_layer) = connect(config, true).await?;
        let metrics_addr = match metrics_bind {
            Some(bind) => {
                monitoring::install();
                Some(
                    monitoring::serve(bind, state.clone())
                        .await
                        .map_err(|e| StartError::Metrics(bind, e))?,
                )
            }
            None => None,
        };
        chat::spawn_session_sweep(state.clone());
        attachments::spawn_sweep(state.clone());
        spawn_housekeeping(state.clone());
        missed_mail::spawn_worker(state.clone());
        auth::password::warm_up();

        let (api, openapi) = OpenApiRouter::with_openapi(web::api_doc::ApiDoc::openapi())
            .merge(accounts::api::router())
            .merge(messages::api::router())
            .merge(attachments::api::router(state.config.max_upload))
            .merge(rooms::api::router())
            .merge(people::router())
            .merge(accounts::moderation::router())
            .routes(routes!(web::health::healthz))
            .routes(routes!(web::health::readyz))
            .routes(routes!(web::api_doc::serve))
            .split_for_parts();
        web::api_doc::publish(&openapi);
        let router = api
            .merge(accounts::pages::router())
            .merge(web::addresses::router())
            .merge(accounts::profile_pages::router())
            .merge(accounts::recovery_pages::router())
            .merge(missed_mail::unsubscribe::router())
            .route("/static/{*path}", get(web::assets::serve))
            .route("/avatars/default/{file}", get(web::avatars::default))
            .route("/avatars/{user_id}/{file}", get(web::avatars::photo))
            .route("/attachments/{token}", get(attachments::api::download))
            .route(
                "/attachments/{token}/thumbnail",
                get(attachments::api::thumbnail),
            )
            .fallback(web::not_found)
            .layer(middleware::from_fn(monitoring::track_requests))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(state.clone());
        let router = match socket_layer {
            SocketLayer::Local(layer) => router.layer(layer),
            SocketLayer::Redis(layer) => router.layer(layer),
        };
        // Stored files go out as stored (docs/attachments.md).
        let compression = CompressionLayer::new()
            .compress_when(DefaultPredicate::new().and(attachments::api::not_a_stored_file));
        let router = router
            .layer(Extension(state.clone()))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                auth::csrf::origin_guard,
            ))
            .layer(RequestBodyDeadlineLayer::new(server::BODY_TIMEOUT))
            .layer(compression)
            .layer(middleware::from_fn_with_state(
                state.clone(),
                web::security::headers,
            ))
            .layer(middleware::from_fn(server::log_request));

        Ok(Application {
            listener,
            addr,
            router,
            state,
            database_lock,
            metrics_addr,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /metrics` is answered, when `CHATROOM_METRICS_BIND` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared state (for tests and subcommands).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then closes live sockets and lets
    /// in-flight requests finish.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        let max_per_ip = self.state.config.max_connections_per_ip;
        let live = self.state.live.clone();
        let _database_lock = self.database_lock;
        let state = self.state.clone();
        let drain = Duration::from_secs(self.state.config.drain_seconds);
        // Shutdown begins: not ready any more, still serving for `drain`.
        let shutdown = async move {
            shutdown.await;
            state
                .draining
                .store(true, std::sync::atomic::Ordering::SeqCst);
            monitoring::draining(true);
            if !drain.is_zero() {
                tracing::info!(seconds = drain.as_secs(), "draining: /readyz answers 503");
                tokio::time::sleep(drain).await;
            }
        };
        server::serve(self.listener, self.router, live, max_per_ip, shutdown).await;
    }
}

/// Connects to the database (migrating it), Redis and the mail queue and
/// starts the live parts: everything a running server — or an operator
/// command acting like one (`serving: false`: no mail worker) — shares.
async fn connect(config: Config, serving: bool) -> Result<(AppState, SocketLayer), StartError> {
    let db = Db::connect_with(&config.database_url, config.sqlite_synchronous).await?;
    let from = config
        .mail_from
        .parse()
        .map_err(|e: lettre::address::AddressError| StartError::MailFrom(e.to_string()))?;
    let transport = match &config.smtp_url {
        Some(url) => Transport::smtp(url.as_str()).map_err(StartError::Smtp)?,
        None => Transport::outbox(config.data_dir().join("outbox")).map_err(StartError::Outbox)?,
    };
    let mailer = Mailer::new(db.clone(), config.smtp_url.is_none());
    if serving {
        mail::spawn_worker(db.clone(), transport, from, mailer.wake_signal());
    }

    let cluster = match &config.redis_url {
        Some(url) => Some(
            Cluster::connect(url, &config.redis_prefix)
                .await
                .map_err(|e| StartError::Redis(e.to_string()))?,
        ),
        None => None,
    };
    let builder = SocketIo::builder()
        .max_payload(64 * 1024)
        .max_buffer_size(config.socket_buffer as usize)
        // Chat frames are small; a larger one is read in several steps.
        // Every idle socket keeps this buffer (default 4 KiB).
        .ws_read_buffer_size(1024)
        .ping_interval(Duration::from_secs(20))
        .ping_timeout(Duration::from_secs(20));
    let (bus, socket_layer) = match &cluster {
        None => {
            let (layer, io) = builder.build_layer();
            (Bus::Local(io), SocketLayer::Local(layer))
        }
        Some(cluster) => {
            let adapter_config = RedisAdapterConfig::default().with_prefix(cluster.prefix.clone());
            let driver = ResilientDriver::new(&cluster.client)
                .await
                .map_err(|e| StartError::Redis(e.to_string()))?;
            let adapter = RedisAdapterCtr::new_with_driver(driver, adapter_config);
            let (layer, io) = builder
                .with_adapter::<ClusterAdapter>(adapter)
                .build_layer();
            (Bus::Redis(io), SocketLayer::Redis(layer))
        }
    };
    let live = Live::start(bus, db.clone(), cluster.as_ref())
        .await
        .map_err(StartError::Redis)?;
    let messages = Messages::start(db.clone(), &live, config.chat_rate);
    let limits = RateLimits::new(config.login_limit, config.register_limit, cluster.as_ref());
    let state = AppState::new(Inner {
        config,
        db,
        limits,
        mailer,
        live,
        messages,
        cluster,
        draining: Default::default(),
    });
    chat::register(state.live.bus())
        .await
        .map_err(StartError::Redis)?;
    Ok((state, socket_layer))
}

/// The shared state without a listener, for operator commands: changes
/// made through it reach running servers' sockets like a server's own
/// (through Redis at once; alone, through their session sweep).
pub async fn headless(config: Config) -> Result<AppState, StartError> {
    Ok(connect(config, false).await?.0)
}

/// Periodic clean-up: expired sessions and login devices.
fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match db::sessions::purge_expired(&state.db).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions removed"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "session clean-up failed"),
            }
            match db::devices::purge_expired(&state.db).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "unused login devices removed"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "login device clean-up failed"),
            }
        }
    });
}

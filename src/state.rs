//! The state every handler shares; cheap to clone.

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::rate_limit::RateLimits;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::db::Db;
use crate::live::Live;
use crate::mail::Mailer;
use crate::messages::handle::Messages;

/// Shared handles: configuration, database, limits, mail, live sockets,
/// the message writer.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] points to.
pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub limits: RateLimits,
    pub mailer: Mailer,
    pub live: Live,
    pub messages: Messages,
    /// Redis, when several instances act as one.
    pub cluster: Option<Cluster>,
    /// Set once shutdown began: `/readyz` answers 503.
    pub draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

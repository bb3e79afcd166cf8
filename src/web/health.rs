//! `GET /healthz`: 200 when the database (and Redis, when configured) answer.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// `{"status", "database", "redis"?}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
#[allow(dead_code)]
struct HealthDoc {
    /// `ok`, `degraded` (Redis away) or `unavailable`.
    status: String,
    /// `ok` or `unavailable`.
    database: String,
    /// With Redis configured: `ok` or `unavailable`.
    #[schema(nullable = false)]
    redis: Option<String>,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    summary = "Whether the database (and Redis, when configured) answer",
    responses(
        (status = 200, description = "Healthy", body = HealthDoc),
        (status = 503, description = "Unhealthy", body = HealthDoc),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let limit = Duration::from_secs(3);
    let database_ok = matches!(
        tokio::time::timeout(limit, state.db.ping()).await,
        Ok(Ok(()))
    );
    let mut body = json!({ "database": if database_ok { "ok" } else { "unavailable" } });
    let mut healthy = database_ok;
    if let Some(cluster) = &state.cluster {
        let redis_ok = tokio::time::timeout(limit, cluster.ping())
            .await
            .unwrap_or(false);
        body["redis"] = json!(if redis_ok { "ok" } else { "unavailable" });
        healthy &= redis_ok;
        if database_ok && !redis_ok {
            body["status"] = json!("degraded");
        }
    }
    if body.get("status").is_none() {
        body["status"] = json!(if healthy { "ok" } else { "unavailable" });
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// `GET /readyz`: whether this instance should get traffic — the database
/// (and Redis, when configured) answer, and it is not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    summary = "Whether this instance should get traffic: database (and Redis) reachable, not draining",
    responses(
        (status = 200, description = "Ready", body = HealthDoc),
        (status = 503, description = "Not ready (`status`: `draining` or `unavailable`)", body = HealthDoc),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let draining = state.draining.load(std::sync::atomic::Ordering::SeqCst);
    let limit = Duration::from_secs(3);
    let database_ok = matches!(
        tokio::time::timeout(limit, state.db.ping()).await,
        Ok(Ok(()))
    );
    let mut body = json!({ "database": if database_ok { "ok" } else { "unavailable" } });
    let mut ready = database_ok && !draining;
    if let Some(cluster) = &state.cluster {
        let redis_ok = tokio::time::timeout(limit, cluster.ping())
            .await
            .unwrap_or(false);
        body["redis"] = json!(if redis_ok { "ok" } else { "unavailable" });
        ready &= redis_ok;
    }
    body["status"] = json!(if draining {
        "draining"
    } else if ready {
        "ok"
    } else {
        "unavailable"
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

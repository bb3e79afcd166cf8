//! The Socket.IO transport (docs/protocol.md): the connection gate, the
//! typed event payloads, the event handlers — thin adapters over the
//! services — and the sweep that cuts sockets whose session ended.

mod events;
mod gate;
mod payloads;
mod sweep;
mod user;

use socketioxide::adapter::LocalAdapter;
use socketioxide::handler::ConnectHandler;

use crate::live::bus::ClusterAdapter;
use crate::live::Bus;
use crate::state::AppState;
pub use sweep::spawn_session_sweep;

/// Registers the default namespace, whichever adapter the server runs on.
pub async fn register(bus: &Bus) -> Result<(), String> {
    match bus {
        Bus::Local(io) => {
            io.ns(
                "/",
                gate::on_connect::<LocalAdapter>.with(gate::authenticate::<LocalAdapter>),
            );
            Ok(())
        }
        Bus::Redis(io) => io
            .ns(
                "/",
                gate::on_connect::<ClusterAdapter>.with(gate::authenticate::<ClusterAdapter>),
            )
            .await
            .map_err(|e| e.to_string()),
    }
}

/// Closes this instance's sockets (at shutdown).
pub async fn close(state: &AppState) {
    state.live.close().await;
}

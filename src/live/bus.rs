//! The Socket.IO server, with the in-process adapter or the Redis adapter
//! (several instances act as one). Everything that broadcasts goes through here.

use serde::Serialize;
use socketioxide::adapter::{Emitter, LocalAdapter};
use socketioxide::SocketIo;
use socketioxide_redis::CustomRedisAdapter;

use super::redis_driver::ResilientDriver;

/// The Socket.IO Redis adapter over our reconnecting driver.
pub type ClusterAdapter = CustomRedisAdapter<Emitter, ResilientDriver>;

/// The Socket.IO server behind the Redis adapter.
pub type RedisIo = SocketIo<ClusterAdapter>;

const CLOSED: &str = "the chat is shut down";

/// The Socket.IO server, whichever adapter it runs on.
#[derive(Clone)]
pub enum Bus {
    Local(SocketIo<LocalAdapter>),
    Redis(RedisIo),
}

/// Runs `$body` with `$io` bound to the server, whichever adapter it has
/// (the two are different types, so one arm per adapter).
macro_rules! with_io {
    ($bus:expr, $io:ident => $body:expr) => {
        match $bus {
            $crate::live::bus::Bus::Local($io) => $body,
            $crate::live::bus::Bus::Redis($io) => $body,
        }
    };
}
pub(crate) use with_io;

impl Bus {
    /// Sends an event to every socket in a room, on every instance.
    pub async fn emit_to<T: Serialize + ?Sized>(
        &self,
        room: &str,
        event: &str,
        data: &T,
    ) -> Result<(), String> {
        let room = room.to_owned();
        // `io.to` panics once the namespace is gone (at shutdown).
        with_io!(self, io => match io.of("/") {
            Some(ns) => ns.to(room).emit(event, data).await.map_err(|e| e.to_string()),
            None => Err(CLOSED.into()),
        })
    }

    /// Sends an event to every socket in room `to` that is not also in
    /// room `except`, on every instance.
    pub async fn emit_to_except<T: Serialize + ?Sized>(
        &self,
        to: &str,
        except: &str,
        event: &str,
        data: &T,
    ) -> Result<(), String> {
        let (to, except) = (to.to_owned(), except.to_owned());
        with_io!(self, io => match io.of("/") {
            Some(ns) => ns
                .to(to)
                .except(except)
                .emit(event, data)
                .await
                .map_err(|e| e.to_string()),
            None => Err(CLOSED.into()),
        })
    }

    /// Disconnects every socket in a room, on every instance.
    pub async fn disconnect_room(&self, room: String) -> Result<(), String> {
        with_io!(self, io => match io.of("/") {
            Some(ns) => ns.to(room).disconnect().await.map_err(|e| e.to_string()),
            None => Err(CLOSED.into()),
        })
    }

    /// Makes every socket in room `from` (on every instance) join `room`.
    pub async fn join_room(&self, from: String, room: String) -> Result<(), String> {
        with_io!(self, io => match io.of("/") {
            Some(ns) => ns.to(from).join(room).await.map_err(|e| e.to_string()),
            None => Err(CLOSED.into()),
        })
    }

    /// Makes every socket in room `from` (on every instance) leave `room`.
    pub async fn leave_room(&self, from: String, room: String) -> Result<(), String> {
        with_io!(self, io => match io.of("/") {
            Some(ns) => ns.to(from).leave(room).await.map_err(|e| e.to_string()),
            None => Err(CLOSED.into()),
        })
    }

    /// Closes this instance's sockets (at shutdown).
    pub async fn close(&self) {
        with_io!(self, io => io.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socketioxide::extract::SocketRef;

    #[tokio::test]
    async fn emitting_after_shutdown_is_an_error_not_a_panic() {
        let (_layer, io) = SocketIo::builder().build_layer();
        io.ns("/", async |_: SocketRef| {});
        let bus = Bus::Local(io);
        assert!(bus.emit_to("global", "presence_diff", &1).await.is_ok());
        bus.close().await;
        assert!(bus.emit_to("global", "presence_diff", &1).await.is_err());
    }
}

//! The floor: a bare socketioxide broadcast server (no auth, no storage).
//! `message` is acknowledged and broadcast to everyone, the sender included,
//! exactly the shape of work chatroom does minus everything else.

use axum::serve::ListenerExt;
use clap::Parser;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

#[derive(Parser)]
struct Args {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (layer, io) = SocketIo::builder().build_layer();
    let broadcaster = io.clone();
    io.ns("/", move |socket: SocketRef| {
        let io = broadcaster.clone();
        socket.on("message", move |Data(data): Data<Value>, ack: AckSender| {
            let io = io.clone();
            async move {
                let _ = io.emit("message", &data).await;
                let _ = ack.send(&json!({ "ok": true }));
            }
        });
        async {}
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    println!("floor listening on http://{}", listener.local_addr()?);
    // Without TCP_NODELAY small acks wait on delayed ACKs (~40 ms stalls).
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            eprintln!("failed to set TCP_NODELAY: {err}");
        }
    });
    axum::serve(listener, app).await?;
    Ok(())
}

//! Pictures and files in messages (docs/attachments.md): uploading to a
//! conversation, serving to whoever may read it, and the sweep of uploads
//! never sent. Sending them with a message is the message service's
//! (`messages::attach`); the bytes live in the database (`db::attachments`).

pub mod api;
pub mod service;
mod sweep;

pub use sweep::{spawn_sweep, sweep};

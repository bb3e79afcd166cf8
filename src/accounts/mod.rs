//! Accounts: registration, login, profile and recovery, as JSON API routes
//! and as server-rendered pages, over one set of rules in `service`.

pub mod api;
pub mod moderation;
pub mod pages;
pub mod profile;
pub mod profile_pages;
pub mod recovery;
pub mod recovery_pages;
pub mod service;
pub mod sessions;

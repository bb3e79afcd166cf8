//! Authentication pieces shared by every feature: password hashing, secrets,
//! sessions, device cookies, CSRF and rate limits.

pub mod csrf;
pub mod device;
pub mod password;
pub mod rate_limit;
pub mod secret;
pub mod session;
pub mod sign_out;

pub use session::{CurrentUser, MaybeUser};

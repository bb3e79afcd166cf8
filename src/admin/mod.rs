//! Operator subcommands that work on the database directly.

pub mod legacy;
pub mod migrate;
pub mod seed;

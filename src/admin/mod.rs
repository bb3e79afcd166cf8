//! Operator subcommands that work on the database directly.

pub mod backup;
pub mod legacy;
pub mod migrate;
pub mod operator;
pub mod seed;

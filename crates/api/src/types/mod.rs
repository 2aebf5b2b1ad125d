//! Wire types. Only derives here: behaviour lives in the crates that convert them.

pub mod auth;
pub mod blob;
pub mod context;
pub mod env;
pub mod events;
pub mod initialize;
pub mod intake;
pub mod items;
pub mod mcp;
pub mod memory;
pub mod models;
pub mod operator;
pub mod run;
pub mod schedule;
pub mod session;
pub mod universe;
pub mod vfs;

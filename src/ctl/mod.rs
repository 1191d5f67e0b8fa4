//! The control socket: JSON lines between the CLI and the daemon.
//!
//! `proto` holds the request/response and status document types (pure data,
//! shared with the core, which answers requests). The client and server ends
//! that touch the unix socket live beside it.

pub mod cli;
pub mod client;
pub mod proto;
pub mod render;

//! ha: a high-availability cluster in one small static binary.
//!
//! Layers, from the edges inward (see DESIGN.md in the shared folder and the
//! README's architecture section):
//!
//! - `main.rs` and [`ctl`]: the command line and the control socket.
//! - [`daemon`]: smol tasks, UDP sockets, timers, signals; it feeds real
//!   events to the core and carries out what the core asks through
//!   [`agents`] and [`fence`].
//! - The pure core, which never does I/O and takes time as an input:
//!   [`wire`], [`membership`], [`quorum`], [`election`], [`cib`], [`policy`],
//!   [`transition`], composed by [`node::Node`].
//! - [`sim`]: a seeded simulator that drives many `Node`s over a simulated
//!   network and clock and checks the safety invariants on every step.

pub mod agents;
pub mod cib;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod election;
pub mod fence;
pub mod membership;
pub mod node;
pub mod policy;
pub mod quorum;
pub mod rng;
pub mod score;
pub mod sim;
pub mod time;
pub mod transition;
pub mod wire;

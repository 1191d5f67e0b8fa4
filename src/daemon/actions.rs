//! The seam between the daemon and whatever carries out the node's actions
//! (resource agents, fence drivers).
//!
//! The daemon hands every `Action` from `Node::poll_action` to an
//! [`ActionRunner`] and feeds the outcome back with `handle_action_done`.
//! Runners must report every action exactly once, also on timeout, or the
//! node waits for it forever.

use smol::channel::Sender;

use crate::node::{Action, ActionId, ActionKind, Outcome};

/// Carries out actions and reports their outcome on `done`.
pub trait ActionRunner {
    fn run(&mut self, action: Action, done: Sender<(ActionId, Outcome)>);
}

/// Used until the agents are wired in: every action fails at once with
/// OCF_ERR_INSTALLED (rc 5), so the node sees an honest failure instead of
/// an action that never ends, and `ha status` shows why.
pub struct NoAgents;

impl ActionRunner for NoAgents {
    fn run(&mut self, action: Action, done: Sender<(ActionId, Outcome)>) {
        let what = match &action.kind {
            ActionKind::Start { resource } => format!("start {resource}"),
            ActionKind::Stop { resource } => format!("stop {resource}"),
            ActionKind::Monitor { resource } => format!("monitor {resource}"),
            ActionKind::Probe { resource } => format!("probe {resource}"),
            ActionKind::Fence { target } => format!("fence {target}"),
        };
        log::error!("action failed: {what} reason=\"no agent runner in this build\"");
        let outcome = Outcome::Failed {
            rc: 5,
            reason: "agent not available".to_string(),
        };
        // The receiver lives as long as the daemon loop; a failed send means
        // the daemon is exiting and nobody waits for the result.
        let _ = done.try_send((action.id, outcome));
    }
}

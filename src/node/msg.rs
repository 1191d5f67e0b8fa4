//! The node's own messages, carried in sealed packets next to heartbeats.
//!
//! The protocol is level-triggered: each message carries the sender's whole
//! current view of what it is about, so a lost or reordered message is
//! repaired by the next one instead of by per-message acknowledgements.
//! - [`Report`] (member -> DC): local resource states, results of the DC's
//!   actions, failures and operator requests not yet acknowledged; sent on
//!   change and re-sent every tick until the DC acknowledges its `seq`.
//! - [`Command`] (DC -> member): the actions the DC wants the member to run
//!   (re-sent until their results arrive), and acknowledgements.
//! - `Cib`: the encoded replicated state (DC -> member when the member's
//!   epoch lags; member -> DC when the member's copy has a higher key).
//! - `Leave`: a clean shutdown (every local resource stopped).
//!
//! Encoded messages larger than one datagram are split into [`Fragment`]s;
//! the receiver reassembles per (sender, message id) and drops incomplete
//! ones when newer messages arrive. Decoding never panics.

use crate::cib::codec::{Reader, Writer};
use crate::cib::{CibKey, ResourceState};
use crate::node::Outcome;

/// Largest fragment payload; with headers and the AEAD tag a datagram stays
/// under ~1200 bytes, below every common MTU.
pub const FRAGMENT_MAX: usize = 1000;

/// An action the DC asks a member to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteAction {
    /// Unique within the DC's incarnation.
    pub id: u64,
    pub start: bool,
    pub resource: String,
    pub timeout_ms: u64,
}

/// Member -> DC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The DC view this report is for (echoed from the DC's command).
    pub view: u64,
    /// Increases with every change within the sender's incarnation.
    pub seq: u64,
    pub config_hash: [u8; 32],
    pub cib_key: CibKey,
    /// Every resource has been probed since start-up.
    pub probed: bool,
    /// The sender is shutting down and wants no new resources.
    pub leaving: bool,
    pub states: Vec<(String, ResourceState)>,
    pub results: Vec<(u64, Outcome)>,
    /// (seq, resource, op, rc) of local failures not yet acknowledged.
    pub failures: Vec<(u64, String, String, i32)>,
    /// (seq, request as JSON) of operator requests to forward to the DC.
    pub requests: Vec<(u64, String)>,
}

/// DC -> member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub view: u64,
    /// Grows with every command the DC sends in a reign: a member acts on
    /// a command only if it is newer than the last it took, since a
    /// command sent on two links, or delayed, can arrive after a newer one
    /// (seed 17447763383885225108: an old copy asked again for a stop the
    /// member had finished and the DC had since taken off its list).
    pub seq: u64,
    pub config_hash: [u8; 32],
    pub cib_key: CibKey,
    /// The member's highest report seq the DC has processed.
    pub report_ack: u64,
    pub failures_ack: u64,
    pub requests_ack: u64,
    pub actions: Vec<RemoteAction>,
    /// Resources whose recovery waits for the operator, with why (the
    /// DC's `plan` finds them): members show them in `ha status` too.
    pub blocked: Vec<(String, String)>,
}

/// Everything a node sends besides heartbeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Report(Report),
    Command(Command),
    Cib(Vec<u8>),
    Leave,
}

fn put_hash(w: &mut Writer, h: &[u8; 32]) {
    w.buf.extend_from_slice(h);
}

fn get_hash(r: &mut Reader) -> Option<[u8; 32]> {
    let mut h = [0u8; 32];
    for b in h.iter_mut() {
        *b = r.u8()?;
    }
    Some(h)
}

fn put_key(w: &mut Writer, k: CibKey) {
    w.bool(k.0);
    w.u64(k.1);
    w.u64(k.2);
}

fn get_key(r: &mut Reader) -> Option<CibKey> {
    Some((r.bool()?, r.u64()?, r.u64()?))
}

/// Encodes an action outcome.
pub fn put_outcome(w: &mut Writer, o: &Outcome) {
    match o {
        Outcome::Ok => w.u8(0),
        Outcome::NotRunning => w.u8(1),
        Outcome::Failed { rc, reason } => {
            w.u8(2);
            w.i32(*rc);
            w.str(reason);
        }
        Outcome::Timeout => w.u8(3),
    }
}

/// Decodes what [`put_outcome`] wrote.
pub fn get_outcome(r: &mut Reader) -> Option<Outcome> {
    Some(match r.u8()? {
        0 => Outcome::Ok,
        1 => Outcome::NotRunning,
        2 => Outcome::Failed {
            rc: r.i32()?,
            reason: r.str()?,
        },
        3 => Outcome::Timeout,
        _ => return None,
    })
}

impl Msg {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Msg::Report(m) => {
                w.u8(1);
                w.u64(m.view);
                w.u64(m.seq);
                put_hash(&mut w, &m.config_hash);
                put_key(&mut w, m.cib_key);
                w.bool(m.probed);
                w.bool(m.leaving);
                w.u32(m.states.len() as u32);
                for (r, s) in &m.states {
                    w.str(r);
                    s.encode(&mut w);
                }
                w.u32(m.results.len() as u32);
                for (id, o) in &m.results {
                    w.u64(*id);
                    put_outcome(&mut w, o);
                }
                w.u32(m.failures.len() as u32);
                for (seq, r, op, rc) in &m.failures {
                    w.u64(*seq);
                    w.str(r);
                    w.str(op);
                    w.i32(*rc);
                }
                w.u32(m.requests.len() as u32);
                for (seq, text) in &m.requests {
                    w.u64(*seq);
                    w.str(text);
                }
            }
            Msg::Command(m) => {
                w.u8(2);
                w.u64(m.view);
                w.u64(m.seq);
                put_hash(&mut w, &m.config_hash);
                put_key(&mut w, m.cib_key);
                w.u64(m.report_ack);
                w.u64(m.failures_ack);
                w.u64(m.requests_ack);
                w.u32(m.actions.len() as u32);
                for a in &m.actions {
                    w.u64(a.id);
                    w.bool(a.start);
                    w.str(&a.resource);
                    w.u64(a.timeout_ms);
                }
                w.u32(m.blocked.len() as u32);
                for (r, why) in &m.blocked {
                    w.str(r);
                    w.str(why);
                }
            }
            Msg::Cib(bytes) => {
                w.u8(3);
                w.bytes(bytes);
            }
            Msg::Leave => w.u8(4),
        }
        w.buf
    }

    pub fn decode(bytes: &[u8]) -> Option<Msg> {
        let mut r = Reader::new(bytes);
        let msg = match r.u8()? {
            1 => {
                let view = r.u64()?;
                let seq = r.u64()?;
                let config_hash = get_hash(&mut r)?;
                let cib_key = get_key(&mut r)?;
                let probed = r.bool()?;
                let leaving = r.bool()?;
                let mut states = Vec::new();
                for _ in 0..r.count()? {
                    states.push((r.str()?, ResourceState::decode(&mut r)?));
                }
                let mut results = Vec::new();
                for _ in 0..r.count()? {
                    results.push((r.u64()?, get_outcome(&mut r)?));
                }
                let mut failures = Vec::new();
                for _ in 0..r.count()? {
                    failures.push((r.u64()?, r.str()?, r.str()?, r.i32()?));
                }
                let mut requests = Vec::new();
                for _ in 0..r.count()? {
                    requests.push((r.u64()?, r.str()?));
                }
                Msg::Report(Report {
                    view,
                    seq,
                    config_hash,
                    cib_key,
                    probed,
                    leaving,
                    states,
                    results,
                    failures,
                    requests,
                })
            }
            2 => {
                let view = r.u64()?;
                let seq = r.u64()?;
                let config_hash = get_hash(&mut r)?;
                let cib_key = get_key(&mut r)?;
                let report_ack = r.u64()?;
                let failures_ack = r.u64()?;
                let requests_ack = r.u64()?;
                let mut actions = Vec::new();
                for _ in 0..r.count()? {
                    actions.push(RemoteAction {
                        id: r.u64()?,
                        start: r.bool()?,
                        resource: r.str()?,
                        timeout_ms: r.u64()?,
                    });
                }
                let mut blocked = Vec::new();
                for _ in 0..r.count()? {
                    blocked.push((r.str()?, r.str()?));
                }
                Msg::Command(Command {
                    view,
                    seq,
                    config_hash,
                    cib_key,
                    report_ack,
                    failures_ack,
                    requests_ack,
                    actions,
                    blocked,
                })
            }
            3 => Msg::Cib(r.bytes()?.to_vec()),
            4 => Msg::Leave,
            _ => return None,
        };
        r.is_empty().then_some(msg)
    }
}

/// One piece of an encoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    pub msg_id: u64,
    pub index: u16,
    pub total: u16,
    pub payload: Vec<u8>,
}

impl Fragment {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.msg_id);
        w.u16(self.index);
        w.u16(self.total);
        w.bytes(&self.payload);
        w.buf
    }

    pub fn decode(bytes: &[u8]) -> Option<Fragment> {
        let mut r = Reader::new(bytes);
        let f = Fragment {
            msg_id: r.u64()?,
            index: r.u16()?,
            total: r.u16()?,
            payload: r.bytes()?.to_vec(),
        };
        (r.is_empty() && f.total > 0 && f.index < f.total).then_some(f)
    }
}

/// Splits an encoded message into fragments of at most [`FRAGMENT_MAX`] bytes.
pub fn split(msg_id: u64, bytes: &[u8]) -> Vec<Fragment> {
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(FRAGMENT_MAX).collect()
    };
    let total = chunks.len() as u16;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| Fragment {
            msg_id,
            index: i as u16,
            total,
            payload: c.to_vec(),
        })
        .collect()
}

/// Reassembles fragments from one sender. Keeps only the newest few
/// messages, so a flood of partial messages cannot grow memory.
#[derive(Default, Debug)]
pub struct Reassembly {
    partial: Vec<(u64, Vec<Option<Vec<u8>>>)>,
}

const PARTIAL_MAX: usize = 4;

impl Reassembly {
    /// Adds a fragment; returns the whole message once complete.
    pub fn add(&mut self, f: Fragment) -> Option<Vec<u8>> {
        if f.total == 1 {
            return Some(f.payload);
        }
        if f.total > 1024 {
            return None;
        }
        let pos = match self.partial.iter().position(|(id, _)| *id == f.msg_id) {
            Some(p) => p,
            None => {
                if self.partial.len() >= PARTIAL_MAX {
                    self.partial.remove(0);
                }
                self.partial.push((f.msg_id, vec![None; f.total as usize]));
                self.partial.len() - 1
            }
        };
        let parts = &mut self.partial[pos].1;
        if parts.len() != f.total as usize {
            return None;
        }
        parts[f.index as usize] = Some(f.payload);
        if parts.iter().all(Option::is_some) {
            let (_, parts) = self.partial.remove(pos);
            return Some(parts.into_iter().flatten().flatten().collect());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Msg {
        Msg::Report(Report {
            view: 3,
            seq: 9,
            config_hash: [7; 32],
            cib_key: (true, 4, 3),
            probed: true,
            leaving: false,
            states: vec![
                ("web".into(), ResourceState::Running),
                ("db".into(), ResourceState::Stopped),
            ],
            results: vec![
                (5, Outcome::Ok),
                (
                    6,
                    Outcome::Failed {
                        rc: 1,
                        reason: "boom".into(),
                    },
                ),
            ],
            failures: vec![(1, "web".into(), "monitor".into(), 7)],
            requests: vec![(2, "{}".into())],
        })
    }

    #[test]
    fn messages_round_trip_and_truncations_fail() {
        // Goal: encode/decode pairs agree; any truncation is rejected.
        let msgs = vec![
            report(),
            Msg::Command(Command {
                view: 3,
                seq: 5,
                config_hash: [1; 32],
                cib_key: (false, 1, 2),
                report_ack: 9,
                failures_ack: 1,
                requests_ack: 2,
                actions: vec![RemoteAction {
                    id: 4,
                    start: true,
                    resource: "web".into(),
                    timeout_ms: 20_000,
                }],
                blocked: vec![("db".into(), "stop on n2 waits for web".into())],
            }),
            Msg::Cib(vec![1, 2, 3]),
            Msg::Leave,
        ];
        for m in msgs {
            let bytes = m.encode();
            assert_eq!(Msg::decode(&bytes), Some(m.clone()));
            for cut in 0..bytes.len() {
                assert_eq!(Msg::decode(&bytes[..cut]), None);
            }
        }
    }

    #[test]
    fn large_messages_split_and_reassemble_in_any_order() {
        // Goal: a message bigger than a datagram survives splitting, reordering
        // and duplication; fragments of another message do not mix in.
        let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut frags = split(7, &big);
        assert_eq!(frags.len(), 5);
        assert!(frags.iter().all(|f| f.payload.len() <= FRAGMENT_MAX));
        frags.reverse();
        let mut r = Reassembly::default();
        let other = split(8, &big);
        assert_eq!(r.add(other[0].clone()), None);
        let mut done = None;
        for f in frags.iter().chain(frags.iter()) {
            let f = Fragment::decode(&f.encode()).unwrap();
            if let Some(m) = r.add(f) {
                done = Some(m);
                break;
            }
        }
        assert_eq!(done, Some(big));
    }
}

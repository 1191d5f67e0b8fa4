//! The heartbeat body: what a node tells every peer, on every link, every
//! `interval`.
//!
//! It carries what membership needs (whom the sender hears, on which links,
//! in which incarnation, so receivers learn which links work both ways,
//! and the newest heartbeat of each it received: the acks), what election
//! needs (the number of this heartbeat, the DC the sender names, whether it
//! acts) and the node's part (quorum, config hash, expected votes, reign,
//! leases). Membership fills `hears` (`Membership::hears`), election its
//! part (`Election::fill_heartbeat`), the node the rest.

use std::collections::BTreeSet;

use super::codec::{DecodeError, DecodeProblem, Reader, Writer};
use crate::config::NodeId;

/// One peer the sender hears.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Heard {
    pub node: NodeId,
    /// The incarnation of `node` the sender hears: after a restart, a stale
    /// "I hear you" about the old incarnation does not count.
    pub incarnation: u64,
    /// Bit `l` set: the sender heard `node` on link `l` within the timeout
    /// (so at most 32 links).
    pub links: u32,
    /// The newest heartbeat number of `node` the sender has received. It
    /// lets `node` know how recent the sender's view of it is, in `node`'s
    /// own clock (it remembers when it sent each number): that bounds when
    /// the sender will declare it lost, which is what the DC lease in
    /// `election` rests on.
    pub acked: u64,
}

/// A heartbeat body. Build it with `..Default::default()` so that fields
/// added later keep old code compiling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// Counts heartbeats within one incarnation. The copies sent on the
    /// different links of one round carry the same number, so a receiver
    /// can tell the newest from a delayed one.
    pub number: u64,
    /// Peers the sender hears, ascending by node id, one entry per node.
    pub hears: Vec<Heard>,
    /// The DC the sender names (`election`): the one it backs.
    pub dc: Option<NodeId>,
    /// The sender counts itself quorate.
    pub quorate: bool,
    /// The sender acts as DC (not merely names itself).
    pub acting: bool,
    /// blake3 of the sender's config text.
    pub config_hash: [u8; 32],
    /// The sender's expected_votes (configured, raised by members, lowered
    /// by `last_man_standing`), as votequorum's nodeinfo carries it: a
    /// partition counts the highest among its members. 0: not given.
    pub expected_votes: u32,
    /// The token of the sender's reign as DC (0: it does not act): the
    /// `view` of its commands.
    pub reign: u64,
    /// Members whose DC lease this heartbeat renews (see `node`): the
    /// acting DC's heartbeat stands in for an unchanged command.
    pub leases: BTreeSet<NodeId>,
}

/// Bytes one encoded [`Heard`] takes.
const HEARD_LEN: usize = 2 + 8 + 4 + 8;

impl Heartbeat {
    /// The body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.number);
        w.u16(u16::try_from(self.hears.len()).expect("more than 65535 peers"));
        for h in &self.hears {
            w.u16(h.node).u64(h.incarnation).u32(h.links).u64(h.acked);
        }
        w.opt_u16(self.dc)
            .bool(self.quorate)
            .bool(self.acting)
            .array(&self.config_hash)
            .u32(self.expected_votes)
            .u64(self.reign)
            .nodes(&self.leases);
        w.into_bytes()
    }

    /// Parses body bytes; any defect is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Heartbeat, DecodeError> {
        let mut r = Reader::new(bytes);
        let number = r.u64("heartbeat.number")?;
        let count = r.count(HEARD_LEN, "heartbeat.hears")?;
        let mut hears: Vec<Heard> = Vec::with_capacity(count);
        for _ in 0..count {
            let at = r.offset();
            let h = Heard {
                node: r.u16("heartbeat.hears.node")?,
                incarnation: r.u64("heartbeat.hears.incarnation")?,
                links: r.u32("heartbeat.hears.links")?,
                acked: r.u64("heartbeat.hears.acked")?,
            };
            if hears.last().is_some_and(|last| last.node >= h.node) {
                return Err(DecodeError {
                    what: "heartbeat.hears.node",
                    offset: at,
                    problem: DecodeProblem::Invalid,
                });
            }
            hears.push(h);
        }
        let hb = Heartbeat {
            number,
            hears,
            dc: r.opt_u16("heartbeat.dc")?,
            quorate: r.bool("heartbeat.quorate")?,
            acting: r.bool("heartbeat.acting")?,
            config_hash: r.array("heartbeat.config_hash")?,
            expected_votes: r.u32("heartbeat.expected_votes")?,
            reign: r.u64("heartbeat.reign")?,
            leases: r.nodes("heartbeat.leases")?,
        };
        r.finish("heartbeat")?;
        Ok(hb)
    }

    /// What the sender says about `node`, if it hears it.
    pub fn heard(&self, node: NodeId) -> Option<&Heard> {
        self.hears
            .binary_search_by_key(&node, |h| h.node)
            .ok()
            .map(|i| &self.hears[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn sample() -> Heartbeat {
        Heartbeat {
            number: 42,
            hears: vec![
                Heard {
                    node: 1,
                    incarnation: 3,
                    links: 0b11,
                    acked: 17,
                },
                Heard {
                    node: 4,
                    incarnation: 0,
                    links: 0b10,
                    acked: 0,
                },
            ],
            dc: Some(1),
            quorate: true,
            acting: true,
            config_hash: [9; 32],
            expected_votes: 5,
            reign: 3,
            leases: [2, 4].into_iter().collect(),
        }
    }

    /// Goal: encode/decode are a pair, for a full and an empty heartbeat.
    #[test]
    fn heartbeat_round_trips() {
        for hb in [sample(), Heartbeat::default()] {
            assert_eq!(Heartbeat::decode(&hb.encode()), Ok(hb));
        }
        assert_eq!(sample().heard(4).map(|h| h.links), Some(0b10));
        assert_eq!(sample().heard(2), None);
    }

    /// Goal: every truncation and trailing garbage is an error, and
    /// unsorted `hears` is rejected (one encoding per heartbeat).
    #[test]
    fn truncated_or_padded_heartbeats_are_errors() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Heartbeat::decode(&bytes[..len]).is_err(), "length {len}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(
            Heartbeat::decode(&padded).unwrap_err().problem,
            DecodeProblem::TrailingBytes
        );
        let mut unsorted = sample();
        unsorted.hears.reverse();
        assert_eq!(
            Heartbeat::decode(&unsorted.encode()).unwrap_err().what,
            "heartbeat.hears.node"
        );
    }

    /// Goal: random bytes and bit flips never panic the decoder.
    #[test]
    fn random_bytes_never_panic_heartbeat_decode() {
        let mut rng = Rng::new(99);
        let good = sample().encode();
        for _ in 0..20_000 {
            let mut b = if rng.chance(0.5) {
                let mut b = vec![0u8; rng.below(200) as usize];
                rng.fill(&mut b);
                b
            } else {
                good.clone()
            };
            if !b.is_empty() {
                let i = rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << rng.below(8);
            }
            let _ = Heartbeat::decode(&b);
        }
    }

    /// Goal: a full 16-node heartbeat, the acting DC's with a lease for
    /// every member, stays far below a 1500-byte MTU (docs/protocol.md
    /// quotes this size).
    #[test]
    fn sixteen_node_dc_heartbeat_is_421_bytes() {
        let hb = Heartbeat {
            number: 1,
            hears: (2..=16)
                .map(|node| Heard {
                    node,
                    incarnation: 1,
                    links: 0b11,
                    acked: 1,
                })
                .collect(),
            dc: Some(1),
            quorate: true,
            acting: true,
            config_hash: [0; 32],
            expected_votes: 16,
            reign: 1 << 24,
            leases: (2..=16).collect(),
        };
        assert_eq!(hb.encode().len(), 421);
        assert_eq!(hb.encode().len() + crate::wire::OVERHEAD, 469);
    }
}

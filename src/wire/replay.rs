//! Replay protection for one sender incarnation: a sliding window over
//! sequence numbers (the anti-replay window of IPsec, RFC 4303 3.4.3).
//!
//! Accepts each sequence number at most once; tolerates reordering within
//! the last [`ReplayWindow::SIZE`] numbers; refuses anything older.

/// Which of the last 128 sequence numbers were seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest sequence accepted; meaningless while `bitmap` is zero.
    highest: u64,
    /// Bit i set: `highest - i` was accepted.
    bitmap: u128,
}

impl ReplayWindow {
    /// How far behind the highest accepted sequence a packet may arrive.
    pub const SIZE: u64 = 128;

    /// A window that has accepted nothing.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// True if `sequence` would be accepted now (fresh and not too old).
    /// Does not record it: call [`ReplayWindow::accept`] once the packet is
    /// authenticated, so forged packets cannot move the window.
    pub fn check(&self, sequence: u64) -> bool {
        if self.bitmap == 0 || sequence > self.highest {
            return true;
        }
        let behind = self.highest - sequence;
        behind < Self::SIZE && self.bitmap & (1u128 << behind) == 0
    }

    /// Records `sequence`; returns false (and changes nothing) for a replay
    /// or a sequence older than the window.
    pub fn accept(&mut self, sequence: u64) -> bool {
        if !self.check(sequence) {
            return false;
        }
        if self.bitmap == 0 {
            self.highest = sequence;
            self.bitmap = 1;
        } else if sequence > self.highest {
            let shift = sequence - self.highest;
            self.bitmap = if shift >= Self::SIZE {
                0
            } else {
                self.bitmap << shift
            };
            self.bitmap |= 1;
            self.highest = sequence;
        } else {
            self.bitmap |= 1u128 << (self.highest - sequence);
        }
        true
    }

    /// The highest sequence accepted, if any.
    pub fn highest(&self) -> Option<u64> {
        (self.bitmap != 0).then_some(self.highest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: each sequence is accepted once; reordering inside the window is
    /// fine; older than the window is refused. Method: a table of
    /// (sequence, accepted) applied in order.
    #[test]
    fn window_accepts_each_sequence_once_and_tolerates_reordering() {
        let table: &[(u64, bool)] = &[
            (5, true),
            (5, false),
            (3, true),
            (4, true),
            (3, false),
            (200, true),
            (73, true),
            (72, false), // 128 behind 200
            (73, false),
            (199, true),
            (201, true),
            (200, false),
            (0, false),
            (u64::MAX, true),
            (u64::MAX, false),
            (u64::MAX - 127, true),
            (u64::MAX - 128, false),
        ];
        let mut w = ReplayWindow::new();
        for &(seq, ok) in table {
            assert_eq!(w.check(seq), ok, "check {seq}");
            assert_eq!(w.accept(seq), ok, "accept {seq}");
        }
        assert_eq!(w.highest(), Some(u64::MAX));
    }

    /// Goal: sequence 0 is a valid first packet, and check alone records
    /// nothing.
    #[test]
    fn check_does_not_record() {
        let mut w = ReplayWindow::new();
        assert!(w.check(0) && w.check(0));
        assert_eq!(w.highest(), None);
        assert!(w.accept(0));
        assert!(!w.check(0));
    }
}

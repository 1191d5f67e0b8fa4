//! A small binary codec for message bodies: big-endian integers, length
//! prefixed byte strings, node sets.
//!
//! [`Writer`] appends to a `Vec<u8>`; [`Reader`] walks a slice and returns a
//! [`DecodeError`] for anything short, oversized or invalid, never panics,
//! and never allocates more than the input could hold (a length prefix is
//! checked against the bytes that remain before anything is reserved). It
//! is used for heartbeats here and for the node's other messages.

use std::collections::BTreeSet;
use std::fmt;

use crate::config::NodeId;

/// Why a body could not be decoded; `what` names the field, `offset` is the
/// byte position in the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub what: &'static str,
    pub offset: usize,
    pub problem: DecodeProblem,
}

/// The kind of decoding failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeProblem {
    /// The input ended inside this field.
    Truncated,
    /// The field holds a value this version does not allow (a bad enum tag,
    /// a length over its limit, invalid UTF-8, unsorted set).
    Invalid,
    /// Bytes remain after the last field.
    TrailingBytes,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = match self.problem {
            DecodeProblem::Truncated => "input ends inside",
            DecodeProblem::Invalid => "invalid value in",
            DecodeProblem::TrailingBytes => "unexpected bytes after",
        };
        write!(f, "{problem} field {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Appends fields to a byte buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer, with room for a typical body (heartbeats, commands
    /// and reports are mostly under 256 bytes): growing from nothing
    /// reallocated five times per heartbeat.
    pub fn new() -> Writer {
        Writer {
            buf: Vec::with_capacity(256),
        }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True before anything was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Writer {
        self.buf.push(v);
        self
    }

    /// A bool as one byte, 0 or 1.
    pub fn bool(&mut self, v: bool) -> &mut Writer {
        self.u8(v as u8)
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self, v: u16) -> &mut Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self, v: u32) -> &mut Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Eight bytes, big-endian.
    pub fn u64(&mut self, v: u64) -> &mut Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Eight bytes, big-endian two's complement.
    pub fn i64(&mut self, v: i64) -> &mut Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Fixed-size bytes with no length prefix (hashes, keys' ids).
    pub fn array(&mut self, v: &[u8]) -> &mut Writer {
        self.buf.extend_from_slice(v);
        self
    }

    /// A u32 length prefix, then the bytes.
    ///
    /// Panics if `v` is 4 GiB or longer: a bug, no message is that large.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Writer {
        let len = u32::try_from(v.len()).expect("message field over 4 GiB");
        self.u32(len);
        self.array(v)
    }

    /// A string as length-prefixed UTF-8.
    pub fn str(&mut self, v: &str) -> &mut Writer {
        self.bytes(v.as_bytes())
    }

    /// `None` as 0, `Some(v)` as 1 then v.
    pub fn opt_u16(&mut self, v: Option<u16>) -> &mut Writer {
        match v {
            None => self.u8(0),
            Some(v) => self.u8(1).u16(v),
        }
    }

    /// A node set: a u16 count, then the ids in ascending order.
    pub fn nodes(&mut self, v: &BTreeSet<NodeId>) -> &mut Writer {
        let len = u16::try_from(v.len()).expect("more than 65535 node ids");
        self.u16(len);
        for n in v {
            self.u16(*n);
        }
        self
    }
}

/// Reads fields from a byte slice; every method checks bounds.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The current byte position.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// An error of kind `problem` for field `what` at the current position.
    pub fn error(&self, what: &'static str, problem: DecodeProblem) -> DecodeError {
        DecodeError {
            what,
            offset: self.pos,
            problem,
        }
    }

    /// Succeeds only when every byte was read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.error(what, DecodeProblem::TrailingBytes))
        }
    }

    /// The next `n` bytes as a slice.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.error(what, DecodeProblem::Truncated));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// 0 or 1; anything else is invalid.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError {
                what,
                offset: self.pos - 1,
                problem: DecodeProblem::Invalid,
            }),
        }
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Eight bytes, big-endian.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Eight bytes, big-endian two's complement.
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// A u32 length prefix and that many bytes.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    /// Length-prefixed UTF-8.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| DecodeError {
            what,
            offset: start,
            problem: DecodeProblem::Invalid,
        })
    }

    /// The counterpart of [`Writer::opt_u16`].
    pub fn opt_u16(&mut self, what: &'static str) -> Result<Option<u16>, DecodeError> {
        if self.bool(what)? {
            Ok(Some(self.u16(what)?))
        } else {
            Ok(None)
        }
    }

    /// A node set as [`Writer::nodes`] writes it; ids must be strictly
    /// ascending (one encoding per set, so equal sets compare equal as bytes).
    pub fn nodes(&mut self, what: &'static str) -> Result<BTreeSet<NodeId>, DecodeError> {
        let count = self.u16(what)? as usize;
        if count * 2 > self.remaining() {
            return Err(self.error(what, DecodeProblem::Truncated));
        }
        let mut set = BTreeSet::new();
        let mut last: Option<NodeId> = None;
        for _ in 0..count {
            let n = self.u16(what)?;
            if last.is_some_and(|l| l >= n) {
                return Err(DecodeError {
                    what,
                    offset: self.pos - 2,
                    problem: DecodeProblem::Invalid,
                });
            }
            last = Some(n);
            set.insert(n);
        }
        Ok(set)
    }

    /// A u16 element count, checked against the bytes left assuming each
    /// element takes at least `min_element_len` bytes, so a forged count
    /// cannot make the caller reserve memory the input cannot fill.
    pub fn count(
        &mut self,
        min_element_len: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        let count = self.u16(what)? as usize;
        if count.saturating_mul(min_element_len.max(1)) > self.remaining() {
            return Err(self.error(what, DecodeProblem::Truncated));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Goal: every field written is read back unchanged (encode/decode pair).
    #[test]
    fn writer_and_reader_round_trip_every_field() {
        let set: BTreeSet<NodeId> = [1, 7, 65535].into_iter().collect();
        let mut w = Writer::new();
        w.u8(9)
            .bool(true)
            .u16(0xbeef)
            .u32(7)
            .u64(u64::MAX)
            .i64(-5)
            .array(&[1, 2])
            .bytes(b"xyz");
        w.str("nodé").opt_u16(None).opt_u16(Some(3)).nodes(&set);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 9);
        assert!(r.bool("b").unwrap());
        assert_eq!(r.u16("c").unwrap(), 0xbeef);
        assert_eq!(r.u32("d").unwrap(), 7);
        assert_eq!(r.u64("e").unwrap(), u64::MAX);
        assert_eq!(r.i64("f").unwrap(), -5);
        assert_eq!(r.array::<2>("g").unwrap(), [1, 2]);
        assert_eq!(r.bytes("h").unwrap(), b"xyz");
        assert_eq!(r.str("i").unwrap(), "nodé");
        assert_eq!(r.opt_u16("j").unwrap(), None);
        assert_eq!(r.opt_u16("k").unwrap(), Some(3));
        assert_eq!(r.nodes("l").unwrap(), set);
        r.finish("end").unwrap();
    }

    /// Goal: short, oversized and invalid input is an error naming the
    /// field, not a panic or a huge allocation.
    #[test]
    fn reader_reports_truncation_and_invalid_values() {
        let e = Reader::new(&[0, 0, 0, 9, 1]).bytes("name").unwrap_err();
        assert_eq!((e.what, e.problem), ("name", DecodeProblem::Truncated));
        let e = Reader::new(&[2]).bool("flag").unwrap_err();
        assert_eq!((e.problem, e.offset), (DecodeProblem::Invalid, 0));
        let e = Reader::new(&[0xff, 0xff]).nodes("members").unwrap_err();
        assert_eq!(e.problem, DecodeProblem::Truncated);
        let e = Reader::new(&[0, 2, 0, 5, 0, 5])
            .nodes("members")
            .unwrap_err();
        assert_eq!(
            e.problem,
            DecodeProblem::Invalid,
            "duplicate ids are rejected"
        );
        let e = Reader::new(&[0, 0, 0, 2, 0xc3, 0x28])
            .str("name")
            .unwrap_err();
        assert_eq!(e.problem, DecodeProblem::Invalid);
        let mut r = Reader::new(&[1, 2]);
        r.u8("x").unwrap();
        assert_eq!(
            r.finish("end").unwrap_err().problem,
            DecodeProblem::TrailingBytes
        );
        assert_eq!(e.to_string(), "invalid value in field name at byte 0");
    }

    /// Goal: random input never panics any reader method (a small fuzz run).
    #[test]
    fn random_input_never_panics_the_reader() {
        let mut rng = Rng::new(1);
        for _ in 0..5000 {
            let mut bytes = vec![0u8; rng.below(24) as usize];
            rng.fill(&mut bytes);
            let mut r = Reader::new(&bytes);
            for _ in 0..6 {
                let _ = match rng.below(6) {
                    0 => r.nodes("n").map(|_| ()),
                    1 => r.str("s").map(|_| ()),
                    2 => r.bool("b").map(|_| ()),
                    3 => r.count(3, "c").map(|_| ()),
                    4 => r.opt_u16("o").map(|_| ()),
                    _ => r.u64("u").map(|_| ()),
                };
            }
        }
    }
}

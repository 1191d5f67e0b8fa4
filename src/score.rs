//! Pacemaker scores: integers that saturate at INFINITY.
//!
//! Pacemaker ("Pacemaker Explained", "Infinity Math") clamps every score to
//! +/-1,000,000 and gives -INFINITY precedence: x + inf = inf,
//! x - inf = -inf, inf - inf = -inf. Operators' habits carry over only if the
//! arithmetic is the same, so every score in ha is this type.

use core::fmt;
use core::ops::{Add, AddAssign, Neg};

/// The value of INFINITY in pacemaker.
pub const INFINITY: i64 = 1_000_000;

/// A placement score, always within `-INFINITY..=INFINITY`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Score(i64);

impl Score {
    pub const ZERO: Score = Score(0);
    pub const INFINITY: Score = Score(INFINITY);
    pub const MINUS_INFINITY: Score = Score(-INFINITY);

    /// A score from an integer, clamped to +/-INFINITY as pacemaker does.
    pub const fn new(value: i64) -> Score {
        if value >= INFINITY {
            Score(INFINITY)
        } else if value <= -INFINITY {
            Score(-INFINITY)
        } else {
            Score(value)
        }
    }

    /// The integer value.
    pub const fn value(self) -> i64 {
        self.0
    }

    pub const fn is_infinite(self) -> bool {
        self.0 == INFINITY
    }

    pub const fn is_minus_infinite(self) -> bool {
        self.0 == -INFINITY
    }

    /// Parses "inf", "+inf", "-inf", "INFINITY", "+INFINITY", "-INFINITY" or an
    /// integer (which is clamped).
    pub fn parse(text: &str) -> Option<Score> {
        match text.trim() {
            "inf" | "+inf" | "INFINITY" | "+INFINITY" => Some(Score::INFINITY),
            "-inf" | "-INFINITY" => Some(Score::MINUS_INFINITY),
            other => other.parse::<i64>().ok().map(Score::new),
        }
    }
}

impl Add for Score {
    type Output = Score;
    /// Pacemaker's `pcmk__add_scores`: -INFINITY wins over +INFINITY.
    fn add(self, rhs: Score) -> Score {
        if self.is_minus_infinite() || rhs.is_minus_infinite() {
            Score::MINUS_INFINITY
        } else if self.is_infinite() || rhs.is_infinite() {
            Score::INFINITY
        } else {
            Score::new(self.0 + rhs.0)
        }
    }
}

impl AddAssign for Score {
    fn add_assign(&mut self, rhs: Score) {
        *self = *self + rhs;
    }
}

impl Neg for Score {
    type Output = Score;
    fn neg(self) -> Score {
        Score(-self.0)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            INFINITY => f.write_str("+INFINITY"),
            v if v == -INFINITY => f.write_str("-INFINITY"),
            v => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinity_arithmetic_matches_pacemaker() {
        let inf = Score::INFINITY;
        let minf = Score::MINUS_INFINITY;
        assert_eq!(Score::new(5) + inf, inf);
        assert_eq!(Score::new(5) + minf, minf);
        assert_eq!(inf + minf, minf);
        assert_eq!(minf + inf, minf);
        assert_eq!(Score::new(999_999) + Score::new(5), inf);
        assert_eq!(Score::new(-999_999) + Score::new(-5), minf);
        assert_eq!(Score::new(7_000_000), inf);
    }

    #[test]
    fn parses_every_spelling_of_infinity() {
        for s in ["inf", "+inf", "INFINITY", "+INFINITY"] {
            assert_eq!(Score::parse(s), Some(Score::INFINITY), "{s}");
        }
        for s in ["-inf", "-INFINITY"] {
            assert_eq!(Score::parse(s), Some(Score::MINUS_INFINITY), "{s}");
        }
        assert_eq!(Score::parse("-20"), Some(Score::new(-20)));
        assert_eq!(Score::parse("infinite"), None);
    }
}

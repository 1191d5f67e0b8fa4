//! Collecting diagnostics with their place in the config text.
//!
//! Input: byte spans from the TOML parser. Output: [`Diagnostic`]s with
//! 1-based line and column (columns count characters, not bytes, so that a
//! caret under a name with an accent still lines up). The loader keeps going
//! after an error, so a [`Report`] gathers every problem of one load.

use std::ops::Range;

use super::{Diagnostic, Severity};

/// Every diagnostic of one load, and the text they point into.
pub struct Report<'a> {
    file: &'a str,
    text: &'a str,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Report<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Report<'a> {
        Report {
            file,
            text,
            diagnostics: Vec::new(),
        }
    }

    /// 1-based line and column of a byte offset (clamped to the text).
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let offset = offset.min(bytes.len());
        let before = &bytes[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        // UTF-8 continuation bytes (0b10xxxxxx) do not start a character.
        let col = before[line_start..]
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count()
            + 1;
        (line, col)
    }

    fn push(
        &mut self,
        severity: Severity,
        span: Option<Range<usize>>,
        message: String,
        hint: Option<String>,
    ) {
        let (line, col) = match span {
            Some(span) => self.position(span.start),
            None => (0, 0),
        };
        let diagnostic = Diagnostic {
            severity,
            file: self.file.to_string(),
            line,
            col,
            message,
            hint,
        };
        // One value can break a rule once per thing inheriting it (a
        // [heartbeat] group used by every link); say it once.
        if !self.diagnostics.contains(&diagnostic) {
            self.diagnostics.push(diagnostic);
        }
    }

    /// An error at `span`.
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, Some(span), message.into(), hint);
    }

    /// A warning at `span`.
    pub fn warn(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Warning, Some(span), message.into(), hint);
    }

    /// An error that has no single place (a missing section).
    pub fn error_nowhere(&mut self, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, None, message.into(), hint);
    }

    /// True when at least one error (not warning) was reported.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: positions are 1-based lines and character columns.
    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nnäme = 2\n";
        let r = Report::new("f", text);
        assert_eq!(r.position(0), (1, 1));
        assert_eq!(r.position(4), (1, 5));
        assert_eq!(r.position(6), (2, 1));
        // "nä" is three bytes; the "e" at byte 10 is column 4.
        assert_eq!(r.position(10), (2, 4));
        assert_eq!(r.position(10_000), (3, 1));
    }
}

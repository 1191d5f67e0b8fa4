//! Reading typed values out of the spanned TOML tree.
//!
//! Input: `toml::de::DeTable` (the parser's tree, every key and value with
//! its byte span). Output: typed values (strings, bounded integers,
//! durations, scores, addresses, enum choices) or a diagnostic naming the
//! key, the value as written, what was expected, and a hint. Unknown keys
//! are reported with a "did you mean" against the keys the section allows.
//! Nothing here stops at the first problem: a bad value yields `None` and a
//! diagnostic, and reading carries on.

use std::net::IpAddr;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::report::Report;
use super::suggest::{closest, quoted_choices};
use crate::score::{INFINITY, Score};
use crate::time::Duration;

/// A value with the span a diagnostic about it should point at.
pub type Sp<T> = Spanned<T>;
/// A parsed TOML value with its span.
pub type Val<'i> = Spanned<DeValue<'i>>;

/// How a value is shown in a message: as it would be written in TOML,
/// shortened when long.
pub fn render(value: &DeValue<'_>) -> String {
    let text = match value {
        DeValue::String(s) => format!("{:?}", s.as_ref()),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| render(v.get_ref())).collect();
            format!("[{}]", items.join(", "))
        }
        DeValue::Table(_) => String::from("{...}"),
    };
    if text.chars().count() > 60 {
        let short: String = text.chars().take(57).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// "a string", "an integer": the type of a value for messages.
pub fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// One key = value of a section, ready to be converted. `label` is how the
/// key is named in messages (`[heartbeat] interval`), `span` where they point.
#[derive(Clone)]
pub struct Field<'t, 'i> {
    pub label: String,
    pub span: Range<usize>,
    pub value: &'t DeValue<'i>,
}

impl<'t, 'i> Field<'t, 'i> {
    /// Reports that this value is wrong: `LABEL = VALUE: problem`.
    pub fn bad(&self, r: &mut Report, problem: impl AsRef<str>, hint: Option<String>) {
        r.error(
            self.span.clone(),
            format!(
                "{} = {}: {}",
                self.label,
                render(self.value),
                problem.as_ref()
            ),
            hint,
        );
    }

    fn wrong_type(&self, r: &mut Report, expected: &str, hint: Option<String>) {
        let problem = format!("expected {expected}, found {}", type_name(self.value));
        self.bad(r, problem, hint);
    }

    pub fn string(&self, r: &mut Report) -> Option<Sp<String>> {
        match self.value {
            DeValue::String(s) => Some(Spanned::new(self.span.clone(), s.to_string())),
            _ => {
                self.wrong_type(r, "a string", None);
                None
            }
        }
    }

    /// A string that names something (node, resource, fence device): not
    /// empty, and made of letters, digits, `_`, `-` and `.`, starting with a
    /// letter, digit or `_`, so it can be typed on a command line and used in
    /// `RSC:NODE` arguments.
    pub fn name(&self, r: &mut Report) -> Option<Sp<String>> {
        let s = self.string(r)?;
        check_name(r, self, s.get_ref()).then_some(s)
    }

    pub fn boolean(&self, r: &mut Report) -> Option<bool> {
        match self.value {
            DeValue::Boolean(b) => Some(*b),
            DeValue::String(s) if s == "true" || s == "false" => {
                self.wrong_type(
                    r,
                    "a boolean",
                    Some(format!("remove the quotes: {} = {s}", self.key())),
                );
                None
            }
            _ => {
                self.wrong_type(r, "a boolean", Some(String::from("write true or false")));
                None
            }
        }
    }

    /// The last part of the label: the key as written.
    fn key(&self) -> &str {
        self.label.rsplit(' ').next().unwrap_or(&self.label)
    }

    /// An integer within `min..=max`.
    pub fn integer(&self, r: &mut Report, min: i64, max: i64) -> Option<i64> {
        let value = match self.value {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => {
                self.wrong_type(
                    r,
                    "an integer",
                    Some(format!("remove the quotes: {} = {}", self.key(), s.trim())),
                );
                return None;
            }
            _ => {
                self.wrong_type(r, "an integer", None);
                return None;
            }
        };
        match value {
            Some(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.bad(
                    r,
                    format!("out of range {min}..={max}"),
                    Some(format!("use a value from {min} to {max}")),
                );
                None
            }
        }
    }

    /// A duration string: digits and a unit, "50ms", "2s", "10min", "1h".
    pub fn duration(&self, r: &mut Report, min: Duration, max: Duration) -> Option<Duration> {
        let text = match self.value {
            DeValue::String(s) => s.as_ref(),
            DeValue::Integer(i) => {
                self.wrong_type(
                    r,
                    "a duration string",
                    Some(format!(
                        "durations need a unit, e.g. {} = \"{i}ms\" or \"{i}s\"",
                        self.key()
                    )),
                );
                return None;
            }
            _ => {
                self.wrong_type(r, "a duration string", Some(String::from(DURATION_HINT)));
                return None;
            }
        };
        match parse_duration(text) {
            Ok(d) if d < min || d > max => {
                self.bad(
                    r,
                    format!("out of range {min}..={max}"),
                    Some(format!("use a duration from {min} to {max}")),
                );
                None
            }
            Ok(d) => Some(d),
            Err((problem, hint)) => {
                self.bad(r, problem, Some(hint));
                None
            }
        }
    }

    /// A score: an integer within +/-1,000,000 or one spelling of INFINITY.
    pub fn score(&self, r: &mut Report) -> Option<Score> {
        const HINT: &str = "scores are integers from -1000000 to 1000000, or \"inf\" / \"-inf\"";
        match self.value {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(v) if (-INFINITY..=INFINITY).contains(&v) => Some(Score::new(v)),
                _ => {
                    self.bad(r, "score out of range", Some(String::from(HINT)));
                    None
                }
            },
            DeValue::String(s) => {
                let t = s.trim();
                if let Ok(v) = t.parse::<i64>()
                    && !(-INFINITY..=INFINITY).contains(&v)
                {
                    self.bad(r, "score out of range", Some(String::from(HINT)));
                    return None;
                }
                match Score::parse(t) {
                    Some(score) if t.parse::<i128>().is_ok() || is_infinity_spelling(t) => {
                        Some(score)
                    }
                    _ => {
                        let hint = match closest(t, ["inf", "-inf", "INFINITY", "-INFINITY"]) {
                            Some(near) => format!("did you mean \"{near}\"? {HINT}"),
                            None => String::from(HINT),
                        };
                        self.bad(r, "not a score", Some(hint));
                        None
                    }
                }
            }
            DeValue::Float(_) => {
                self.bad(r, "scores are whole numbers", Some(String::from(HINT)));
                None
            }
            _ => {
                self.wrong_type(r, "a score", Some(String::from(HINT)));
                None
            }
        }
    }

    /// One of a fixed set of lowercase words.
    pub fn choice<T: Copy>(&self, r: &mut Report, options: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let text = match self.value {
            DeValue::String(s) => s.as_ref(),
            _ => {
                self.wrong_type(
                    r,
                    "a string",
                    Some(format!("one of {}", quoted_choices(names.iter().copied()))),
                );
                return None;
            }
        };
        if let Some((_, v)) = options.iter().find(|(n, _)| *n == text) {
            return Some(*v);
        }
        let hint = match closest(text, names.iter().copied()) {
            Some(near) => format!("did you mean \"{near}\"?"),
            None => format!("use {}", quoted_choices(names.iter().copied())),
        };
        self.bad(
            r,
            if names.len() == 2 {
                format!("expected {}", quoted_choices(names.iter().copied()))
            } else {
                format!("expected one of {}", quoted_choices(names.iter().copied()))
            },
            Some(hint),
        );
        None
    }

    /// An IPv4 or IPv6 address (no prefix length).
    pub fn ip(&self, r: &mut Report) -> Option<IpAddr> {
        let s = self.string(r)?;
        match s.get_ref().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if s.get_ref().contains('/') {
                    String::from("write the address without a prefix length")
                } else {
                    String::from(
                        "write an IPv4 or IPv6 address, e.g. \"10.1.0.11\" or \"fd00::11\"",
                    )
                };
                self.bad(r, "not an IP address", Some(hint));
                None
            }
        }
    }

    /// An absolute path.
    pub fn path(&self, r: &mut Report) -> Option<std::path::PathBuf> {
        let s = self.string(r)?;
        if !s.get_ref().starts_with('/') {
            self.bad(
                r,
                "not an absolute path",
                Some(String::from("paths in ha.toml start with /")),
            );
            return None;
        }
        Some(std::path::PathBuf::from(s.into_inner()))
    }

    /// The elements of an array, each as a field labelled `KEY[i]`.
    pub fn array(&self, r: &mut Report) -> Option<Vec<Field<'t, 'i>>> {
        match self.value {
            DeValue::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Field {
                        label: format!("{}[{i}]", self.label),
                        span: v.span(),
                        value: v.get_ref(),
                    })
                    .collect(),
            ),
            DeValue::String(s) => {
                self.wrong_type(
                    r,
                    "an array",
                    Some(format!("write a list: {} = [\"{s}\"]", self.key())),
                );
                None
            }
            _ => {
                self.wrong_type(r, "an array", None);
                None
            }
        }
    }

    /// A list of names; each bad element is reported on its own.
    pub fn names(&self, r: &mut Report) -> Option<Vec<Sp<String>>> {
        let items = self.array(r)?;
        Some(items.iter().filter_map(|f| f.name(r)).collect())
    }

    /// This value as a table (inline `{ ... }` or `[section]`).
    pub fn table(&self, r: &mut Report) -> Option<&'t DeTable<'i>> {
        match self.value {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(r, "a table", None);
                None
            }
        }
    }
}

/// Checks the spelling rules of a name; reports and returns false if broken.
fn check_name(r: &mut Report, field: &Field, name: &str) -> bool {
    let mut chars = name.chars();
    let ok = match chars.next() {
        None => false,
        Some(first) => {
            (first.is_ascii_alphanumeric() || first == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        }
    };
    if !ok {
        field.bad(
            r,
            "not a valid name",
            Some(String::from("names use letters, digits, '_', '-' and '.', and start with a letter, digit or '_'")),
        );
    }
    ok
}

fn is_infinity_spelling(t: &str) -> bool {
    matches!(
        t,
        "inf" | "+inf" | "-inf" | "INFINITY" | "+INFINITY" | "-INFINITY"
    )
}

const DURATION_HINT: &str = "write a number and a unit: \"50ms\", \"2s\", \"10min\" or \"1h\"";

/// Parses "50ms", "2s", "10min", "1h". Errors carry a problem and a hint.
pub fn parse_duration(text: &str) -> Result<Duration, (String, String)> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err((String::from("not a duration"), String::from(DURATION_HINT)));
    }
    let factor: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "" => {
            return Err((
                String::from("a duration needs a unit"),
                format!("write \"{number}ms\" or \"{number}s\" (units: ms, s, min, h)"),
            ));
        }
        "m" => {
            return Err((
                String::from("unit \"m\" is ambiguous"),
                format!("write \"{number}min\" for minutes or \"{number}ms\" for milliseconds"),
            ));
        }
        _ if unit.starts_with('.') => {
            return Err((
                String::from("durations are whole numbers"),
                String::from("use a smaller unit: \"1500ms\" instead of \"1.5s\""),
            ));
        }
        other => {
            let hint = match closest(other, ["ms", "s", "min", "h"]) {
                Some(near) => {
                    format!("did you mean \"{number}{near}\"? units are ms, s, min and h")
                }
                None => match other.trim() {
                    "sec" | "secs" | "second" | "seconds" => format!("write \"{number}s\""),
                    "minute" | "minutes" | "mins" => format!("write \"{number}min\""),
                    "hour" | "hours" => format!("write \"{number}h\""),
                    _ => String::from(DURATION_HINT),
                },
            };
            return Err((format!("unknown duration unit \"{other}\""), hint));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            (
                String::from("duration too large"),
                String::from(DURATION_HINT),
            )
        })
}

/// The keys of one table, checked against the keys its section allows.
pub struct Section<'t, 'i> {
    /// How the section is named in messages: `[heartbeat]`, `[resource.web]`.
    pub name: String,
    /// Where to point when a required key is missing.
    pub span: Range<usize>,
    entries: Vec<(&'t str, Range<usize>, &'t Val<'i>)>,
}

impl<'t, 'i> Section<'t, 'i> {
    /// Opens `table`, reporting every key not in `allowed` with a hint.
    pub fn open(
        r: &mut Report,
        name: impl Into<String>,
        span: Range<usize>,
        table: &'t DeTable<'i>,
        allowed: &[&str],
    ) -> Section<'t, 'i> {
        let name = name.into();
        let mut entries = Vec::new();
        for (key, value) in table.iter() {
            let k: &'t str = key.get_ref().as_ref();
            if allowed.contains(&k) {
                entries.push((k, key.span(), value));
            } else {
                unknown_key(r, &name, k, key.span(), allowed);
            }
        }
        entries.sort_by_key(|(_, span, _)| span.start);
        Section {
            name,
            span,
            entries,
        }
    }

    /// The field `key`, if present.
    pub fn get(&self, key: &str) -> Option<Field<'t, 'i>> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(k, span, v)| Field {
                label: format!("{} {k}", self.name),
                span: span.clone(),
                value: v.get_ref(),
            })
    }

    /// The field `key`, or an error at the section when it is missing.
    pub fn require(&self, r: &mut Report, key: &str, hint: &str) -> Option<Field<'t, 'i>> {
        let field = self.get(key);
        if field.is_none() {
            r.error(
                self.span.clone(),
                format!("missing required key \"{key}\" in {}", self.name),
                Some(hint.to_string()),
            );
        }
        field
    }

    /// True when the key is present.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| *k == key)
    }
}

/// Reports an unknown key, with the closest allowed key as a suggestion.
pub fn unknown_key(r: &mut Report, section: &str, key: &str, span: Range<usize>, allowed: &[&str]) {
    let valid = format!("valid keys in {section}: {}", allowed.join(", "));
    match closest(key, allowed.iter().copied()) {
        Some(near) => r.error(
            span,
            format!("unknown key \"{key}\" in {section}; did you mean \"{near}\"?"),
            Some(valid),
        ),
        None => r.error(
            span,
            format!("unknown key \"{key}\" in {section}"),
            Some(valid),
        ),
    }
}

/// Converts a parsed value into a `toml::Value` (agent and fence params are
/// kept as written). Integers too large for i64 are reported.
pub fn to_value(r: &mut Report, field: &Field) -> Option<toml::Value> {
    Some(match field.value {
        DeValue::String(s) => toml::Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => toml::Value::Integer(v),
            Err(_) => {
                field.bad(r, "integer too large", None);
                return None;
            }
        },
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(v) => toml::Value::Float(v),
            Err(_) => {
                field.bad(r, "not a number", None);
                return None;
            }
        },
        DeValue::Boolean(b) => toml::Value::Boolean(*b),
        DeValue::Datetime(d) => toml::Value::Datetime(*d),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for (i, v) in items.iter().enumerate() {
                let f = Field {
                    label: format!("{}[{i}]", field.label),
                    span: v.span(),
                    value: v.get_ref(),
                };
                out.push(to_value(r, &f)?);
            }
            toml::Value::Array(out)
        }
        DeValue::Table(t) => {
            let mut out = toml::map::Map::new();
            for (k, v) in t.iter() {
                let f = Field {
                    label: format!("{}.{}", field.label, k.get_ref()),
                    span: k.span(),
                    value: v.get_ref(),
                };
                out.insert(k.get_ref().to_string(), to_value(r, &f)?);
            }
            toml::Value::Table(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: every documented duration spelling parses, and common mistakes
    // get a specific hint rather than a generic one.
    #[test]
    fn durations() {
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("10min"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("10m").unwrap_err().1.contains("\"10min\""));
        assert!(parse_duration("1.5s").unwrap_err().0.contains("whole"));
        assert!(parse_duration("100").unwrap_err().0.contains("unit"));
        assert!(parse_duration("2 seconds").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}

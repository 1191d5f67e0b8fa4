//! Reading an agent's `params` table: names checked against the agent's
//! parameter list, values converted with errors that name the resource and
//! the parameter.
//!
//! Values are accepted in the forms crm users write them: numbers and
//! booleans either as TOML values or as strings (`cidr_netmask = "24"`,
//! `run_fsck = "no"`), since OCF passes every parameter as a string.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{AgentError, ParamInfo};

/// The `params` of one resource, checked against its agent's list.
pub(crate) struct Params<'a> {
    resource: &'a str,
    map: &'a BTreeMap<String, toml::Value>,
}

impl<'a> Params<'a> {
    /// Check that required parameters are present. Names the agent does not
    /// know are logged and ignored, as `ha check` promises ("unknown
    /// parameter, ignored", with the closest known name as a hint), so a
    /// crm configuration carrying an IPaddr2 option ha lacks still runs.
    pub fn new(
        resource: &'a str,
        agent: &str,
        map: &'a BTreeMap<String, toml::Value>,
        known: &[ParamInfo],
    ) -> Result<Params<'a>, AgentError> {
        for name in map.keys() {
            if !known.iter().any(|p| p.name == name) {
                let names: Vec<&str> = known.iter().map(|p| p.name).collect();
                let hint = match closest(name, &names) {
                    Some(close) => format!(" hint=\"did you mean {close}?\""),
                    None => String::new(),
                };
                log::warn!(
                    "unknown agent parameter ignored: resource={resource} agent={agent} param={name}{hint}"
                );
            }
        }
        for p in known.iter().filter(|p| p.required) {
            if !map.contains_key(p.name) {
                return Err(AgentError::Param {
                    resource: resource.to_string(),
                    param: p.name.to_string(),
                    problem: "required parameter is missing".to_string(),
                    hint: format!("add {} = ... to params ({})", p.name, p.meaning),
                });
            }
        }
        Ok(Params { resource, map })
    }

    /// An error about parameter `name`.
    pub fn error(
        &self,
        name: &str,
        problem: impl Into<String>,
        hint: impl Into<String>,
    ) -> AgentError {
        AgentError::Param {
            resource: self.resource.to_string(),
            param: name.to_string(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }

    fn shown(value: &toml::Value) -> String {
        value.to_string()
    }

    /// A string parameter; numbers are accepted and turned into their text.
    pub fn string(&self, name: &str) -> Result<Option<String>, AgentError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(toml::Value::Integer(i)) => Ok(Some(i.to_string())),
            Some(other) => Err(self.error(
                name,
                format!("expected a string, found {}", Self::shown(other)),
                "write it in quotes",
            )),
        }
    }

    /// A required string (presence was checked by `new`).
    pub fn required_string(&self, name: &str) -> Result<String, AgentError> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(self.error(name, "must not be empty", "")),
        }
    }

    /// An unsigned integer within `min..=max`, as a number or a numeric string.
    pub fn integer(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, AgentError> {
        let Some(value) = self.map.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            toml::Value::Integer(i) => u64::try_from(*i).ok(),
            toml::Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.error(
                name,
                format!(
                    "expected a whole number from {min} to {max}, found {}",
                    Self::shown(value)
                ),
                "",
            )),
        }
    }

    /// A boolean: true/false, or the OCF spellings yes/no, on/off, 1/0.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, AgentError> {
        let Some(value) = self.map.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            toml::Value::Boolean(b) => Some(*b),
            toml::Value::Integer(1) => Some(true),
            toml::Value::Integer(0) => Some(false),
            toml::Value::String(s) => parse_bool(s),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            self.error(
                name,
                format!("expected true or false, found {}", Self::shown(value)),
                "",
            )
        })
    }

    /// One word out of `choices` (case-insensitive), returned lowercased.
    pub fn choice(&self, name: &str, choices: &[&str]) -> Result<Option<String>, AgentError> {
        let Some(value) = self.map.get(name) else {
            return Ok(None);
        };
        let text = match value {
            toml::Value::String(s) => s.trim().to_ascii_lowercase(),
            toml::Value::Boolean(b) => b.to_string(),
            other => Self::shown(other),
        };
        if choices.contains(&text.as_str()) {
            Ok(Some(text))
        } else {
            Err(self.error(
                name,
                format!(
                    "expected one of {}, found {}",
                    choices.join(", "),
                    Self::shown(value)
                ),
                "",
            ))
        }
    }

    /// A duration with a unit ("10s", "200ms", "1min"); "0" means zero.
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, AgentError> {
        let Some(value) = self.map.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            toml::Value::String(s) => parse_duration(s),
            toml::Value::Integer(0) => Some(Duration::ZERO),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            self.error(
                name,
                format!(
                    "expected a duration with a unit, found {}",
                    Self::shown(value)
                ),
                "write e.g. \"10s\", \"500ms\" or \"1min\"; \"0s\" turns it off",
            )
        })
    }
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// "250ms", "10s", "2min", "1h", or "0".
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "min" | "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    Some(Duration::from_millis(n.checked_mul(ms)?))
}

/// The known name closest to `name` by edit distance, if close enough to be a typo.
fn closest<'n>(name: &str, known: &[&'n str]) -> Option<&'n str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let next = (row[j] + 1).min(row[j - 1] + 1).min(prev + cost);
            prev = row[j];
            row[j] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[ParamInfo] = &[
        ParamInfo {
            name: "ip",
            required: true,
            default: "",
            meaning: "the address",
        },
        ParamInfo {
            name: "cidr_netmask",
            required: false,
            default: "",
            meaning: "prefix",
        },
        ParamInfo {
            name: "arp_count",
            required: false,
            default: "5",
            meaning: "count",
        },
    ];

    fn map(pairs: &[(&str, toml::Value)]) -> BTreeMap<String, toml::Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    // Goal: a typo in a parameter name is not fatal (ha check warns about
    // it; the agent ignores it), and the closest name is found for the hint.
    #[test]
    fn unknown_name_is_ignored_and_the_close_one_found() {
        let m = map(&[("ip", "10.0.0.1".into()), ("cidr_netmsk", 24.into())]);
        let p = Params::new("webip", "vip", &m, KNOWN).expect("unknown names are ignored");
        assert_eq!(
            p.integer("cidr_netmask", 1, 32).expect("absent is fine"),
            None
        );
        assert_eq!(
            closest("cidr_netmsk", &["ip", "cidr_netmask", "arp_count"]),
            Some("cidr_netmask")
        );
        assert_eq!(closest("zzz", &["ip", "cidr_netmask"]), None);
    }

    // Goal: a missing required parameter is named, with what it means.
    #[test]
    fn missing_required_is_named() {
        let m = map(&[("arp_count", 3.into())]);
        let text = Params::new("webip", "vip", &m, KNOWN)
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            text.contains("parameter \"ip\": required parameter is missing"),
            "{text}"
        );
    }

    // Goal: numbers and booleans are accepted as OCF-style strings too, and
    // out-of-range values are rejected with the range.
    #[test]
    fn values_in_ocf_string_form() {
        let m = map(&[
            ("ip", "10.0.0.1".into()),
            ("cidr_netmask", "24".into()),
            ("arp_count", 99999.into()),
        ]);
        let p = Params::new("r", "vip", &m, KNOWN).expect("names are fine");
        assert_eq!(p.integer("cidr_netmask", 0, 32).expect("24 ok"), Some(24));
        let err = match p.integer("arp_count", 0, 100) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("out of range must fail, got {v:?}"),
        };
        assert!(err.contains("from 0 to 100, found 99999"), "{err}");
        assert_eq!(parse_bool("No"), Some(false));
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), None);
    }
}

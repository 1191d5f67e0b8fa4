//! "Did you mean" hints: the closest known word to a misspelt one.
//!
//! Input: the word the user wrote and the words that would have been valid.
//! Output: the closest candidate when it is close enough to be a plausible
//! typo (Levenshtein distance, case differences counting as near misses), or
//! `None`. Pure; used by the loader for unknown keys, enum values and names.

/// Levenshtein edit distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate closest to `word`, if it is a plausible typo of it.
///
/// A candidate that differs only in case always qualifies (node names are
/// case-sensitive, and "Started" vs "started" is a common slip); otherwise
/// the distance may be at most a third of the word's length, and at least 1,
/// so that "intervall" finds "interval" but "port" does not find "ttl".
pub fn closest<'c, I>(word: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'c str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            edit_distance(&lower, &candidate.to_lowercase())
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `"a", "b" and "c"` for hints that list the known names.
pub fn quoted_list<'c, I>(items: I) -> String
where
    I: IntoIterator<Item = &'c str>,
{
    joined(items, "and")
}

/// `"a", "b" or "c"` for messages that list the allowed choices.
pub fn quoted_choices<'c, I>(items: I) -> String
where
    I: IntoIterator<Item = &'c str>,
{
    joined(items, "or")
}

fn joined<'c, I>(items: I, conjunction: &str) -> String
where
    I: IntoIterator<Item = &'c str>,
{
    let items: Vec<String> = items.into_iter().map(|s| format!("\"{s}\"")).collect();
    match items.len() {
        0 => String::from("none"),
        1 => items[0].clone(),
        n => format!(
            "{} {conjunction} {}",
            items[..n - 1].join(", "),
            items[n - 1]
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the distance is the textbook Levenshtein distance, and the
    // suggestion threshold accepts typos but not unrelated words.
    #[test]
    fn distance_and_threshold() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(
            closest("intervall", ["interval", "timeout"]),
            Some("interval")
        );
        assert_eq!(closest("Started", ["started", "stopped"]), Some("started"));
        assert_eq!(closest("port", ["ttl", "transport"]), None);
        assert_eq!(closest("nodc", ["noda", "nodb"]), Some("noda"));
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(quoted_list(["a"]), "\"a\"");
        assert_eq!(quoted_list(["a", "b", "c"]), "\"a\", \"b\" and \"c\"");
        assert_eq!(quoted_list([]), "none");
        assert_eq!(quoted_choices(["a", "b"]), "\"a\" or \"b\"");
    }
}

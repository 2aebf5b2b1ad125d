//! Applying an update's hunks to a file's text, as Codex does: hunks apply in order,
//! each found at or after the end of the one before; an `@@` anchor line is found
//! first. Lines are compared exactly, then ignoring trailing whitespace, then
//! ignoring surrounding whitespace, then with typographic punctuation folded to
//! ASCII; the first position that matches wins. The result ends with a newline.

use super::parse::Hunk;

/// The new text, or why a hunk did not apply.
pub(crate) fn apply(original: &str, hunks: &[Hunk]) -> Result<String, String> {
    let mut lines: Vec<&str> = original.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let mut replacements: Vec<(usize, usize, &[String])> = Vec::new();
    let mut cursor = 0;
    for (index, hunk) in hunks.iter().enumerate() {
        if let Some(anchor) = &hunk.anchor {
            let found = seek(&lines, std::slice::from_ref(anchor), cursor, false)
                .ok_or_else(|| format!("hunk {}: cannot find the line {anchor:?}", index + 1))?;
            cursor = found + 1;
        }
        if hunk.old.is_empty() {
            // Pure insertion: after the anchor, or at the end of the file.
            let at = match hunk.anchor {
                Some(_) => cursor,
                None => lines.len(),
            };
            replacements.push((at, 0, &hunk.new));
            continue;
        }
        let (old, new) = trimmed(hunk);
        let found = seek(&lines, &hunk.old, cursor, hunk.end_of_file)
            .map(|at| (at, hunk.old.len(), hunk.new.as_slice()))
            .or_else(|| {
                // Models often end a hunk with a blank line the file does not have.
                (old.len() < hunk.old.len() && !old.is_empty())
                    .then(|| seek(&lines, old, cursor, hunk.end_of_file))
                    .flatten()
                    .map(|at| (at, old.len(), new))
            });
        let Some((at, len, new)) = found else {
            return Err(format!(
                "hunk {}: cannot find these lines{}:\n{}",
                index + 1,
                if hunk.end_of_file {
                    " at the end of the file"
                } else {
                    ""
                },
                hunk.old.join("\n")
            ));
        };
        replacements.push((at, len, new));
        cursor = at + len;
    }
    let mut result: Vec<&str> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for (at, len, new) in replacements {
        // Hunks apply in order, so positions never go backwards; an insertion after
        // a replacement at the same spot keeps its order.
        let at = at.max(next);
        result.extend_from_slice(&lines[next..at]);
        result.extend(new.iter().map(String::as_str));
        next = (at + len).min(lines.len());
    }
    result.extend_from_slice(&lines[next..]);
    let mut text = result.join("\n");
    text.push('\n');
    Ok(text)
}

/// The hunk without trailing empty lines common to `old` and `new`.
fn trimmed(hunk: &Hunk) -> (&[String], &[String]) {
    let (mut old, mut new) = (hunk.old.as_slice(), hunk.new.as_slice());
    while let (Some((last_old, rest_old)), Some((last_new, rest_new))) =
        (old.split_last(), new.split_last())
    {
        if !last_old.is_empty() || !last_new.is_empty() {
            break;
        }
        (old, new) = (rest_old, rest_new);
    }
    (old, new)
}

/// Where `pattern` occurs in `lines` at or after `start` (only at the very end when
/// `at_end`), trying ever looser comparisons.
fn seek(lines: &[&str], pattern: &[String], start: usize, at_end: bool) -> Option<usize> {
    if pattern.len() > lines.len() {
        return None;
    }
    let last = lines.len() - pattern.len();
    let first = if at_end { last } else { start };
    let comparisons: [fn(&str, &str) -> bool; 4] = [
        |a, b| a == b,
        |a, b| a.trim_end() == b.trim_end(),
        |a, b| a.trim() == b.trim(),
        |a, b| fold(a.trim()) == fold(b.trim()),
    ];
    comparisons.into_iter().find_map(|same| {
        (first..=last).find(|&at| {
            pattern
                .iter()
                .zip(&lines[at..])
                .all(|(want, have)| same(have, want))
        })
    })
}

/// Typographic dashes, quotes and spaces as their ASCII look-alikes.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => '"',
            '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(anchor: Option<&str>, old: &[&str], new: &[&str]) -> Hunk {
        Hunk {
            anchor: anchor.map(str::to_owned),
            old: old.iter().map(|s| s.to_string()).collect(),
            new: new.iter().map(|s| s.to_string()).collect(),
            end_of_file: false,
        }
    }

    #[test]
    fn hunks_apply_in_order_after_anchors() {
        let text = "fn a() {\n    x\n}\nfn b() {\n    x\n}\n";
        let edits = [hunk(Some("fn b() {"), &["    x"], &["    y"])];
        assert_eq!(
            apply(text, &edits).unwrap(),
            "fn a() {\n    x\n}\nfn b() {\n    y\n}\n"
        );
        let two = [
            hunk(None, &["    x"], &["    one"]),
            hunk(None, &["    x"], &["    two"]),
        ];
        assert_eq!(
            apply(text, &two).unwrap(),
            "fn a() {\n    one\n}\nfn b() {\n    two\n}\n"
        );
    }

    #[test]
    fn loose_matches_and_insertions() {
        let text = "a  \nb\u{2014}c\nd";
        let edits = [
            hunk(None, &["a", "b-c"], &["A", "B"]),
            hunk(None, &[], &["appended"]),
        ];
        assert_eq!(apply(text, &edits).unwrap(), "A\nB\nd\nappended\n");
        let after_anchor = [hunk(Some("b\u{2014}c"), &[], &["inserted"])];
        assert_eq!(
            apply(text, &after_anchor).unwrap(),
            "a  \nb\u{2014}c\ninserted\nd\n"
        );
        let trailing_blank = [hunk(None, &["d", ""], &["D", ""])];
        assert_eq!(
            apply(text, &trailing_blank).unwrap(),
            "a  \nb\u{2014}c\nD\n"
        );
    }

    #[test]
    fn mismatches_and_end_of_file_are_reported() {
        let text = "x\ny\nx\n";
        let missing = [hunk(None, &["nope"], &["yes"])];
        assert!(apply(text, &missing).unwrap_err().contains("nope"));
        let mut at_end = hunk(None, &["x"], &["z"]);
        at_end.end_of_file = true;
        assert_eq!(apply(text, &[at_end]).unwrap(), "x\ny\nz\n");
        let mut not_at_end = hunk(None, &["y"], &["z"]);
        not_at_end.end_of_file = true;
        assert!(apply(text, &[not_at_end]).is_err());
        let missing_anchor = [hunk(Some("w"), &["x"], &["z"])];
        assert!(apply(text, &missing_anchor).unwrap_err().contains("\"w\""));
    }
}

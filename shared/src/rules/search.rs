//! Full-text search terms, made here rather than by a Postgres text-search configuration, so
//! that unspaced scripts work: Postgres' parsers split words on spaces, which Chinese, Japanese,
//! Thai and friends do not use.
//!
//! - Text is case-folded, then split into runs. A run of letters and digits of a spaced script
//!   is one term (a word). A run of characters of an unspaced script (Han, Hiragana, Katakana,
//!   Hangul syllables, Thai, Lao, Khmer, Myanmar) gives every character and every pair of
//!   neighbours as terms (unigrams and bigrams): `東京都` → `東`, `京`, `都`, `東京`, `京都`.
//! - A query is split the same way; its unspaced runs give their bigrams (a single character
//!   gives itself), all of which must match, so `京都` finds `東京都` and not `都京`. The last
//!   word of a query also matches words it starts (`hel` finds `hello`).
//! - The stored `tsvector` and the `tsquery` are built as literals ([`tsvector`], [`tsquery`]),
//!   so Postgres never re-parses the terms.
//!
//! [`snippet`] cuts the text around the first match and says where the matches are.

use crate::error::ApiError;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Characters of text a snippet shows.
pub const SNIPPET_CHARS: usize = 120;
/// Terms longer than this (in characters) are not indexed (URLs, base64 blobs).
const MAX_TERM_CHARS: usize = 64;

/// Whether `c` belongs to a script written without spaces between words.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // CJK extensions B..
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x0E00..=0x0EFF    // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0xFF66..=0xFF9F    // half-width Katakana
    )
}

/// `text` case-folded, one entry per folded character with the index (in characters) of the
/// original character it came from.
pub fn fold(text: &str) -> Vec<(char, usize)> {
    let mut out = Vec::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        for l in c.to_lowercase() {
            out.push((l, i));
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Run {
    Word(String),
    Unspaced(Vec<char>),
}

fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    for (c, _) in fold(text) {
        if unspaced(c) {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            if !cjk.is_empty() {
                out.push(Run::Unspaced(std::mem::take(&mut cjk)));
            }
            word.push(c);
        } else {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            if !cjk.is_empty() {
                out.push(Run::Unspaced(std::mem::take(&mut cjk)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Run::Word(word));
    }
    if !cjk.is_empty() {
        out.push(Run::Unspaced(cjk));
    }
    out
}

/// The terms of `text`, in order (with repeats), as stored.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs(text) {
        match run {
            Run::Word(w) if w.chars().count() <= MAX_TERM_CHARS => out.push(w),
            Run::Word(_) => {}
            Run::Unspaced(cs) => {
                for (i, c) in cs.iter().enumerate() {
                    out.push(c.to_string());
                    if let Some(next) = cs.get(i + 1) {
                        out.push([*c, *next].iter().collect());
                    }
                }
            }
        }
    }
    out
}

/// A `tsvector` literal for `text`'s terms with their positions (ranking uses them), or `None`
/// when it has none.
pub fn tsvector(text: &str) -> Option<String> {
    let mut positions: std::collections::BTreeMap<String, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, t) in terms(text).into_iter().enumerate() {
        let p = positions.entry(t).or_default();
        // Postgres keeps at most 256 positions per lexeme, each at most 16383.
        if p.len() < 256 && i < 16383 {
            p.push(i + 1);
        }
    }
    if positions.is_empty() {
        return None;
    }
    let parts: Vec<String> = positions
        .into_iter()
        .map(|(t, ps)| {
            let ps: Vec<String> = ps.iter().map(usize::to_string).collect();
            if ps.is_empty() { quote(&t) } else { format!("{}:{}", quote(&t), ps.join(",")) }
        })
        .collect();
    Some(parts.join(" "))
}

/// A parsed search query: its terms (for highlighting) and its `tsquery` literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// What a match looks like in folded text (words, CJK bigrams or single characters).
    pub terms: Vec<String>,
    /// Whether the last term also matches words it starts.
    pub prefix_last: bool,
}

/// Parses `q`: 400 when it is empty, too long, or has nothing to search for.
pub fn query(q: &str) -> Result<Query, ApiError> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(format!("q: at most {MAX_QUERY_CHARS} characters")));
    }
    let mut terms = Vec::new();
    let runs = runs(q);
    let last_is_word = matches!(runs.last(), Some(Run::Word(_))) && !q.ends_with(char::is_whitespace);
    for run in runs {
        match run {
            Run::Word(w) => terms.push(w.chars().take(MAX_TERM_CHARS).collect()),
            Run::Unspaced(cs) if cs.len() == 1 => terms.push(cs[0].to_string()),
            Run::Unspaced(cs) => terms.extend(cs.windows(2).map(|p| p.iter().collect::<String>())),
        }
    }
    terms.dedup();
    if terms.is_empty() {
        return Err(ApiError::invalid("q: give a word to search for"));
    }
    Ok(Query { terms, prefix_last: last_is_word })
}

impl Query {
    /// The `tsquery` literal: every term must match.
    pub fn tsquery(&self) -> String {
        let n = self.terms.len();
        self.terms
            .iter()
            .enumerate()
            .map(|(i, t)| if i + 1 == n && self.prefix_last { format!("{}:*", quote(t)) } else { quote(t) })
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// A lexeme quoted for a `tsvector` / `tsquery` literal.
fn quote(t: &str) -> String {
    format!("'{}'", t.replace('\\', "\\\\").replace('\'', "''"))
}

/// A piece of text around the first match, and where the matches in it are (character ranges,
/// start inclusive, end exclusive, in Unicode scalar values of the snippet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    /// At most [`SNIPPET_CHARS`] characters, with `…` where text was cut.
    pub text: String,
    /// Matches in `text`.
    pub highlights: Vec<[usize; 2]>,
}

/// The snippet of `text` for `q`.
pub fn snippet(text: &str, q: &Query) -> Snippet {
    let folded = fold(text);
    let chars: Vec<char> = text.chars().collect();
    let lowered: Vec<char> = folded.iter().map(|(c, _)| *c).collect();
    // Matches as ranges of original characters.
    let mut found: Vec<[usize; 2]> = Vec::new();
    for (k, term) in q.terms.iter().enumerate() {
        let t: Vec<char> = term.chars().collect();
        let prefix = k + 1 == q.terms.len() && q.prefix_last;
        let mut i = 0;
        while i + t.len() <= lowered.len() {
            if lowered[i..i + t.len()] == t[..] {
                let mut end = i + t.len();
                if prefix {
                    while end < lowered.len() && lowered[end].is_alphanumeric() && !unspaced(lowered[end]) {
                        end += 1;
                    }
                }
                let (a, b) = (folded[i].1, folded[end - 1].1 + 1);
                found.push([a, b]);
                i = end;
            } else {
                i += 1;
            }
        }
    }
    found.sort();
    let mut merged: Vec<[usize; 2]> = Vec::new();
    for r in found {
        match merged.last_mut() {
            Some(last) if r[0] <= last[1] => last[1] = last[1].max(r[1]),
            _ => merged.push(r),
        }
    }
    let first = merged.first().map_or(0, |r| r[0]);
    let start = first.saturating_sub(SNIPPET_CHARS / 4);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let start = end.saturating_sub(SNIPPET_CHARS).min(start);
    let mut out = String::new();
    let lead = if start > 0 { 1 } else { 0 };
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    let highlights = merged
        .into_iter()
        .filter(|r| r[0] >= start && r[1] <= end)
        .map(|r| [r[0] - start + lead, r[1] - start + lead])
        .collect();
    Snippet { text: out, highlights }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_scripts_give_words_and_unspaced_ones_unigrams_and_bigrams() {
        assert_eq!(terms("Hello, World! hello"), ["hello", "world", "hello"]);
        assert_eq!(terms("東京都"), ["東", "東京", "京", "京都", "都"]);
        assert_eq!(terms("我爱Rust语言"), ["我", "我爱", "爱", "rust", "语", "语言", "言"]);
        assert_eq!(terms("Straße ÉCOLE"), ["straße", "école"]);
        assert_eq!(terms("  ...  "), Vec::<String>::new());
        assert!(terms(&"x".repeat(65)).is_empty(), "blobs are not indexed");
    }

    #[test]
    fn queries_need_every_term_and_prefix_the_last_word() {
        let q = query("京都").unwrap();
        assert_eq!(q.terms, ["京都"]);
        assert_eq!(q.tsquery(), "'京都'");
        let q = query("東京タワー").unwrap();
        assert_eq!(q.terms, ["東京", "京タ", "タワ", "ワー"]);
        let q = query("hello wor").unwrap();
        assert_eq!(q.tsquery(), "'hello' & 'wor':*");
        let q = query("hello ").unwrap();
        assert_eq!(q.tsquery(), "'hello'", "a finished word is not a prefix");
        assert_eq!(query("都").unwrap().terms, ["都"]);
        assert_eq!(query("it's").unwrap().tsquery(), "'it' & 's':*");
        assert!(query("  !!").is_err());
        assert!(query(&"a".repeat(201)).unwrap_err().message.starts_with("q:"));
    }

    #[test]
    fn literals_are_quoted() {
        assert_eq!(tsvector("a b a"), Some("'a':1,3 'b':2".into()));
        assert_eq!(quote("o'k\\"), "'o''k\\\\'");
        assert_eq!(tsvector("!!!"), None);
    }

    #[test]
    fn snippets_cut_around_the_first_match_and_mark_every_match() {
        let q = query("quick").unwrap();
        let s = snippet("The Quick brown fox is quick", &q);
        assert_eq!(s.text, "The Quick brown fox is quick");
        assert_eq!(s.highlights, vec![[4, 9], [23, 28]]);
        let long = format!("{} needle {}", "a ".repeat(100), "b ".repeat(100));
        let s = snippet(&long, &query("needle").unwrap());
        assert!(s.text.starts_with('…') && s.text.ends_with('…'), "{}", s.text);
        let [a, b] = s.highlights[0];
        let marked: String = s.text.chars().skip(a).take(b - a).collect();
        assert_eq!(marked, "needle");
        let s = snippet("我们去东京都玩", &query("京都").unwrap());
        let [a, b] = s.highlights[0];
        assert_eq!(s.text.chars().skip(a).take(b - a).collect::<String>(), "京都");
        let s = snippet("hello world", &query("wor").unwrap());
        assert_eq!(s.highlights, vec![[6, 11]], "a prefix marks the whole word");
    }
}

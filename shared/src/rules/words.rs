//! The sensitive-word filter: a list of words, each to be masked (`***`) or to refuse the text,
//! applied to messages, edits, group names, descriptions and announcements, and profiles. Matching
//! is case-insensitive (Unicode case folding) and finds words inside longer text, which is what
//! a filter for unspaced scripts needs (and what operators of spaced ones accept for the words
//! they list). The list lives in the database (`word_filters`), so every node and the edge apply
//! the same one; hosts reload it when it changes.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::error::ApiError;
use crate::rules::search::fold;

/// What a listed word does to a text that contains it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordAction {
    /// Replaced by `*` (one per character).
    Mask,
    /// The text is refused (400 naming the field).
    Reject,
}

impl WordAction {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mask => "mask",
            Self::Reject => "reject",
        }
    }

    /// From the database spelling.
    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "mask" => Some(Self::Mask),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// A compiled word list.
#[derive(Clone, Debug, Default)]
pub struct WordFilter {
    actions: Vec<WordAction>,
    matcher: Option<AhoCorasick>,
}

impl WordFilter {
    /// Compiles `words` (empty entries are skipped).
    pub fn new(words: &[(String, WordAction)]) -> WordFilter {
        let mut patterns = Vec::new();
        let mut actions = Vec::new();
        for (w, a) in words {
            let folded: String = fold(w.trim()).into_iter().map(|(c, _)| c).collect();
            if !folded.is_empty() {
                patterns.push(folded);
                actions.push(*a);
            }
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&patterns).ok()
        };
        WordFilter { actions, matcher }
    }

    /// How many words it holds.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// `text` with masked words replaced, or 400 naming `field` when it holds a rejected word.
    pub fn apply(&self, field: &str, text: &str) -> Result<String, ApiError> {
        let Some(m) = &self.matcher else { return Ok(text.to_owned()) };
        let folded = fold(text);
        let lowered: String = folded.iter().map(|(c, _)| *c).collect();
        // Byte offset in `lowered` → index of the folded character.
        let mut at = Vec::with_capacity(lowered.len() + 1);
        for (i, (c, _)) in folded.iter().enumerate() {
            at.extend(std::iter::repeat_n(i, c.len_utf8()));
        }
        at.push(folded.len());
        let mut masked: Vec<bool> = vec![false; text.chars().count()];
        let mut any = false;
        for hit in m.find_iter(&lowered) {
            if self.actions[hit.pattern().as_usize()] == WordAction::Reject {
                return Err(ApiError::invalid(format!("{field}: contains a word that is not allowed here")));
            }
            let (a, b) = (at[hit.start()], at[hit.end()]);
            for (_, orig) in &folded[a..b] {
                masked[*orig] = true;
            }
            any = true;
        }
        if !any {
            return Ok(text.to_owned());
        }
        Ok(text.chars().zip(masked).map(|(c, m)| if m && !c.is_whitespace() { '*' } else { c }).collect())
    }

    /// [`Self::apply`] to an optional text.
    pub fn apply_opt(&self, field: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
        text.map(|t| self.apply(field, &t)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn filter() -> WordFilter {
        WordFilter::new(&[
            ("darn".into(), WordAction::Mask),
            ("Heck".into(), WordAction::Mask),
            ("forbidden".into(), WordAction::Reject),
            ("坏蛋".into(), WordAction::Mask),
            ("  ".into(), WordAction::Reject),
        ])
    }

    #[test]
    fn masks_case_insensitively_inside_text_and_keeps_the_rest() {
        let f = filter();
        assert_eq!(f.len(), 4, "the blank entry is skipped");
        assert_eq!(f.apply("text", "Oh DARN it, heck!").unwrap(), "Oh **** it, ****!");
        assert_eq!(f.apply("text", "你是坏蛋吗").unwrap(), "你是**吗");
        assert_eq!(f.apply("text", "darned").unwrap(), "****ed", "inside words too");
        assert_eq!(f.apply("text", "fine").unwrap(), "fine");
        assert_eq!(WordFilter::default().apply("text", "darn").unwrap(), "darn");
    }

    #[test]
    fn a_rejected_word_refuses_the_text_naming_the_field() {
        let e = filter().apply("name", "a FORBIDDEN name").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.starts_with("name:"), "{}", e.message);
        assert_eq!(filter().apply_opt("bio", None).unwrap(), None);
    }

    #[test]
    fn folding_that_changes_lengths_maps_back_to_the_right_characters() {
        // 'İ' folds to two characters ("i̇"): the mask still covers exactly the original word.
        let f = WordFilter::new(&[("i̇stanbul".into(), WordAction::Mask)]);
        assert_eq!(f.apply("text", "to İSTANBUL now").unwrap(), "to ******** now");
    }
}

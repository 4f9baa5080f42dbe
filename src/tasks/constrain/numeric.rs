//! The forecasting constraint: exactly `h` LLMTime values.
//!
//! The generated text must spell `V (time_sep V)*` where a value `V` is an
//! optional `-` (only when the series has negative values), then at most
//! `max_digits` digits with `bit_sep` between consecutive digits. Only
//! tokens made of digits, the separators' characters and (where allowed)
//! `-` can be drawn, and only where the text stays a prefix of that
//! language. A value counts as complete once the separator's last
//! non-blank character follows it (the whole separator when it is blank).
//! The sequence is complete as soon as it holds `h` complete values; after
//! the `h`-th value's first digit the stop token is also allowed, so an
//! answer ends either way with exactly `h` values.
//!
//! `max_digits` (the widest history value plus one digit) bounds a value
//! to ten times the scale of the history, so a runaway string of digits
//! cannot use up the budget.

use std::sync::Arc;

use super::vocab::TokenTexts;
use crate::search::{Allowed, TokenConstraint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Inside a value: digits so far, whether a `-` was read, and how many
    /// characters of `bit_sep` were read after the last digit.
    Value { digits: usize, minus: bool, bit: usize },
    /// Inside the time separator: characters of it read.
    Sep { matched: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct State {
    /// Complete values.
    done: usize,
    phase: Phase,
}

const START: State = State { done: 0, phase: Phase::Value { digits: 0, minus: false, bit: 0 } };

/// The language of `h` values, character by character (a small NFA: a
/// blank `bit_sep` and a separator that starts with a blank are read both
/// ways until the next character decides).
#[derive(Debug, Clone)]
pub struct ValuesGrammar {
    pub horizon: usize,
    bit: Vec<char>,
    sep: Vec<char>,
    /// Characters of `sep` up to and including its last non-blank one.
    core: usize,
    pub negatives: bool,
    pub max_digits: usize,
}

impl ValuesGrammar {
    /// `None` when `time_sep` is empty or holds a digit or `-`, or
    /// `bit_sep` holds a digit or `-` (values could not be told apart).
    pub fn new(horizon: usize, bit_sep: &str, time_sep: &str, negatives: bool, max_digits: usize) -> Option<ValuesGrammar> {
        let bad = |c: char| c.is_ascii_digit() || c == '-';
        if time_sep.is_empty() || time_sep.chars().any(bad) || bit_sep.chars().any(bad) || horizon == 0 || max_digits == 0 {
            return None;
        }
        let sep: Vec<char> = time_sep.chars().collect();
        let core = sep.iter().rposition(|c| !c.is_whitespace()).map_or(sep.len(), |i| i + 1);
        Some(ValuesGrammar { horizon, bit: bit_sep.chars().collect(), sep, core, negatives, max_digits })
    }

    /// Characters any allowed token may contain.
    pub fn alphabet(&self, c: char) -> bool {
        c.is_ascii_digit() || (c == '-' && self.negatives) || self.bit.contains(&c) || self.sep.contains(&c)
    }

    fn after_sep_char(&self, done: usize, from: usize) -> State {
        let done = if from < self.core && from + 1 >= self.core { done + 1 } else { done };
        State { done, phase: Phase::Sep { matched: from + 1 } }
    }

    fn step(&self, s: State, c: char, out: &mut Vec<State>) {
        match s.phase {
            Phase::Value { digits, minus, bit } if bit > 0 => {
                if bit < self.bit.len() {
                    if c == self.bit[bit] {
                        out.push(State { done: s.done, phase: Phase::Value { digits, minus, bit: bit + 1 } });
                    }
                } else if c.is_ascii_digit() && digits < self.max_digits {
                    out.push(State { done: s.done, phase: Phase::Value { digits: digits + 1, minus, bit: 0 } });
                }
            }
            Phase::Value { digits, minus, .. } => {
                if c.is_ascii_digit() && digits < self.max_digits {
                    out.push(State { done: s.done, phase: Phase::Value { digits: digits + 1, minus, bit: 0 } });
                }
                if c == '-' && digits == 0 && !minus && self.negatives {
                    out.push(State { done: s.done, phase: Phase::Value { digits: 0, minus: true, bit: 0 } });
                }
                if digits > 0 {
                    if self.bit.first() == Some(&c) {
                        out.push(State { done: s.done, phase: Phase::Value { digits, minus, bit: 1 } });
                    }
                    if s.done < self.horizon && self.sep[0] == c {
                        out.push(self.after_sep_char(s.done, 0));
                    }
                }
            }
            Phase::Sep { matched } => {
                if matched < self.sep.len() {
                    if self.sep[matched] == c {
                        out.push(self.after_sep_char(s.done, matched));
                    }
                } else if s.done < self.horizon {
                    self.step(State { done: s.done, phase: Phase::Value { digits: 0, minus: false, bit: 0 } }, c, out);
                }
            }
        }
    }

    fn feed(&self, states: &[State], text: &str) -> Vec<State> {
        let mut cur = states.to_vec();
        for c in text.chars() {
            let mut next = Vec::with_capacity(cur.len() + 1);
            for &s in &cur {
                self.step(s, c, &mut next);
            }
            next.sort_unstable();
            next.dedup();
            if next.is_empty() {
                return next;
            }
            cur = next;
        }
        cur
    }

    fn complete(&self, states: &[State]) -> bool {
        states.iter().any(|s| s.done >= self.horizon)
    }

    /// The `h`-th value has a digit and nothing half-written follows it.
    fn can_end(&self, states: &[State]) -> bool {
        states.iter().any(|s| s.done + 1 == self.horizon && matches!(s.phase, Phase::Value { digits, bit: 0, .. } if digits > 0))
    }

    /// The longest complete text, in characters: `h` values, each an
    /// optional `-`, `max_digits` digits and `bit_sep` between them, each
    /// followed by the whole time separator (a sequence is complete once
    /// the separator's last non-blank character follows the `h`-th value,
    /// and nothing may follow the separator).
    pub fn max_chars(&self) -> usize {
        let value = usize::from(self.negatives) + self.max_digits + (self.max_digits - 1) * self.bit.len();
        self.horizon * (value + self.sep.len())
    }

    /// The most tokens an answer can take: every allowed token but the
    /// stop token writes at least one character, and an answer ended by
    /// the stop token has at most `max_chars() - 1` characters before it
    /// (its last separator is missing, and the separator is not empty).
    pub fn max_tokens(&self) -> usize {
        self.max_chars()
    }

    /// Whether `text` is a prefix of the language.
    pub fn accepts_prefix(&self, text: &str) -> bool {
        !self.feed(&[START], text).is_empty()
    }

    /// Whether `text` holds `h` complete values (and nothing after).
    pub fn is_complete_text(&self, text: &str) -> bool {
        self.complete(&self.feed(&[START], text))
    }
}

/// [`ValuesGrammar`] over a vocabulary.
pub struct ValuesConstraint {
    grammar: ValuesGrammar,
    texts: Arc<TokenTexts>,
    /// Tokens made only of the grammar's characters.
    candidates: Vec<u32>,
}

impl ValuesConstraint {
    pub fn new(grammar: ValuesGrammar, texts: Arc<TokenTexts>) -> ValuesConstraint {
        let candidates = texts.ids_where(|t| t.chars().all(|c| grammar.alphabet(c)));
        ValuesConstraint { grammar, texts, candidates }
    }

    /// The fewest tokens that spell `text` with the allowed tokens (`None`:
    /// it cannot be spelled).
    pub fn fewest_tokens(&self, text: &str) -> Option<usize> {
        self.texts.fewest_tokens(&self.candidates, text)[0]
    }

    pub fn grammar(&self) -> &ValuesGrammar {
        &self.grammar
    }

    fn states(&self, generated: &[u32]) -> Vec<State> {
        match self.texts.concat(generated) {
            Some(text) => self.grammar.feed(&[START], &text),
            None => Vec::new(),
        }
    }
}

impl TokenConstraint for ValuesConstraint {
    fn allowed(&self, generated: &[u32]) -> Allowed {
        let states = self.states(generated);
        if states.is_empty() {
            // Past a stop token or off the language: only ending remains.
            return Allowed::Only(self.texts.stop().to_vec());
        }
        let mut ids: Vec<u32> = self
            .candidates
            .iter()
            .copied()
            .filter(|&id| self.texts.text(id).is_some_and(|t| !self.grammar.feed(&states, t).is_empty()))
            .collect();
        if self.grammar.can_end(&states) {
            ids.extend_from_slice(self.texts.stop());
        }
        Allowed::Only(ids)
    }

    fn is_complete(&self, generated: &[u32]) -> bool {
        self.grammar.complete(&self.states(generated))
    }

    fn describe(&self) -> String {
        format!("{} values", self.grammar.horizon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(h: usize, bit: &str, sep: &str, neg: bool) -> ValuesGrammar {
        ValuesGrammar::new(h, bit, sep, neg, 4).unwrap()
    }

    #[test]
    fn the_language_of_h_values() {
        let g2 = g(2, "", ", ", false);
        assert!(g2.accepts_prefix("523, 1040"));
        assert!(g2.accepts_prefix("523, 1040,"));
        assert!(g2.is_complete_text("523, 1040,"));
        assert!(g2.is_complete_text("523, 1040, "));
        assert!(!g2.accepts_prefix("523, 1040, 7"), "nothing after the h-th value");
        assert!(!g2.is_complete_text("523, 1040"));
        assert!(!g2.accepts_prefix("523,,"));
        assert!(!g2.accepts_prefix("-5"), "no minus without negatives");
        assert!(!g2.accepts_prefix("12345"), "at most max_digits digits");
        assert!(!g2.accepts_prefix(" 5"), "the reply starts with a value");
        assert!(g(1, "", ", ", true).accepts_prefix("-5"));
    }

    #[test]
    fn blank_digit_separators_are_read_both_ways() {
        // Llama 3 style: digits split by spaces, steps by " ,".
        let g2 = g(2, " ", " ,", false);
        assert!(g2.accepts_prefix("5 2 3 ,"));
        assert!(g2.accepts_prefix("5 2 3 ,1 0"));
        assert!(g2.is_complete_text("5 2 3 ,1 0 ,"));
        assert!(!g2.accepts_prefix("5 2 3 , 1"));
        assert!(!g2.accepts_prefix("5 2 3 ,,"));
        assert!(!g2.accepts_prefix("5  2"));
    }

    #[test]
    fn ending_is_allowed_only_on_the_last_value() {
        let texts = Arc::new(TokenTexts::new(
            ["0", "1", "2", ",", " ", ", ", "a", "<eos>", "1,", "-"].iter().map(|s| s.to_string()).collect(),
            vec![7],
        ));
        let c = ValuesConstraint::new(g(2, "", ", ", false), texts);
        let only = |gen: &[u32]| match c.allowed(gen) {
            Allowed::Only(v) => v,
            other => panic!("{other:?}"),
        };
        // Start: digits only (and "1," which is a digit then the separator's core).
        assert_eq!(only(&[]), vec![0, 1, 2, 8]);
        // After "1": digits, "," / ", " / "1,"; no stop (first of two values).
        assert_eq!(only(&[1]), vec![0, 1, 2, 3, 5, 8]);
        // After "1, 2": the second value may end with the stop token.
        assert_eq!(only(&[1, 5, 2]), vec![0, 1, 2, 3, 5, 8, 7]);
        assert!(c.is_complete(&[1, 5, 2, 3]));
        assert!(c.is_complete(&[8, 4, 8]));
        assert!(!c.is_complete(&[1, 5, 2]));
        assert_eq!(c.fewest_tokens("12, 1"), Some(4));
    }

    #[test]
    fn the_longest_answer_has_max_chars() {
        for (bit, sep, neg) in [("", ", ", false), (" ", " ,", false), ("", ",", true), ("|", "; ", true)] {
            let g = ValuesGrammar::new(3, bit, sep, neg, 4).unwrap();
            let value = format!("{}{}", if neg { "-" } else { "" }, ["1", "2", "3", "4"].join(bit));
            let longest = vec![value.as_str(); 3].iter().map(|v| format!("{v}{sep}")).collect::<String>();
            assert!(g.is_complete_text(&longest), "{longest:?}");
            assert_eq!(longest.chars().count(), g.max_chars(), "{longest:?}");
            for extra in ["5", ",", " ", "-", bit, sep] {
                if !extra.is_empty() {
                    assert!(!g.accepts_prefix(&format!("{longest}{extra}")), "{longest:?} + {extra:?}");
                }
            }
            let digit_more = format!("{}{}5", value, bit);
            assert!(!g.accepts_prefix(&digit_more), "{digit_more:?}: at most max_digits digits");
        }
    }

    #[test]
    fn separators_that_could_be_read_as_values_are_refused() {
        assert!(ValuesGrammar::new(2, "", "", false, 4).is_none());
        assert!(ValuesGrammar::new(2, "", "0", false, 4).is_none());
        assert!(ValuesGrammar::new(2, "-", ",", false, 4).is_none());
        assert!(ValuesGrammar::new(0, "", ",", false, 4).is_none());
    }
}

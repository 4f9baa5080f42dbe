//! The activity constraint: an answer `Answer: <label>` over the label set,
//! after optional free reasoning.
//!
//! - Without reasoning the reply is the marker `Answer:` from its first
//!   token, then one label.
//! - With reasoning any token may come first (the stop token excepted) until
//!   the text holds the marker; a token that would write the marker followed
//!   by something no label starts with is refused. When only the tokens the
//!   marker and the longest label need are left of the budget, the marker is
//!   forced (a newline, then `Answer:`).
//! - After the marker the text may only continue a label as the label set
//!   writes it, with or without one space first, within the tokens left.
//!   The stop token is allowed once a whole label is written; the sequence
//!   is complete when the label written is no prefix of a longer one.

use std::sync::Arc;

use super::vocab::TokenTexts;
use crate::search::{Allowed, TokenConstraint};
use crate::tasks::activity::parse::normalize;

/// The marker an answer starts with.
pub const MARKER: &str = "Answer:";

/// One way of writing a label after the marker, and the fewest tokens that
/// finish it from each byte offset.
#[derive(Debug, Clone)]
struct Target {
    text: String,
    fin: Vec<Option<usize>>,
}

/// Why a label set cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSetError {
    /// The labels themselves (blank, ambiguous, or not writable).
    Labels(String),
    /// The marker and the longest label do not fit the budget.
    Budget(String),
}

impl LabelSetError {
    pub fn message(&self) -> &str {
        match self {
            LabelSetError::Labels(m) | LabelSetError::Budget(m) => m,
        }
    }
}

pub struct LabelAnswer {
    texts: Arc<TokenTexts>,
    targets: Vec<Target>,
    /// Tokens made only of characters of the targets.
    label_tokens: Vec<u32>,
    /// Tokens holding the marker's last character (only they can complete it).
    closing_tokens: Vec<u32>,
    /// The tokens written when the marker is forced.
    forced: Vec<u32>,
    force_at: usize,
    max_new_tokens: usize,
    /// Free reasoning may come before the marker.
    reasoning: bool,
}

/// The fewest tokens among `ids` spelling `s`, as the token sequence
/// (ties: the smaller id first).
fn spell(texts: &TokenTexts, ids: &[u32], s: &str) -> Option<Vec<u32>> {
    let fin = texts.fewest_tokens(ids, s);
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let need = fin[i]?;
        let (id, len) = ids
            .iter()
            .filter_map(|&id| texts.text(id).map(|t| (id, t)))
            .filter(|(_, t)| !t.is_empty() && s[i..].starts_with(*t))
            .find(|(_, t)| fin[i + t.len()] == Some(need.saturating_sub(1)))
            .map(|(id, t)| (id, t.len()))?;
        out.push(id);
        i += len;
    }
    Some(out)
}

/// The text after the first marker of `text`, when it has one.
fn after_marker(text: &str) -> Option<&str> {
    text.find(MARKER).map(|p| &text[p + MARKER.len()..])
}

impl LabelAnswer {
    /// The constraint for `labels` with a budget of `max_new_tokens`.
    pub fn new(labels: &[String], texts: Arc<TokenTexts>, reasoning: bool, max_new_tokens: usize) -> Result<LabelAnswer, LabelSetError> {
        if labels.is_empty() {
            return Err(LabelSetError::Labels("the label set is empty".into()));
        }
        for l in labels {
            if l.trim().is_empty() || l.contains(['\n', '\r']) {
                return Err(LabelSetError::Labels(format!("label {l:?} is blank or spans lines")));
            }
            let n = normalize(l);
            if let Some(other) = labels.iter().find(|o| *o != l && normalize(o) == n) {
                return Err(LabelSetError::Labels(format!("labels {l:?} and {other:?} read as the same answer")));
            }
        }
        // Tokens made of a space and the labels' characters.
        let label_tokens = texts.ids_where(|t| t.chars().all(|c| c == ' ' || labels.iter().any(|l| l.contains(c))));
        let mut targets = Vec::new();
        let mut longest = 0;
        for l in labels {
            let mut best: Option<usize> = None;
            for text in [format!(" {l}"), l.clone()] {
                let fin = texts.fewest_tokens(&label_tokens, &text);
                if let Some(n) = fin[0] {
                    best = Some(best.map_or(n, |b| b.min(n)));
                }
                targets.push(Target { text, fin });
            }
            let n = best.ok_or_else(|| LabelSetError::Labels(format!("label {l:?} cannot be written with the model's tokens")))?;
            longest = longest.max(n);
        }
        let marker_ids = texts.ids_where(|t| t.chars().all(|c| "\nAnswer:".contains(c)));
        let forced_text = if reasoning { format!("\n{MARKER}") } else { MARKER.to_string() };
        let forced = spell(&texts, &marker_ids, &forced_text)
            .ok_or_else(|| LabelSetError::Labels(format!("the marker {forced_text:?} cannot be written with the model's tokens")))?;
        let reserve = forced.len() + longest;
        if reserve > max_new_tokens {
            return Err(LabelSetError::Budget(format!(
                "`{MARKER} <label>` needs up to {reserve} tokens ({} for the marker, {longest} for the longest label) but max_new_tokens is {max_new_tokens}",
                forced.len()
            )));
        }
        let force_at = if reasoning { max_new_tokens - reserve } else { 0 };
        let last = MARKER.chars().last().unwrap_or(':');
        let closing_tokens = texts.ids_where(|t| t.contains(last));
        Ok(LabelAnswer { texts, targets, label_tokens, closing_tokens, forced, force_at, max_new_tokens, reasoning })
    }

    /// The most tokens an answer can take without free reasoning: the
    /// marker as forced, the longest way of writing a label (every label
    /// token writes at least one character) and the stop token. `None` with
    /// reasoning, which may use the whole budget.
    pub fn max_tokens(&self) -> Option<usize> {
        if self.reasoning {
            return None;
        }
        let longest = self.targets.iter().map(|g| g.text.chars().count()).max().unwrap_or(0);
        Some(self.forced.len() + longest + 1)
    }

    /// Whether `rest` (the text after the marker) can still become a label
    /// within `left` more tokens.
    fn viable(&self, rest: &str, left: usize) -> bool {
        self.targets.iter().any(|g| g.text.starts_with(rest) && g.fin[rest.len()].is_some_and(|n| n <= left))
    }

    fn label_allowed(&self, rest: &str, used: usize) -> Allowed {
        let left = self.max_new_tokens.saturating_sub(used + 1);
        let mut ids: Vec<u32> = self
            .label_tokens
            .iter()
            .copied()
            .filter(|&id| self.texts.text(id).is_some_and(|t| self.viable(&format!("{rest}{t}"), left)))
            .collect();
        if self.targets.iter().any(|g| g.text == rest) {
            ids.extend_from_slice(self.texts.stop());
        }
        Allowed::Only(ids)
    }

    fn free_allowed(&self, text: &str, used: usize) -> Allowed {
        let left = self.max_new_tokens.saturating_sub(used + 1);
        let mut tail_start = text.len().saturating_sub(MARKER.len());
        while !text.is_char_boundary(tail_start) {
            tail_start -= 1;
        }
        let tail = &text[tail_start..];
        let mut refused: Vec<u32> = self.texts.stop().to_vec();
        for &id in &self.closing_tokens {
            let Some(t) = self.texts.text(id) else { continue };
            let joined = format!("{tail}{t}");
            if after_marker(&joined).is_some_and(|rest| !self.viable(rest, left)) {
                refused.push(id);
            }
        }
        Allowed::AllBut(refused)
    }
}

impl TokenConstraint for LabelAnswer {
    fn allowed(&self, generated: &[u32]) -> Allowed {
        let Some(text) = self.texts.concat(generated) else {
            return Allowed::Only(self.texts.stop().to_vec());
        };
        if let Some(rest) = after_marker(&text) {
            return self.label_allowed(rest, generated.len());
        }
        if generated.len() >= self.force_at {
            let j = generated.len() - self.force_at;
            return Allowed::Only(self.forced.get(j).map_or_else(|| self.texts.stop().to_vec(), |&id| vec![id]));
        }
        self.free_allowed(&text, generated.len())
    }

    fn is_complete(&self, generated: &[u32]) -> bool {
        let Some(text) = self.texts.concat(generated) else { return false };
        let Some(rest) = after_marker(&text) else { return false };
        self.targets.iter().any(|g| g.text == rest) && !self.targets.iter().any(|g| g.text.len() > rest.len() && g.text.starts_with(rest))
    }

    fn describe(&self) -> String {
        format!("`{MARKER} <label>` over {} labels", self.targets.len() / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small vocabulary: single letters, a few words, the marker's pieces.
    fn vocab() -> Arc<TokenTexts> {
        let words = [
            "<eos>", "Answer", ":", " ", "\n", " walking", "walking", "_up", " run", "ning", "x", "hello", " sitting", "a", "b", ": run",
            ": x",
        ];
        Arc::new(TokenTexts::new(words.iter().map(|s| s.to_string()).collect(), vec![0]))
    }

    fn labels(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    fn only(a: Allowed) -> Vec<u32> {
        match a {
            Allowed::Only(v) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_longest_answer_is_within_max_tokens() {
        let c = LabelAnswer::new(&labels(&["ab", "x"]), vocab(), false, 10).unwrap();
        // "Answer" ":" then " " "a" "b", one character a token: 5 tokens,
        // complete without the stop token; the bound adds it.
        let longest = [1, 2, 3, 13, 14];
        for i in 0..longest.len() {
            assert!(only(c.allowed(&longest[..i])).contains(&longest[i]), "token {i}");
        }
        assert!(c.is_complete(&longest));
        assert_eq!(c.max_tokens(), Some(2 + 3 + 1));
        assert_eq!(LabelAnswer::new(&labels(&["ab", "x"]), vocab(), true, 10).unwrap().max_tokens(), None);
    }

    #[test]
    fn without_reasoning_the_marker_comes_first_then_a_label() {
        let c = LabelAnswer::new(&labels(&["walking", "walking_up", "running"]), vocab(), false, 10).unwrap();
        assert_eq!(only(c.allowed(&[])), vec![1]);
        assert_eq!(only(c.allowed(&[1])), vec![2]);
        // After "Answer:": " walking", "walking", " run", " " (then a word).
        assert_eq!(only(c.allowed(&[1, 2])), vec![3, 5, 6, 8]);
        // " walking" is a label and a prefix of " walking_up": the stop token or "_up".
        assert_eq!(only(c.allowed(&[1, 2, 5])), vec![7, 0]);
        assert!(!c.is_complete(&[1, 2, 5]));
        assert!(c.is_complete(&[1, 2, 5, 7]));
        assert!(c.is_complete(&[1, 2, 8, 9]));
        assert!(!c.is_complete(&[1, 2, 8]));
    }

    #[test]
    fn reasoning_is_free_until_the_marker_is_forced() {
        // Marker "\nAnswer:" = 3 tokens, longest label " running" = 2: forced from 10 - 5 = 5.
        let c = LabelAnswer::new(&labels(&["walking", "running"]), vocab(), true, 10).unwrap();
        match c.allowed(&[11, 13]) {
            // Free text: everything but the stop token and ": x" (a marker then no label).
            Allowed::AllBut(v) => assert_eq!(v, vec![0]),
            other => panic!("{other:?}"),
        }
        match c.allowed(&[11, 1]) {
            Allowed::AllBut(v) => assert_eq!(v, vec![0, 16]),
            other => panic!("{other:?}"),
        }
        // The model may write the marker itself, and a label in the same token.
        assert!(c.is_complete(&[11, 1, 15, 9]));
        assert_eq!(only(c.allowed(&[11, 13, 14, 13, 14])), vec![4]);
        assert_eq!(only(c.allowed(&[11, 13, 14, 13, 14, 4])), vec![1]);
        assert_eq!(only(c.allowed(&[11, 13, 14, 13, 14, 4, 1])), vec![2]);
        // Two tokens left: " run" + "ning", " walking", " " + "walking" all fit.
        assert_eq!(only(c.allowed(&[11, 13, 14, 13, 14, 4, 1, 2])), vec![3, 5, 6, 8]);
    }

    #[test]
    fn label_sets_the_constraint_cannot_express_are_errors() {
        let err = |l: &[&str], n| LabelAnswer::new(&labels(l), vocab(), false, n).err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(err(&["walking", "Walking"], 10).contains("same answer"));
        assert!(err(&["zzz"], 10).contains("cannot be written"));
        assert!(err(&[""], 10).contains("blank"));
        assert!(err(&["walking"], 2).contains("max_new_tokens is 2"));
    }
}

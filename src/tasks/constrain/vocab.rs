//! The text of every token of a vocabulary, as the constraints read it.

/// Each token id's decoded text, and the ids that end a generation.
#[derive(Debug, Clone)]
pub struct TokenTexts {
    texts: Vec<String>,
    stop: Vec<u32>,
}

impl TokenTexts {
    /// `texts[id]` is token `id` decoded on its own.
    pub fn new(texts: Vec<String>, stop: Vec<u32>) -> TokenTexts {
        TokenTexts { texts, stop }
    }

    pub fn text(&self, id: u32) -> Option<&str> {
        self.texts.get(id as usize).map(String::as_str)
    }

    /// Tokens that end a generation.
    pub fn stop(&self) -> &[u32] {
        &self.stop
    }

    pub fn is_stop(&self, id: u32) -> bool {
        self.stop.contains(&id)
    }

    /// Ids of the non-stop tokens with a non-empty text that `keep` accepts.
    pub fn ids_where(&self, keep: impl Fn(&str) -> bool) -> Vec<u32> {
        (0..self.texts.len() as u32)
            .filter(|&id| !self.is_stop(id))
            .filter(|&id| self.text(id).is_some_and(|t| !t.is_empty() && keep(t)))
            .collect()
    }

    /// The text of `generated`, token by token; `None` when it holds a stop
    /// token or an id outside the vocabulary.
    pub fn concat(&self, generated: &[u32]) -> Option<String> {
        let mut s = String::new();
        for &id in generated {
            if self.is_stop(id) {
                return None;
            }
            s.push_str(self.text(id)?);
        }
        Some(s)
    }

    /// `fin[i]`: the fewest tokens among `ids` that spell `s[i..]` exactly
    /// (`i` a byte offset at a char boundary; `None` where it cannot be
    /// spelled). `fin[s.len()] = Some(0)`.
    pub fn fewest_tokens(&self, ids: &[u32], s: &str) -> Vec<Option<usize>> {
        let mut fin: Vec<Option<usize>> = vec![None; s.len() + 1];
        fin[s.len()] = Some(0);
        for i in (0..s.len()).rev() {
            if !s.is_char_boundary(i) {
                continue;
            }
            let rest = &s[i..];
            fin[i] = ids
                .iter()
                .filter_map(|&id| self.text(id))
                .filter(|t| rest.starts_with(t))
                .filter_map(|t| fin[i + t.len()].map(|n| n + 1))
                .min();
        }
        fin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewest_tokens_prefers_longer_pieces() {
        let v = TokenTexts::new(vec!["a".into(), "b".into(), "ab".into(), "<eos>".into()], vec![3]);
        let ids = v.ids_where(|_| true);
        assert_eq!(ids, vec![0, 1, 2]);
        assert_eq!(v.fewest_tokens(&ids, "abab"), vec![Some(2), Some(2), Some(1), Some(1), Some(0)]);
        assert_eq!(v.fewest_tokens(&ids, "ac")[0], None);
        assert_eq!(v.concat(&[0, 2]), Some("aab".into()));
        assert_eq!(v.concat(&[0, 3]), None);
    }
}

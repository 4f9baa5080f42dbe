//! The search's language-model interface over an engine session: every
//! call becomes one request to the engine loop, which merges it with the
//! requests of the other searches into batched passes.

use std::collections::HashMap;

use crate::engine::service::{SeqId, Session};
use crate::search::{LanguageModel, SearchError, SeqHandle};

pub struct EngineLm<'s> {
    session: &'s Session,
    seqs: HashMap<SeqHandle, SeqId>,
    next: u64,
}

impl<'s> EngineLm<'s> {
    pub fn new(session: &'s Session) -> EngineLm<'s> {
        EngineLm { session, seqs: HashMap::new(), next: 0 }
    }

    fn seq(&self, h: SeqHandle) -> Result<SeqId, SearchError> {
        self.seqs.get(&h).copied().ok_or_else(|| SearchError::Internal(format!("unknown sequence handle {}", h.0)))
    }
}

fn model_err(e: crate::engine::EngineError) -> SearchError {
    SearchError::Model(e.to_string())
}

impl LanguageModel for EngineLm<'_> {
    fn new_seq(&mut self, parent: Option<SeqHandle>) -> Result<SeqHandle, SearchError> {
        let parent = parent.map(|p| self.seq(p)).transpose()?;
        let id = self.session.new_seq(parent).map_err(model_err)?;
        let h = SeqHandle(self.next);
        self.next += 1;
        self.seqs.insert(h, id);
        Ok(h)
    }

    fn forward(&mut self, rows: Vec<(SeqHandle, Vec<u32>)>) -> Result<Vec<Vec<f32>>, SearchError> {
        let rows = rows.into_iter().map(|(h, t)| Ok((self.seq(h)?, t))).collect::<Result<Vec<_>, SearchError>>()?;
        self.session.forward_rows(rows).map_err(model_err)
    }

    fn trim(&mut self, seq: SeqHandle, len: usize) -> Result<(), SearchError> {
        self.session.trim(self.seq(seq)?, len).map_err(model_err)
    }

    fn release(&mut self, seq: SeqHandle) {
        if let Some(id) = self.seqs.remove(&seq) {
            self.session.release(id);
        }
    }
}

impl Drop for EngineLm<'_> {
    fn drop(&mut self) {
        for (_, id) in self.seqs.drain() {
            self.session.release(id);
        }
    }
}

/// The same interface without a KV cache: every row is recomputed from
/// its sequence's first token, one row per pass. The reference point of
/// the search benchmark (what a search costs without prefix caching and
/// batching); results equal [`EngineLm`]'s up to summation order.
pub struct RecomputeLm<'s> {
    session: &'s Session,
    content: HashMap<SeqHandle, Vec<u32>>,
    next: u64,
}

impl<'s> RecomputeLm<'s> {
    pub fn new(session: &'s Session) -> RecomputeLm<'s> {
        RecomputeLm { session, content: HashMap::new(), next: 0 }
    }
}

impl LanguageModel for RecomputeLm<'_> {
    fn new_seq(&mut self, parent: Option<SeqHandle>) -> Result<SeqHandle, SearchError> {
        let tokens = match parent {
            Some(p) => self.content.get(&p).cloned().ok_or_else(|| SearchError::Internal(format!("unknown sequence {}", p.0)))?,
            None => Vec::new(),
        };
        let h = SeqHandle(self.next);
        self.next += 1;
        self.content.insert(h, tokens);
        Ok(h)
    }

    fn forward(&mut self, rows: Vec<(SeqHandle, Vec<u32>)>) -> Result<Vec<Vec<f32>>, SearchError> {
        let mut out = Vec::with_capacity(rows.len());
        for (h, tokens) in rows {
            let content = self.content.get_mut(&h).ok_or_else(|| SearchError::Internal(format!("unknown sequence {}", h.0)))?;
            content.extend(tokens);
            let seq = self.session.new_seq(None).map_err(model_err)?;
            let lp = self.session.forward(seq, content);
            self.session.release(seq);
            out.push(lp.map_err(model_err)?);
        }
        Ok(out)
    }

    fn trim(&mut self, seq: SeqHandle, len: usize) -> Result<(), SearchError> {
        let content = self.content.get_mut(&seq).ok_or_else(|| SearchError::Internal(format!("unknown sequence {}", seq.0)))?;
        content.truncate(len);
        Ok(())
    }

    fn release(&mut self, seq: SeqHandle) {
        self.content.remove(&seq);
    }
}

//! The engine loop: one thread owns the model and every KV cache and serves
//! many callers at once. Callers hold sequence handles, submit forward
//! requests and block on the answer (log-probabilities of each row's last
//! position); they never see an MLX array.
//!
//! Batches never depend on timing. Callers join in groups (`group(n)`), the
//! loop waits until every active caller has a forward request pending (or
//! has finished), then runs all pending rows as one pass, ordered by caller
//! id and row order within the request, split into chunks of at most
//! `max_rows` rows. The same work therefore always forms the same batches and
//! yields the same bits.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use super::batch_cache::BatchCache;
use super::kv_cache::SeqCache;
use super::model::LoadedModel;
use super::prompt_cache::{PromptCache, PromptCacheCounters};
use super::tokenizer::TextTokenizer;
use super::EngineError;
use crate::sampling::log_softmax_in_place;

/// A sequence held by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqId(u64);

/// Counters of the loop, for reports and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ServiceStats {
    /// Forward passes run.
    pub passes: u64,
    /// Rows over all passes.
    pub rows: u64,
    /// Passes that computed a fresh prompt (alone, one row each).
    pub prefills: u64,
    /// Tokens pushed through the model (a prompt prefix shared by several
    /// rows of a pass counts once).
    pub tokens: u64,
    /// Largest total size of the KV caches held at once.
    pub peak_cache_bytes: u64,
    /// Sequences held now.
    pub live_sequences: u64,
    /// Bytes of the KV caches held now.
    pub cache_bytes: u64,
    /// Prompt lookups over all callers.
    pub prompt_cache: PromptCacheCounters,
    /// Bytes the prompt cache holds now (arrays it shares with live
    /// sequences are counted in `cache_bytes` too).
    pub prompt_cache_bytes: u64,
}

impl ServiceStats {
    pub fn mean_batch(&self) -> f64 {
        if self.passes == 0 {
            0.0
        } else {
            self.rows as f64 / self.passes as f64
        }
    }
}

type Reply<T> = Sender<Result<T, EngineError>>;

enum Op {
    Join { count: usize, reply: Reply<Vec<u32>> },
    NewSeq { parent: Option<SeqId>, reply: Reply<SeqId> },
    Forward { caller: u32, rows: Vec<(SeqId, Vec<u32>)>, reply: Reply<Vec<Vec<f32>>> },
    Trim { seq: SeqId, len: usize, reply: Reply<()> },
    Release { seq: SeqId },
    PromptCounters { caller: u32, reply: Reply<PromptCacheCounters> },
    Finish { caller: u32 },
    Stats { reply: Reply<ServiceStats> },
    Vocab { reply: Reply<usize> },
    Tokenizer { reply: Reply<TextTokenizer> },
    Shutdown,
}

/// Handle to a running engine loop.
pub struct EngineService {
    tx: Sender<Op>,
    thread: Option<JoinHandle<()>>,
}

/// One caller of the engine (one search, say).
pub struct Session {
    id: u32,
    tx: Sender<Op>,
}

fn gone() -> EngineError {
    EngineError::Mlx("the engine loop has stopped".into())
}

fn ask<T>(tx: &Sender<Op>, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, EngineError> {
    let (reply, rx) = channel();
    tx.send(make(reply)).map_err(|_| gone())?;
    rx.recv().map_err(|_| gone())?
}

/// How an engine loop batches and what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Most rows per forward pass.
    pub max_rows: usize,
    /// Bytes of computed prompts kept for reuse (0: none kept).
    pub prompt_cache_bytes: usize,
}

impl EngineService {
    /// Starts the loop without a prompt cache; `load` runs on the loop's
    /// thread (MLX arrays stay there).
    pub fn start<F>(load: F, max_rows: usize) -> Result<EngineService, EngineError>
    where
        F: FnOnce() -> Result<LoadedModel, EngineError> + Send + 'static,
    {
        EngineService::start_with(load, EngineOptions { max_rows, prompt_cache_bytes: 0 })
    }

    /// Starts the loop with `options`.
    pub fn start_with<F>(load: F, options: EngineOptions) -> Result<EngineService, EngineError>
    where
        F: FnOnce() -> Result<LoadedModel, EngineError> + Send + 'static,
    {
        let (tx, rx) = channel();
        let (ready_tx, ready_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                limit_buffer_cache();
                let loaded = load();
                match loaded {
                    Ok(model) => {
                        let _ = ready_tx.send(Ok(()));
                        Loop::new(model, options).run(rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| EngineError::Mlx(format!("cannot start the engine thread: {e}")))?;
        ready_rx.recv().map_err(|_| gone())??;
        Ok(EngineService { tx, thread: Some(thread) })
    }

    /// `count` new callers, joined at once so that none runs ahead of the others.
    pub fn group(&self, count: usize) -> Result<Vec<Session>, EngineError> {
        let ids = ask(&self.tx, |reply| Op::Join { count, reply })?;
        Ok(ids.into_iter().map(|id| Session { id, tx: self.tx.clone() }).collect())
    }

    pub fn stats(&self) -> Result<ServiceStats, EngineError> {
        ask(&self.tx, |reply| Op::Stats { reply })
    }

    pub fn vocab_size(&self) -> Result<usize, EngineError> {
        ask(&self.tx, |reply| Op::Vocab { reply })
    }

    /// A copy of the model's tokenizer, for callers to build prompts and
    /// decode outputs.
    pub fn tokenizer(&self) -> Result<TextTokenizer, EngineError> {
        ask(&self.tx, |reply| Op::Tokenizer { reply })
    }
}

/// Bytes of freed buffers MLX may keep for reuse. Its default keeps
/// everything up to the memory limit; searches free sequence caches all the
/// time, so unbounded reuse lists grow to many gigabytes.
pub const BUFFER_CACHE_LIMIT: usize = 1 << 30;

fn limit_buffer_cache() {
    let mut previous: usize = 0;
    // SAFETY: writes one size_t.
    unsafe { mlx_sys::mlx_set_cache_limit(&mut previous, BUFFER_CACHE_LIMIT) };
}

impl Drop for EngineService {
    fn drop(&mut self) {
        // Sessions that outlive the service get "the engine loop has stopped".
        let _ = self.tx.send(Op::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Session {
    pub fn id(&self) -> u32 {
        self.id
    }

    /// A new empty sequence, or a fork of `parent` sharing its prefix.
    pub fn new_seq(&self, parent: Option<SeqId>) -> Result<SeqId, EngineError> {
        ask(&self.tx, |reply| Op::NewSeq { parent, reply })
    }

    /// Feeds `tokens` to `seq`; returns log-probabilities after the last one.
    pub fn forward(&self, seq: SeqId, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        let mut out = self.forward_rows(vec![(seq, tokens.to_vec())])?;
        out.pop().ok_or_else(gone)
    }

    /// Several rows of this caller in the same pass, answered in order.
    /// The loop answers logits; each caller turns its own rows into
    /// log-probabilities on its own thread, so the callers normalize in
    /// parallel rather than the engine one row after another.
    pub fn forward_rows(&self, rows: Vec<(SeqId, Vec<u32>)>) -> Result<Vec<Vec<f32>>, EngineError> {
        let mut out = ask(&self.tx, |reply| Op::Forward { caller: self.id, rows, reply })?;
        for row in &mut out {
            log_softmax_in_place(row);
        }
        Ok(out)
    }

    /// Cuts `seq` back to its first `len` positions.
    pub fn trim(&self, seq: SeqId, len: usize) -> Result<(), EngineError> {
        ask(&self.tx, |reply| Op::Trim { seq, len, reply })
    }

    /// Prompt lookups of this caller so far.
    pub fn prompt_counters(&self) -> Result<PromptCacheCounters, EngineError> {
        ask(&self.tx, |reply| Op::PromptCounters { caller: self.id, reply })
    }

    /// Frees `seq`'s cache.
    pub fn release(&self, seq: SeqId) {
        let _ = self.tx.send(Op::Release { seq });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.tx.send(Op::Finish { caller: self.id });
    }
}

struct Pending {
    rows: Vec<(SeqId, Vec<u32>)>,
    reply: Reply<Vec<Vec<f32>>>,
}

struct Loop {
    model: LoadedModel,
    max_rows: usize,
    next_caller: u32,
    next_seq: u64,
    active: BTreeMap<u32, ()>,
    pending: BTreeMap<u32, Pending>,
    seqs: HashMap<SeqId, SeqCache>,
    /// Keys and values of the sequences that are decoding.
    batch: BatchCache,
    /// First pass of the previous round of passes.
    previous_round: u64,
    stats: ServiceStats,
    prompts: PromptCache,
    /// Prompt lookups per active caller.
    counters: HashMap<u32, PromptCacheCounters>,
}

impl Loop {
    fn new(model: LoadedModel, options: EngineOptions) -> Loop {
        let batch = model.model.batch_cache();
        Loop {
            batch,
            model,
            max_rows: options.max_rows.max(1),
            prompts: PromptCache::new(options.prompt_cache_bytes),
            counters: HashMap::new(),
            next_caller: 0,
            next_seq: 0,
            active: BTreeMap::new(),
            pending: BTreeMap::new(),
            seqs: HashMap::new(),
            previous_round: 0,
            stats: ServiceStats::default(),
        }
    }

    fn run(mut self, rx: Receiver<Op>) {
        while let Ok(op) = rx.recv() {
            if matches!(op, Op::Shutdown) {
                break;
            }
            self.handle(op);
            if !self.active.is_empty() && self.pending.len() == self.active.len() {
                self.run_batch();
            }
        }
    }

    fn handle(&mut self, op: Op) {
        match op {
            Op::Join { count, reply } => {
                let ids: Vec<u32> = (0..count as u32).map(|i| self.next_caller + i).collect();
                self.next_caller += count as u32;
                for id in &ids {
                    self.active.insert(*id, ());
                }
                let _ = reply.send(Ok(ids));
            }
            Op::NewSeq { parent, reply } => {
                let cache = match parent {
                    None => Ok(SeqCache::new(self.model.model.num_layers())),
                    Some(p) => self.seqs.get(&p).ok_or_else(|| unknown(p)).and_then(|c| self.batch.fork(c)),
                };
                let _ = reply.send(cache.map(|c| {
                    let id = SeqId(self.next_seq);
                    self.next_seq += 1;
                    self.seqs.insert(id, c);
                    id
                }));
            }
            Op::Forward { caller, rows, reply } => {
                if !self.active.contains_key(&caller) {
                    let _ = reply.send(Err(EngineError::BadInput(format!("caller {caller} has finished"))));
                } else if let Some(bad) = rows.iter().find(|(s, _)| !self.seqs.contains_key(s)) {
                    let _ = reply.send(Err(unknown(bad.0)));
                } else {
                    self.pending.insert(caller, Pending { rows, reply });
                }
            }
            Op::Trim { seq, len, reply } => {
                let batch = &mut self.batch;
                let r = self.seqs.get_mut(&seq).ok_or_else(|| unknown(seq)).and_then(|c| {
                    if len < c.prefix_len() {
                        batch.evict(c)?;
                    }
                    c.trim(len)
                });
                let _ = reply.send(r);
            }
            Op::Release { seq } => {
                if let Some(slot) = self.seqs.remove(&seq).and_then(|c| c.slot()) {
                    self.batch.free(slot);
                }
            }
            Op::PromptCounters { caller, reply } => {
                let _ = reply.send(Ok(self.counters.get(&caller).copied().unwrap_or_default()));
            }
            Op::Finish { caller } => {
                self.active.remove(&caller);
                self.pending.remove(&caller);
                self.counters.remove(&caller);
            }
            Op::Stats { reply } => {
                self.stats.live_sequences = self.seqs.len() as u64;
                self.stats.cache_bytes = self.cache_bytes() as u64;
                self.stats.prompt_cache_bytes = self.prompts.bytes() as u64;
                let _ = reply.send(Ok(self.stats.clone()));
            }
            Op::Vocab { reply } => {
                let _ = reply.send(Ok(self.model.tokenizer.vocab_size()));
            }
            Op::Tokenizer { reply } => {
                let _ = reply.send(Ok(self.model.tokenizer.clone()));
            }
            Op::Shutdown => {}
        }
    }

    /// Runs every pending row, in caller order: each fresh prompt alone
    /// (or from the prompt cache), then the other rows in chunks of
    /// `max_rows`.
    fn run_batch(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let mut work: Vec<(u32, SeqId, Vec<u32>)> = Vec::new();
        let mut owners: Vec<(Reply<Vec<Vec<f32>>>, usize)> = Vec::new();
        for (caller, p) in pending {
            owners.push((p.reply, p.rows.len()));
            work.extend(p.rows.into_iter().map(|(seq, tokens)| (caller, seq, tokens)));
        }
        let result = self.forward_all(&work);
        match result {
            Ok(mut answers) => {
                let mut rest = answers.drain(..);
                for (reply, n) in owners {
                    let _ = reply.send(Ok(rest.by_ref().take(n).collect()));
                }
            }
            Err(e) => {
                for (reply, _) in owners {
                    let _ = reply.send(Err(EngineError::Mlx(e.to_string())));
                }
            }
        }
    }

    fn forward_all(&mut self, work: &[(u32, SeqId, Vec<u32>)]) -> Result<Vec<Vec<f32>>, EngineError> {
        let mut answers: Vec<Vec<f32>> = vec![Vec::new(); work.len()];
        let first_pass = self.stats.passes;
        let mut others: Vec<usize> = Vec::with_capacity(work.len());
        for (i, (caller, seq, tokens)) in work.iter().enumerate() {
            let fresh = self.seqs.get(seq).ok_or_else(|| unknown(*seq))?.is_fresh();
            if fresh {
                answers[i] = self.prefill(*caller, *seq, tokens)?;
            } else {
                others.push(i);
            }
        }
        for chunk in others.chunks(self.max_rows) {
            // Take the caches out so several can be borrowed mutably at once.
            let mut caches: Vec<SeqCache> = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let seq = work[i].1;
                caches.push(self.seqs.remove(&seq).ok_or_else(|| unknown(seq))?);
            }
            let mut rows: Vec<(&[u32], &mut SeqCache)> = chunk.iter().map(|&i| work[i].2.as_slice()).zip(caches.iter_mut()).collect();
            let out = self.model.model.forward_rows(&mut rows, &mut self.batch, self.stats.passes);
            drop(rows);
            for (&i, cache) in chunk.iter().zip(caches) {
                self.seqs.insert(work[i].1, cache);
            }
            let rows = self.logits_of_pass(out?, chunk.len())?;
            for (&i, row) in chunk.iter().zip(rows) {
                answers[i] = row;
            }
        }
        self.stats.peak_cache_bytes = self.stats.peak_cache_bytes.max(self.cache_bytes() as u64);
        // A sequence leaves the batch cache after a whole round without a
        // decode step, not after one: the sequences of a search that just
        // ended are released before the next round, and moving them out
        // first would copy every one of them for nothing.
        self.evict_idle(self.previous_round)?;
        self.previous_round = first_pass;
        Ok(answers)
    }

    /// The logits after a fresh sequence's prompt: from the prompt cache,
    /// else computed in a pass of its own and kept there.
    fn prefill(&mut self, caller: u32, seq: SeqId, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        let counters = self.counters.entry(caller).or_default();
        if self.prompts.is_enabled() {
            counters.lookups += 1;
            self.stats.prompt_cache.lookups += 1;
            if let Some(hit) = self.prompts.get(tokens) {
                counters.hits += 1;
                counters.tokens_reused += tokens.len() as u64;
                self.stats.prompt_cache.hits += 1;
                self.stats.prompt_cache.tokens_reused += tokens.len() as u64;
                self.seqs.insert(seq, hit.cache);
                return Ok(hit.logits);
            }
        }
        let mut cache = self.seqs.remove(&seq).ok_or_else(|| unknown(seq))?;
        let out = self.model.model.forward_rows(&mut [(tokens, &mut cache)], &mut self.batch, self.stats.passes);
        let logits = out.and_then(|o| self.logits_of_pass(o, 1)).map(|mut rows| rows.pop().unwrap_or_default());
        self.stats.prefills += 1;
        if let Ok(l) = &logits {
            self.prompts.insert(tokens, &cache, l);
        }
        self.seqs.insert(seq, cache);
        logits
    }

    /// Bytes of keys and values the live sequences hold: their own, the
    /// batch cache's buffers and each prompt block they share, once.
    fn cache_bytes(&self) -> usize {
        let mut blocks = HashMap::new();
        for p in self.seqs.values().filter_map(SeqCache::prefix) {
            blocks.entry(p.id()).or_insert_with(|| p.nbytes());
        }
        self.seqs.values().map(SeqCache::nbytes).sum::<usize>() + self.batch.nbytes() + blocks.values().sum::<usize>()
    }

    /// Evaluates one pass's logits into one vector per row and counts the pass.
    fn logits_of_pass(&mut self, out: super::models::llama::RowsOutput, rows: usize) -> Result<Vec<Vec<f32>>, EngineError> {
        let super::models::llama::RowsOutput { logits, tokens } = out;
        logits.eval()?;
        let vocab = *logits.shape().last().unwrap_or(&0) as usize;
        let data = logits.as_slice::<f32>();
        self.stats.passes += 1;
        self.stats.rows += rows as u64;
        self.stats.tokens += tokens as u64;
        Ok(data.chunks(vocab.max(1)).map(<[f32]>::to_vec).collect())
    }

    /// Sequences that did not decode in the passes since `first_pass` leave
    /// the batch cache, so that the rows it attends over are working.
    fn evict_idle(&mut self, first_pass: u64) -> Result<(), EngineError> {
        let idle = self.batch.idle_since(first_pass);
        if idle.is_empty() {
            return Ok(());
        }
        for cache in self.seqs.values_mut() {
            if cache.slot().is_some_and(|s| idle.contains(&s)) {
                self.batch.evict(cache)?;
            }
        }
        Ok(())
    }
}

fn unknown(seq: SeqId) -> EngineError {
    EngineError::BadInput(format!("unknown sequence {}", seq.0))
}

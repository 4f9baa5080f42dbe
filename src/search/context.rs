//! One search's connection to the model and evaluator: forward calls with
//! their counters, the KV pool, E, and the batched rollout loop.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::config::SearchConfig;
use super::counters::Counters;
use super::error::SearchError;
use super::evaluated::{Evaluated, EvaluatedSet};
use super::kv::KvPool;
use super::lm::{Evaluator, LanguageModel};
use super::proposal::{proposal, Dist, RowProposal, SparseDist};
use super::tree::{NodeId, Tree, ROOT};

/// The RNG of one sub-stream: `(iteration, row)`; row 0 is the iteration's
/// own stream (selection, expansion and its first rollout).
pub(crate) fn stream_rng(seed: u64, iteration: u64, row: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream((iteration << 20) ^ row);
    rng
}

/// The stream reserved for output draws.
pub(crate) fn output_rng(seed: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    rng
}

/// One rollout to decode: from `start` (a new node whose token is not fed
/// yet, or a node whose q is known) to a terminal.
pub(crate) struct RolloutJob {
    pub start: NodeId,
    /// Every rollout token becomes a tree node.
    pub materialise: bool,
    /// `start` is a new token of this iteration (counted as generated).
    pub fresh: bool,
    pub iteration: u64,
    pub rng: ChaCha20Rng,
}

/// A decoded rollout, not evaluated yet.
pub(crate) struct Decoded {
    pub tokens: Vec<u32>,
    tip: NodeId,
    beyond: bool,
    iteration: u64,
}

/// A decoded and evaluated rollout.
pub(crate) struct RolloutDone {
    /// The deepest tree node of the sequence (its terminal when materialised).
    pub leaf: NodeId,
    pub entry: usize,
    pub reward: f64,
}

struct Row {
    tokens: Vec<u32>,
    /// Last tree node on the row's path.
    tip: NodeId,
    /// The row has tokens past `tip` that are not tree nodes.
    beyond: bool,
    /// The node whose prefix the row's tokens extend before its first feed.
    base: NodeId,
    feed: Vec<u32>,
    slot: Option<u32>,
    dist: Option<RowProposal>,
    done: bool,
    materialise: bool,
    iteration: u64,
    rng: ChaCha20Rng,
}

pub(crate) struct Ctx<'m> {
    pub model: &'m mut dyn LanguageModel,
    pub evaluator: &'m mut dyn Evaluator,
    pub cfg: SearchConfig,
    pub prompt_len: usize,
    pub counters: Counters,
    pub kv: KvPool,
    pub evaluated: EvaluatedSet,
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        self.kv.release_all(self.model);
    }
}

impl<'m> Ctx<'m> {
    /// Prefills the prompt on a fresh sequence and stores q(·|root) (all of
    /// it) at the root, whose sequence stays pinned.
    pub fn start(
        model: &'m mut dyn LanguageModel,
        evaluator: &'m mut dyn Evaluator,
        cfg: &SearchConfig,
        prompt: &[u32],
        tree: &mut Tree,
    ) -> Result<Ctx<'m>, SearchError> {
        if prompt.is_empty() {
            return Err(SearchError::EmptyPrompt);
        }
        let mut ctx = Ctx {
            model,
            evaluator,
            cfg: cfg.clone(),
            prompt_len: prompt.len(),
            counters: Counters::default(),
            kv: KvPool::new(cfg.kv_cap),
            evaluated: EvaluatedSet::default(),
        };
        let slot = ctx.kv.add_root(ctx.model)?;
        let mut out = ctx.forward(vec![(slot, prompt.to_vec())])?;
        let row = first_mut(&mut out)?;
        ctx.cfg.mask(&[], row)?;
        let full = proposal(row, &ctx.cfg.proposal)?;
        let root = tree.node_mut(ROOT)?;
        root.dist = Some(SparseDist { entries: full, complete: true });
        root.kv = Some(slot);
        Ok(ctx)
    }

    /// One batched forward call.
    pub fn forward(&mut self, rows: Vec<(u32, Vec<u32>)>) -> Result<Vec<Vec<f32>>, SearchError> {
        let mut model_rows = Vec::with_capacity(rows.len());
        for (slot, toks) in &rows {
            if toks.is_empty() {
                return Err(SearchError::Internal("empty forward row".into()));
            }
            model_rows.push((self.kv.handle(*slot)?, toks.clone()));
        }
        self.counters.nfe += 1;
        self.counters.forward_rows += rows.len() as u64;
        self.counters.tokens_forwarded += rows.iter().map(|r| r.1.len() as u64).sum::<u64>();
        let out = self.model.forward(model_rows)?;
        if out.len() != rows.len() {
            return Err(SearchError::ModelOutput(format!("{} rows in, {} out", rows.len(), out.len())));
        }
        for (slot, toks) in &rows {
            self.kv.grew(*slot, toks.len())?;
        }
        Ok(out)
    }

    /// A busy fork positioned at `node`'s nearest ancestor-or-self with a
    /// live sequence, and the tokens still missing to reach `node`.
    pub fn fork_for(&mut self, tree: &Tree, node: NodeId) -> Result<(u32, Vec<u32>), SearchError> {
        let mut missing = Vec::new();
        let mut cur = node;
        loop {
            let n = tree.node(cur)?;
            if let Some(slot) = n.kv.filter(|&s| self.kv.is_live(s)) {
                missing.reverse();
                let len = self.prompt_len + n.depth as usize;
                let fork = self.kv.fork(self.model, slot, len)?;
                return Ok((fork, missing));
            }
            missing.push(n.token);
            cur = n.parent.ok_or_else(|| SearchError::Internal("the prompt sequence is gone".into()))?;
        }
    }

    /// Keeps q(·|node) at the node and lets it refer to `slot`.
    fn store(&mut self, tree: &mut Tree, node: NodeId, q: &RowProposal, slot: u32) -> Result<(), SearchError> {
        let keep = self.cfg.keep();
        let live = tree.node(node)?.kv.is_some_and(|s| self.kv.is_live(s));
        let n = tree.node_mut(node)?;
        n.dist = Some(SparseDist::keep(&q.head, q.complete, keep));
        if !live {
            n.kv = Some(slot);
            self.kv.attach(slot)?;
        }
        Ok(())
    }

    /// The node can no longer expand: drop its proposal and its hold on KV.
    pub fn retire(&mut self, tree: &mut Tree, node: NodeId) -> Result<(), SearchError> {
        if node == ROOT {
            return Ok(());
        }
        let n = tree.node_mut(node)?;
        n.dist = None;
        if let Some(slot) = n.kv.take() {
            self.kv.detach(self.model, slot)?;
        }
        Ok(())
    }

    /// All of q(·|node): the kept entries when complete, else recomputed by
    /// one forward row (a KV rebuild, counted as such).
    pub fn full_dist(&mut self, tree: &Tree, node: NodeId) -> Result<Dist, SearchError> {
        let n = tree.node(node)?;
        if let Some(d) = n.dist.as_ref().filter(|d| d.complete) {
            return Ok(d.entries.clone());
        }
        let parent = n.parent.ok_or_else(|| SearchError::Internal("root proposal missing".into()))?;
        let token = n.token;
        let (slot, mut toks) = self.fork_for(tree, parent)?;
        toks.push(token);
        let mut out = self.forward(vec![(slot, toks)])?;
        let row = first_mut(&mut out)?;
        self.cfg.mask(&tree.tokens(node), row)?;
        let full = proposal(row, &self.cfg.proposal)?;
        self.kv.finish(self.model, slot)?;
        Ok(full)
    }

    /// Decodes all jobs together, one forward call per step, then evaluates
    /// them in job order. `cut` limits rollout draws to the top entries of q.
    pub fn rollouts(&mut self, tree: &mut Tree, jobs: Vec<RolloutJob>, cut: Option<usize>) -> Result<Vec<RolloutDone>, SearchError> {
        let decoded = self.decode(tree, jobs, cut)?;
        self.evaluate(tree, decoded)
    }

    /// The decoding half of [`Ctx::rollouts`].
    pub fn decode(&mut self, tree: &mut Tree, jobs: Vec<RolloutJob>, cut: Option<usize>) -> Result<Vec<Decoded>, SearchError> {
        let mut rows = Vec::with_capacity(jobs.len());
        for job in jobs {
            let node = tree.node(job.start)?;
            let (terminal, has_q, parent, token) = (node.terminal, node.dist.is_some(), node.parent, node.token);
            if job.fresh {
                self.counters.tokens_generated += 1;
            }
            let mut row = Row {
                tokens: tree.tokens(job.start),
                tip: job.start,
                beyond: false,
                base: job.start,
                feed: Vec::new(),
                slot: None,
                dist: None,
                done: terminal,
                materialise: job.materialise,
                iteration: job.iteration,
                rng: job.rng,
            };
            if !terminal {
                if has_q {
                    row.dist = Some(RowProposal::known(self.full_dist(tree, job.start)?));
                } else {
                    row.base = parent.ok_or_else(|| SearchError::Internal("root without q".into()))?;
                    row.feed.push(token);
                }
            }
            rows.push(row);
        }
        loop {
            let mut batch = Vec::new();
            let mut who = Vec::new();
            for (i, row) in rows.iter_mut().enumerate() {
                if row.done || row.feed.is_empty() {
                    continue;
                }
                let (slot, mut toks) = match row.slot {
                    Some(s) => (s, Vec::new()),
                    None => {
                        let (s, missing) = self.fork_for(tree, row.base)?;
                        row.slot = Some(s);
                        (s, missing)
                    }
                };
                toks.append(&mut row.feed);
                batch.push((slot, toks));
                who.push(i);
            }
            let fed = !batch.is_empty();
            if fed {
                let out = self.forward(batch)?;
                let need = self.cfg.keep().max(cut.unwrap_or(0));
                for (i, mut lp) in who.into_iter().zip(out) {
                    self.cfg.mask(&rows[i].tokens, &mut lp)?;
                    let full = RowProposal::new(lp, &self.cfg.proposal, need)?;
                    let (tip, beyond, slot) = (rows[i].tip, rows[i].beyond, rows[i].slot);
                    if !beyond {
                        let slot = slot.ok_or_else(|| SearchError::Internal("fed row without sequence".into()))?;
                        self.store(tree, tip, &full, slot)?;
                    }
                    rows[i].dist = Some(full);
                }
            }
            let mut drew = false;
            for row in rows.iter_mut() {
                if row.done {
                    continue;
                }
                let Some(full) = row.dist.take() else { continue };
                drew = true;
                let (t, q) =
                    full.draw(&self.cfg.proposal, cut, &mut row.rng)?.ok_or_else(|| SearchError::Internal("empty proposal".into()))?;
                row.tokens.push(t);
                self.counters.tokens_generated += 1;
                let terminal = self.cfg.stop.is_terminal(&row.tokens);
                if row.materialise && !row.beyond {
                    row.tip = match tree.child(row.tip, t) {
                        Some(c) => c,
                        None => {
                            // A rollout step is one draw at its parent (DTS: D += 1, m = 1).
                            tree.node_mut(row.tip)?.draws += 1;
                            let c = tree.add_child(row.tip, t, q, terminal)?;
                            tree.node_mut(c)?.mult = 1;
                            c
                        }
                    };
                } else {
                    row.beyond = true;
                }
                if terminal {
                    row.done = true;
                } else {
                    row.feed.push(t);
                }
            }
            if !fed && !drew {
                break;
            }
        }
        let mut decoded = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(slot) = row.slot {
                self.kv.finish(self.model, slot)?;
            }
            decoded.push(Decoded { tokens: row.tokens, tip: row.tip, beyond: row.beyond, iteration: row.iteration });
        }
        Ok(decoded)
    }

    /// The evaluation half of [`Ctx::rollouts`]: E, reward cache, leaves.
    pub fn evaluate(&mut self, tree: &mut Tree, rows: Vec<Decoded>) -> Result<Vec<RolloutDone>, SearchError> {
        let mut done = Vec::with_capacity(rows.len());
        for row in rows {
            let entry = self.evaluated.add(self.evaluator, row.tokens, row.iteration, &mut self.counters)?;
            self.counters.rollouts += 1;
            let reward = self.evaluated.get(entry).map(|e| e.reward).ok_or_else(|| SearchError::Internal("lost entry".into()))?;
            let leaf = tree.node_mut(row.tip)?;
            if leaf.terminal && !row.beyond {
                leaf.reward = Some(reward);
                if leaf.evaluated.is_none() {
                    leaf.evaluated = Some(entry);
                }
            }
            done.push(RolloutDone { leaf: row.tip, entry, reward });
        }
        Ok(done)
    }

    /// Takes E out at the end of the search.
    pub fn take_evaluated(&mut self) -> Vec<Evaluated> {
        std::mem::take(&mut self.evaluated).into_entries()
    }
}

fn first_mut(out: &mut [Vec<f32>]) -> Result<&mut [f32], SearchError> {
    out.first_mut().map(|v| v.as_mut_slice()).ok_or_else(|| SearchError::ModelOutput("no row returned".into()))
}

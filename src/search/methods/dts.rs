//! DTS and DTS* with progressive widening (docs/algorithms.md §4, `Sampled`).
//!
//! Parallel batches: a pending draw counts toward D(s) at once; children
//! whose rollout is still pending have no value and are left out of
//! choices and backups; a node that is closed but has no valued child
//! draws again (only possible while its children are pending). A widening
//! draw that lands on a child whose rollout is in flight is drawn again
//! from the iteration's stream (up to `MAX_REDRAWS` times), so a batch is
//! not cut short by low-entropy proposals; with B = 1 nothing is in flight
//! and the draws are the sequential algorithm's. An iteration whose path
//! would still enter a pending node is put back (its draws undone) and
//! selected first in the next batch with the same sub-stream.

use rand::Rng;

use crate::spec::ChildWeights;

use super::super::config::{DtsConfig, MethodConfig, SearchConfig, SoftSelection, TreeOutput};
use super::super::context::{output_rng, stream_rng, Ctx, RolloutJob};
use super::super::counters::Counters;
use super::super::error::{config_err, SearchError};
use super::super::evaluated::Evaluated;
use super::super::lm::{Evaluator, LanguageModel};
use super::super::lme::{boltzmann_choice, Choice};
use super::super::proposal::locate;
use super::super::tree::{NodeId, Tree, ROOT};
use super::super::{Method, SearchInput, SearchOutcome};
use super::common::{best_found, outcome, under_token_cap};
use super::select::soft_uct_pick;
use super::soft::{descend, entry_of, refresh_value, step_probs, valued_children};

/// Redraws of a widening draw that lands on a child in flight.
const MAX_REDRAWS: u32 = 8;

/// DTS / DTS* as a [`Method`].
pub struct Dts {
    config: SearchConfig,
}

impl Dts {
    pub fn new(config: SearchConfig) -> Dts {
        Dts { config }
    }
}

impl Method for Dts {
    fn config(&self) -> &SearchConfig {
        &self.config
    }

    fn search(
        &self,
        model: &mut dyn LanguageModel,
        evaluator: &mut dyn Evaluator,
        input: &SearchInput<'_>,
    ) -> Result<SearchOutcome, SearchError> {
        let mut run = DtsRun::start(&self.config, model, evaluator, input.prompt)?;
        while !run.finished() {
            run.step()?;
        }
        run.finish()
    }
}

enum Plan {
    Revisit { path: Vec<NodeId> },
    Expand { path: Vec<NodeId> },
}

/// A running DTS / DTS* search, one batch of iterations per step.
pub struct DtsRun<'m> {
    ctx: Ctx<'m>,
    tree: Tree,
    cfg: DtsConfig,
    next_iteration: u64,
}

impl<'m> DtsRun<'m> {
    pub fn start(
        config: &SearchConfig,
        model: &'m mut dyn LanguageModel,
        evaluator: &'m mut dyn Evaluator,
        prompt: &[u32],
    ) -> Result<DtsRun<'m>, SearchError> {
        let cfg = match &config.method {
            MethodConfig::Dts(d) => d.clone(),
            _ => return Err(config_err("Dts run with another method's config")),
        };
        let mut tree = Tree::new();
        let ctx = Ctx::start(model, evaluator, config, prompt, &mut tree)?;
        Ok(DtsRun { ctx, tree, cfg, next_iteration: 0 })
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn counters(&self) -> &Counters {
        &self.ctx.counters
    }

    pub fn evaluated(&self) -> &[Evaluated] {
        self.ctx.evaluated.entries()
    }

    pub fn config(&self) -> &DtsConfig {
        &self.cfg
    }

    pub fn finished(&self) -> bool {
        self.next_iteration >= self.cfg.num_rollouts || !under_token_cap(&self.ctx)
    }

    /// The widening bound B(s) = pw_c·max(n,1)^pw_alpha.
    pub fn widening_bound(&self, n: u64) -> f64 {
        self.cfg.pw_c * (n.max(1) as f64).powf(self.cfg.pw_alpha)
    }

    /// The Algorithm-2 step probabilities at `s` (the descent law).
    pub fn step_probs(&self, s: NodeId) -> Result<Vec<(NodeId, f64)>, SearchError> {
        step_probs(&self.tree, s, self.cfg.tilt, self.cfg.weights, false)
    }

    /// One Algorithm-2 descent; returns the terminal node reached.
    pub fn descend(&self, rng: &mut rand_chacha::ChaCha20Rng) -> Result<NodeId, SearchError> {
        descend(&self.tree, self.cfg.tilt, self.cfg.weights, false, rng)
    }

    /// The token at position `u` of q(·|s) (inverse CDF), from the kept
    /// entries when `u` falls among them, else from the recomputed proposal.
    fn draw_at(&mut self, s: NodeId, u: f64) -> Result<(u32, f64), SearchError> {
        let node = self.tree.node(s)?;
        let dist = node.dist.as_ref().ok_or_else(|| SearchError::Internal(format!("node {s} has no proposal")))?;
        match locate(&dist.entries, u, dist.complete) {
            Some(x) => Ok(x),
            None => {
                let full = self.ctx.full_dist(&self.tree, s)?;
                locate(&full, u, true).ok_or_else(|| SearchError::Internal("empty proposal".into()))
            }
        }
    }

    fn select(&mut self, iteration: u64) -> Result<Option<Plan>, SearchError> {
        let mut rng = stream_rng(self.ctx.cfg.seed, iteration, 0);
        let mut s = ROOT;
        let mut path = vec![ROOT];
        let mut undo: Vec<(NodeId, Option<NodeId>)> = Vec::new();
        loop {
            let node = self.tree.node(s)?;
            if node.pending {
                for (p, c) in undo {
                    self.tree.node_mut(p)?.draws -= 1;
                    if let Some(c) = c {
                        self.tree.node_mut(c)?.mult -= 1;
                    }
                }
                return Ok(None);
            }
            if node.terminal {
                return Ok(Some(Plan::Revisit { path }));
            }
            let opts = valued_children(&self.tree, s, self.cfg.weights)?;
            let open = (node.draws as f64) < self.widening_bound(node.n) || opts.is_empty();
            if open {
                let mut redraws = 0;
                let (a, q) = loop {
                    let (a, q) = self.draw_at(s, rng.random::<f64>())?;
                    let in_flight = self.tree.child(s, a).is_some_and(|c| self.tree.node(c).is_ok_and(|n| n.pending));
                    if !in_flight || redraws == MAX_REDRAWS {
                        break (a, q);
                    }
                    redraws += 1;
                };
                self.tree.node_mut(s)?.draws += 1;
                if let Some(c) = self.tree.child(s, a) {
                    self.tree.node_mut(c)?.mult += 1;
                    undo.push((s, Some(c)));
                    path.push(c);
                    s = c;
                    continue;
                }
                let mut toks = self.tree.tokens(s);
                toks.push(a);
                let terminal = self.ctx.cfg.stop.is_terminal(&toks);
                let c = self.tree.add_child(s, a, q, terminal)?;
                let cn = self.tree.node_mut(c)?;
                cn.mult = 1;
                cn.pending = true;
                path.push(c);
                return Ok(Some(Plan::Expand { path }));
            }
            let choices: Vec<Choice> = opts.iter().map(|o| o.0).collect();
            let i = match self.cfg.selection {
                SoftSelection::SoftUct(c_uct) => {
                    let visits: Vec<u64> = opts.iter().map(|o| self.tree.node(o.1).map(|n| n.n.max(1)).unwrap_or(1)).collect();
                    soft_uct_pick(c_uct, node.n, &choices, &visits)
                }
                SoftSelection::Boltzmann => boltzmann_choice(self.cfg.tilt, &choices, &mut rng),
            };
            s = opts
                .get(i.ok_or_else(|| SearchError::Internal("no child to select".into()))?)
                .map(|o| o.1)
                .ok_or_else(|| SearchError::Internal("bad choice".into()))?;
            path.push(s);
        }
    }

    /// One batch of up to `parallel_rollouts` iterations.
    pub fn step(&mut self) -> Result<(), SearchError> {
        let mut plans: Vec<(u64, Plan)> = Vec::new();
        while plans.len() < self.ctx.cfg.parallel_rollouts && !self.finished() {
            match self.select(self.next_iteration)? {
                None => break,
                Some(p) => {
                    plans.push((self.next_iteration, p));
                    self.next_iteration += 1;
                }
            }
        }
        if plans.is_empty() {
            return Err(SearchError::Internal("no iteration could be selected".into()));
        }
        let seed = self.ctx.cfg.seed;
        let mut jobs = Vec::new();
        for (it, plan) in &plans {
            if let Plan::Expand { path } = plan {
                let start = *path.last().ok_or_else(|| SearchError::Internal("empty path".into()))?;
                // The selection used draws of this stream; the rollout continues
                // on a stream of its own so the selection's length does not matter.
                jobs.push(RolloutJob { start, materialise: true, fresh: true, iteration: *it, rng: stream_rng(seed, *it, 1) });
            }
        }
        let mut done = self.ctx.rollouts(&mut self.tree, jobs, None)?.into_iter();
        for (_, plan) in plans {
            let path = match plan {
                Plan::Revisit { path, .. } => path,
                Plan::Expand { mut path } => {
                    let d = done.next().ok_or_else(|| SearchError::Internal("missing rollout".into()))?;
                    let start = *path.last().ok_or_else(|| SearchError::Internal("empty path".into()))?;
                    self.tree.node_mut(start)?.pending = false;
                    path.extend(self.tree.chain(start, d.leaf)?.into_iter().skip(1));
                    path
                }
            };
            for &id in path.iter().rev() {
                self.tree.node_mut(id)?.n += 1;
                refresh_value(&mut self.tree, id, self.cfg.tilt, self.cfg.weights)?;
            }
        }
        self.ctx.counters.iterations = self.next_iteration;
        Ok(())
    }

    pub fn finish(mut self) -> Result<SearchOutcome, SearchError> {
        let mut rng = output_rng(self.ctx.cfg.seed);
        let (tilt, mode) = (self.cfg.tilt, self.cfg.weights);
        let chosen = output_entry(&self.ctx, &self.tree, self.cfg.output, tilt, mode, &mut rng)?;
        outcome(&mut self.ctx, chosen, Some(&self.tree))
    }
}

/// The E index a soft tree returns under `rule`.
pub(crate) fn output_entry(
    ctx: &Ctx<'_>,
    tree: &Tree,
    rule: TreeOutput,
    tilt: super::super::lme::Tilt,
    mode: ChildWeights,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<usize, SearchError> {
    match rule {
        TreeOutput::BestFound => best_found(ctx),
        TreeOutput::Sample => entry_of(tree, descend(tree, tilt, mode, false, rng)?),
        TreeOutput::ArgmaxDescent => entry_of(tree, descend(tree, tilt, mode, true, rng)?),
        TreeOutput::SampleThenBest(k) => {
            let mut best: Option<(usize, f64)> = None;
            for _ in 0..k {
                let e = entry_of(tree, descend(tree, tilt, mode, false, rng)?)?;
                let r = ctx.evaluated.get(e).map(|x| x.reward).ok_or_else(|| SearchError::Internal("lost entry".into()))?;
                if best.is_none_or(|(_, br)| r > br) {
                    best = Some((e, r));
                }
            }
            best.map(|b| b.0).ok_or_else(|| SearchError::Internal("no sample".into()))
        }
    }
}

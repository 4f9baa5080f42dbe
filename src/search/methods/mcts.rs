//! Token-level MCTS (UCT or PUCT) with random rollouts (docs/algorithms.md §3).
//!
//! Values are normalised with the running minimum and maximum of the
//! rewards seen so far (the plan has no reward-bounds key). With
//! `parallel_rollouts > 1`, a selected path carries a virtual loss
//! (one visit with reward r_lo, 0 before any reward) until its backup.

use super::super::config::{MctsConfig, MethodConfig, SearchConfig};
use super::super::context::{stream_rng, Ctx, RolloutJob};
use super::super::counters::Counters;
use super::super::error::{config_err, SearchError};
use super::super::evaluated::Evaluated;
use super::super::lm::{Evaluator, LanguageModel};
use super::super::tree::{NodeId, Tree, ROOT};
use super::super::{Method, SearchInput, SearchOutcome};
use super::common::{best_found, outcome, under_token_cap};
use super::select::{mcts_pick, normalised_value, Arm, Pick};

/// MCTS as a [`Method`].
pub struct Mcts {
    config: SearchConfig,
}

impl Mcts {
    pub fn new(config: SearchConfig) -> Mcts {
        Mcts { config }
    }
}

impl Method for Mcts {
    fn config(&self) -> &SearchConfig {
        &self.config
    }

    fn search(
        &self,
        model: &mut dyn LanguageModel,
        evaluator: &mut dyn Evaluator,
        input: &SearchInput<'_>,
    ) -> Result<SearchOutcome, SearchError> {
        let mut run = MctsRun::start(&self.config, model, evaluator, input.prompt)?;
        while !run.finished()? {
            run.step()?;
        }
        run.finish()
    }
}

enum Plan {
    /// Selection ended on an existing terminal.
    Revisit { path: Vec<NodeId>, leaf: NodeId },
    /// Selection created `path.last()`, to be rolled out (or evaluated).
    Expand { path: Vec<NodeId> },
}

enum Selected {
    Plan(Plan),
    /// The path runs into a node whose rollout is still pending.
    Blocked,
}

/// A running MCTS search, one batch of iterations per [`MctsRun::step`].
pub struct MctsRun<'m> {
    ctx: Ctx<'m>,
    tree: Tree,
    cfg: MctsConfig,
    next_iteration: u64,
    bounds: Option<(f64, f64)>,
}

impl<'m> MctsRun<'m> {
    pub fn start(
        config: &SearchConfig,
        model: &'m mut dyn LanguageModel,
        evaluator: &'m mut dyn Evaluator,
        prompt: &[u32],
    ) -> Result<MctsRun<'m>, SearchError> {
        let cfg = match &config.method {
            MethodConfig::Mcts(m) => m.clone(),
            _ => return Err(config_err("Mcts run with another method's config")),
        };
        let mut tree = Tree::new();
        let ctx = Ctx::start(model, evaluator, config, prompt, &mut tree)?;
        Ok(MctsRun { ctx, tree, cfg, next_iteration: 0, bounds: None })
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

    /// No further iteration will start.
    pub fn finished(&self) -> Result<bool, SearchError> {
        Ok(self.next_iteration >= self.cfg.num_simulations
            || (self.cfg.prune_exhausted && self.tree.node(ROOT)?.exhausted)
            || !under_token_cap(&self.ctx))
    }

    /// Q̃ of a node, with pending virtual loss.
    fn q_norm(&self, id: NodeId) -> Result<f64, SearchError> {
        let n = self.tree.node(id)?;
        Ok(normalised_value(n.w_sum + n.virtual_w, n.n + n.virtual_n, self.bounds))
    }

    /// The candidate set A(s): top `expansion_k` tokens of q with q > 0,
    /// priors renormalised over A(s).
    fn init_candidates(&mut self, s: NodeId) -> Result<(), SearchError> {
        let k = self.cfg.expansion_k;
        let node = self.tree.node(s)?;
        let dist = node.dist.as_ref().ok_or_else(|| SearchError::Internal(format!("node {s} has no proposal")))?;
        let cands: Vec<(u32, f64)> = dist.entries.iter().copied().filter(|(_, q)| *q > 0.0).take(k).collect();
        let sum: f64 = cands.iter().map(|(_, q)| q).sum();
        let untried: Vec<(u32, f64)> = cands.iter().filter(|(t, _)| self.tree.child(s, *t).is_none()).map(|&(t, q)| (t, q / sum)).collect();
        let existing: Vec<(NodeId, f64)> = node
            .children
            .iter()
            .map(|&(t, c)| {
                let q = cands.iter().find(|(ct, _)| *ct == t).map(|x| x.1);
                (c, q.unwrap_or_else(|| dist.prob(t).unwrap_or(0.0)) / sum)
            })
            .collect();
        for (c, p) in existing {
            if p > 0.0 {
                self.tree.node_mut(c)?.prior = p;
            }
        }
        self.tree.node_mut(s)?.untried = Some(untried);
        Ok(())
    }

    fn select(&mut self) -> Result<Selected, SearchError> {
        let mut s = ROOT;
        let mut path = vec![ROOT];
        loop {
            let node = self.tree.node(s)?;
            if node.pending {
                return Ok(Selected::Blocked);
            }
            if node.terminal {
                return Ok(Selected::Plan(Plan::Revisit { path, leaf: s }));
            }
            if node.untried.is_none() {
                self.init_candidates(s)?;
            }
            let node = self.tree.node(s)?;
            let n_s = node.n + node.virtual_n;
            let untried = node.untried.clone().unwrap_or_default();
            let mut kids = Vec::new();
            let mut ids = Vec::new();
            for &(t, c) in &node.children {
                let cn = self.tree.node(c)?;
                if !(self.cfg.prune_exhausted && cn.exhausted) {
                    kids.push(Arm { token: t, prior: cn.prior, q: self.q_norm(c)?, visits: cn.n + cn.virtual_n });
                    ids.push(c);
                }
            }
            match mcts_pick(self.cfg.explore, n_s, self.q_norm(s)?, &kids, &untried) {
                Some(Pick::Child(i)) => {
                    s = *ids.get(i).ok_or_else(|| SearchError::Internal("bad choice".into()))?;
                    path.push(s);
                }
                Some(Pick::Untried(j)) => {
                    let (t, p) = *untried.get(j).ok_or_else(|| SearchError::Internal("bad choice".into()))?;
                    return self.expand(s, t, p, path).map(Selected::Plan);
                }
                // Nothing selectable: only while a sibling's pending result would
                // decide exhaustion; wait for this batch to finish.
                None => return Ok(Selected::Blocked),
            }
        }
    }

    fn expand(&mut self, s: NodeId, token: u32, prior: f64, mut path: Vec<NodeId>) -> Result<Plan, SearchError> {
        let mut toks = self.tree.tokens(s);
        toks.push(token);
        let terminal = self.ctx.cfg.stop.is_terminal(&toks);
        if let Some(u) = self.tree.node_mut(s)?.untried.as_mut() {
            u.retain(|(t, _)| *t != token);
        }
        let c = self.tree.add_child(s, token, prior, terminal)?;
        self.tree.node_mut(c)?.pending = true;
        path.push(c);
        Ok(Plan::Expand { path })
    }

    /// One batch of up to `parallel_rollouts` iterations.
    pub fn step(&mut self) -> Result<(), SearchError> {
        let mut plans: Vec<(u64, Plan, f64)> = Vec::new();
        while plans.len() < self.ctx.cfg.parallel_rollouts && !self.finished()? {
            let plan = match self.select()? {
                Selected::Blocked => break,
                Selected::Plan(p) => p,
            };
            let vl = self.bounds.map_or(0.0, |b| b.0);
            let path = match &plan {
                Plan::Revisit { path, .. } | Plan::Expand { path } => path.clone(),
            };
            for id in path {
                let n = self.tree.node_mut(id)?;
                n.virtual_n += 1;
                n.virtual_w += vl;
            }
            plans.push((self.next_iteration, plan, vl));
            self.next_iteration += 1;
        }
        if plans.is_empty() {
            return Err(SearchError::Internal("no iteration could be selected".into()));
        }
        let seed = self.ctx.cfg.seed;
        let mut jobs = Vec::new();
        for (it, plan, _) in &plans {
            if let Plan::Expand { path } = plan {
                let start = *path.last().ok_or_else(|| SearchError::Internal("empty path".into()))?;
                jobs.push(RolloutJob {
                    start,
                    materialise: self.cfg.add_rollout_to_tree,
                    fresh: true,
                    iteration: *it,
                    rng: stream_rng(seed, *it, 0),
                });
            }
        }
        let mut done = self.ctx.rollouts(&mut self.tree, jobs, None)?.into_iter();
        for (_, plan, vl) in plans {
            let (mut path, reward) = match plan {
                Plan::Revisit { path, leaf } => {
                    let r = self.tree.node(leaf)?.reward.ok_or_else(|| SearchError::Internal("terminal without reward".into()))?;
                    (path, r)
                }
                Plan::Expand { path } => {
                    let d = done.next().ok_or_else(|| SearchError::Internal("missing rollout".into()))?;
                    let start = *path.last().ok_or_else(|| SearchError::Internal("empty path".into()))?;
                    self.tree.node_mut(start)?.pending = false;
                    let mut path = path;
                    if self.cfg.add_rollout_to_tree && d.leaf != start {
                        path.extend(self.tree.chain(start, d.leaf)?.into_iter().skip(1));
                    }
                    (path, d.reward)
                }
            };
            self.bounds = Some(match self.bounds {
                None => (reward, reward),
                Some((lo, hi)) => (lo.min(reward), hi.max(reward)),
            });
            self.backup(&mut path, reward, vl)?;
        }
        self.ctx.counters.iterations = self.next_iteration;
        Ok(())
    }

    fn backup(&mut self, path: &mut [NodeId], reward: f64, vl: f64) -> Result<(), SearchError> {
        for &id in path.iter().rev() {
            let n = self.tree.node_mut(id)?;
            n.n += 1;
            n.w_sum += reward;
            if n.virtual_n > 0 {
                n.virtual_n -= 1;
                n.virtual_w = if n.virtual_n == 0 { 0.0 } else { n.virtual_w - vl };
            }
            let done_expanding = n.untried.as_ref().is_some_and(|u| u.is_empty());
            if self.cfg.prune_exhausted && !n.terminal {
                let all = self.tree.node(id)?.children.iter().all(|&(_, c)| self.tree.node(c).map(|x| x.exhausted).unwrap_or(false));
                self.tree.node_mut(id)?.exhausted = done_expanding && all;
            }
            if done_expanding {
                self.ctx.retire(&mut self.tree, id)?;
            }
        }
        Ok(())
    }

    /// The outcome (BestFound over E).
    pub fn finish(mut self) -> Result<SearchOutcome, SearchError> {
        let chosen = best_found(&self.ctx)?;
        outcome(&mut self.ctx, chosen, Some(&self.tree))
    }
}

//! MaxEnt-TS (docs/algorithms.md §5), and DTS / DTS* in `TopK` expansion mode:
//! top-k expansion without a model call, prior weights over the visited
//! children C⁺, unvisited children never read as a value.
//!
//! With `rollout_all_on_expand`, an iteration that expands a node rolls
//! out all its unvisited children as one batch; each rollout is backed up
//! as its own path, so `n` counts rollouts and revisits.

use crate::spec::ChildWeights;

use super::super::config::{MethodConfig, SearchConfig, SoftSelection, TopKConfig};
use super::super::context::{output_rng, stream_rng, Ctx, RolloutJob};
use super::super::counters::Counters;
use super::super::error::{config_err, SearchError};
use super::super::evaluated::Evaluated;
use super::super::lm::{Evaluator, LanguageModel};
use super::super::lme::{boltzmann_choice, Choice};
use super::super::tree::{NodeId, Tree, ROOT};
use super::super::{Method, SearchInput, SearchOutcome};
use super::common::under_token_cap;
use super::dts::output_entry;
use super::select::{maxent_choices, soft_uct_pick, TopKChild};
use super::soft::{descend, refresh_value, step_probs};

/// Weights of the top-k tree: q(a|s), normalised over the children in play.
const WEIGHTS: ChildWeights = ChildWeights::Prior;

/// MaxEnt-TS (and top-k DTS / DTS*) as a [`Method`].
pub struct MaxEntTs {
    config: SearchConfig,
}

impl MaxEntTs {
    pub fn new(config: SearchConfig) -> MaxEntTs {
        MaxEntTs { config }
    }
}

impl Method for MaxEntTs {
    fn config(&self) -> &SearchConfig {
        &self.config
    }

    fn search(
        &self,
        model: &mut dyn LanguageModel,
        evaluator: &mut dyn Evaluator,
        input: &SearchInput<'_>,
    ) -> Result<SearchOutcome, SearchError> {
        let mut run = MaxEntRun::start(&self.config, model, evaluator, input.prompt)?;
        while !run.finished() {
            run.step()?;
        }
        run.finish()
    }
}

enum Plan {
    Revisit {
        path: Vec<NodeId>,
    },
    /// Roll out from each of `starts` (children of `path.last()`, or the
    /// last node itself when `starts` holds just it).
    Rollout {
        path: Vec<NodeId>,
        starts: Vec<NodeId>,
    },
}

/// A running top-k tree search, one batch of iterations per step.
pub struct MaxEntRun<'m> {
    ctx: Ctx<'m>,
    tree: Tree,
    cfg: TopKConfig,
    next_iteration: u64,
}

impl<'m> MaxEntRun<'m> {
    pub fn start(
        config: &SearchConfig,
        model: &'m mut dyn LanguageModel,
        evaluator: &'m mut dyn Evaluator,
        prompt: &[u32],
    ) -> Result<MaxEntRun<'m>, SearchError> {
        let cfg = match &config.method {
            MethodConfig::TopK(t) => t.clone(),
            _ => return Err(config_err("MaxEnt-TS run with another method's config")),
        };
        let mut tree = Tree::new();
        let ctx = Ctx::start(model, evaluator, config, prompt, &mut tree)?;
        Ok(MaxEntRun { ctx, tree, cfg, next_iteration: 0 })
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

    pub fn config(&self) -> &TopKConfig {
        &self.cfg
    }

    pub fn finished(&self) -> bool {
        self.next_iteration >= self.cfg.num_rollouts || !under_token_cap(&self.ctx)
    }

    /// The Algorithm-2 step probabilities at `s` over C⁺(s).
    pub fn step_probs(&self, s: NodeId) -> Result<Vec<(NodeId, f64)>, SearchError> {
        step_probs(&self.tree, s, self.cfg.tilt, WEIGHTS, false)
    }

    /// One Algorithm-2 descent over C⁺; returns the terminal node reached.
    pub fn descend(&self, rng: &mut rand_chacha::ChaCha20Rng) -> Result<NodeId, SearchError> {
        descend(&self.tree, self.cfg.tilt, WEIGHTS, false, rng)
    }

    /// Creates the missing top-k children of `s` (no model call).
    fn expand(&mut self, s: NodeId) -> Result<(), SearchError> {
        let node = self.tree.node(s)?;
        let dist = node.dist.as_ref().ok_or_else(|| SearchError::Internal(format!("node {s} has no proposal")))?;
        let top: Vec<(u32, f64)> = dist.entries.iter().copied().filter(|(_, q)| *q > 0.0).take(self.cfg.expansion_k).collect();
        let prefix = self.tree.tokens(s);
        for (t, q) in top {
            if self.tree.child(s, t).is_none() {
                let mut toks = prefix.clone();
                toks.push(t);
                let terminal = self.ctx.cfg.stop.is_terminal(&toks);
                self.tree.add_child(s, t, q, terminal)?;
            }
        }
        self.tree.node_mut(s)?.expanded = true;
        Ok(())
    }

    fn select(&mut self, iteration: u64) -> Result<Option<Plan>, SearchError> {
        let mut rng = stream_rng(self.ctx.cfg.seed, iteration, 0);
        let mut s = ROOT;
        let mut path = vec![ROOT];
        loop {
            let node = self.tree.node(s)?;
            if node.pending {
                return Ok(None);
            }
            if node.terminal {
                return Ok(Some(Plan::Revisit { path }));
            }
            let just_expanded = !node.expanded;
            if just_expanded {
                self.expand(s)?;
            }
            let node = self.tree.node(s)?;
            let parent_value = node.value;
            let n_s = node.n;
            // (child, choice, visits) over children not pending.
            let mut kids = Vec::new();
            for &(t, c) in &node.children {
                let cn = self.tree.node(c)?;
                if !cn.pending {
                    kids.push((c, cn.prior, cn.value, cn.n, t));
                }
            }
            if self.cfg.rollout_all_on_expand && just_expanded {
                let fresh: Vec<NodeId> = kids.iter().filter(|k| k.3 == 0).map(|k| k.0).collect();
                if !fresh.is_empty() {
                    for &c in &fresh {
                        self.tree.node_mut(c)?.pending = true;
                    }
                    return Ok(Some(Plan::Rollout { path, starts: fresh }));
                }
            }
            if kids.is_empty() {
                return Ok(None);
            }
            let i = match self.cfg.selection {
                SoftSelection::Boltzmann => {
                    let options: Vec<TopKChild> = kids.iter().map(|k| TopKChild { token: k.4, weight: k.1, value: k.2 }).collect();
                    let (tilt, choices) = maxent_choices(self.cfg.tilt, parent_value, &options);
                    boltzmann_choice(tilt, &choices, &mut rng)
                }
                SoftSelection::SoftUct(c_uct) => {
                    let choices: Vec<Choice> = kids.iter().map(|k| Choice { weight: k.1, value: k.2.unwrap_or(0.0), token: k.4 }).collect();
                    let visits: Vec<u64> = kids.iter().map(|k| k.3).collect();
                    soft_uct_pick(c_uct, n_s, &choices, &visits)
                }
            };
            let (c, _, _, visits, _) = *kids
                .get(i.ok_or_else(|| SearchError::Internal("no child to select".into()))?)
                .ok_or_else(|| SearchError::Internal("bad choice".into()))?;
            path.push(c);
            if visits == 0 {
                self.tree.node_mut(c)?.pending = true;
                return Ok(Some(Plan::Rollout { path, starts: vec![c] }));
            }
            s = c;
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
            if let Plan::Rollout { starts, .. } = plan {
                for (j, &start) in starts.iter().enumerate() {
                    jobs.push(RolloutJob {
                        start,
                        materialise: true,
                        fresh: true,
                        iteration: *it,
                        rng: stream_rng(seed, *it, j as u64 + 1),
                    });
                }
            }
        }
        let mut done = self.ctx.rollouts(&mut self.tree, jobs, Some(self.cfg.rollout_top_k))?.into_iter();
        for (_, plan) in plans {
            let paths = match plan {
                Plan::Revisit { path, .. } => vec![path],
                Plan::Rollout { path, starts } => {
                    let mut paths = Vec::new();
                    for start in starts {
                        let d = done.next().ok_or_else(|| SearchError::Internal("missing rollout".into()))?;
                        self.tree.node_mut(start)?.pending = false;
                        let mut p = path.clone();
                        if p.last() != Some(&start) {
                            p.push(start);
                        }
                        p.extend(self.tree.chain(start, d.leaf)?.into_iter().skip(1));
                        paths.push(p);
                    }
                    paths
                }
            };
            for path in paths {
                for &id in path.iter().rev() {
                    self.tree.node_mut(id)?.n += 1;
                    refresh_value(&mut self.tree, id, self.cfg.tilt, WEIGHTS)?;
                    let node = self.tree.node(id)?;
                    if node.expanded && !node.terminal && node.children.iter().all(|&(_, c)| self.tree.node(c).is_ok_and(|x| x.n > 0)) {
                        self.ctx.retire(&mut self.tree, id)?;
                    }
                }
            }
        }
        self.ctx.counters.iterations = self.next_iteration;
        Ok(())
    }

    pub fn finish(mut self) -> Result<SearchOutcome, SearchError> {
        let mut rng = output_rng(self.ctx.cfg.seed);
        let chosen = output_entry(&self.ctx, &self.tree, self.cfg.output, self.cfg.tilt, WEIGHTS, &mut rng)?;
        super::common::outcome(&mut self.ctx, chosen, Some(&self.tree))
    }
}

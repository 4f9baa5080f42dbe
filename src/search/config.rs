//! Typed search configuration, built from the plan's `MethodParams`.

use crate::plan::MethodParams;
use crate::spec::{ChildWeights, Expansion, Lambda, MethodKind, OutputRule, Selection};

use super::constraint::Constraint;
use super::error::{config_err, SearchError};
use super::lme::Tilt;
use super::proposal::ProposalParams;
use super::stop::{StopPredicate, StopRule};

/// Live engine sequences one search keeps for reuse (rows in flight come on
/// top). Each holds its whole prefix (about 46 KiB per position for
/// SmolLM2 in f32, so ~10 MiB at 200 positions): 16 bound a search to a
/// few hundred MiB, and a wave of 16 searches to a few GiB.
pub const DEFAULT_KV_CAP: usize = 16;
/// Proposal entries kept per tree node (at least `expansion_k`).
pub const DEFAULT_KEEP_TOP: usize = 32;

/// Settings shared by every method.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// The method as named in the plan.
    pub kind: MethodKind,
    pub stop: StopRule,
    /// The proposal q (greedy: the one-hot argmax).
    pub proposal: ProposalParams,
    pub seed: u64,
    /// Cap on live engine sequences kept for reuse, LRU-evicted beyond it.
    /// Sequences of rows being decoded are always kept, so a batch wider
    /// than the cap temporarily exceeds it: at most max(cap, rows in flight
    /// + 2) sequences (the pinned prompt and a fork source come on top).
    pub kv_cap: usize,
    /// How many proposal entries a tree node keeps (raised to `expansion_k`);
    /// a draw in the unkept tail recomputes the node's full proposal.
    pub keep_top: usize,
    /// Optional extra cap on `tokens_generated`; the running iteration finishes.
    pub max_tokens_generated: Option<u64>,
    /// Iterations selected and decoded together (1 = the sequential algorithm).
    pub parallel_rollouts: usize,
    /// The task's decoding constraint: q is masked to its allowed tokens.
    pub constraint: Option<Constraint>,
    pub method: MethodConfig,
}

/// The method and its own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodConfig {
    Greedy,
    BestOfN(BestOfNConfig),
    Mcts(MctsConfig),
    /// DTS or DTS* with progressive widening (`Expansion::Sampled`).
    Dts(DtsConfig),
    /// MaxEnt-TS, and DTS / DTS* in `Expansion::TopK` mode.
    TopK(TopKConfig),
}

/// What best-of-N returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BonOutput {
    BestFound,
    /// Resample one draw with probability ∝ exp(λ r).
    Resample(Tilt),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BestOfNConfig {
    /// N; in token-matched mode an optional extra cap on the count.
    pub n: Option<usize>,
    /// Token-matched mode: the method whose `tokens_generated` is the budget G.
    pub token_budget_from: Option<String>,
    pub output: BonOutput,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MctsConfig {
    pub num_simulations: u64,
    pub expansion_k: usize,
    pub selection: Selection,
    pub c_uct: f64,
    pub c_puct: f64,
    pub add_rollout_to_tree: bool,
    pub prune_exhausted: bool,
}

/// Output rule of the soft tree methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeOutput {
    BestFound,
    /// One Algorithm-2 descent.
    Sample,
    /// The best of this many descents.
    SampleThenBest(usize),
    /// Largest-value child at every step.
    ArgmaxDescent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DtsConfig {
    /// DTS* (UCT on soft values) instead of DTS (Boltzmann selection).
    pub star: bool,
    pub num_rollouts: u64,
    pub tilt: Tilt,
    pub c_uct: f64,
    pub pw_c: f64,
    pub pw_alpha: f64,
    pub weights: ChildWeights,
    pub output: TreeOutput,
}

/// Selection rule of the top-k tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TopKSelection {
    /// ∝ w·exp(λ ṽ) (MaxEnt-TS, DTS).
    Boltzmann,
    /// argmax v̂ + c·√(ln n(s)/n(c)), unvisited first (DTS*).
    SoftUct(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopKConfig {
    pub num_rollouts: u64,
    pub tilt: Tilt,
    pub expansion_k: usize,
    /// Rollouts draw from the top `rollout_top_k` of q (default `expansion_k`).
    pub rollout_top_k: usize,
    pub selection: TopKSelection,
    pub rollout_all_on_expand: bool,
    pub output: TreeOutput,
}

fn required<T>(value: Option<T>, key: &str, kind: MethodKind) -> Result<T, SearchError> {
    value.ok_or_else(|| config_err(format!("{kind:?} needs `{key}`")))
}

fn positive_u32(value: Option<u32>, key: &str, kind: MethodKind) -> Result<u32, SearchError> {
    let v = required(value, key, kind)?;
    if v == 0 {
        return Err(config_err(format!("`{key}` must be at least 1")));
    }
    Ok(v)
}

fn finite_nonneg(value: f64, key: &str) -> Result<f64, SearchError> {
    if !value.is_finite() || value < 0.0 {
        return Err(config_err(format!("`{key}` must be finite and >= 0, got {value}")));
    }
    Ok(value)
}

fn tree_output(rule: OutputRule, samples: Option<u32>, allowed: &[OutputRule], kind: MethodKind) -> Result<TreeOutput, SearchError> {
    if !allowed.contains(&rule) {
        return Err(config_err(format!("{kind:?} does not support output {rule:?}")));
    }
    Ok(match rule {
        OutputRule::BestFound => TreeOutput::BestFound,
        OutputRule::Sample => TreeOutput::Sample,
        OutputRule::ArgmaxDescent => TreeOutput::ArgmaxDescent,
        OutputRule::SampleThenBest => {
            let k = samples.unwrap_or(1);
            if k == 0 {
                return Err(config_err("`output_samples` must be at least 1"));
            }
            TreeOutput::SampleThenBest(k as usize)
        }
    })
}

impl SearchConfig {
    /// Builds the configuration of one run. Values the plan leaves out
    /// take the plan's documented defaults; required ones are errors.
    pub fn from_params(kind: MethodKind, p: &MethodParams, stop_tokens: Vec<u32>, seed: u64) -> Result<SearchConfig, SearchError> {
        if p.max_new_tokens == 0 {
            return Err(config_err("`max_new_tokens` must be at least 1"));
        }
        let temperature = finite_nonneg(p.sampling_temperature.unwrap_or(1.0), "sampling_temperature")?;
        let top_p = p.top_p.unwrap_or(1.0);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(config_err(format!("`top_p` must be in (0, 1], got {top_p}")));
        }
        if p.top_k == Some(0) {
            return Err(config_err("`top_k` must be at least 1 (leave it out to switch it off)"));
        }
        let proposal = ProposalParams { temperature, top_k: p.top_k.map(|k| k as usize), top_p };
        let lambda = p.lambda.unwrap_or(Lambda::new(1.0).map_err(config_err)?);
        let tilt = Tilt::from_lambda(lambda);
        let parallel = p.parallel_rollouts.unwrap_or(1);
        if parallel == 0 {
            return Err(config_err("`parallel_rollouts` must be at least 1"));
        }
        let c_uct = finite_nonneg(p.c_uct.unwrap_or(1.0), "c_uct")?;
        let method = match kind {
            MethodKind::Greedy => MethodConfig::Greedy,
            MethodKind::BestOfN => {
                let n = match p.num_rollouts {
                    Some(0) => return Err(config_err("`num_rollouts` must be at least 1")),
                    other => other.map(|n| n as usize),
                };
                if n.is_none() && p.token_budget_from.is_none() {
                    return Err(config_err("BestOfN needs `num_rollouts` or `token_budget_from`"));
                }
                let output = match p.output.unwrap_or(OutputRule::BestFound) {
                    OutputRule::BestFound => BonOutput::BestFound,
                    OutputRule::Sample => BonOutput::Resample(tilt),
                    other => return Err(config_err(format!("BestOfN does not support output {other:?}"))),
                };
                MethodConfig::BestOfN(BestOfNConfig { n, token_budget_from: p.token_budget_from.clone(), output })
            }
            MethodKind::Mcts => {
                if p.output.is_some_and(|o| o != OutputRule::BestFound) {
                    return Err(config_err("Mcts only supports output best_found"));
                }
                MethodConfig::Mcts(MctsConfig {
                    num_simulations: u64::from(positive_u32(p.num_rollouts, "num_rollouts", kind)?),
                    expansion_k: positive_u32(p.expansion_k, "expansion_k", kind)? as usize,
                    selection: p.selection.unwrap_or(Selection::Uct),
                    c_uct,
                    c_puct: finite_nonneg(p.c_puct.unwrap_or(1.0), "c_puct")?,
                    add_rollout_to_tree: p.add_rollout_to_tree.unwrap_or(false),
                    prune_exhausted: p.prune_exhausted.unwrap_or(true),
                })
            }
            MethodKind::Dts | MethodKind::DtsStar => {
                let star = kind == MethodKind::DtsStar;
                let default_out = if star { OutputRule::BestFound } else { OutputRule::Sample };
                let all = [OutputRule::BestFound, OutputRule::Sample, OutputRule::SampleThenBest, OutputRule::ArgmaxDescent];
                let output = tree_output(p.output.unwrap_or(default_out), p.output_samples, &all, kind)?;
                let num_rollouts = u64::from(positive_u32(p.num_rollouts, "num_rollouts", kind)?);
                match p.expansion.unwrap_or(Expansion::Sampled) {
                    Expansion::Sampled => {
                        let pw_c = p.pw_c.unwrap_or(2.0);
                        let pw_alpha = p.pw_alpha.unwrap_or(0.7);
                        if !(pw_c.is_finite() && pw_c > 0.0) {
                            return Err(config_err(format!("`pw_c` must be > 0, got {pw_c}")));
                        }
                        if !(0.0..=1.0).contains(&pw_alpha) {
                            return Err(config_err(format!("`pw_alpha` must be in [0, 1], got {pw_alpha}")));
                        }
                        MethodConfig::Dts(DtsConfig {
                            star,
                            num_rollouts,
                            tilt,
                            c_uct,
                            pw_c,
                            pw_alpha,
                            weights: p.weights.unwrap_or(ChildWeights::Multiplicity),
                            output,
                        })
                    }
                    Expansion::TopK => {
                        let k = positive_u32(p.expansion_k, "expansion_k", kind)? as usize;
                        MethodConfig::TopK(TopKConfig {
                            num_rollouts,
                            tilt,
                            expansion_k: k,
                            rollout_top_k: rollout_k(p, k)?,
                            selection: if star { TopKSelection::SoftUct(c_uct) } else { TopKSelection::Boltzmann },
                            rollout_all_on_expand: p.rollout_all_on_expand.unwrap_or(false),
                            output,
                        })
                    }
                }
            }
            MethodKind::MaxentTs => {
                let k = positive_u32(p.expansion_k, "expansion_k", kind)? as usize;
                let output = tree_output(p.output.unwrap_or(OutputRule::BestFound), p.output_samples, &[OutputRule::BestFound, OutputRule::Sample], kind)?;
                MethodConfig::TopK(TopKConfig {
                    num_rollouts: u64::from(positive_u32(p.num_rollouts, "num_rollouts", kind)?),
                    tilt,
                    expansion_k: k,
                    rollout_top_k: rollout_k(p, k)?,
                    selection: TopKSelection::Boltzmann,
                    rollout_all_on_expand: p.rollout_all_on_expand.unwrap_or(false),
                    output,
                })
            }
        };
        let proposal = if kind == MethodKind::Greedy { ProposalParams::GREEDY } else { proposal };
        Ok(SearchConfig {
            kind,
            stop: StopRule { max_new_tokens: p.max_new_tokens as usize, stop_tokens, predicate: None },
            proposal,
            seed,
            kv_cap: DEFAULT_KV_CAP,
            keep_top: DEFAULT_KEEP_TOP,
            max_tokens_generated: p.max_tokens_generated,
            parallel_rollouts: parallel as usize,
            constraint: None,
            method,
        })
    }

    /// Adds a task stop rule (a pure function of the generated tokens).
    pub fn with_stop_predicate(mut self, predicate: StopPredicate) -> SearchConfig {
        self.stop.predicate = Some(predicate);
        self
    }

    /// Masks the proposal with `constraint` and ends a sequence as soon as
    /// the constraint calls it complete.
    pub fn with_constraint(mut self, constraint: Constraint) -> SearchConfig {
        let c = constraint.clone();
        self.stop.predicate = Some(std::sync::Arc::new(move |generated: &[u32]| c.0.is_complete(generated)));
        self.constraint = Some(constraint);
        self
    }

    /// Applies the constraint (if any) to the log-probabilities after `generated`.
    pub(crate) fn mask(&self, generated: &[u32], row: &mut [f32]) -> Result<(), SearchError> {
        match &self.constraint {
            Some(c) => c.mask(generated, row),
            None => Ok(()),
        }
    }

    /// Entries of q kept per node.
    pub(crate) fn keep(&self) -> usize {
        let k = match &self.method {
            MethodConfig::Mcts(m) => m.expansion_k,
            MethodConfig::TopK(t) => t.expansion_k.max(t.rollout_top_k),
            _ => 0,
        };
        self.keep_top.max(k).max(1)
    }
}

fn rollout_k(p: &MethodParams, k: usize) -> Result<usize, SearchError> {
    match p.rollout_top_k {
        Some(0) => Err(config_err("`rollout_top_k` must be at least 1")),
        Some(r) => Ok(r as usize),
        None => Ok(k),
    }
}

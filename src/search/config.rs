//! Typed search configuration, built from a run's resolved `MethodParams`.
//! The parameters arrive with every default filled in (the plan fills them
//! from the declarations in `spec::params`); this module checks them against
//! the same declarations and applies no defaults of its own.

use crate::spec::{ChildWeights, Expansion, MethodKind, MethodParams, OutputRule};

use super::constraint::Constraint;
use super::error::{config_err, SearchError};
use super::lme::Tilt;
use super::methods::Explore;
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
    /// UCT with `c_uct` or PUCT with `c_puct`.
    pub explore: Explore,
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
    pub num_rollouts: u64,
    pub tilt: Tilt,
    /// Boltzmann (DTS) or UCT on soft values (DTS*).
    pub selection: SoftSelection,
    pub pw_c: f64,
    pub pw_alpha: f64,
    pub weights: ChildWeights,
    pub output: TreeOutput,
}

/// Selection rule of the soft-value trees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SoftSelection {
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
    pub selection: SoftSelection,
    pub rollout_all_on_expand: bool,
    pub output: TreeOutput,
}

/// A value the run's parameters must hold for `kind` (checked by
/// `MethodParams::check`, so its absence is a caller's error).
fn given<T>(value: Option<T>, key: &str, kind: MethodKind) -> Result<T, SearchError> {
    value.ok_or_else(|| config_err(format!("{} needs `{key}`", kind.name())))
}

fn count(value: Option<u32>, key: &str, kind: MethodKind) -> Result<usize, SearchError> {
    Ok(given(value, key, kind)? as usize)
}

fn tree_output(p: &MethodParams, kind: MethodKind) -> Result<TreeOutput, SearchError> {
    Ok(match given(p.output, "output", kind)? {
        OutputRule::BestFound => TreeOutput::BestFound,
        OutputRule::Sample => TreeOutput::Sample,
        OutputRule::ArgmaxDescent => TreeOutput::ArgmaxDescent,
        OutputRule::SampleThenBest => TreeOutput::SampleThenBest(count(p.output_samples, "output_samples", kind)?),
    })
}

impl SearchConfig {
    /// Builds the configuration of one run from its resolved parameters.
    /// Fails when a value is out of its declared range, a structural choice
    /// is one the method does not admit, or a parameter the method reads is
    /// missing (`MethodParams::with_defaults` fills the defaults).
    pub fn from_params(kind: MethodKind, p: &MethodParams, stop_tokens: Vec<u32>, seed: u64) -> Result<SearchConfig, SearchError> {
        p.check(kind).map_err(|e| config_err(e.to_string()))?;
        let searches = kind != MethodKind::Greedy;
        let tilt = || Ok::<_, SearchError>(Tilt::from_lambda(given(p.lambda, "lambda", kind)?));
        let method = match kind {
            MethodKind::Greedy => MethodConfig::Greedy,
            MethodKind::BestOfN => {
                let output = match given(p.output, "output", kind)? {
                    OutputRule::Sample => BonOutput::Resample(tilt()?),
                    _ => BonOutput::BestFound,
                };
                MethodConfig::BestOfN(BestOfNConfig {
                    // Absent only in token-matched mode (`MethodParams::check`).
                    n: p.num_rollouts.map(|n| n as usize),
                    token_budget_from: p.token_budget_from.clone(),
                    output,
                })
            }
            MethodKind::Mcts => MethodConfig::Mcts(MctsConfig {
                num_simulations: count(p.num_rollouts, "num_rollouts", kind)? as u64,
                expansion_k: count(p.expansion_k, "expansion_k", kind)?,
                explore: match p.selection {
                    Some(crate::spec::Selection::Puct) => Explore::Puct(given(p.c_puct, "c_puct", kind)?),
                    _ => Explore::Uct(given(p.c_uct, "c_uct", kind)?),
                },
                add_rollout_to_tree: given(p.add_rollout_to_tree, "add_rollout_to_tree", kind)?,
                prune_exhausted: given(p.prune_exhausted, "prune_exhausted", kind)?,
            }),
            MethodKind::Dts | MethodKind::DtsStar => {
                let selection = match kind {
                    MethodKind::DtsStar => SoftSelection::SoftUct(given(p.c_uct, "c_uct", kind)?),
                    _ => SoftSelection::Boltzmann,
                };
                let num_rollouts = count(p.num_rollouts, "num_rollouts", kind)? as u64;
                match given(p.expansion, "expansion", kind)? {
                    Expansion::Sampled => MethodConfig::Dts(DtsConfig {
                        num_rollouts,
                        tilt: tilt()?,
                        selection,
                        pw_c: given(p.pw_c, "pw_c", kind)?,
                        pw_alpha: given(p.pw_alpha, "pw_alpha", kind)?,
                        weights: given(p.weights, "weights", kind)?,
                        output: tree_output(p, kind)?,
                    }),
                    Expansion::TopK => {
                        let k = count(p.expansion_k, "expansion_k", kind)?;
                        MethodConfig::TopK(TopKConfig {
                            num_rollouts,
                            tilt: tilt()?,
                            expansion_k: k,
                            // Rollouts of DTS's top-k mode draw from the same k.
                            rollout_top_k: k,
                            selection,
                            rollout_all_on_expand: false,
                            output: tree_output(p, kind)?,
                        })
                    }
                }
            }
            MethodKind::MaxentTs => MethodConfig::TopK(TopKConfig {
                num_rollouts: count(p.num_rollouts, "num_rollouts", kind)? as u64,
                tilt: tilt()?,
                expansion_k: count(p.expansion_k, "expansion_k", kind)?,
                rollout_top_k: count(p.rollout_top_k, "rollout_top_k", kind)?,
                selection: SoftSelection::Boltzmann,
                rollout_all_on_expand: given(p.rollout_all_on_expand, "rollout_all_on_expand", kind)?,
                output: tree_output(p, kind)?,
            }),
        };
        let proposal = if searches {
            ProposalParams {
                temperature: given(p.sampling_temperature, "sampling_temperature", kind)?,
                // 0 switches the cut off, as leaving it out does.
                top_k: p.top_k.filter(|&k| k > 0).map(|k| k as usize),
                top_p: given(p.top_p, "top_p", kind)?,
            }
        } else {
            ProposalParams::GREEDY
        };
        Ok(SearchConfig {
            kind,
            stop: StopRule { max_new_tokens: p.max_new_tokens as usize, stop_tokens, predicate: None },
            proposal,
            seed,
            kv_cap: DEFAULT_KV_CAP,
            keep_top: DEFAULT_KEEP_TOP,
            max_tokens_generated: p.max_tokens_generated,
            parallel_rollouts: if searches { count(p.parallel_rollouts, "parallel_rollouts", kind)? } else { 1 },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{structural_names, structures};

    #[test]
    fn every_structure_the_declarations_admit_builds_a_config() {
        for kind in MethodKind::ALL {
            for s in structures(kind) {
                let mut v = serde_json::json!({ "max_new_tokens": 16, "num_rollouts": 4, "expansion_k": 3 });
                for name in structural_names() {
                    if let Some(choice) = s.get(name) {
                        v[name] = choice;
                    }
                }
                let p: MethodParams = serde_json::from_value(v).expect("params");
                let p = p.with_defaults(kind).expect("defaults");
                let cfg = SearchConfig::from_params(kind, &p, vec![0], 0).unwrap_or_else(|e| panic!("{kind:?} {s:?}: {e}"));
                assert_eq!(cfg.stop.max_new_tokens, 16);
                // Left out, a default is an error here, not filled in.
                let mut bare = serde_json::to_value(&p).expect("json");
                if kind != MethodKind::Greedy {
                    bare.as_object_mut().expect("object").remove("sampling_temperature");
                    let bare: MethodParams = serde_json::from_value(bare).expect("params");
                    let e = SearchConfig::from_params(kind, &bare, vec![0], 0).err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(e.contains("sampling_temperature"), "{kind:?}: {e}");
                }
            }
        }
    }
}

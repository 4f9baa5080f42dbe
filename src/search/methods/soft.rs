//! Pieces shared by DTS, DTS* and MaxEnt-TS: child weights, soft backups
//! and Algorithm-2 descents.

use rand_chacha::ChaCha20Rng;

use crate::spec::ChildWeights;

use super::super::error::SearchError;
use super::super::lme::{argmax_by, boltzmann_choice, choice_probs, soft_value, Choice, Tilt};
use super::super::tree::{Node, NodeId, Tree, ROOT};

/// The (unnormalised) weight of a child; normalised over the children in
/// play (all valued children, or C⁺ for MaxEnt-TS) wherever it is used.
pub(crate) fn weight(mode: ChildWeights, child: &Node) -> f64 {
    match mode {
        ChildWeights::Multiplicity => child.mult as f64,
        ChildWeights::Prior => child.prior,
    }
}

/// The children of `s` that have a value (visited), as choice options.
pub(crate) fn valued_children(tree: &Tree, s: NodeId, mode: ChildWeights) -> Result<Vec<(Choice, NodeId)>, SearchError> {
    let mut out = Vec::new();
    for &(t, c) in &tree.node(s)?.children {
        let n = tree.node(c)?;
        if let Some(v) = n.value {
            out.push((Choice { weight: weight(mode, n), value: v, token: t }, c));
        }
    }
    Ok(out)
}

/// Backup of one node: terminals keep their reward, others take the soft
/// value of their valued children.
pub(crate) fn refresh_value(tree: &mut Tree, s: NodeId, tilt: Tilt, mode: ChildWeights) -> Result<(), SearchError> {
    let node = tree.node(s)?;
    let value = if node.terminal {
        node.reward
    } else {
        let opts = valued_children(tree, s, mode)?;
        let entries: Vec<(f64, f64)> = opts.iter().map(|(c, _)| (c.weight, c.value)).collect();
        soft_value(tilt, &entries)
    };
    tree.node_mut(s)?.value = value;
    Ok(())
}

/// Probabilities of the Algorithm-2 step at `s` over its valued children
/// (`argmax`: all mass on the largest value).
pub(crate) fn step_probs(tree: &Tree, s: NodeId, tilt: Tilt, mode: ChildWeights, argmax: bool) -> Result<Vec<(NodeId, f64)>, SearchError> {
    let opts = valued_children(tree, s, mode)?;
    let choices: Vec<Choice> = opts.iter().map(|o| o.0).collect();
    let probs = choice_probs(if argmax { Tilt::Max } else { tilt }, &choices);
    Ok(opts.iter().map(|o| o.1).zip(probs).collect())
}

/// Algorithm 2: from the root, pick children ∝ w·exp(λ v̂) (or the
/// largest v̂) until a terminal; returns that terminal's node.
pub(crate) fn descend(tree: &Tree, tilt: Tilt, mode: ChildWeights, argmax: bool, rng: &mut ChaCha20Rng) -> Result<NodeId, SearchError> {
    let mut s = ROOT;
    loop {
        let node = tree.node(s)?;
        if node.terminal {
            return Ok(s);
        }
        let opts = valued_children(tree, s, mode)?;
        let choices: Vec<Choice> = opts.iter().map(|o| o.0).collect();
        let i = if argmax { argmax_by(&choices, |_, c| c.value) } else { boltzmann_choice(tilt, &choices, rng) };
        s = opts
            .get(i.ok_or_else(|| SearchError::Internal(format!("node {s} has no valued child")))?)
            .map(|o| o.1)
            .ok_or_else(|| SearchError::Internal("bad choice".into()))?;
    }
}

/// E index of a terminal node.
pub(crate) fn entry_of(tree: &Tree, leaf: NodeId) -> Result<usize, SearchError> {
    tree.node(leaf)?.evaluated.ok_or_else(|| SearchError::Internal(format!("terminal {leaf} was never evaluated")))
}

#[cfg(test)]
#[path = "soft_tests.rs"]
mod tests;

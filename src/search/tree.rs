//! The token tree: an arena of nodes with `u32` ids, shared by MCTS, DTS,
//! DTS* and MaxEnt-TS. Each method uses the fields it needs.

use super::counters::TreeStats;
use super::error::SearchError;
use super::proposal::SparseDist;

/// Index of a node in the arena; the root is 0.
pub type NodeId = u32;
pub const ROOT: NodeId = 0;

/// One prefix of the generation.
#[derive(Debug, Clone)]
pub struct Node {
    pub parent: Option<NodeId>,
    /// The token that leads here from the parent (unused at the root).
    pub token: u32,
    /// Generated tokens on the path from the root.
    pub depth: u32,
    pub terminal: bool,
    /// `(token, child)`, sorted by token.
    pub children: Vec<(u32, NodeId)>,
    /// The method's prior for this node's token at the parent: q(a|parent)
    /// for the soft methods, the candidate-normalised P(a|s) for MCTS.
    pub prior: f64,
    /// Finished iterations (rollouts) whose path contains this node.
    pub n: u64,
    /// Soft-value estimate v̂ (soft methods); `None` until first backed up.
    pub value: Option<f64>,
    /// Sum of backed-up rewards (MCTS).
    pub w_sum: f64,
    /// Expansion draws at the parent that returned this token (DTS m_a).
    pub mult: u64,
    /// Expansion draws made here (DTS D(s)).
    pub draws: u64,
    /// Top-k children created (MaxEnt-TS).
    pub expanded: bool,
    /// MCTS: no untried action and all children exhausted.
    pub exhausted: bool,
    /// MCTS candidates not expanded yet; `None` until the node is first selected.
    pub untried: Option<Vec<(u32, f64)>>,
    /// Terminal nodes: the reward of the sequence.
    pub reward: Option<f64>,
    /// Terminal nodes: an index into E for this sequence.
    pub evaluated: Option<usize>,
    /// q(·|s), kept while the node can still expand.
    pub(crate) dist: Option<SparseDist>,
    /// The engine sequence holding this prefix (KV-pool slot).
    pub(crate) kv: Option<u32>,
    /// Created by an iteration whose rollout is still being decoded.
    pub(crate) pending: bool,
    /// MCTS virtual loss of pending iterations: (visits, reward sum).
    pub(crate) virtual_n: u64,
    pub(crate) virtual_w: f64,
}

impl Node {
    fn new(parent: Option<NodeId>, token: u32, depth: u32, terminal: bool, prior: f64) -> Node {
        Node {
            parent,
            token,
            depth,
            terminal,
            children: Vec::new(),
            prior,
            n: 0,
            value: None,
            w_sum: 0.0,
            mult: 0,
            draws: 0,
            expanded: false,
            exhausted: terminal,
            untried: None,
            reward: None,
            evaluated: None,
            dist: None,
            kv: None,
            pending: false,
            virtual_n: 0,
            virtual_w: 0.0,
        }
    }

    /// q(·|s) entries kept at this node, if any.
    pub fn proposal(&self) -> Option<&SparseDist> {
        self.dist.as_ref()
    }
}

/// The arena.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree { nodes: vec![Node::new(None, 0, 0, false, 1.0)] }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> Result<&Node, SearchError> {
        self.nodes.get(id as usize).ok_or_else(|| SearchError::Internal(format!("no node {id}")))
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, SearchError> {
        self.nodes.get_mut(id as usize).ok_or_else(|| SearchError::Internal(format!("no node {id}")))
    }

    /// The child reached by `token`, if it exists.
    pub fn child(&self, id: NodeId, token: u32) -> Option<NodeId> {
        let node = self.nodes.get(id as usize)?;
        node.children.binary_search_by_key(&token, |c| c.0).ok().map(|i| node.children[i].1)
    }

    /// Adds a child (the caller checks it does not exist yet).
    pub(crate) fn add_child(&mut self, parent: NodeId, token: u32, prior: f64, terminal: bool) -> Result<NodeId, SearchError> {
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| SearchError::TreeFull)?;
        let p = self.node_mut(parent)?;
        let depth = p.depth + 1;
        match p.children.binary_search_by_key(&token, |c| c.0) {
            Ok(_) => return Err(SearchError::Internal(format!("node {parent} already has token {token}"))),
            Err(pos) => p.children.insert(pos, (token, id)),
        }
        self.nodes.push(Node::new(Some(parent), token, depth, terminal, prior));
        Ok(id)
    }

    /// The generated tokens from the root to `id`.
    pub fn tokens(&self, id: NodeId) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = id;
        while let Some(node) = self.nodes.get(cur as usize) {
            match node.parent {
                Some(p) => {
                    out.push(node.token);
                    cur = p;
                }
                None => break,
            }
        }
        out.reverse();
        out
    }

    /// Nodes from `top` down to `bottom` (both included); `bottom` must lie
    /// in `top`'s subtree.
    pub(crate) fn chain(&self, top: NodeId, bottom: NodeId) -> Result<Vec<NodeId>, SearchError> {
        let mut out = vec![bottom];
        let mut cur = bottom;
        while cur != top {
            cur = self.node(cur)?.parent.ok_or_else(|| SearchError::Internal("chain left the tree".into()))?;
            out.push(cur);
        }
        out.reverse();
        Ok(out)
    }

    pub fn stats(&self) -> TreeStats {
        let mut expanded = 0u64;
        let mut children = 0u64;
        for n in &self.nodes {
            if !n.terminal && !n.children.is_empty() {
                expanded += 1;
                children += n.children.len() as u64;
            }
        }
        TreeStats {
            nodes: self.nodes.len() as u64,
            max_depth: self.nodes.iter().map(|n| n.depth).max().unwrap_or(0),
            mean_branching: if expanded == 0 { 0.0 } else { children as f64 / expanded as f64 },
        }
    }
}

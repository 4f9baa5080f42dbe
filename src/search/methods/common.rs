//! Pieces shared by the methods: outcome assembly and budget checks.

use super::super::context::Ctx;
use super::super::error::SearchError;
use super::super::tree::Tree;
use super::super::SearchOutcome;

/// Builds the outcome from E index `chosen`.
pub(crate) fn outcome(ctx: &mut Ctx<'_>, chosen: usize, tree: Option<&Tree>) -> Result<SearchOutcome, SearchError> {
    let evaluated = ctx.take_evaluated();
    let output = evaluated.get(chosen).cloned().ok_or_else(|| SearchError::Internal("the chosen sequence is not in E".into()))?;
    Ok(SearchOutcome {
        method: ctx.cfg.kind,
        output,
        evaluated_count: evaluated.len(),
        evaluated,
        counters: ctx.counters,
        tree: tree.map(Tree::stats),
    })
}

/// BestFound: the best of E (ties: earliest).
pub(crate) fn best_found(ctx: &Ctx<'_>) -> Result<usize, SearchError> {
    ctx.evaluated.best().ok_or_else(|| SearchError::Internal("no sequence was evaluated".into()))
}

/// Whether the optional token cap still allows a new iteration.
pub(crate) fn under_token_cap(ctx: &Ctx<'_>) -> bool {
    ctx.cfg.max_tokens_generated.is_none_or(|cap| ctx.counters.tokens_generated < cap)
}

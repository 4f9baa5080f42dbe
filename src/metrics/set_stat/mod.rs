//! Set statistics: metrics of a group of samples that are not a mean of
//! per-sample values (OWA from four averages, macro-F1 from label counts).
//! Each reads the columns it names; a sample takes part when the columns
//! the statistic needs are defined for it.
//!
//! A statistic over some samples is a [`SetSample`]: its value on any
//! resample of them (for the bootstrap) and each sample's influence on it
//! (its linearization, for the normal interval of large groups).

mod macro_f1;
mod owa;

use super::column::Column;
use super::input::Input;
use super::MetricsError;

/// The set statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetStat {
    /// M4's overall weighted average (see `tasks::forecast::metrics::owa`).
    Owa,
    /// Macro-F1 (see `tasks::activity::metrics::classification`).
    MacroF1,
}

/// A statistic over a fixed list of samples.
pub trait SetSample {
    /// Samples in the list.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The statistic of the samples at positions `picks` of the list
    /// (repeats allowed); `None` where it is undefined.
    fn value(&self, picks: &[u32]) -> Option<f64>;

    /// The statistic of the whole list.
    fn value_of_all(&self) -> Option<f64> {
        let all: Vec<u32> = (0..self.len() as u32).collect();
        self.value(&all)
    }

    /// Each sample's influence on the statistic of the whole list: the
    /// values whose mean is 0 and whose variance over n is the delta
    /// method's variance of the statistic. `None` where undefined.
    fn influence(&self) -> Option<Vec<f64>>;
}

impl SetStat {
    /// The columns the statistic reads, in the order it reads them.
    pub fn inputs(self) -> &'static [Column] {
        match self {
            SetStat::Owa => &owa::INPUTS,
            SetStat::MacroF1 => &macro_f1::INPUTS,
        }
    }

    /// The input whose values show that the statistic applies to the
    /// samples (forecasting ones, activity ones).
    pub fn evidence(self) -> Column {
        match self {
            SetStat::Owa => owa::EVIDENCE,
            SetStat::MacroF1 => macro_f1::EVIDENCE,
        }
    }

    /// Per row of `inputs` (read from [`SetStat::inputs`]), whether the
    /// sample takes part.
    pub fn usable(self, inputs: &[Input]) -> Result<Vec<bool>, MetricsError> {
        match self {
            SetStat::Owa => owa::usable(inputs),
            SetStat::MacroF1 => macro_f1::usable(inputs),
        }
    }

    /// The statistic over the rows `rows` of `inputs`, each of them usable,
    /// taken in that order.
    pub fn sample(self, inputs: &[Input], rows: &[u32]) -> Result<Box<dyn SetSample>, MetricsError> {
        match self {
            SetStat::Owa => owa::sample(inputs, rows),
            SetStat::MacroF1 => macro_f1::sample(inputs, rows),
        }
    }
}

/// The `i`-th of `inputs`, as numbers: the column `inputs` of the
/// statistic names there.
fn numbers<'a>(inputs: &'a [Input], columns: &[Column], i: usize) -> Result<&'a [Option<f64>], MetricsError> {
    let name = columns.get(i).map_or("?", |c| c.name);
    inputs.get(i).ok_or_else(|| MetricsError::column(name, "not read"))?.as_numbers(name)
}

/// The `i`-th of `inputs`, as text.
fn texts<'a>(inputs: &'a [Input], columns: &[Column], i: usize) -> Result<&'a [Option<String>], MetricsError> {
    let name = columns.get(i).map_or("?", |c| c.name);
    inputs.get(i).ok_or_else(|| MetricsError::column(name, "not read"))?.as_texts(name)
}

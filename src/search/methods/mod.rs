//! The methods, one file each.

pub mod best_of_n;
pub mod dts;
pub mod greedy;
pub mod maxent_ts;
pub mod mcts;

mod common;
mod select;
mod soft;

pub use best_of_n::BestOfN;
pub use dts::Dts;
pub use greedy::Greedy;
pub use maxent_ts::MaxEntTs;
pub use mcts::Mcts;
pub use select::Explore;

use super::config::{MethodConfig, SearchConfig};
use super::Method;

/// The method a configuration describes.
pub fn method_for(config: SearchConfig) -> Box<dyn Method> {
    match config.method {
        MethodConfig::Greedy => Box::new(Greedy::new(config)),
        MethodConfig::BestOfN(_) => Box::new(BestOfN::new(config)),
        MethodConfig::Mcts(_) => Box::new(Mcts::new(config)),
        MethodConfig::Dts(_) => Box::new(Dts::new(config)),
        MethodConfig::TopK(_) => Box::new(MaxEntTs::new(config)),
    }
}

//! One loaded copy of each model, shared by every run that uses it, and
//! dropped when no run still needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::engine::locator::ModelLocator;
use crate::engine::model::{load_from, ComputeDtype};
use crate::engine::service::{EngineOptions, EngineService};
use crate::engine::tokenizer::TextTokenizer;
use crate::engine::EngineError;
use crate::plan::RunConfig;
use crate::tasks::constrain::TokenTexts;

/// A model's engine loop with what runs need to know about it.
pub struct LoadedEngine {
    pub service: EngineService,
    pub tokenizer: TextTokenizer,
    /// Hub commit or weights sha256.
    pub revision: String,
    /// Positions the model supports, when its config says.
    pub context: Option<usize>,
    /// Compute dtype and MLX backend (`float32 on cpu`).
    pub compute: String,
    /// The text of every token (for answer constraints).
    pub texts: Arc<TokenTexts>,
}

/// The key runs share a model by.
pub fn model_key(run: &RunConfig) -> String {
    run.model.source.to_string()
}

/// One slot per model: loading fills it while only callers of that model
/// wait (a slow download of one model holds no other run up).
type Slot = Arc<Mutex<Option<Arc<LoadedEngine>>>>;

pub struct Engines {
    options: EngineOptions,
    loaded: Mutex<HashMap<String, Slot>>,
}

impl Engines {
    pub fn new(options: EngineOptions) -> Engines {
        Engines { options, loaded: Mutex::new(HashMap::new()) }
    }

    /// The engine of `key`, loading the model at `locator` on first use.
    pub fn get(&self, key: &str, locator: &ModelLocator) -> Result<Arc<LoadedEngine>, EngineError> {
        let slot: Slot = {
            let mut map = self.loaded.lock().map_err(|_| EngineError::Mlx("engine table poisoned".into()))?;
            map.entry(key.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().map_err(|_| EngineError::Mlx(format!("the engine of {key} panicked while loading")))?;
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let engine = Arc::new(self.load(locator)?);
        *slot = Some(engine.clone());
        Ok(engine)
    }

    fn load(&self, locator: &ModelLocator) -> Result<LoadedEngine, EngineError> {
        let (rev_tx, rev_rx) = std::sync::mpsc::channel();
        let locator = locator.clone();
        let service = EngineService::start_with(
            move || {
                let m = load_from(&locator, ComputeDtype::Auto)?;
                let context = m.model.config().max_position_embeddings.and_then(|c| usize::try_from(c).ok()).filter(|&c| c > 0);
                let _ = rev_tx.send((m.revision.clone(), context, m.compute.clone()));
                Ok(m)
            },
            self.options,
        )?;
        let (revision, context, dtype) =
            rev_rx.recv().map_err(|_| EngineError::Mlx("the engine did not report the model's revision".into()))?;
        let tokenizer = service.tokenizer()?;
        let texts = Arc::new(crate::evaluate::token_texts(&tokenizer).map_err(|e| EngineError::Mlx(e.to_string()))?);
        let backend = crate::engine::mlx_info().map(|i| format!("{:?}", i.backend).to_lowercase()).unwrap_or_else(|_| "unknown".into());
        let compute = format!("{dtype} on {backend}");
        Ok(LoadedEngine { service, tokenizer, revision, context, compute, texts })
    }

    /// Forgets the engine of `key`; it stops when its last user drops it.
    pub fn release(&self, key: &str) {
        if let Ok(mut map) = self.loaded.lock() {
            map.remove(key);
        }
    }
}

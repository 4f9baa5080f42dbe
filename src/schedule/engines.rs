//! One loaded copy of each model, shared by every run that uses it, and
//! dropped when no run still needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::engine::model::{load, ComputeDtype};
use crate::engine::service::EngineService;
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
    /// The text of every token (for answer constraints).
    pub texts: Arc<TokenTexts>,
}

/// The key runs share a model by.
pub fn model_key(run: &RunConfig) -> String {
    run.model.source.to_string()
}

pub struct Engines {
    max_rows: usize,
    loaded: Mutex<HashMap<String, Arc<LoadedEngine>>>,
}

impl Engines {
    pub fn new(max_rows: usize) -> Engines {
        Engines { max_rows, loaded: Mutex::new(HashMap::new()) }
    }

    /// The engine of `key`, loading `reference` on first use.
    pub fn get(&self, key: &str, reference: &str) -> Result<Arc<LoadedEngine>, EngineError> {
        let mut map = self.loaded.lock().map_err(|_| EngineError::Mlx("engine table poisoned".into()))?;
        if let Some(e) = map.get(key) {
            return Ok(e.clone());
        }
        let (rev_tx, rev_rx) = std::sync::mpsc::channel();
        let reference = reference.to_owned();
        let service = EngineService::start(
            move || {
                let m = load(&reference, ComputeDtype::Auto)?;
                let context = m.model.config.max_position_embeddings.and_then(|c| usize::try_from(c).ok()).filter(|&c| c > 0);
                let _ = rev_tx.send((m.revision.clone(), context));
                Ok(m)
            },
            self.max_rows,
        )?;
        let (revision, context) = rev_rx.recv().map_err(|_| EngineError::Mlx("the engine did not report the model's revision".into()))?;
        let tokenizer = service.tokenizer()?;
        let texts = Arc::new(crate::evaluate::token_texts(&tokenizer).map_err(|e| EngineError::Mlx(e.to_string()))?);
        let engine = Arc::new(LoadedEngine { service, tokenizer, revision, context, texts });
        map.insert(key.to_owned(), engine.clone());
        Ok(engine)
    }

    /// Forgets the engine of `key`; it stops when its last user drops it.
    pub fn release(&self, key: &str) {
        if let Ok(mut map) = self.loaded.lock() {
            map.remove(key);
        }
    }
}

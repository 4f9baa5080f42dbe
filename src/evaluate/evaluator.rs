//! Rewards for the search: decode the generated tokens, score the text with
//! the sample's task. The text scored is exactly the text recorded.

use crate::engine::tokenizer::TextTokenizer;
use crate::search::{Evaluation, Evaluator, SearchError};
use crate::tasks::{PromptOptions, Sample, Scored, Task};

pub struct TaskEvaluator<'a> {
    pub tokenizer: &'a TextTokenizer,
    pub task: &'a Task,
    pub sample: &'a Sample,
    /// The options the sample's prompt was built with (replies are read
    /// back with the same serialization and history).
    pub prompt: &'a PromptOptions,
}

impl TaskEvaluator<'_> {
    /// The text of a generation: its tokens decoded, a final stop token
    /// left out (it ends the answer and is not part of it).
    pub fn text(&self, generated: &[u32]) -> Result<String, SearchError> {
        let body = match generated.split_last() {
            Some((last, rest)) if self.tokenizer.stop_ids().contains(last) => rest,
            _ => generated,
        };
        self.tokenizer.decode(body).map_err(|e| SearchError::Evaluator(e.to_string()))
    }

    /// The task's full score of a text (reward, parsed answer, metrics).
    pub fn score(&self, text: &str) -> Scored {
        self.sample.score(text, self.prompt, &self.task.score)
    }
}

impl Evaluator for TaskEvaluator<'_> {
    fn evaluate(&mut self, generated: &[u32]) -> Result<Evaluation, SearchError> {
        let text = self.text(generated)?;
        let reward = self.score(&text).reward;
        Ok(Evaluation { text, reward })
    }
}

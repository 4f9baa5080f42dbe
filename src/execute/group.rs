//! Runs into tasks: runs of one model together (a task loads its weights
//! once), at most `size` per task, in plan order.

use super::TaskSpec;
use crate::plan::RunConfig;

pub fn group_runs(runs: &[&RunConfig], size: usize) -> Vec<TaskSpec> {
    let size = size.max(1);
    let mut models: Vec<&str> = Vec::new();
    for r in runs {
        if !models.contains(&r.model.name.as_str()) {
            models.push(&r.model.name);
        }
    }
    let mut tasks = Vec::new();
    for model in models {
        let ids: Vec<String> = runs.iter().filter(|r| r.model.name == model).map(|r| r.run_id.0.clone()).collect();
        for chunk in ids.chunks(size) {
            tasks.push(TaskSpec { index: tasks.len(), model: model.to_owned(), run_ids: chunk.to_vec() });
        }
    }
    tasks
}

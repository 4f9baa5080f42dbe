//! Layering: the YAML file, then `RUNNER_*` environment variables, then
//! `--set key.path=value` flags, later layers winning; extraction into `Spec`
//! with every failure turned into one located `Diagnostic`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Yaml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};

use super::diagnostic::{did_you_mean, Diagnostic, Origin};
use super::source_map::{Location, SourceMap};
use super::types::Spec;
use super::SpecError;

/// Largest experiment file accepted.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Top-level keys of a spec: only environment variables naming one of these
/// (`RUNNER_<KEY>` or `RUNNER_<KEY>__...`) are read as overrides.
pub const TOP_LEVEL_KEYS: &[&str] = &["name", "description", "models", "datasets", "methods", "seeds", "sweep", "tracking", "executor"];

/// A spec as loaded, with what is needed to point at its lines later.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    /// The file's text, exactly as read.
    pub text: String,
    origins: Origins,
}

impl LoadedSpec {
    pub fn file(&self) -> &Path {
        &self.origins.file
    }

    /// A diagnostic about `key` (dotted path), located in the file or
    /// attributed to the override that set it.
    pub fn diagnostic(&self, key: &str, message: impl Into<String>) -> Diagnostic {
        self.origins.diagnostic(key, message)
    }
}

/// Where each value of a spec came from: the file's lines, or an override.
#[derive(Debug, Clone)]
struct Origins {
    file: PathBuf,
    source_map: SourceMap,
    /// Key paths set by `--set` (dotted) with the flag as given.
    set_keys: Vec<(String, String)>,
    /// Key paths set by environment variables, with the variable name.
    env_keys: Vec<(String, String)>,
}

impl Origins {
    fn diagnostic(&self, key: &str, message: impl Into<String>) -> Diagnostic {
        let covers = |k: &str| key == k || key.starts_with(&format!("{k}."));
        let origin = self
            .set_keys
            .iter()
            .rev()
            .find(|(k, _)| covers(k))
            .map(|(_, flag)| Origin::Set(flag.clone()))
            .or_else(|| self.env_keys.iter().find(|(k, _)| covers(k)).map(|(_, var)| Origin::Env(var.clone())))
            .unwrap_or(Origin::File);
        let path: Vec<String> = key.split('.').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        Diagnostic {
            file: self.file.clone(),
            key: key.to_owned(),
            location: self.source_map.locate(&path),
            origin,
            message: message.into(),
        }
    }
}

/// One `--set key.path=value` flag; the value is read as YAML.
struct SetFlag {
    flag: String,
    key: String,
    value: serde_yaml::Value,
}

impl Provider for SetFlag {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("--set {}", self.flag))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::default(&self.key, &self.value).data()
    }
}

fn parse_set(file: &Path, flag: &str) -> Result<SetFlag, SpecError> {
    let invalid = |message: String| {
        SpecError::Invalid(Box::new(Diagnostic {
            file: file.to_owned(),
            key: String::new(),
            location: None,
            origin: Origin::Set(flag.to_owned()),
            message,
        }))
    };
    let (key, raw) =
        flag.split_once('=').ok_or_else(|| invalid(format!("--set {flag}: expected KEY.PATH=VALUE, e.g. methods.mcts.c_uct=2")))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(invalid(format!("--set {flag}: the key path `{key}` has an empty part")));
    }
    let first = key.split('.').next().unwrap_or_default();
    if !TOP_LEVEL_KEYS.contains(&first) {
        let hint = did_you_mean(first, TOP_LEVEL_KEYS.iter().copied()).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
        return Err(invalid(format!("--set {flag}: unknown top-level key `{first}`{hint}; valid: {}", TOP_LEVEL_KEYS.join(", "))));
    }
    // A value that is not valid YAML on its own is taken as a plain string.
    let value = match serde_yaml::from_str::<serde_yaml::Value>(raw) {
        Ok(v) if raw.len() <= 64 * 1024 => v,
        _ => serde_yaml::Value::String(raw.to_owned()),
    };
    Ok(SetFlag { flag: flag.to_owned(), key: key.to_owned(), value })
}

fn env_provider() -> Env {
    Env::prefixed("RUNNER_").split("__").filter(|key| {
        let first = key.as_str().split('.').next().unwrap_or_default().to_ascii_lowercase();
        TOP_LEVEL_KEYS.contains(&first.as_str())
    })
}

/// Loads `file` with the process environment and the given `--set` flags.
pub fn load(file: &Path, sets: &[String]) -> Result<LoadedSpec, SpecError> {
    let meta = std::fs::metadata(file).map_err(|source| SpecError::Read { file: file.to_owned(), source })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(SpecError::TooLarge { file: file.to_owned(), size: meta.len(), limit: MAX_FILE_BYTES });
    }
    let text = std::fs::read_to_string(file).map_err(|source| SpecError::Read { file: file.to_owned(), source })?;
    load_text(file, text, sets)
}

/// Loads spec `text` as if read from `file`.
pub fn load_text(file: &Path, text: String, sets: &[String]) -> Result<LoadedSpec, SpecError> {
    let source_map = SourceMap::scan(&text).map_err(|f| {
        SpecError::Invalid(Box::new(Diagnostic {
            file: file.to_owned(),
            key: String::new(),
            location: f.location,
            origin: Origin::File,
            message: f.message,
        }))
    })?;
    let flags = sets.iter().map(|s| parse_set(file, s)).collect::<Result<Vec<_>, _>>()?;
    let env = env_provider();
    let env_keys: Vec<(String, String)> = env
        .iter()
        .map(|(key, _)| {
            let var = format!("RUNNER_{}", key.as_str().replace('.', "__").to_uppercase());
            (key.as_str().to_ascii_lowercase(), var)
        })
        .collect();
    let set_keys = flags.iter().map(|f| (f.key.clone(), f.flag.clone())).collect();

    let mut figment = Figment::new().merge(Yaml::string(&text)).merge(env);
    for flag in flags {
        figment = figment.merge(flag);
    }
    let origins = Origins { file: file.to_owned(), source_map, set_keys, env_keys };
    match figment.extract::<Spec>() {
        Ok(spec) => Ok(LoadedSpec { spec, text, origins }),
        Err(error) => Err(SpecError::Invalid(Box::new(translate(&origins, error)))),
    }
}

/// Turns figment's first error into a located diagnostic with a hint.
fn translate(origins: &Origins, error: figment::Error) -> Diagnostic {
    use figment::error::Kind;
    let mut path = error.path.clone();
    let message = match &error.kind {
        Kind::UnknownField(field, expected) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            if field == "temperature" {
                "`temperature` is ambiguous and not accepted: use `sampling_temperature` (τ, the \
                 temperature of the proposal q = softmax(logits/τ) that rollouts and expansions sample \
                 from) or `lambda` (λ, the inverse temperature of soft backups and Boltzmann selection \
                 in DTS, DTS* and MaxEnt-TS; larger λ is greedier)"
                    .to_owned()
            } else {
                let hint = did_you_mean(field, expected.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                format!("unknown key `{field}`; {hint}valid keys here: {}", expected.join(", "))
            }
        }
        Kind::UnknownVariant(value, expected) => {
            let hint = did_you_mean(value, expected.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
            format!("unknown value `{value}`; {hint}expected one of: {}", expected.join(", "))
        }
        Kind::MissingField(field) => format!("missing required key `{field}`"),
        Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::InvalidValue(actual, expected) => format!("invalid value {actual}, expected {expected}"),
        Kind::InvalidLength(len, expected) => format!("invalid length {len}, expected {expected}"),
        other => other.to_string(),
    };
    let key = path.join(".");
    let mut diagnostic = origins.diagnostic(&key, message);
    // figment knows the provider that supplied a bad value; prefer it.
    if let Some(meta) = &error.metadata {
        if meta.name.starts_with("--set ") {
            diagnostic.origin = Origin::Set(meta.name.trim_start_matches("--set ").to_owned());
        } else if meta.name.contains("environment") && !matches!(diagnostic.origin, Origin::Env(_)) {
            let var = format!("RUNNER_{}", error.path.join("__").to_uppercase());
            diagnostic.origin = Origin::Env(var);
        }
    }
    if diagnostic.location.is_none() && diagnostic.origin == Origin::File && key.is_empty() {
        diagnostic.location = Some(Location { line: 1, column: 1 });
    }
    diagnostic
}

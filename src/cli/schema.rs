//! `runner schema`: the JSON Schema of experiment files.

use std::path::Path;

use super::CliError;

/// The schema as checked in under `schemas/`: pretty JSON and a newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::spec::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

pub fn schema(output: Option<&Path>) -> Result<(), CliError> {
    let text = schema_text();
    match output {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => {
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, &text)
                .and_then(|_| std::fs::rename(&tmp, path))
                .map_err(|source| CliError::Io { context: format!("writing {}", path.display()), source })
        }
    }
}

//! The checked-in schema is generated from the spec types.

use crate::common;

use common::root;

#[test]
fn checked_in_schema_is_fresh() {
    let mut expected = serde_json::to_string_pretty(&runner::spec::json_schema()).unwrap();
    expected.push('\n');
    let path = root().join("schemas/experiment.schema.json");
    let actual = std::fs::read_to_string(&path).expect("schemas/experiment.schema.json exists");
    assert!(actual == expected, "{} is stale: regenerate it with `runner schema --output schemas/experiment.schema.json`", path.display());
}

#[test]
fn schema_describes_the_two_temperatures_and_lambda_infinity() {
    let schema = serde_json::to_string(&runner::spec::json_schema()).unwrap();
    assert!(schema.contains("sampling_temperature"));
    assert!(!schema.contains("\"temperature\""), "a bare temperature is not a key");
    assert!(schema.contains("\"inf\""));
}

#[test]
fn example_specs_point_editors_at_the_schema() {
    for entry in std::fs::read_dir(root().join("experiments")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("# yaml-language-server: $schema=../schemas/experiment.schema.json"),
                "{} lacks the schema comment",
                path.display()
            );
        }
    }
}

/// The `docs/<name>.md` paths cited in `text`: `docs/`, then letters,
/// digits, `_`, `-` or `/`, then `.md`.
fn cited_docs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("docs/") {
        let after = &rest[i + "docs/".len()..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/')).unwrap_or(after.len());
        if len > 0 && after[len..].starts_with(".md") {
            out.push(format!("docs/{}.md", &after[..len]));
        }
        rest = after;
    }
    out
}

#[test]
fn cited_docs_exist_and_no_outside_design_notes_are_cited() {
    // Written in two pieces so that this file does not match itself.
    let outside = [concat!("shared", "/design"), concat!("../", "shared")];
    let readme = root().join("README.md");
    let mut files = vec![readme.clone()];
    for dir in ["src", "tests", "scripts", "docs"] {
        files.extend(common::files_under(&root().join(dir)));
    }
    let mut missing = Vec::new();
    let mut stray = Vec::new();
    let mut cited = 0;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        if *path == readme || path.extension().is_some_and(|e| e == "rs") {
            for doc in cited_docs(&text) {
                cited += 1;
                if !root().join(&doc).is_file() {
                    missing.push(format!("{}: {doc}", path.display()));
                }
            }
        }
        for needle in outside {
            if text.contains(needle) {
                stray.push(format!("{}: {needle}", path.display()));
            }
        }
    }
    assert!(cited > 0, "no docs/*.md citation found: the scan is broken");
    assert!(missing.is_empty(), "cited documents that do not exist:\n{}", missing.join("\n"));
    assert!(stray.is_empty(), "references to design notes outside the repository:\n{}", stray.join("\n"));
}

//! The checked-in schema is generated from the spec types.

mod common;

use common::root;

#[test]
fn checked_in_schema_is_fresh() {
    let mut expected = serde_json::to_string_pretty(&runner::spec::json_schema()).unwrap();
    expected.push('\n');
    let path = root().join("schemas/experiment.schema.json");
    let actual = std::fs::read_to_string(&path).expect("schemas/experiment.schema.json exists");
    assert!(
        actual == expected,
        "{} is stale: regenerate it with `runner schema --output schemas/experiment.schema.json`",
        path.display()
    );
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

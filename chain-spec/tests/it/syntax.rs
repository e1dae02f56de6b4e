//! Structural errors: reported with their JSON path, line and column.

use accord_chain_spec::{ChainSpec, Error};

use crate::common::preset_value;

/// A preset's JSON text, in the spec's own field order.
fn preset_text(name: &str) -> String {
    accord_chain_spec::preset(name)
        .unwrap()
        .spec
        .to_json_pretty()
}

fn syntax(json: &str) -> (String, usize, usize, String) {
    match ChainSpec::from_json(json) {
        Err(Error::Syntax {
            path,
            line,
            column,
            message,
        }) => (path, line, column, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn a_typo_in_a_field_name_names_the_field() {
    let json = preset_text("local").replacen("\"power\"", "\"powr\"", 1);
    let (path, _, _, message) = syntax(&json);
    assert_eq!(path, "$.validators[0].powr");
    assert!(message.contains("unknown field `powr`"), "{message}");
}

#[test]
fn a_typo_in_a_governance_field_names_its_path() {
    let json = preset_text("local").replacen("\"veto_threshold\"", "\"veto_treshold\"", 3);
    let (path, line, _, message) = syntax(&json);
    assert_eq!(path, "$.governance.tiers.low.veto_treshold");
    assert!(message.contains("veto_treshold"), "{message}");
    let expected_line = json
        .lines()
        .position(|l| l.contains("veto_treshold"))
        .unwrap()
        + 1;
    assert_eq!(line, expected_line);
}

#[test]
fn a_wrong_type_names_its_path() {
    let mut spec = preset_value("local");
    spec["validators"][1]["power"] = "10".into();
    let (path, _, _, message) = syntax(&spec.to_string());
    assert_eq!(path, "$.validators[1].power");
    assert!(message.contains("invalid type"), "{message}");
}

#[test]
fn a_negative_number_is_a_syntax_error() {
    let mut spec = preset_value("local");
    spec["consensus"]["max_block_txs"] = (-1).into();
    let (path, _, _, _) = syntax(&spec.to_string());
    assert_eq!(path, "$.consensus.max_block_txs");
}

#[test]
fn a_missing_field_names_its_parent() {
    let mut spec = preset_value("local");
    spec["validators"][0]
        .as_object_mut()
        .unwrap()
        .remove("listen_addr");
    let (path, _, _, message) = syntax(&spec.to_string());
    assert_eq!(path, "$.validators[0]");
    assert!(message.contains("missing field `listen_addr`"), "{message}");
}

#[test]
fn an_unknown_role_is_a_syntax_error() {
    let mut spec = preset_value("local");
    spec["accounts"][0]["roles"] = serde_json::json!(["admin"]);
    let (path, _, _, message) = syntax(&spec.to_string());
    assert_eq!(path, "$.accounts[0].roles[0]");
    assert!(message.contains("unknown variant `admin`"), "{message}");
}

#[test]
fn bad_json_gives_line_and_column() {
    let (_, line, column, message) =
        syntax("{\n  \"chain_id\": \"accord-local\",\n  \"regions\": [\"eu\" \"us\"]\n}");
    assert_eq!((line, column), (3, 20));
    assert!(message.contains("expected"), "{message}");
}

#[test]
fn trailing_text_is_refused() {
    let json = format!("{} x", preset_value("dev"));
    let (path, line, _, message) = syntax(&json);
    assert_eq!((path.as_str(), line), ("$", 1));
    assert!(message.contains("trailing"), "{message}");
}

#[test]
fn empty_and_non_object_input() {
    for input in ["", "   ", "null", "[]", "42", "\"spec\""] {
        let (path, ..) = syntax(input);
        assert_eq!(path, "$", "{input:?}");
    }
}

#[test]
fn syntax_error_display_has_path_and_position() {
    let err = ChainSpec::from_json("{\"chain_id\": 1}").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("$.chain_id (line 1, column "), "{text}");
}

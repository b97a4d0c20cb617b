//! Token ids equal transformers' `CLIPTokenizer` (v5, built from OpenAI's vocabulary) on tricky strings.

use dist_clip::{Tokenizer, EOT};

use super::util::fixture;

#[test]
fn ids_equal_transformers_clip_tokenizer() {
    let text = std::fs::read_to_string(fixture("tokenizer_cases.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tokenizer = Tokenizer::shared().unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for case in cases {
        let input = case["text"].as_str().unwrap();
        let expected: Vec<i64> = case["transformers_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let row = tokenizer.tokenize(input, 77);
        assert_eq!(row.len(), 77);
        // Our rows are zero-padded after the final EOT; transformers' unpadded ids end at it.
        let end = row.iter().rposition(|&id| id == i64::from(EOT)).unwrap();
        assert!(row[end + 1..].iter().all(|&id| id == 0));
        if row[..=end] != expected[..] {
            failures.push(format!(
                "{input:?}\n  ours:         {:?}\n  transformers: {expected:?}",
                &row[..=end]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

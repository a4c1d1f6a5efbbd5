//! Random and mutated YAML never makes the loader panic, and every problem it
//! reports has a location (10,000+ cases in the normal test run).

use std::path::PathBuf;

use proptest::prelude::*;

fn reference_texts() -> Vec<(PathBuf, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

fn check(files: Vec<(PathBuf, String)>) -> Result<(), TestCaseError> {
    let loaded = opssc_schema::load_texts(std::path::Path::new("/nonexistent-spec-root"), files);
    for d in &loaded.report.diagnostics {
        prop_assert!(d.position.line >= 1, "no line: {:?}", d);
        prop_assert!(d.position.column >= 1, "no column: {:?}", d);
        prop_assert!(!d.message.is_empty());
    }
    prop_assert_eq!(loaded.spec.is_some(), !loaded.report.has_errors());
    Ok(())
}

/// Edits that keep the text YAML-ish, so parsing gets deep before failing.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceChar(usize, char),
    InsertText(usize, String),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let fragment = prop_oneof![
        Just(": ".to_string()),
        Just("- ".to_string()),
        Just("\n  ".to_string()),
        Just("{".to_string()),
        Just("'".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("---\n".to_string()),
        Just("OR(".to_string()),
        Just("Org9MSP".to_string()),
        "[a-zA-Z0-9 :,'\"{}\\[\\]\\-]{0,8}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::ReplaceChar(i, c)),
        (any::<usize>(), fragment).prop_map(|(i, s)| Mutation::InsertText(i, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let n = lines.len();
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::ReplaceChar(i, c) => {
            let chars: Vec<char> = text.chars().collect();
            let at = i % chars.len();
            let mut out: String = chars[..at].iter().collect();
            out.push(*c);
            out.extend(&chars[at + 1..]);
            return out;
        }
        Mutation::InsertText(i, s) => {
            let chars: Vec<char> = text.chars().collect();
            let at = i % (chars.len() + 1);
            let mut out: String = chars[..at].iter().collect();
            out.push_str(s);
            out.extend(&chars[at..]);
            return out;
        }
    }
    lines.join("\n") + "\n"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_reference_spec(file in any::<usize>(), mutations in proptest::collection::vec(mutation(), 1..4)) {
        let mut files = reference_texts();
        let index = file % files.len();
        for m in &mutations {
            files[index].1 = apply(&files[index].1, m);
        }
        check(files)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(text in "(?s).{0,400}") {
        check(vec![(PathBuf::from("random.yaml"), text)])?;
    }

    #[test]
    fn yaml_shaped_text(text in "((kind|apiVersion|metadata|spec|name|members|  |- |: |[A-Za-z0-9]{1,6}|\n|'|\"|\\{|\\}|\\[|\\]|,|---\n)){0,60}") {
        check(vec![(PathBuf::from("shaped.yaml"), text)])?;
    }
}

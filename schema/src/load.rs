//! Reading a spec directory into raw documents, with positions.
//!
//! Every `*.yaml` / `*.yml` file under the directory is read (sorted, so output
//! is stable); a file may hold several documents separated by `---` lines. Each
//! document is parsed on its own so one broken document does not hide problems in
//! the others. We split documents ourselves (at `---` lines in column 1) so every
//! position can be mapped back to the file's own line numbers; the `kind` is read
//! first and the document is then deserialized as that concrete kind (serde-saphyr
//! cannot report positions through internally tagged enums).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Position, Report};
use crate::model::*;
use crate::suggest::did_you_mean;

/// Largest spec file read; bigger ones are refused (a spec is small text).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// One spec file's text.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to the user (relative to the working directory when possible).
    pub display: PathBuf,
    /// Absolute or as-given path, for resolving `file:` references.
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn line(&self, line: u32) -> Option<&str> {
        if line == 0 {
            return None;
        }
        self.text.lines().nth(line as usize - 1)
    }
}

/// Where a document sits: which file, and how many lines precede it.
#[derive(Debug, Clone, Copy)]
pub struct DocCtx {
    pub file: usize,
    pub line_offset: u32,
}

/// A document of a known kind.
#[derive(Debug)]
pub enum RawDoc {
    Consortium(DocCtx, Box<Document<ConsortiumSpec>>),
    Organization(DocCtx, Box<Document<OrganizationSpec>>),
    Channel(DocCtx, Box<Document<ChannelSpec>>),
    Chaincode(DocCtx, Box<Document<ChaincodeSpec>>),
    Governance(DocCtx, Box<Document<GovernanceSpec>>),
}

/// Every file and every document that parsed.
#[derive(Debug, Default)]
pub struct Loaded {
    pub files: Vec<SourceFile>,
    pub docs: Vec<RawDoc>,
    /// Kinds of which some document did not parse: references to names of such
    /// a kind are not reported as unknown (the parse error already explains).
    pub incomplete_kinds: std::collections::BTreeSet<String>,
}

impl Loaded {
    /// The position of a spanned value.
    pub fn pos<T>(&self, ctx: DocCtx, value: &Spanned<T>) -> Position {
        let loc = value.referenced;
        let line = loc.line() as u32;
        if line == 0 {
            return Position {
                file: self.files[ctx.file].display.clone(),
                line: 1,
                column: 1,
            };
        }
        Position {
            file: self.files[ctx.file].display.clone(),
            line: line + ctx.line_offset,
            column: loc.column() as u32,
        }
    }

    /// The first line of a document (for problems with the document as a whole).
    pub fn doc_pos(&self, ctx: DocCtx) -> Position {
        Position {
            file: self.files[ctx.file].display.clone(),
            line: ctx.line_offset + 1,
            column: 1,
        }
    }

    /// Fills each diagnostic's source line from the file it points into.
    pub fn attach_source_lines(&self, report: &mut Report) {
        for d in &mut report.diagnostics {
            if let Some(file) = self.files.iter().find(|f| f.display == d.position.file) {
                d.source_line = file.line(d.position.line).map(str::to_string);
            }
        }
    }
}

/// Reads every spec file under `root`, parsing what it can and reporting the rest.
pub fn read_dir(root: &Path, report: &mut Report) -> Loaded {
    let mut paths = Vec::new();
    if root.is_file() {
        paths.push(root.to_path_buf());
    } else {
        collect_yaml(root, &mut paths, report);
    }
    paths.sort();
    let mut sources = Vec::new();
    for path in paths {
        let display = display_path(&path);
        let at = Position {
            file: display.clone(),
            line: 1,
            column: 1,
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                report.push(
                    Diagnostic::error(
                        "file-too-large",
                        at,
                        format!(
                            "file is {} bytes, more than the {} bytes a spec file may have",
                            meta.len(),
                            MAX_FILE_BYTES
                        ),
                    )
                    .with_hint("split the spec into several files"),
                );
                continue;
            }
            _ => {}
        }
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => sources.push(SourceFile {
                    display,
                    path,
                    text,
                }),
                Err(e) => report.push(Diagnostic::error(
                    "not-utf8",
                    at,
                    format!("file is not UTF-8 text: {e}"),
                )),
            },
            Err(e) => report.push(Diagnostic::error(
                "io",
                at,
                format!("cannot read file: {e}"),
            )),
        }
    }
    parse_sources(sources, report)
}

/// Parses spec files already in memory (used by `read_dir`, the fuzz target and tests).
pub fn parse_sources(files: Vec<SourceFile>, report: &mut Report) -> Loaded {
    let mut loaded = Loaded {
        files,
        docs: Vec::new(),
        incomplete_kinds: Default::default(),
    };
    for index in 0..loaded.files.len() {
        parse_file(&mut loaded, index, report);
    }
    loaded
}

fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>, report: &mut Report) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            report.push(
                Diagnostic::error(
                    "io",
                    Position {
                        file: dir.to_path_buf(),
                        line: 0,
                        column: 0,
                    },
                    format!("cannot read spec directory: {e}"),
                )
                .with_hint("pass the directory holding the spec's *.yaml files"),
            );
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_yaml(&path, out, report);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
        }
    }
}

/// Splits a file into documents: (line offset, text).
pub fn split_documents(text: &str) -> Vec<(u32, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 0u32;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_separator = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "...";
        if is_separator || is_end {
            docs.push((start, std::mem::take(&mut current)));
            // The separator line itself stays as an empty line so that line
            // numbers inside the next document keep matching the file.
            current.push('\n');
            start = i as u32;
            if is_separator && bare.len() > 3 {
                // `--- value` starts the document on the same line.
                current = format!("{}\n", &bare[4..]);
            }
            continue;
        }
        current.push_str(line);
    }
    docs.push((start, current));
    docs.into_iter()
        .filter(|(_, d)| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! { with_snippet: false }
}

fn parse_file(loaded: &mut Loaded, index: usize, report: &mut Report) {
    let text = loaded.files[index].text.clone();
    for (line_offset, doc_text) in split_documents(&text) {
        let ctx = DocCtx {
            file: index,
            line_offset,
        };
        // Fast path: a plain top-level `kind: Channel` line names a known kind, so
        // the document is parsed once, as that kind. Anything else (quoted or
        // flow-style kinds, syntax errors) goes through the header parse.
        if let Some(kind) = plain_top_level_kind(&doc_text) {
            if let Some(doc) = parse_known_kind(loaded, ctx, kind, &doc_text, report) {
                loaded.docs.push(doc);
            } else {
                loaded.incomplete_kinds.insert(kind.to_string());
            }
            continue;
        }
        let header: Header = match serde_saphyr::from_str_with_options(&doc_text, options()) {
            Ok(h) => h,
            Err(e) => {
                report.push(yaml_error(loaded, ctx, &e, None));
                // Guess the kind from the text so references to it stay quiet.
                if let Some(kind) = doc_text.lines().find_map(|l| l.strip_prefix("kind:")) {
                    loaded.incomplete_kinds.insert(kind.trim().to_string());
                }
                continue;
            }
        };
        let Some(kind) = header.kind else {
            report.push(
                Diagnostic::error(
                    "missing-kind",
                    loaded.doc_pos(ctx),
                    "document has no `kind`",
                )
                .with_hint(format!("add `kind:` with one of {}", KINDS.join(", "))),
            );
            continue;
        };
        let doc = match kind.value.as_str() {
            known if KINDS.contains(&known) => {
                parse_known_kind(loaded, ctx, known, &doc_text, report)
            }
            other => {
                let mut d = Diagnostic::error(
                    "unknown-kind",
                    loaded.pos(ctx, &kind),
                    format!("unknown kind {other:?}"),
                );
                d = d.with_hint(match did_you_mean(other, KINDS.iter().copied()) {
                    Some(s) => {
                        // The misspelled document is most likely of that kind.
                        loaded.incomplete_kinds.insert(s.to_string());
                        format!("did you mean `{s}`?")
                    }
                    None => format!("the kinds are {}", KINDS.join(", ")),
                });
                report.push(d);
                None
            }
        };
        match doc {
            Some(doc) => loaded.docs.push(doc),
            None => {
                loaded.incomplete_kinds.insert(kind.value.clone());
            }
        }
    }
}

/// The value of a plain `kind: Word` line at the top level of a document.
fn plain_top_level_kind(doc: &str) -> Option<&'static str> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("kind:"))
        .map(|v| v.split('#').next().unwrap_or("").trim())
        .find_map(|v| KINDS.iter().copied().find(|k| *k == v))
}

fn parse_known_kind(
    loaded: &Loaded,
    ctx: DocCtx,
    kind: &str,
    text: &str,
    report: &mut Report,
) -> Option<RawDoc> {
    match kind {
        "Consortium" => parse_doc(loaded, ctx, text, report).map(|d| RawDoc::Consortium(ctx, d)),
        "Organization" => {
            parse_doc(loaded, ctx, text, report).map(|d| RawDoc::Organization(ctx, d))
        }
        "Channel" => parse_doc(loaded, ctx, text, report).map(|d| RawDoc::Channel(ctx, d)),
        "Chaincode" => parse_doc(loaded, ctx, text, report).map(|d| RawDoc::Chaincode(ctx, d)),
        "Governance" => parse_doc(loaded, ctx, text, report).map(|d| RawDoc::Governance(ctx, d)),
        _ => None,
    }
}

fn parse_doc<T: DeserializeOwned>(
    loaded: &Loaded,
    ctx: DocCtx,
    text: &str,
    report: &mut Report,
) -> Option<Box<T>> {
    match serde_saphyr::from_str_with_options::<T>(text, options()) {
        Ok(doc) => Some(Box::new(doc)),
        Err(e) => {
            report.push(yaml_error(loaded, ctx, &e, Some(text)));
            None
        }
    }
}

/// Turns a serde-saphyr error into a diagnostic: position mapped to the file,
/// the message without its position suffix, and a hint where we can give one.
fn yaml_error(
    loaded: &Loaded,
    ctx: DocCtx,
    e: &serde_saphyr::Error,
    _doc: Option<&str>,
) -> Diagnostic {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as u32, l.column() as u32))
        .filter(|(l, _)| *l > 0)
        .unwrap_or((1, 1));
    let position = Position {
        file: loaded.files[ctx.file].display.clone(),
        line: line + ctx.line_offset,
        column,
    };
    let raw = e.without_snippet().to_string();
    let message = strip_position_suffix(&raw);
    let (code, hint) = classify_yaml_message(&message);
    let diagnostic = Diagnostic::error(code, position, message);
    match hint {
        Some(h) => diagnostic.with_hint(h),
        None => diagnostic,
    }
}

fn strip_position_suffix(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw.strip_prefix("error: ").unwrap_or(raw);
    match raw.rfind(" at line ") {
        Some(i) if raw[i..].contains(", column ") => raw[..i].to_string(),
        _ => raw.to_string(),
    }
}

fn classify_yaml_message(message: &str) -> (&'static str, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<String> = expected
            .trim_start_matches(|c: char| c == ',' || c.is_whitespace())
            .trim_start_matches("expected one of")
            .trim_start_matches("expected")
            .split(',')
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let hint = match did_you_mean(field, candidates.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None if !candidates.is_empty() => {
                format!("the fields here are: {}", candidates.join(", "))
            }
            None => "remove this field".to_string(),
        };
        return ("unknown-field", Some(hint));
    }
    if message.starts_with("missing field") {
        return (
            "missing-field",
            Some("add the field; see schema/network-spec.schema.json".to_string()),
        );
    }
    if message.starts_with("duplicate mapping key") {
        return (
            "duplicate-key",
            Some("a key may appear once per mapping; remove one".to_string()),
        );
    }
    if message.starts_with("invalid")
        || message.starts_with("expected")
        || message.contains("invalid type")
    {
        return ("type", None);
    }
    (
        "yaml",
        Some("check the indentation, and for a bracket or quote left open on this line or the ones before".to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_line_numbers() {
        let docs = split_documents("# head\nkind: A\n---\nkind: B\n\n--- \nkind: C\n");
        let starts: Vec<u32> = docs.iter().map(|d| d.0).collect();
        assert_eq!(starts, vec![0, 2, 5]);
        // line 1 of the second document text is the separator line (empty), line 2 is `kind: B`
        assert_eq!(docs[1].1.lines().nth(1), Some("kind: B"));
    }

    #[test]
    fn position_suffix_is_removed() {
        assert_eq!(
            strip_position_suffix("invalid u16 at line 2, column 7"),
            "invalid u16"
        );
        assert_eq!(strip_position_suffix("at line 9 alone"), "at line 9 alone");
    }

    #[test]
    fn unknown_field_gets_did_you_mean() {
        let (code, hint) =
            classify_yaml_message("unknown field `mspid`, expected one of `mspId`, `role`");
        assert_eq!(code, "unknown-field");
        assert_eq!(hint.as_deref(), Some("did you mean `mspId`?"));
    }
}

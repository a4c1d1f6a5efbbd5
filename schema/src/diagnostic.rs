//! Problems found in a spec, with where they are and what to do about them.
//!
//! A [`Diagnostic`] is one problem: severity, `file:line:column`, a short
//! message and an optional hint. A [`Report`] is every problem of one load; it
//! renders rustc-style with the source line (for people), as JSON (for tools)
//! and as GitHub workflow commands (for pull-request annotations).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A position in a spec file. Lines and columns start at 1; 0 means unknown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

/// One problem in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier of the rule, e.g. `unknown-reference`.
    pub code: &'static str,
    #[serde(flatten)]
    pub position: Position,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The source line the position points into (for rendering).
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, position: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            position,
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    pub fn warning(code: &'static str, position: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, position, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:column`.
    pub fn location(&self) -> String {
        format!(
            "{}:{}:{}",
            self.position.file.display(),
            self.position.line,
            self.position.column
        )
    }

    /// rustc-style rendering with the source line and a caret.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}[{}]: {}", self.code, self.message);
        let _ = writeln!(out, "  --> {}", self.location());
        if let Some(line) = &self.source_line {
            let number = self.position.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = (self.position.column.max(1) - 1) as usize;
            // Columns count characters; keep tabs so the caret lines up.
            let lead: String = line
                .chars()
                .take(caret_at)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {line}");
            let _ = writeln!(out, "{pad} | {lead}^");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out
    }

    /// A GitHub Actions workflow command, so the problem shows on the PR's diff.
    pub fn github_annotation(&self) -> String {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = self.message.clone();
        if let Some(hint) = &self.hint {
            message.push_str(" (hint: ");
            message.push_str(hint);
            message.push(')');
        }
        format!(
            "::{level} file={},line={},col={},title=opssc {}::{}",
            escape_property(&self.position.file.display().to_string()),
            self.position.line,
            self.position.column,
            escape_property(self.code),
            escape_data(&message)
        )
    }
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Every problem found while loading one spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Sorted by file, line, column, so output is stable.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            (&a.position, a.severity, &a.message).cmp(&(&b.position, b.severity, &b.message))
        });
        self.diagnostics.dedup();
    }

    /// Human rendering of every problem plus a summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.render());
            out.push('\n');
        }
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        let _ = writeln!(
            out,
            "{} error{}, {} warning{}",
            errors,
            if errors == 1 { "" } else { "s" },
            warnings,
            if warnings == 1 { "" } else { "s" }
        );
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    pub fn github_annotations(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.github_annotation() + "\n")
            .collect()
    }
}

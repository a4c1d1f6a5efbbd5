//! The version line of `opssc --version`: the package version and the git
//! commit it was built from.
//!
//! Shared by `build.rs` (which runs git and hands the line to the compiler)
//! and `tests/version_cli.rs` (which checks the formatting rules without a
//! rebuild). Pure: git's output comes in as text.

/// Builds the version line from the package version and what
/// `git rev-parse HEAD` printed (`None`: git could not be run or this is no
/// git checkout, e.g. a crate downloaded by `cargo install opssc`).
pub fn version_line(package_version: &str, rev_parse_output: Option<&str>) -> String {
    match rev_parse_output.and_then(parse_commit) {
        Some(commit) => format!("{package_version} (commit {})", &commit[..12]),
        None => format!("{package_version} (commit unknown: not built from a git checkout)"),
    }
}

/// The commit hash in `git rev-parse HEAD`'s output: 40 hex digits on the
/// first line, anything else is no commit (git's error text, an empty
/// repository's literal `HEAD`).
pub fn parse_commit(rev_parse_output: &str) -> Option<&str> {
    let line = rev_parse_output.lines().next()?.trim();
    (line.len() == 40 && line.bytes().all(|b| b.is_ascii_hexdigit())).then_some(line)
}

// Placeholder so the workspace manifest parses; the plan engineer replaces it with the real benchmark.
fn main() {}

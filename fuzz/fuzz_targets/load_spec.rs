//! Any bytes as a spec file: the loader must not panic, and every problem it
//! reports must have a position.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = opssc_schema::load_texts(
        std::path::Path::new("/fuzz"),
        vec![(std::path::PathBuf::from("fuzz.yaml"), text.to_string())],
    );
    for d in &loaded.report.diagnostics {
        assert!(d.position.line >= 1 && d.position.column >= 1, "{d:?}");
    }
});

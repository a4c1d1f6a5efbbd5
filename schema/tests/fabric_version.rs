//! `fabricVersion` decides what a channel's capabilities may be and default
//! to: the reference network-spec with its version changed.

use std::path::{Path, PathBuf};

/// The reference spec's files, with `edit` applied to each text.
fn reference_with(edit: impl Fn(&Path, String) -> String) -> opssc_schema::Loaded {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.clone(), edit(&path, text)));
            }
        }
    }
    files.sort();
    opssc_schema::load_texts(&root, files)
}

fn with_version(v: &str) -> impl Fn(&Path, String) -> String {
    let v = v.to_string();
    move |_, text| text.replace("fabricVersion: \"2.5\"", &format!("fabricVersion: \"{v}\""))
}

fn errors(loaded: &opssc_schema::Loaded) -> String {
    loaded
        .report
        .errors()
        .map(|d| d.render())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fabric_3_1_channels_default_to_the_v3_channel_capability() {
    let loaded = reference_with(with_version("3.1"));
    let spec = loaded
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("{}", errors(&loaded)));
    assert_eq!(spec.consortium.fabric(), opssc_schema::FabricVersion::V3_1);
    // `ops` states no capabilities; `trade` states V2_0, which 3.1 runs too.
    assert_eq!(spec.channels["ops"].capabilities.channel, "V3_0");
    assert_eq!(spec.channels["ops"].capabilities.application, "V2_5");
    assert_eq!(spec.channels["trade"].capabilities.channel, "V2_0");
    let loaded = reference_with(with_version("2.5"));
    let spec = loaded.spec.unwrap();
    assert_eq!(spec.consortium.fabric(), opssc_schema::FabricVersion::V2_5);
    assert_eq!(spec.channels["ops"].capabilities.channel, "V2_0");
}

#[test]
fn other_versions_are_refused_with_the_supported_ones() {
    for bad in ["3.0", "2.2", "3.1.5"] {
        let loaded = reference_with(with_version(bad));
        assert!(loaded.spec.is_none(), "{bad} accepted");
        let text = errors(&loaded);
        assert!(
            text.contains(&format!("unsupported Fabric version {bad:?}")),
            "{text}"
        );
        assert!(text.contains("\"2.5\" and \"3.1\""), "{text}");
    }
}

#[test]
fn v3_channel_capability_needs_fabric_3() {
    let v3_0 = |path: &Path, text: String| {
        if path.ends_with("channels/trade.yaml") {
            assert!(text.contains("    channel: V2_0\n"), "{text}");
            text.replace("    channel: V2_0\n", "    channel: V3_0\n")
        } else {
            text
        }
    };
    let loaded = reference_with(v3_0);
    let text = errors(&loaded);
    assert!(
        text.contains("capability V3_0 needs a Fabric 3.x network"),
        "{text}"
    );
    let loaded = reference_with(|p, t| v3_0(p, with_version("3.1")(p, t)));
    assert!(loaded.spec.is_some(), "{}", errors(&loaded));
}

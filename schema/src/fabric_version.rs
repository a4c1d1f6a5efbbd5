//! The Fabric releases a spec can name (`fabricVersion`), and everything
//! opssc does differently between them.
//!
//! This is the one place that says how Fabric 3.x differs from 2.5 for
//! opssc: the default capability levels of a new channel, whether the
//! channel may use V3_0 capabilities and BFT ordering. Code elsewhere asks a
//! [`FabricVersion`] instead of comparing version strings. What is the same
//! on both is not listed: opssc never used the system channel (channels are
//! created through the channel participation API on 2.5 as well), nor the
//! legacy chaincode lifecycle, both of which 3.0 removed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Fabric `major.minor` release line a network runs.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum FabricVersion {
    /// Fabric 2.5 (the devnet runs v2.5.9).
    #[default]
    #[serde(rename = "2.5")]
    V2_5,
    /// Fabric 3.1 (the devnet runs v3.1.5).
    #[serde(rename = "3.1")]
    V3_1,
}

impl FabricVersion {
    /// Every version, oldest first.
    pub const ALL: [FabricVersion; 2] = [FabricVersion::V2_5, FabricVersion::V3_1];

    /// The version a spec writes as `fabricVersion` (`"2.5"`, `"3.1"`).
    pub fn parse(text: &str) -> Option<FabricVersion> {
        FabricVersion::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// As the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FabricVersion::V2_5 => "2.5",
            FabricVersion::V3_1 => "3.1",
        }
    }

    /// The hint for a `fabricVersion` no variant has.
    pub fn hint_for(text: &str) -> String {
        let supported = FabricVersion::ALL
            .iter()
            .map(|v| format!("\"{}\"", v.as_str()))
            .collect::<Vec<_>>()
            .join(" and ");
        if text.starts_with("3.") {
            format!(
                "opssc supports Fabric {supported}; write \"3.1\" for a Fabric 3 network \
                 (3.0 peers and orderers upgrade to 3.1 without a config change)"
            )
        } else {
            format!("opssc supports Fabric {supported} (quote it: `fabricVersion: \"2.5\"`)")
        }
    }

    /// A Fabric 3 release: no system channel, V3_0 channel capability, BFT.
    pub fn is_v3(self) -> bool {
        self >= FabricVersion::V3_1
    }

    /// The channel capability a new channel gets when its spec names none:
    /// V3_0 on Fabric 3 (what BFT ordering and Ed25519 identities need; it
    /// also forbids channel-level `OrdererAddresses`, which opssc never
    /// writes), V2_0 on 2.5.
    pub fn default_channel_capability(self) -> &'static str {
        if self.is_v3() { "V3_0" } else { "V2_0" }
    }

    /// The orderer capability a new channel gets: V2_0 on both (Fabric 3
    /// defines no newer orderer capability).
    pub fn default_orderer_capability(self) -> &'static str {
        "V2_0"
    }

    /// The application capability a new channel gets: V2_5 on both (Fabric
    /// 3 defines no newer application capability).
    pub fn default_application_capability(self) -> &'static str {
        "V2_5"
    }

    /// Whether channels may use this channel capability.
    pub fn allows_channel_capability(self, capability: &str) -> bool {
        match capability {
            "V2_0" => true,
            "V3_0" => self.is_v3(),
            _ => false,
        }
    }

    /// The oldest version whose channels may have the channel capability
    /// `capability` (what a network that runs it is at least).
    pub fn oldest_with_channel_capability(capability: &str) -> Option<FabricVersion> {
        FabricVersion::ALL
            .into_iter()
            .find(|v| v.allows_channel_capability(capability))
    }

    /// Whether the ordering service may run SmartBFT (`consensus: bft`).
    pub fn supports_bft(self) -> bool {
        self.is_v3()
    }
}

impl fmt::Display for FabricVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints_and_nothing_else() {
        for v in FabricVersion::ALL {
            assert_eq!(FabricVersion::parse(v.as_str()), Some(v));
        }
        for bad in ["3.0", "2.2", "3", "v3.1", " 3.1", "3.1.5", ""] {
            assert_eq!(FabricVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fabric_3_defaults_to_the_v3_channel_capability() {
        assert_eq!(FabricVersion::V2_5.default_channel_capability(), "V2_0");
        assert_eq!(FabricVersion::V3_1.default_channel_capability(), "V3_0");
        for v in FabricVersion::ALL {
            assert_eq!(v.default_orderer_capability(), "V2_0");
            assert_eq!(v.default_application_capability(), "V2_5");
            assert!(v.allows_channel_capability(v.default_channel_capability()));
        }
        assert!(!FabricVersion::V2_5.allows_channel_capability("V3_0"));
        assert!(FabricVersion::V3_1.allows_channel_capability("V2_0"));
        assert_eq!(
            FabricVersion::oldest_with_channel_capability("V3_0"),
            Some(FabricVersion::V3_1)
        );
        assert_eq!(
            FabricVersion::oldest_with_channel_capability("V2_0"),
            Some(FabricVersion::V2_5)
        );
        assert_eq!(FabricVersion::oldest_with_channel_capability("V9_9"), None);
        assert!(!FabricVersion::V2_5.supports_bft());
        assert!(FabricVersion::V3_1.supports_bft());
    }

    #[test]
    fn hint_names_the_supported_versions() {
        let h = FabricVersion::hint_for("3.0");
        assert!(h.contains("\"2.5\" and \"3.1\""), "{h}");
        assert!(h.contains("write \"3.1\""), "{h}");
        assert!(FabricVersion::hint_for("2.2").contains("\"2.5\" and \"3.1\""));
    }
}

//! Fabric's default channel ACLs.
//!
//! A resource with no entry in a channel's `ACLs` value falls back to the
//! peer's built-in default, which is the same policy configtxgen's sample
//! profile writes. So "absent" and "set to the default" mean the same thing,
//! and both the spec's overrides and the observed ACLs are compared after
//! dropping entries equal to these defaults.

/// (resource, default policy path), as Fabric v2.5 ships them.
pub const FABRIC_DEFAULT_ACLS: &[(&str, &str)] = &[
    (
        "_lifecycle/CheckCommitReadiness",
        "/Channel/Application/Writers",
    ),
    (
        "_lifecycle/CommitChaincodeDefinition",
        "/Channel/Application/Writers",
    ),
    (
        "_lifecycle/QueryChaincodeDefinition",
        "/Channel/Application/Writers",
    ),
    (
        "_lifecycle/QueryChaincodeDefinitions",
        "/Channel/Application/Writers",
    ),
    ("lscc/ChaincodeExists", "/Channel/Application/Readers"),
    ("lscc/GetDeploymentSpec", "/Channel/Application/Readers"),
    ("lscc/GetChaincodeData", "/Channel/Application/Readers"),
    (
        "lscc/GetInstantiatedChaincodes",
        "/Channel/Application/Readers",
    ),
    ("qscc/GetChainInfo", "/Channel/Application/Readers"),
    ("qscc/GetBlockByNumber", "/Channel/Application/Readers"),
    ("qscc/GetBlockByHash", "/Channel/Application/Readers"),
    ("qscc/GetTransactionByID", "/Channel/Application/Readers"),
    ("qscc/GetBlockByTxID", "/Channel/Application/Readers"),
    ("cscc/GetConfigBlock", "/Channel/Application/Readers"),
    ("cscc/GetChannelConfig", "/Channel/Application/Readers"),
    ("peer/Propose", "/Channel/Application/Writers"),
    ("peer/ChaincodeToChaincode", "/Channel/Application/Writers"),
    ("event/Block", "/Channel/Application/Readers"),
    ("event/FilteredBlock", "/Channel/Application/Readers"),
];

/// The default policy of a resource, if Fabric has one.
pub fn default_acl(resource: &str) -> Option<&'static str> {
    FABRIC_DEFAULT_ACLS
        .iter()
        .find(|(r, _)| *r == resource)
        .map(|(_, p)| *p)
}

/// Whether `policy` is what the resource gets anyway.
pub fn is_default(resource: &str, policy: &str) -> bool {
    default_acl(resource) == Some(policy)
}

//! Edits of a channel configuration, each a pure function from one
//! [`ChannelConfig`] to the next.
//!
//! Edits change content only; versions are left alone, because
//! [`compute_update`](super::compute_update) derives the new versions from the
//! original config, as Fabric does. New elements get the mod policy configtxgen
//! would give them (`Admins`). Every edit checks its input first and names the
//! object concerned when it refuses.

use std::collections::BTreeSet;

use crate::protos::{etcdraft, orderer, protos::AnchorPeer};

use super::Result;
use super::error::ConfigError;
use super::model::{
    APPLICATION_GROUP, ChannelConfig, ConsensusMetadata, Group, ORDERER_GROUP, PolicyRule,
    ValueContent,
};
use super::msp::{MspDefinition, Organization};

fn path_name(path: &[&str]) -> String {
    let mut s = String::from("/Channel");
    for p in path {
        s.push('/');
        s.push_str(p);
    }
    s
}

fn group_mut<'a>(config: &'a mut ChannelConfig, path: &[&str]) -> Result<&'a mut Group> {
    config.root.find_mut(path).ok_or_else(|| {
        ConfigError::not_found_hint(
            format!("group {}", path_name(path)),
            "is this an application channel with an orderer section?",
        )
    })
}

/// The key of the application org named by key or MSP ID.
fn application_org_key(config: &ChannelConfig, org: &str) -> Result<String> {
    config
        .application_org(org)
        .map(|(k, _)| k.to_string())
        .ok_or_else(|| {
            ConfigError::not_found_hint(
                format!("application organization {org}"),
                format!(
                    "the channel {} has {}",
                    config.channel_id,
                    list(&config.application_msp_ids())
                ),
            )
        })
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Adds an application organization (its MSP, policies and anchor peers).
pub fn add_application_org(config: &ChannelConfig, org: &Organization) -> Result<ChannelConfig> {
    let group = org.to_group()?;
    if config.application_org(&org.name).is_some()
        || config.application_org(&org.msp.msp_id).is_some()
    {
        return Err(ConfigError::AlreadyExists {
            what: format!(
                "application organization {} (MSP {})",
                org.name, org.msp.msp_id
            ),
        });
    }
    let mut next = config.clone();
    group_mut(&mut next, &[APPLICATION_GROUP])?
        .groups
        .insert(org.name.clone(), group);
    Ok(next)
}

/// Removes an application organization (by group key or MSP ID).
pub fn remove_application_org(config: &ChannelConfig, org: &str) -> Result<ChannelConfig> {
    let key = application_org_key(config, org)?;
    let mut next = config.clone();
    group_mut(&mut next, &[APPLICATION_GROUP])?
        .groups
        .remove(&key);
    Ok(next)
}

/// Replaces the MSP definition of an organization (application or orderer),
/// e.g. to add a CA certificate or an admin.
pub fn set_org_msp(
    config: &ChannelConfig,
    section: &str,
    org: &str,
    msp: &MspDefinition,
) -> Result<ChannelConfig> {
    let mut next = config.clone();
    let parent = group_mut(&mut next, &[section])?;
    let key = parent
        .groups
        .iter()
        .find(|(k, g)| k.as_str() == org || g.msp_id() == Some(org))
        .map(|(k, _)| k.clone())
        .ok_or_else(|| {
            ConfigError::not_found(format!("organization {org} in /Channel/{section}"))
        })?;
    if msp.msp_id.is_empty() || msp.root_certs.is_empty() {
        return Err(ConfigError::invalid(
            format!("MSP definition for {org}"),
            "it needs an MSP ID and at least one root CA certificate",
        ));
    }
    let group = parent.groups.get_mut(&key).expect("key found above");
    group.set_value(
        "MSP",
        ValueContent::Msp(super::model::MspValue::Fabric(Box::new(
            msp.to_fabric_msp_config(),
        ))),
        "Admins",
    );
    Ok(next)
}

/// Sets the anchor peers of an application organization; an empty list
/// removes the `AnchorPeers` value.
pub fn set_anchor_peers(
    config: &ChannelConfig,
    org: &str,
    peers: &[AnchorPeer],
) -> Result<ChannelConfig> {
    for p in peers {
        if p.host.is_empty() || !(1..=65535).contains(&p.port) {
            return Err(ConfigError::invalid(
                format!("anchor peer {}:{} of {org}", p.host, p.port),
                "it needs a host name and a port between 1 and 65535",
            ));
        }
    }
    let key = application_org_key(config, org)?;
    let mut next = config.clone();
    let group = group_mut(&mut next, &[APPLICATION_GROUP, &key])?;
    if peers.is_empty() {
        group.values.remove("AnchorPeers");
    } else {
        group.set_value(
            "AnchorPeers",
            ValueContent::AnchorPeers(peers.to_vec()),
            "Admins",
        );
    }
    Ok(next)
}

/// Sets (adds or replaces) the policy `name` of the group at `path` (`&[]` is
/// the channel group, `&["Application"]`, `&["Application", "Org1MSP"]`, ...).
pub fn set_policy(
    config: &ChannelConfig,
    path: &[&str],
    name: &str,
    rule: PolicyRule,
) -> Result<ChannelConfig> {
    if name.is_empty() || name.contains('/') {
        return Err(ConfigError::invalid(
            format!("policy name {name:?}"),
            "a policy name is a non-empty config key without '/'",
        ));
    }
    if matches!(rule, PolicyRule::Unset) {
        return Err(ConfigError::invalid(
            format!("policy {}/{name}", path_name(path)),
            "the rule is unset",
        ));
    }
    let mut next = config.clone();
    group_mut(&mut next, path)?.set_policy(name, rule, "Admins");
    Ok(next)
}

/// Removes the policy `name` of the group at `path`.
pub fn remove_policy(config: &ChannelConfig, path: &[&str], name: &str) -> Result<ChannelConfig> {
    let mut next = config.clone();
    let group = group_mut(&mut next, path)?;
    if group.policies.remove(name).is_none() {
        return Err(ConfigError::not_found(format!(
            "policy {}/{name}",
            path_name(path)
        )));
    }
    Ok(next)
}

/// Sets the capabilities of the channel (`&[]`), orderer (`&["Orderer"]`) or
/// application (`&["Application"]`) group; an empty set removes the value.
pub fn set_capabilities(
    config: &ChannelConfig,
    path: &[&str],
    capabilities: &[&str],
) -> Result<ChannelConfig> {
    for c in capabilities {
        if c.is_empty() {
            return Err(ConfigError::invalid(
                format!("capabilities of {}", path_name(path)),
                "a capability name is empty",
            ));
        }
    }
    let mut next = config.clone();
    let group = group_mut(&mut next, path)?;
    if capabilities.is_empty() {
        group.values.remove("Capabilities");
    } else {
        let set: BTreeSet<String> = capabilities.iter().map(|c| c.to_string()).collect();
        group.set_value("Capabilities", ValueContent::Capabilities(set), "Admins");
    }
    Ok(next)
}

/// Sets the orderer's batch timeout, a Go duration such as `500ms` or `2s`.
pub fn set_batch_timeout(config: &ChannelConfig, timeout: &str) -> Result<ChannelConfig> {
    let nanos = parse_go_duration(timeout).ok_or_else(|| {
        ConfigError::invalid(
            format!("batch timeout {timeout:?}"),
            "expected a Go duration such as 500ms, 2s or 1m30s",
        )
    })?;
    if nanos == 0 {
        return Err(ConfigError::invalid(
            format!("batch timeout {timeout:?}"),
            "it must be greater than zero (the orderer rejects zero)",
        ));
    }
    let mut next = config.clone();
    group_mut(&mut next, &[ORDERER_GROUP])?.set_value(
        "BatchTimeout",
        ValueContent::BatchTimeout(timeout.to_string()),
        "Admins",
    );
    Ok(next)
}

/// Sets the orderer's batch size limits.
pub fn set_batch_size(config: &ChannelConfig, size: &orderer::BatchSize) -> Result<ChannelConfig> {
    let bad = |problem: &str| ConfigError::invalid("batch size", problem);
    if size.max_message_count == 0 {
        return Err(bad("max_message_count must be greater than zero"));
    }
    if size.absolute_max_bytes == 0 {
        return Err(bad("absolute_max_bytes must be greater than zero"));
    }
    if size.preferred_max_bytes == 0 || size.preferred_max_bytes > size.absolute_max_bytes {
        return Err(bad(
            "preferred_max_bytes must be greater than zero and at most absolute_max_bytes",
        ));
    }
    let mut next = config.clone();
    group_mut(&mut next, &[ORDERER_GROUP])?.set_value(
        "BatchSize",
        ValueContent::BatchSize(*size),
        "Admins",
    );
    Ok(next)
}

fn raft_mut(config: &mut ChannelConfig) -> Result<&mut etcdraft::ConfigMetadata> {
    let orderer = group_mut(config, &[ORDERER_GROUP])?;
    match orderer
        .values
        .get_mut("ConsensusType")
        .map(|v| &mut v.content)
    {
        Some(ValueContent::ConsensusType(c)) => match &mut c.metadata {
            ConsensusMetadata::EtcdRaft(m) => Ok(m),
            ConsensusMetadata::Bft(_) | ConsensusMetadata::Other(_) => Err(ConfigError::invalid(
                "consensus type",
                format!("the channel uses {:?}, not etcdraft", c.consensus_type),
            )),
        },
        _ => Err(ConfigError::not_found(
            "value /Channel/Orderer/ConsensusType",
        )),
    }
}

/// Replaces the Raft consenter set.
pub fn set_consenters(
    config: &ChannelConfig,
    consenters: &[etcdraft::Consenter],
) -> Result<ChannelConfig> {
    if consenters.is_empty() {
        return Err(ConfigError::invalid(
            "consenter set",
            "a Raft channel needs at least one consenter",
        ));
    }
    let mut seen = BTreeSet::new();
    for c in consenters {
        if c.host.is_empty() || c.port == 0 || c.port > 65535 {
            return Err(ConfigError::invalid(
                format!("consenter {}:{}", c.host, c.port),
                "it needs a host and a port between 1 and 65535",
            ));
        }
        if !super::msp::looks_like_pem(&c.client_tls_cert)
            || !super::msp::looks_like_pem(&c.server_tls_cert)
        {
            return Err(ConfigError::invalid(
                format!("consenter {}:{}", c.host, c.port),
                "its client and server TLS certificates must be PEM",
            ));
        }
        if !seen.insert((c.host.clone(), c.port)) {
            return Err(ConfigError::invalid(
                format!("consenter {}:{}", c.host, c.port),
                "it is listed twice",
            ));
        }
    }
    let mut next = config.clone();
    raft_mut(&mut next)?.consenters = consenters.to_vec();
    Ok(next)
}

/// Replaces the SmartBFT consenter set: the `Orderers` value's mapping and,
/// with it, the `BlockValidation` policy, which Fabric requires to be
/// exactly ⌈(n+f+1)/2⌉ of the consenters' identities in mapping order (the
/// orderer refuses a config whose policy does not match its consenters).
///
/// SmartBFT knows its nodes by id, so the ids of `consenters` are not taken
/// as given: a node already in the mapping (same endpoint) keeps its id, a
/// new one gets the next id above the highest in the mapping.
pub fn set_bft_consenters(
    config: &ChannelConfig,
    consenters: &[crate::protos::common::Consenter],
) -> Result<ChannelConfig> {
    let Some(current) = config.bft_consenters() else {
        return Err(ConfigError::invalid(
            "consenter set",
            "the channel does not use SmartBFT (no /Channel/Orderer/Orderers value)",
        ));
    };
    let mut next_id = current.iter().map(|c| c.id).max().unwrap_or(0);
    let consenters: Vec<crate::protos::common::Consenter> = consenters
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.id = match current
                .iter()
                .find(|k| k.host == c.host && k.port == c.port)
            {
                Some(known) => known.id,
                None => {
                    next_id += 1;
                    next_id
                }
            };
            c
        })
        .collect();
    let consenters = consenters.as_slice();
    if consenters.len() < super::genesis::MIN_BFT_CONSENTERS {
        return Err(super::genesis::too_few_bft_consenters(
            &config.channel_id,
            consenters.len(),
        ));
    }
    let (mut ids, mut endpoints) = (BTreeSet::new(), BTreeSet::new());
    for c in consenters {
        let name = format!("consenter {} ({}:{})", c.id, c.host, c.port);
        if c.host.is_empty() || c.port == 0 || c.port > 65535 {
            return Err(ConfigError::invalid(
                name,
                "it needs a host and a port between 1 and 65535",
            ));
        }
        if !endpoints.insert((c.host.clone(), c.port)) {
            return Err(ConfigError::invalid(name, "its endpoint is listed twice"));
        }
        if c.id == 0 || !ids.insert(c.id) {
            return Err(ConfigError::invalid(name, "ids are non-zero and unique"));
        }
        if c.msp_id.is_empty()
            || !super::msp::looks_like_pem(&c.identity)
            || !super::msp::looks_like_pem(&c.client_tls_cert)
            || !super::msp::looks_like_pem(&c.server_tls_cert)
        {
            return Err(ConfigError::invalid(
                name,
                "it needs an MSP ID, and its identity and TLS certificates must be PEM",
            ));
        }
    }
    let policy = super::genesis::BftOrdering::new(consenters.to_vec()).block_validation_policy();
    let mut next = config.clone();
    let orderer = group_mut(&mut next, &[ORDERER_GROUP])?;
    orderer.set_value(
        "Orderers",
        ValueContent::Orderers(consenters.to_vec()),
        "Admins",
    );
    orderer.set_policy("BlockValidation", policy, "Admins");
    Ok(next)
}

/// Adds one Raft consenter.
pub fn add_consenter(
    config: &ChannelConfig,
    consenter: &etcdraft::Consenter,
) -> Result<ChannelConfig> {
    let mut all = config
        .etcdraft()
        .ok_or_else(|| {
            ConfigError::not_found("etcdraft metadata in /Channel/Orderer/ConsensusType")
        })?
        .consenters
        .clone();
    if all
        .iter()
        .any(|c| c.host == consenter.host && c.port == consenter.port)
    {
        return Err(ConfigError::AlreadyExists {
            what: format!("consenter {}:{}", consenter.host, consenter.port),
        });
    }
    all.push(consenter.clone());
    set_consenters(config, &all)
}

/// Removes the Raft consenter at `host:port`.
pub fn remove_consenter(config: &ChannelConfig, host: &str, port: u32) -> Result<ChannelConfig> {
    let all = &config
        .etcdraft()
        .ok_or_else(|| {
            ConfigError::not_found("etcdraft metadata in /Channel/Orderer/ConsensusType")
        })?
        .consenters;
    let rest: Vec<_> = all
        .iter()
        .filter(|c| !(c.host == host && c.port == port))
        .cloned()
        .collect();
    if rest.len() == all.len() {
        return Err(ConfigError::not_found(format!("consenter {host}:{port}")));
    }
    set_consenters(config, &rest)
}

/// Sets the `Endpoints` of an orderer organization; empty removes the value.
pub fn set_orderer_endpoints(
    config: &ChannelConfig,
    org: &str,
    endpoints: &[String],
) -> Result<ChannelConfig> {
    for e in endpoints {
        let ok = e
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(ConfigError::invalid(
                format!("orderer endpoint {e:?} of {org}"),
                "expected host:port",
            ));
        }
    }
    let mut next = config.clone();
    let orderer = group_mut(&mut next, &[ORDERER_GROUP])?;
    let key = orderer
        .groups
        .iter()
        .find(|(k, g)| k.as_str() == org || g.msp_id() == Some(org))
        .map(|(k, _)| k.clone())
        .ok_or_else(|| ConfigError::not_found(format!("orderer organization {org}")))?;
    let group = orderer.groups.get_mut(&key).expect("key found above");
    if endpoints.is_empty() {
        group.values.remove("Endpoints");
    } else {
        group.set_value(
            "Endpoints",
            ValueContent::Endpoints(endpoints.to_vec()),
            "Admins",
        );
    }
    Ok(next)
}

/// Sets the channel-level `OrdererAddresses` (legacy global endpoints, mod
/// policy `/Channel/Orderer/Admins` as configtxgen sets it); empty removes it.
pub fn set_orderer_addresses(
    config: &ChannelConfig,
    addresses: &[String],
) -> Result<ChannelConfig> {
    let mut next = config.clone();
    if addresses.is_empty() {
        next.root.values.remove("OrdererAddresses");
    } else {
        next.root.set_value(
            "OrdererAddresses",
            ValueContent::OrdererAddresses(addresses.to_vec()),
            "/Channel/Orderer/Admins",
        );
    }
    Ok(next)
}

/// Adds an orderer organization (MSP, policies, endpoints).
pub fn add_orderer_org(config: &ChannelConfig, org: &Organization) -> Result<ChannelConfig> {
    let group = org.to_group()?;
    let mut next = config.clone();
    let orderer = group_mut(&mut next, &[ORDERER_GROUP])?;
    if orderer.groups.contains_key(&org.name) {
        return Err(ConfigError::AlreadyExists {
            what: format!("orderer organization {}", org.name),
        });
    }
    orderer.groups.insert(org.name.clone(), group);
    Ok(next)
}

/// Sets (or, with `None`, removes) the ACL override of one resource
/// (`_lifecycle/CommitChaincodeDefinition` → `/Channel/Application/Writers`).
pub fn set_acl(
    config: &ChannelConfig,
    resource: &str,
    policy_ref: Option<&str>,
) -> Result<ChannelConfig> {
    let mut acls = config.acls();
    match policy_ref {
        Some(p) => {
            if p.is_empty() {
                return Err(ConfigError::invalid(
                    format!("ACL of {resource}"),
                    "the policy reference is empty",
                ));
            }
            acls.insert(resource.to_string(), p.to_string());
        }
        None => {
            if acls.remove(resource).is_none() {
                return Err(ConfigError::not_found(format!(
                    "ACL override for {resource}"
                )));
            }
        }
    }
    let mut next = config.clone();
    let app = group_mut(&mut next, &[APPLICATION_GROUP])?;
    if acls.is_empty() {
        app.values.remove("ACLs");
    } else {
        app.set_value("ACLs", ValueContent::Acls(acls), "Admins");
    }
    Ok(next)
}

/// Parses a Go duration (`300ms`, `2s`, `1m30s`, `1.5h`) into nanoseconds.
pub fn parse_go_duration(text: &str) -> Option<u128> {
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Some(total as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("2s"), Some(2_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("2"), None);
        assert_eq!(parse_go_duration("s"), None);
        assert_eq!(parse_go_duration("2x"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}

//! Chaincode lifecycle (`_lifecycle`): install, approve, check readiness,
//! commit, and the queries of installed, approved and committed definitions.
//!
//! The main type is [`ChaincodeDefinition`], the parameters an organization
//! approves and the channel commits. Peer-local calls (install, queries) go to
//! one peer through an [`Endorser`]. Transactions (approve, commit) go
//! through the org's own [`Gateway`]: approve is endorsed by the org's own
//! peers (`endorsing_orgs = [my MSP]`); commit names the organizations whose
//! endorsements satisfy the channel's LifecycleEndorsement policy and the
//! gateway reaches their peers through discovery (gossip), so an agent needs
//! no address of another organization's peer. [`commit_with_endorsers`] is
//! the alternative for callers that do hold the other peers' addresses.
//!
//! Key decision: installing a package that is already installed is reported
//! as success ([`Installed::newly_installed`] false), so installs are idempotent.

use std::time::Duration;

use prost::Message;

use crate::deliver::Deliverer;
use crate::endorser::{Endorser, submit_with_endorsers};
use crate::error::{Error, Result};
use crate::gateway::{Committed, Gateway};
use crate::orderer::Orderer;
use crate::protos::common::{ApplicationPolicy, application_policy};
use crate::protos::lifecycle as lc;
use crate::protos::peer::CollectionConfigPackage;
use crate::tx::ChaincodeCall;

/// The system chaincode's name.
pub const LIFECYCLE: &str = "_lifecycle";

/// The channel policy a definition uses when it names none.
pub const DEFAULT_ENDORSEMENT_POLICY: &str = "/Channel/Application/Endorsement";

/// A chaincode definition as organizations approve and the channel commits it.
/// Empty plugin names and validation parameter take the peer's defaults
/// (`escc`, `vscc`, the channel's `Endorsement` policy).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChaincodeDefinition {
    pub name: String,
    pub version: String,
    pub sequence: i64,
    pub endorsement_plugin: String,
    pub validation_plugin: String,
    /// An encoded `ApplicationPolicy` (see [`policy_reference`]).
    pub validation_parameter: Vec<u8>,
    pub collections: Option<CollectionConfigPackage>,
    pub init_required: bool,
}

impl ChaincodeDefinition {
    /// A definition with the default plugins and endorsement policy.
    pub fn new(name: &str, version: &str, sequence: i64) -> ChaincodeDefinition {
        ChaincodeDefinition {
            name: name.to_string(),
            version: version.to_string(),
            sequence,
            ..Default::default()
        }
    }

    /// Sets the endorsement policy (an encoded `ApplicationPolicy`).
    pub fn with_validation_parameter(mut self, policy: Vec<u8>) -> ChaincodeDefinition {
        self.validation_parameter = policy;
        self
    }

    fn approve_args(&self, package_id: Option<&str>) -> lc::ApproveChaincodeDefinitionForMyOrgArgs {
        let source = match package_id {
            Some(id) => lc::chaincode_source::Type::LocalPackage(lc::chaincode_source::Local {
                package_id: id.to_string(),
            }),
            None => lc::chaincode_source::Type::Unavailable(lc::chaincode_source::Unavailable {}),
        };
        lc::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence: self.sequence,
            name: self.name.clone(),
            version: self.version.clone(),
            endorsement_plugin: self.endorsement_plugin.clone(),
            validation_plugin: self.validation_plugin.clone(),
            validation_parameter: self.validation_parameter.clone(),
            collections: self.collections.clone(),
            init_required: self.init_required,
            source: Some(lc::ChaincodeSource {
                r#type: Some(source),
            }),
        }
    }

    fn commit_args(&self) -> lc::CommitChaincodeDefinitionArgs {
        lc::CommitChaincodeDefinitionArgs {
            sequence: self.sequence,
            name: self.name.clone(),
            version: self.version.clone(),
            endorsement_plugin: self.endorsement_plugin.clone(),
            validation_plugin: self.validation_plugin.clone(),
            validation_parameter: self.validation_parameter.clone(),
            collections: self.collections.clone(),
            init_required: self.init_required,
        }
    }

    fn readiness_args(&self) -> lc::CheckCommitReadinessArgs {
        lc::CheckCommitReadinessArgs {
            sequence: self.sequence,
            name: self.name.clone(),
            version: self.version.clone(),
            endorsement_plugin: self.endorsement_plugin.clone(),
            validation_plugin: self.validation_plugin.clone(),
            validation_parameter: self.validation_parameter.clone(),
            collections: self.collections.clone(),
            init_required: self.init_required,
        }
    }
}

/// An endorsement policy that refers to a channel policy, e.g.
/// `/Channel/Application/Endorsement`, encoded for `validation_parameter`.
pub fn policy_reference(policy: &str) -> Vec<u8> {
    ApplicationPolicy {
        r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
            policy.to_string(),
        )),
    }
    .encode_to_vec()
}

fn call(channel: &str, function: &str, args: Vec<u8>) -> ChaincodeCall {
    ChaincodeCall::new(channel, LIFECYCLE, function, [args])
}

async fn query<T: Message + Default>(
    endorser: &Endorser,
    channel: &str,
    function: &str,
    args: Vec<u8>,
) -> Result<T> {
    let name = if channel.is_empty() {
        format!("_lifecycle {function}")
    } else {
        format!("_lifecycle {function} on channel {channel}")
    };
    let payload = endorser
        .query(&name, &call(channel, function, args))
        .await?;
    T::decode(payload.as_slice())
        .map_err(|e| Error::decode(format!("{function} answer"), endorser.node().name(), e))
}

/// Maps the peer's 404 answer (nothing defined, nothing installed) to `None`.
fn not_found_is_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Refused { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The outcome of [`install`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub package_id: String,
    pub label: String,
    /// False when the peer already had the package.
    pub newly_installed: bool,
}

/// Installs a chaincode package (the tar.gz bytes) on the endorser's peer.
pub async fn install(endorser: &Endorser, package: &[u8]) -> Result<Installed> {
    let args = lc::InstallChaincodeArgs {
        chaincode_install_package: package.to_vec(),
    }
    .encode_to_vec();
    match query::<lc::InstallChaincodeResult>(endorser, "", "InstallChaincode", args).await {
        Ok(r) => Ok(Installed {
            package_id: r.package_id,
            label: r.label,
            newly_installed: true,
        }),
        // "chaincode already successfully installed (package ID '<id>')"
        Err(Error::Refused { message, .. })
            if message.contains("already successfully installed") =>
        {
            let package_id = message
                .split("package ID '")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .unwrap_or_default()
                .to_string();
            let label = package_id
                .rsplit_once(':')
                .map(|(l, _)| l.to_string())
                .unwrap_or_default();
            Ok(Installed {
                package_id,
                label,
                newly_installed: false,
            })
        }
        Err(e) => Err(e),
    }
}

/// Every package installed on the endorser's peer.
pub async fn query_installed(
    endorser: &Endorser,
) -> Result<Vec<lc::query_installed_chaincodes_result::InstalledChaincode>> {
    let args = lc::QueryInstalledChaincodesArgs {}.encode_to_vec();
    let r: lc::QueryInstalledChaincodesResult =
        query(endorser, "", "QueryInstalledChaincodes", args).await?;
    Ok(r.installed_chaincodes)
}

/// One installed package, `None` when the peer does not have it.
pub async fn query_installed_package(
    endorser: &Endorser,
    package_id: &str,
) -> Result<Option<lc::QueryInstalledChaincodeResult>> {
    let args = lc::QueryInstalledChaincodeArgs {
        package_id: package_id.to_string(),
    }
    .encode_to_vec();
    match query(endorser, "", "QueryInstalledChaincode", args).await {
        // The peer answers 500 "could not find chaincode with package id '<id>'".
        Err(Error::Refused { message, .. })
            if message.contains("could not find chaincode with package id") =>
        {
            Ok(None)
        }
        other => not_found_is_none(other),
    }
}

/// Approves `definition` for the gateway identity's organization, endorsed by
/// that organization's own peers. `package_id` is the installed package this
/// organization runs (None: approve without running the chaincode).
pub async fn approve(
    gateway: &Gateway,
    channel: &str,
    definition: &ChaincodeDefinition,
    package_id: Option<&str>,
) -> Result<Committed> {
    let args = definition.approve_args(package_id).encode_to_vec();
    let proposal = call(channel, "ApproveChaincodeDefinitionForMyOrg", args)
        .sign(gateway.signer().as_ref())?;
    let my_org = gateway.signer().msp_id().to_string();
    gateway.submit_proposal(&proposal, &[my_org]).await
}

/// Which organizations approved `definition` exactly (MSP ID → approved), as
/// the endorser's peer sees the channel.
pub async fn check_commit_readiness(
    endorser: &Endorser,
    channel: &str,
    definition: &ChaincodeDefinition,
) -> Result<lc::CheckCommitReadinessResult> {
    let args = definition.readiness_args().encode_to_vec();
    query(endorser, channel, "CheckCommitReadiness", args).await
}

/// Commits `definition` on `channel` through the gateway, with endorsements
/// from peers of `endorsing_orgs` (enough organizations for the channel's
/// LifecycleEndorsement policy, a majority by default; each must have
/// approved). The gateway finds those peers through discovery.
pub async fn commit(
    gateway: &Gateway,
    channel: &str,
    definition: &ChaincodeDefinition,
    endorsing_orgs: &[String],
) -> Result<Committed> {
    let args = definition.commit_args().encode_to_vec();
    let proposal =
        call(channel, "CommitChaincodeDefinition", args).sign(gateway.signer().as_ref())?;
    gateway.submit_proposal(&proposal, endorsing_orgs).await
}

/// Commits `definition` with endorsements from the given peers (one or more
/// per organization), ordering the transaction on `orderer` and waiting for
/// it on `watcher`. Every endorser must use the same signer (the submitter).
pub async fn commit_with_endorsers(
    endorsers: &[Endorser],
    orderer: &Orderer,
    watcher: &Deliverer,
    channel: &str,
    definition: &ChaincodeDefinition,
    timeout: Duration,
) -> Result<Committed> {
    let first = endorsers
        .first()
        .ok_or_else(|| Error::invalid("endorsers", "at least one endorsing peer is needed"))?;
    let signer = first.signer().clone();
    let args = definition.commit_args().encode_to_vec();
    let proposal = call(channel, "CommitChaincodeDefinition", args).sign(signer.as_ref())?;
    submit_with_endorsers(
        signer.as_ref(),
        &proposal,
        endorsers,
        orderer,
        watcher,
        timeout,
    )
    .await
}

/// The committed definition of `name`, `None` when there is none.
pub async fn query_committed(
    endorser: &Endorser,
    channel: &str,
    name: &str,
) -> Result<Option<lc::QueryChaincodeDefinitionResult>> {
    let args = lc::QueryChaincodeDefinitionArgs {
        name: name.to_string(),
    }
    .encode_to_vec();
    not_found_is_none(query(endorser, channel, "QueryChaincodeDefinition", args).await)
}

/// Every committed definition on `channel`.
pub async fn query_committed_all(
    endorser: &Endorser,
    channel: &str,
) -> Result<Vec<lc::query_chaincode_definitions_result::ChaincodeDefinition>> {
    let args = lc::QueryChaincodeDefinitionsArgs {}.encode_to_vec();
    let r: lc::QueryChaincodeDefinitionsResult =
        query(endorser, channel, "QueryChaincodeDefinitions", args).await?;
    Ok(r.chaincode_definitions)
}

/// What this organization approved for `name` at `sequence` (`None`: the
/// newest approved sequence). `Ok(None)` when nothing is approved.
pub async fn query_approved(
    endorser: &Endorser,
    channel: &str,
    name: &str,
    sequence: Option<i64>,
) -> Result<Option<lc::QueryApprovedChaincodeDefinitionResult>> {
    let args = lc::QueryApprovedChaincodeDefinitionArgs {
        name: name.to_string(),
        sequence: sequence.unwrap_or(0),
    }
    .encode_to_vec();
    match query(endorser, channel, "QueryApprovedChaincodeDefinition", args).await {
        Ok(r) => Ok(Some(r)),
        Err(Error::Refused { status: 404, .. }) => Ok(None),
        // The peer answers 500 "could not fetch approved chaincode definition".
        Err(Error::Refused { message, .. })
            if message.contains("could not fetch approved chaincode definition") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approve_args_carry_the_definition_and_source() {
        let def = ChaincodeDefinition::new("kv", "1.0", 2)
            .with_validation_parameter(policy_reference("/Channel/Application/Readers"));
        let args = def.approve_args(Some("kv_1:abcd"));
        assert_eq!(args.name, "kv");
        assert_eq!(args.sequence, 2);
        let decoded = ApplicationPolicy::decode(args.validation_parameter.as_slice()).unwrap();
        assert_eq!(
            decoded.r#type,
            Some(application_policy::Type::ChannelConfigPolicyReference(
                "/Channel/Application/Readers".into()
            ))
        );
        match args.source.unwrap().r#type.unwrap() {
            lc::chaincode_source::Type::LocalPackage(l) => assert_eq!(l.package_id, "kv_1:abcd"),
            other => panic!("unexpected source {other:?}"),
        }
        let commit = def.commit_args();
        assert_eq!(commit.version, "1.0");
        assert_eq!(commit.validation_parameter, args.validation_parameter);
        assert_eq!(def.readiness_args().sequence, 2);
        assert!(matches!(
            def.approve_args(None).source.unwrap().r#type,
            Some(lc::chaincode_source::Type::Unavailable(_))
        ));
    }
}

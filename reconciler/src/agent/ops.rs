//! The OpsSC chaincode, seen from one organization: typed calls through the
//! organization's own gateway on the ops channel.
//!
//! [`OpsClient`] turns each contract function into one method; submits go
//! through the org's gateway (endorsed by as many organizations as the
//! chaincode's endorsement policy needs, found by discovery), queries are
//! evaluated on the org's own peer. Key decision: every call fails with a
//! typed [`AgentError`] that keeps Fabric's fault class and, when the
//! contract refused, its [`opssc_chaincode::error::ContractError`] (parsed
//! from the `class: message` text the contract answers), so callers tell
//! "already done" from a failure by type, not by words.

use super::error::{AgentError, Result};
use opssc_chaincode::api::{
    BallotCall, BallotsArgs, IdArgs, ListArgs, ProposeArgs, ReportTaskArgs, SignArgs, TallyArgs,
    TasksArgs, VoteArgs,
};
use opssc_chaincode::model::{Proposal, SignatureEntry, TaskEntry, Vote};
use opssc_fabric::gateway::Gateway;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One org's handle on the OpsSC chaincode.
#[derive(Clone)]
pub struct OpsClient {
    pub gateway: Gateway,
    pub channel: String,
    pub chaincode: String,
}

/// `get`'s answer.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Got {
    pub proposal: Proposal,
    #[serde(default)]
    pub tally: Value,
    #[serde(default)]
    pub eligible_executors: Vec<String>,
    /// Whether the deadline has passed at the query's time.
    #[serde(default)]
    pub deadline_passed: bool,
    /// The organizations that attested the deadline passed (`expire`).
    #[serde(default)]
    pub expiry_attested_by: Vec<String>,
}

/// `overview`'s answer, all pages together.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// Every proposal as `list` shows it.
    pub items: Vec<Value>,
    /// As [`OpsClient::governance`] reads it.
    pub governance: Option<opssc_chaincode::model::Governance>,
    /// The records of every proposal still proposed or approved, by ID.
    pub open: std::collections::BTreeMap<String, OpenRecord>,
}

/// One open proposal in `overview`: what `get`, `votes`, `tasks` and
/// `signatures` answer for it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct OpenRecord {
    pub get: Got,
    pub votes: Vec<Vote>,
    pub tasks: Vec<TaskEntry>,
    pub signatures: Vec<SignatureEntry>,
}

/// The governance in a `registry` answer; `None` before founding.
fn governance_of(registry: &Value) -> Result<Option<opssc_chaincode::model::Governance>> {
    if registry["meta"].is_null() {
        return Ok(None);
    }
    serde_json::from_value(registry["governance"].clone())
        .map(Some)
        .map_err(|e| {
            AgentError::Answer(format!(
                "OpsSC registry answered a governance of an unexpected shape: {e}"
            ))
        })
}

impl OpsClient {
    async fn submit_raw(&self, function: &str, arg: &impl Serialize) -> Result<Value> {
        let bytes = serde_json::to_vec(arg).expect("contract arguments serialize");
        let done = self
            .gateway
            .submit_transaction(&self.channel, &self.chaincode, function, [bytes])
            .await
            .map_err(|e| {
                AgentError::fabric(
                    format!(
                        "OpsSC {function} on channel {} (chaincode {})",
                        self.channel, self.chaincode
                    ),
                    e,
                )
            })?;
        serde_json::from_slice(&done.result).map_err(|e| {
            AgentError::Answer(format!(
                "OpsSC {function} answered something that is not JSON: {e}"
            ))
        })
    }

    async fn query<T: DeserializeOwned>(&self, function: &str, arg: &impl Serialize) -> Result<T> {
        let bytes = serde_json::to_vec(arg).expect("contract arguments serialize");
        let out = self
            .gateway
            .evaluate_transaction(&self.channel, &self.chaincode, function, [bytes])
            .await
            .map_err(|e| {
                AgentError::fabric(
                    format!(
                        "OpsSC query {function} on channel {} (chaincode {}); is the OpsSC chaincode deployed?",
                        self.channel, self.chaincode
                    ),
                    e,
                )
            })?;
        serde_json::from_slice(&out).map_err(|e| {
            AgentError::Answer(format!(
                "OpsSC {function} answered an unexpected shape: {e}"
            ))
        })
    }

    /// Every proposal (all pages), in filing order.
    pub async fn list_all(&self) -> Result<Vec<Value>> {
        self.list(false).await
    }

    /// Every proposal (all pages), in filing order; with `open`, only those
    /// not yet terminal (proposed, approved, failed).
    pub async fn list(&self, open: bool) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut bookmark = None;
        loop {
            let page: Value = self
                .query(
                    "list",
                    &ListArgs {
                        page_size: Some(200),
                        bookmark: bookmark.clone(),
                        open,
                        ..Default::default()
                    },
                )
                .await?;
            if let Some(list) = page["items"].as_array() {
                items.extend(list.iter().cloned());
            }
            match page["bookmark"].as_str() {
                Some(b) if !b.is_empty() => bookmark = Some(b.to_string()),
                _ => return Ok(items),
            }
        }
    }

    /// The governance the registry holds, `None` before founding (the
    /// contract answers defaults then, which no member agreed on).
    pub async fn governance(&self) -> Result<Option<opssc_chaincode::model::Governance>> {
        let registry: Value = self.query("registry", &serde_json::json!({})).await?;
        governance_of(&registry)
    }

    /// Every proposal (all pages, in filing order), the governance, and the
    /// records of every open one: an observation's reads of the OpsSC, one
    /// `overview` call per page of 200 proposals.
    pub async fn overview(&self) -> Result<Overview> {
        let mut out = Overview::default();
        let mut bookmark = None;
        loop {
            let mut page: Value = self
                .query(
                    "overview",
                    &ListArgs {
                        page_size: Some(200),
                        bookmark: bookmark.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            if bookmark.is_none() {
                out.governance = governance_of(&page["registry"])?;
            }
            if let Some(list) = page["items"].as_array_mut() {
                out.items.append(list);
            }
            let open: std::collections::BTreeMap<String, OpenRecord> =
                serde_json::from_value(page["open"].take()).map_err(|e| {
                    AgentError::Answer(format!("OpsSC overview: unexpected shape: {e}"))
                })?;
            out.open.extend(open);
            match page["bookmark"].as_str() {
                Some(b) if !b.is_empty() => bookmark = Some(b.to_string()),
                _ => return Ok(out),
            }
        }
    }

    pub async fn get(&self, id: &str) -> Result<Got> {
        self.query("get", &IdArgs { id: id.to_string() }).await
    }

    pub async fn votes(&self, id: &str) -> Result<Vec<Vote>> {
        let v: Value = self.query("votes", &IdArgs { id: id.to_string() }).await?;
        serde_json::from_value(v["votes"].clone())
            .map_err(|e| AgentError::Answer(format!("OpsSC votes: unexpected shape: {e}")))
    }

    /// The ConfigSignatures the approving organizations gave with `sign`.
    pub async fn signatures(&self, id: &str) -> Result<Vec<SignatureEntry>> {
        let v: Value = self
            .query("signatures", &IdArgs { id: id.to_string() })
            .await?;
        serde_json::from_value(v["signatures"].clone())
            .map_err(|e| AgentError::Answer(format!("OpsSC signatures: unexpected shape: {e}")))
    }

    pub async fn tasks(&self, id: &str, org: Option<&str>) -> Result<Vec<TaskEntry>> {
        let v: Value = self
            .query(
                "tasks",
                &TasksArgs {
                    id: id.to_string(),
                    org: org.map(str::to_string),
                },
            )
            .await?;
        serde_json::from_value(v["tasks"].clone())
            .map_err(|e| AgentError::Answer(format!("OpsSC tasks: unexpected shape: {e}")))
    }

    pub async fn propose(&self, args: &ProposeArgs) -> Result<Value> {
        self.submit_raw("propose", args).await
    }

    pub async fn vote(&self, args: &VoteArgs) -> Result<Value> {
        self.submit_raw("vote", args).await
    }

    /// This organization's ConfigSignature over an approved update.
    pub async fn sign(&self, args: &SignArgs) -> Result<Value> {
        self.submit_raw("sign", args).await
    }

    /// Several filings, votes and signatures, each on another proposal, in
    /// one transaction: each call's answer, in order.
    pub async fn ballots(&self, calls: Vec<BallotCall>) -> Result<Vec<Value>> {
        let out = self.submit_raw("ballots", &BallotsArgs { calls }).await?;
        match out["results"].as_array() {
            Some(results) => Ok(results.clone()),
            None => Err(AgentError::Answer(format!(
                "OpsSC ballots: unexpected shape: {out}"
            ))),
        }
    }

    /// `tally`, counting only the `counted` organizations' votes when given.
    pub async fn tally(&self, id: &str, counted: Option<Vec<String>>) -> Result<Value> {
        self.submit_raw(
            "tally",
            &TallyArgs {
                id: id.to_string(),
                counted,
            },
        )
        .await
    }

    pub async fn report_task(&self, args: &ReportTaskArgs) -> Result<Value> {
        self.submit_raw("report_task", args).await
    }

    pub async fn claim_execution(&self, id: &str) -> Result<Value> {
        self.submit_raw("claim_execution", &IdArgs { id: id.to_string() })
            .await
    }

    pub async fn report_failed(&self, id: &str, error: &str) -> Result<Value> {
        self.submit_raw(
            "report_failed",
            &opssc_chaincode::api::ReportFailedArgs {
                id: id.to_string(),
                error: error.to_string(),
            },
        )
        .await
    }

    /// `proposed` → `withdrawn`: only by its proposer, while no other
    /// organization backs it.
    pub async fn withdraw(&self, id: &str, reason: &str) -> Result<Value> {
        self.submit_raw(
            "withdraw",
            &opssc_chaincode::api::ReasonArgs {
                id: id.to_string(),
                reason: reason.to_string(),
            },
        )
        .await
    }

    /// This organization's attestation that the deadline passed; the
    /// proposal expires once enough of the electorate attested.
    pub async fn expire(&self, id: &str) -> Result<Value> {
        self.submit_raw("expire", &IdArgs { id: id.to_string() })
            .await
    }

    /// `failed` → `approved` again, attempt + 1.
    pub async fn retry(&self, id: &str, reason: &str) -> Result<Value> {
        self.submit_raw(
            "retry",
            &opssc_chaincode::api::ReasonArgs {
                id: id.to_string(),
                reason: reason.to_string(),
            },
        )
        .await
    }

    pub async fn report_committed(&self, id: &str, detail: &str) -> Result<Value> {
        self.submit_raw(
            "report_committed",
            &opssc_chaincode::api::ReportCommittedArgs {
                id: id.to_string(),
                detail: detail.to_string(),
            },
        )
        .await
    }
}

//! Any sequence of up to four calls to the contract's dispatch — any
//! function name, any argument bytes, any creator (well-formed admins of the
//! founding members, their MSP IDs with other certificates, or raw bytes),
//! any transaction time — on a founded registry with open proposals. The
//! dispatch must not panic, a query must write nothing, and the writes of
//! an accepted call are applied so later calls see them.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use opssc_chaincode::sig::SerializedIdentity;
use opssc_chaincode::{INVOKE_FUNCTIONS, MemState, QUERY_FUNCTIONS, shell};
use prost::Message;

const T0: i64 = 1_700_000_000;
const ORGS: [&str; 3] = ["Org1MSP", "Org2MSP", "Org3MSP"];

/// Certificates are opaque bytes here: the registry lists their
/// fingerprints as the organizations' admins, so no X.509 is needed.
fn cert(org: &str) -> Vec<u8> {
    format!("fuzz-admin-certificate-of-{org}").into_bytes()
}

fn creator(org: &str) -> Vec<u8> {
    SerializedIdentity {
        mspid: org.to_string(),
        id_bytes: cert(org),
    }
    .encode_to_vec()
}

struct World {
    state: MemState,
    ids: Vec<String>,
}

fn call(state: &mut MemState, org: &str, at: i64, f: &str, arg: String) -> serde_json::Value {
    let out = shell::handle(
        state,
        &creator(org),
        "setup",
        at,
        &[f.as_bytes().to_vec(), arg.into_bytes()],
    )
    .unwrap_or_else(|e| panic!("setup call {f} failed: {e}"));
    state.apply(&out.writes);
    serde_json::from_slice(&out.response).unwrap()
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let mut state = MemState::new();
        let admins: serde_json::Map<String, serde_json::Value> = ORGS
            .iter()
            .map(|o| {
                let fp = opssc_chaincode::sig::fingerprint(&cert(o));
                (o.to_string(), serde_json::json!([fp]))
            })
            .collect();
        let found = serde_json::json!({
            "ops_channel": "ops", "members": ORGS,
            "channels": [{"name": "ch1", "members": ORGS}],
            "admin_certs": admins,
        });
        for o in ORGS {
            call(&mut state, o, T0, "found", found.to_string());
        }
        let spec = serde_json::json!({"git_commit": "a".repeat(40), "spec_hash": "b".repeat(64),
            "committed_chaincode_sequence": 0, "base_config_sequence": 1});
        let deploy = serde_json::json!({"kind": "ChaincodeDeploy", "target": {"channel": "ch1", "chaincode": "cc"},
            "payload": {"name": "cc", "version": "1", "sequence": 1, "package_id": "cc:1", "package_hash": "c".repeat(64)},
            "spec_ref": spec});
        let update = serde_json::json!({"kind": "ChannelUpdate", "target": {"channel": "ch1"},
            "payload": {"config_update": "CgNjaDE="}, "spec_ref": spec});
        let mut ids = Vec::new();
        for (org, args) in [("Org1MSP", deploy), ("Org2MSP", update)] {
            let r = call(&mut state, org, T0, "propose", args.to_string());
            ids.push(r["id"].as_str().unwrap().to_string());
        }
        // The update is approved, so sign / claim / report are reachable.
        for org in ["Org1MSP", "Org2MSP"] {
            call(&mut state, org, T0 + 1, "vote",
                serde_json::json!({"id": ids[1], "decision": "approve"}).to_string());
        }
        call(&mut state, "Org3MSP", T0 + 2, "tally", serde_json::json!({"id": ids[1]}).to_string());
        World { state, ids }
    })
}

/// Reads the input front to back; missing bytes read as zero.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.byte() as usize).min(max).min(self.0.len());
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        a.to_vec()
    }
    /// A length-prefixed (two bytes) chunk.
    fn chunk(&mut self) -> Vec<u8> {
        let n = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        let n = n.min(self.0.len());
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        a.to_vec()
    }
    fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        i64::from_le_bytes(b)
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut state = w.state.clone();
    let mut c = Cursor(data);
    let functions: Vec<&str> = INVOKE_FUNCTIONS.iter().chain(QUERY_FUNCTIONS.iter()).copied().collect();
    let calls = 1 + c.byte() % 4;
    for i in 0..calls {
        let sel = c.byte() as usize;
        let function: Vec<u8> = if sel < functions.len() * 8 {
            functions[sel % functions.len()].as_bytes().to_vec()
        } else {
            c.bytes(64)
        };
        let who = c.byte();
        let creator_bytes = match who % 4 {
            0 | 1 => creator(ORGS[(who as usize / 4) % 3]),
            2 => SerializedIdentity {
                mspid: ORGS[(who as usize / 4) % 3].to_string(),
                id_bytes: c.bytes(200),
            }
            .encode_to_vec(),
            _ => c.bytes(200),
        };
        let at = match c.byte() % 3 {
            0 => T0 + 10 + (c.byte() as i64) * 600,
            1 => T0 + c.i64() % (400 * 24 * 3600),
            _ => c.i64(),
        };
        let mut args = Vec::new();
        match c.byte() % 4 {
            0 => {}
            1 => {
                let id = &w.ids[c.byte() as usize % w.ids.len()];
                let rest = String::from_utf8_lossy(&c.chunk()).into_owned();
                args.push(format!("{{\"id\":\"{id}\"{rest}").into_bytes());
            }
            2 => args.push(c.chunk()),
            _ => {
                args.push(c.chunk());
                args.push(c.chunk());
            }
        }
        let mut input = vec![function.clone()];
        input.extend(args);
        let tx = format!("fuzz{i}");
        if let Ok(out) = shell::handle(&state, &creator_bytes, &tx, at, &input) {
            let is_query = QUERY_FUNCTIONS.iter().any(|q| q.as_bytes() == function.as_slice());
            if is_query {
                assert!(out.writes.is_empty() && out.event.is_none(), "a query wrote");
            }
            assert!(serde_json::from_slice::<serde_json::Value>(&out.response).is_ok());
            state.apply(&out.writes);
        }
    }
});

//! The protobuf messages and gRPC services of Fabric, generated at build time.
//!
//! Every `.proto` file under `fabric/proto/` is compiled by `build.rs`; the
//! module tree follows the protobuf package names, so `type_url`s and gRPC
//! paths match Fabric's (`common`, `msp`, `protos` for the peer, `orderer`,
//! `gateway`, `lifecycle`). The peer package is also reachable as [`peer`],
//! because `protos::protos` reads badly.

#![allow(clippy::all, missing_docs, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/_includes.rs"));

/// The peer's package (`protos` in Fabric's protobuf files).
pub use self::protos as peer;

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn grpc_service_names_are_fabrics() {
        assert_eq!(gateway::gateway_server::SERVICE_NAME, "gateway.Gateway");
        assert_eq!(peer::endorser_server::SERVICE_NAME, "protos.Endorser");
        assert_eq!(peer::deliver_server::SERVICE_NAME, "protos.Deliver");
        assert_eq!(peer::chaincode_server::SERVICE_NAME, "protos.Chaincode");
        assert_eq!(
            orderer::atomic_broadcast_server::SERVICE_NAME,
            "orderer.AtomicBroadcast"
        );
    }

    // Wire bytes written out by hand from Fabric's field numbers: a changed
    // field number or type in a .proto file breaks these.
    #[test]
    fn wire_bytes_follow_fabrics_field_numbers() {
        let id = msp::SerializedIdentity {
            mspid: "A".into(),
            id_bytes: b"B".to_vec(),
        };
        assert_eq!(id.encode_to_vec(), [0x0a, 1, b'A', 0x12, 1, b'B']);
        let ch = common::ChannelHeader {
            r#type: common::HeaderType::EndorserTransaction as i32,
            channel_id: "c".into(),
            tx_id: "t".into(),
            epoch: 0,
            ..Default::default()
        };
        assert_eq!(ch.encode_to_vec(), [0x08, 3, 0x22, 1, b'c', 0x2a, 1, b't']);
        let resp = peer::ProposalResponse {
            response: Some(peer::Response {
                status: 200,
                ..Default::default()
            }),
            payload: b"p".to_vec(),
            ..Default::default()
        };
        // response is field 4, payload field 5; status 200 is varint c8 01.
        assert_eq!(
            resp.encode_to_vec(),
            [0x22, 3, 0x08, 0xc8, 0x01, 0x2a, 1, b'p']
        );
        let seek = orderer::SeekInfo {
            start: Some(orderer::SeekPosition {
                r#type: Some(orderer::seek_position::Type::Specified(
                    orderer::SeekSpecified { number: 5 },
                )),
            }),
            behavior: orderer::seek_info::SeekBehavior::FailIfNotReady as i32,
            ..Default::default()
        };
        assert_eq!(seek.encode_to_vec(), [0x0a, 4, 0x1a, 2, 0x08, 5, 0x18, 1]);
        let msg = peer::ChaincodeMessage {
            r#type: peer::chaincode_message::Type::GetStateByRange as i32,
            txid: "x".into(),
            channel_id: "c".into(),
            ..Default::default()
        };
        assert_eq!(
            msg.encode_to_vec(),
            [0x08, 14, 0x22, 1, b'x', 0x3a, 1, b'c']
        );
        let ev = gateway::ChaincodeEventsRequest {
            after_transaction_id: "a".into(),
            ..Default::default()
        };
        assert_eq!(ev.encode_to_vec(), [0x2a, 1, b'a']);
        let args = lifecycle::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence: 1,
            init_required: true,
            ..Default::default()
        };
        assert_eq!(args.encode_to_vec(), [0x08, 1, 0x40, 1]);
        // And back.
        assert_eq!(
            lifecycle::ApproveChaincodeDefinitionForMyOrgArgs::decode(&[0x08, 1, 0x40, 1][..])
                .unwrap(),
            args
        );
    }
}

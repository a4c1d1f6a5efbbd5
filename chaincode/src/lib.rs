//! The Operations Smart Contract (OpsSC).
//!
//! Proposals and votes for chaincode and channel operations live on the ops
//! channel, so no single administrator decides and no organization needs another
//! organization's keys. The contract logic is a pure function of (state reads,
//! creator MSP, arguments, transaction time) to (writes, event, response); the
//! chaincode-as-a-service main that serves it through the shim is a thin shell.

//! The kv test chaincode as a chaincode-as-a-service server; see `opssc_tests::kvcc`.

#[tokio::main]
async fn main() {
    opssc_tests::kvcc::main().await
}

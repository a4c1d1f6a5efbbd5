//! Reading blocks: the last-config pointer, transaction IDs and validation codes.
//!
//! Pure functions over [`Block`]; the deliver clients fetch the blocks. Key
//! decision: the last-config index is read where Fabric 2.x writes it (the
//! `OrdererBlockMetadata` inside the SIGNATURES metadata entry), falling back
//! to the deprecated LAST_CONFIG entry that older blocks carry.

use prost::Message;

use crate::error::{Error, Result};
use crate::protos::common::{
    Block, BlockMetadataIndex, ChannelHeader, Envelope, HeaderType, LastConfig, Metadata,
    OrdererBlockMetadata, Payload,
};
use crate::protos::peer::TxValidationCode;

/// The block number.
pub fn number(block: &Block) -> u64 {
    block.header.as_ref().map(|h| h.number).unwrap_or(0)
}

/// The number of the newest config block when `block` was cut.
pub fn last_config_index(block: &Block) -> Result<u64> {
    let node = format!("block {}", number(block));
    let entries = block
        .metadata
        .as_ref()
        .map(|m| m.metadata.as_slice())
        .unwrap_or(&[]);
    if let Some(raw) = entries.get(BlockMetadataIndex::Signatures as usize) {
        let md = Metadata::decode(raw.as_slice())
            .map_err(|e| Error::decode("signatures metadata", &node, e))?;
        if !md.value.is_empty() {
            let obm = OrdererBlockMetadata::decode(md.value.as_slice())
                .map_err(|e| Error::decode("orderer block metadata", &node, e))?;
            if let Some(lc) = obm.last_config {
                return Ok(lc.index);
            }
        }
    }
    if let Some(raw) = entries.get(BlockMetadataIndex::LastConfig as usize) {
        let md = Metadata::decode(raw.as_slice())
            .map_err(|e| Error::decode("last config metadata", &node, e))?;
        if !md.value.is_empty() {
            let lc = LastConfig::decode(md.value.as_slice())
                .map_err(|e| Error::decode("last config", &node, e))?;
            return Ok(lc.index);
        }
    }
    // The genesis block is its own last config and may carry no pointer.
    if number(block) == 0 {
        return Ok(0);
    }
    Err(Error::protocol(
        "reading the last config index",
        node,
        "the block metadata has no last-config pointer",
    ))
}

/// One transaction of a block as seen by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTx {
    pub tx_id: String,
    pub kind: i32,
    pub channel: String,
    /// The validation code from TRANSACTIONS_FILTER (`NOT_VALIDATED` when absent,
    /// e.g. in blocks straight from the orderer).
    pub validation: i32,
}

impl BlockTx {
    pub fn is_valid(&self) -> bool {
        self.validation == TxValidationCode::Valid as i32
    }

    /// The validation code's name, e.g. `MVCC_READ_CONFLICT`.
    pub fn validation_name(&self) -> String {
        validation_code_name(self.validation)
    }

    pub fn is_config(&self) -> bool {
        self.kind == HeaderType::Config as i32
    }
}

/// The name of a validation code, or its number when unknown.
pub fn validation_code_name(code: i32) -> String {
    TxValidationCode::try_from(code)
        .map(|c| c.as_str_name().to_string())
        .unwrap_or_else(|_| format!("validation code {code}"))
}

/// Every transaction's ID, type, channel and validation code.
pub fn transactions(block: &Block) -> Result<Vec<BlockTx>> {
    let node = format!("block {}", number(block));
    let filter: &[u8] = block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or(&[]);
    let mut out = Vec::with_capacity(data.len());
    for (i, raw) in data.iter().enumerate() {
        let ch = envelope_channel_header(raw).map_err(|e| match e {
            Error::Decode { what, source, .. } => Error::Decode {
                what: format!("{what} of transaction {i}"),
                node: node.clone(),
                source,
            },
            other => other,
        })?;
        out.push(BlockTx {
            tx_id: ch.tx_id,
            kind: ch.r#type,
            channel: ch.channel_id,
            validation: filter
                .get(i)
                .map(|c| *c as i32)
                .unwrap_or(TxValidationCode::NotValidated as i32),
        });
    }
    Ok(out)
}

/// The channel header of an encoded envelope.
pub fn envelope_channel_header(raw_envelope: &[u8]) -> Result<ChannelHeader> {
    let env = Envelope::decode(raw_envelope).map_err(|e| Error::decode("envelope", "block", e))?;
    let payload = Payload::decode(env.payload.as_slice())
        .map_err(|e| Error::decode("payload", "block", e))?;
    let header = payload.header.unwrap_or_default();
    ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| Error::decode("channel header", "block", e))
}

/// Whether the block's single transaction is a channel config.
pub fn is_config_block(block: &Block) -> bool {
    matches!(transactions(block).as_deref(), Ok([tx]) if tx.is_config())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protos::common::{BlockData, BlockHeader, BlockMetadata, Header};

    fn envelope(kind: HeaderType, tx_id: &str) -> Vec<u8> {
        let ch = ChannelHeader {
            r#type: kind as i32,
            channel_id: "trade".into(),
            tx_id: tx_id.into(),
            ..Default::default()
        };
        Envelope {
            payload: Payload {
                header: Some(Header {
                    channel_header: ch.encode_to_vec(),
                    signature_header: Vec::new(),
                }),
                data: Vec::new(),
            }
            .encode_to_vec(),
            signature: Vec::new(),
        }
        .encode_to_vec()
    }

    fn block(number: u64, data: Vec<Vec<u8>>, metadata: Vec<Vec<u8>>) -> Block {
        Block {
            header: Some(BlockHeader {
                number,
                ..Default::default()
            }),
            data: Some(BlockData { data }),
            metadata: Some(BlockMetadata { metadata }),
        }
    }

    #[test]
    fn last_config_from_signatures_metadata() {
        let obm = OrdererBlockMetadata {
            last_config: Some(LastConfig { index: 7 }),
            consenter_metadata: Vec::new(),
        };
        let sig_md = Metadata {
            value: obm.encode_to_vec(),
            signatures: Vec::new(),
        };
        let b = block(9, vec![], vec![sig_md.encode_to_vec(), vec![], vec![]]);
        assert_eq!(last_config_index(&b).unwrap(), 7);
    }

    #[test]
    fn last_config_from_the_deprecated_entry() {
        let lc_md = Metadata {
            value: LastConfig { index: 3 }.encode_to_vec(),
            signatures: Vec::new(),
        };
        let b = block(
            5,
            vec![],
            vec![Metadata::default().encode_to_vec(), lc_md.encode_to_vec()],
        );
        assert_eq!(last_config_index(&b).unwrap(), 3);
        let empty = block(5, vec![], vec![]);
        assert!(last_config_index(&empty).is_err());
        assert_eq!(last_config_index(&block(0, vec![], vec![])).unwrap(), 0);
    }

    #[test]
    fn transactions_with_validation_codes() {
        let b = block(
            4,
            vec![
                envelope(HeaderType::EndorserTransaction, "a"),
                envelope(HeaderType::EndorserTransaction, "b"),
            ],
            vec![
                vec![],
                vec![],
                vec![0, TxValidationCode::MvccReadConflict as u8],
            ],
        );
        let txs = transactions(&b).unwrap();
        assert_eq!(txs.len(), 2);
        assert!(txs[0].is_valid());
        assert_eq!(txs[1].tx_id, "b");
        assert_eq!(txs[1].validation_name(), "MVCC_READ_CONFLICT");
        assert!(!is_config_block(&b));
        let c = block(0, vec![envelope(HeaderType::Config, "")], vec![]);
        assert!(is_config_block(&c));
        assert_eq!(
            transactions(&c).unwrap()[0].validation_name(),
            "NOT_VALIDATED"
        );
    }
}

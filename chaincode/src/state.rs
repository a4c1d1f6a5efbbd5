//! World-state access: the [`StateRead`] trait the contract reads through, the
//! [`Write`]s it produces, and [`MemState`], an in-memory implementation.
//!
//! The contract never writes through the trait: it returns its writes as data
//! and the shell applies them (`put_state` / `del_state` on a peer, a map insert
//! in tests). Keys are simple UTF-8 keys with `~` separators (see `keys`), so
//! prefix scans are plain range queries `[prefix, prefix_end(prefix))`, which
//! Fabric's `GetStateByRange` supports in update transactions.

use std::collections::BTreeMap;
use std::ops::Bound;

/// Read access to the world state of the contract's namespace.
///
/// On a peer this is the shim's stub; in tests, [`MemState`]. Errors are the
/// stub's failures, reported as [`crate::ContractError::State`].
pub trait StateRead {
    /// The value under `key`, or `None` when absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;

    /// Key/value pairs with `start <= key < end` in byte order, at most `limit`
    /// of them (the first ones in order).
    fn range(&self, start: &str, end: &str, limit: usize)
    -> Result<Vec<(String, Vec<u8>)>, String>;
}

/// One change to the world state, applied by the shell in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put { key: String, value: Vec<u8> },
    Delete { key: String },
}

impl Write {
    pub fn key(&self) -> &str {
        match self {
            Write::Put { key, .. } | Write::Delete { key } => key,
        }
    }
}

/// The exclusive end of the range holding every key that starts with
/// `prefix`. Prefixes end with `~` (0x7E); the end replaces it with 0x7F, so
/// keys sharing a longer prefix (`a~b~` vs `a~bc~`) are not mixed up.
pub fn prefix_end(prefix: &str) -> String {
    debug_assert!(prefix.ends_with('~'), "prefixes end with ~: {prefix}");
    let mut end = prefix[..prefix.len() - 1].to_string();
    end.push('\u{7f}');
    end
}

/// An in-memory world state: a sorted map, as LevelDB orders keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemState {
    pub map: BTreeMap<String, Vec<u8>>,
}

impl MemState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply a transaction's writes in order.
    pub fn apply(&mut self, writes: &[Write]) {
        for w in writes {
            match w {
                Write::Put { key, value } => {
                    self.map.insert(key.clone(), value.clone());
                }
                Write::Delete { key } => {
                    self.map.remove(key);
                }
            }
        }
    }
}

impl StateRead for MemState {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.map.get(key).cloned())
    }

    fn range(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        if start >= end {
            return Ok(Vec::new());
        }
        Ok(self
            .map
            .range::<str, _>((Bound::Included(start), Bound::Excluded(end)))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// A transaction in progress: reads go to the state, overlaid with this
/// transaction's own pending writes (so the contract logic can build on what it
/// has decided so far); writes are collected, last write per key wins, and
/// come out sorted by key, so every endorser produces identical write sets.
pub(crate) struct Tx<'a> {
    state: &'a dyn StateRead,
    pending: BTreeMap<String, Option<Vec<u8>>>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(state: &'a dyn StateRead) -> Self {
        Tx {
            state,
            pending: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.state.get(key),
        }
    }

    /// Range read merged with pending writes (pending puts added, deletes
    /// removed), in key order, at most `limit` entries.
    pub(crate) fn range(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        let base = self.state.range(start, end, limit)?;
        let mut merged: BTreeMap<String, Vec<u8>> = base.into_iter().collect();
        for (k, v) in self
            .pending
            .range::<str, _>((Bound::Included(start), Bound::Excluded(end)))
        {
            match v {
                Some(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                None => {
                    merged.remove(k);
                }
            }
        }
        Ok(merged.into_iter().take(limit).collect())
    }

    pub(crate) fn put(&mut self, key: String, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    pub(crate) fn delete(&mut self, key: String) {
        self.pending.insert(key, None);
    }

    pub(crate) fn into_writes(self) -> Vec<Write> {
        self.pending
            .into_iter()
            .map(|(key, v)| match v {
                Some(value) => Write::Put { key, value },
                None => Write::Delete { key },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_does_not_mix_longer_prefixes() {
        let mut s = MemState::new();
        for k in [
            "vote~ab~Org1",
            "vote~ab~Org2",
            "vote~abc~Org1",
            "vote~a~Org1",
        ] {
            s.map.insert(k.into(), b"x".to_vec());
        }
        let got = s.range("vote~ab~", &prefix_end("vote~ab~"), 100).unwrap();
        let keys: Vec<_> = got.into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["vote~ab~Org1", "vote~ab~Org2"]);
    }

    #[test]
    fn tx_reads_its_own_writes_and_sorts_them() {
        let mut s = MemState::new();
        s.map.insert("a~1".into(), b"old".to_vec());
        let mut tx = Tx::new(&s);
        tx.put("b~2".into(), b"new".to_vec());
        tx.put("a~1".into(), b"newer".to_vec());
        assert_eq!(tx.get("a~1").unwrap(), Some(b"newer".to_vec()));
        let r = tx.range("a~", "c", 10).unwrap();
        assert_eq!(r.len(), 2);
        let w = tx.into_writes();
        assert_eq!(w[0].key(), "a~1");
        assert_eq!(w[1].key(), "b~2");
    }
}

//! Ledger reads kept from one pass to the next, each under the channel
//! height it was read at, so that a pass re-reads only the channels that
//! moved.
//!
//! At ten organizations on a small machine, the peers' answers to the
//! agents' observations were a large share of the CPU: every agent read
//! every channel and every open proposal after every block, while most
//! blocks move one channel only.
//!
//! Key decision: an entry is used only while its channel's height is
//! unchanged, and never once it is [`MAX_AGE`] old. Everything kept here
//! (a channel's config, its committed definitions, this organization's
//! approvals, the OpsSC's records) changes only with a block on that
//! channel, with two exceptions that the age bound covers:
//! - a peer stores a block a moment before its state database applies it,
//!   so a read made just then may show the state before the block;
//! - the OpsSC's `get` says whether a proposal's deadline has passed at the
//!   time of the query.
//!
//! The daemon also clears the cache before a pass that its timer woke
//! (nothing moved that it heard of), so a periodic pass reads everything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a read is used while its channel does not move.
pub const MAX_AGE: Duration = Duration::from_secs(5);

/// Values of type `T`, each in a named slot with the key (a channel height,
/// and what else decides the read) it was read under.
pub struct Kept<K, T> {
    slots: Mutex<HashMap<String, (K, Instant, T)>>,
}

impl<K, T> Default for Kept<K, T> {
    fn default() -> Self {
        Kept {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: PartialEq, T: Clone> Kept<K, T> {
    /// The value in `slot` if it was read under `key` less than
    /// [`MAX_AGE`] ago.
    pub fn get(&self, slot: &str, key: &K) -> Option<T> {
        self.get_where(slot, |k, _| k == key)
    }

    /// The value in `slot` if it is less than [`MAX_AGE`] old and `usable`
    /// says so (for a part of a read that depends on less than its key).
    pub fn get_where(&self, slot: &str, usable: impl Fn(&K, &T) -> bool) -> Option<T> {
        let slots = self.slots.lock().expect("read cache lock");
        match slots.get(slot) {
            Some((k, at, value)) if at.elapsed() < MAX_AGE && usable(k, value) => {
                Some(value.clone())
            }
            _ => None,
        }
    }

    /// Keeps `value`, read under `key` just now (a read started before it;
    /// its age counts from when it was kept, which only makes it younger
    /// by the read's duration).
    pub fn keep(&self, slot: &str, key: K, value: T) {
        self.slots
            .lock()
            .expect("read cache lock")
            .insert(slot.to_string(), (key, Instant::now(), value));
    }

    pub fn clear(&self) {
        self.slots.lock().expect("read cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_used_only_under_the_key_it_was_read_at() {
        let kept: Kept<u64, &str> = Kept::default();
        assert_eq!(kept.get("ops", &7), None);
        kept.keep("ops", 7, "at seven");
        assert_eq!(kept.get("ops", &7), Some("at seven"));
        assert_eq!(kept.get("ops", &8), None, "the channel moved");
        assert_eq!(kept.get("trade", &7), None, "another slot");
        kept.keep("ops", 8, "at eight");
        assert_eq!(kept.get("ops", &7), None, "replaced");
        assert_eq!(
            kept.get_where("ops", |_, v| v.ends_with("eight")),
            Some("at eight")
        );
        assert_eq!(kept.get_where("ops", |_, v| v.ends_with("seven")), None);
        kept.clear();
        assert_eq!(kept.get("ops", &8), None);
    }

    #[test]
    fn an_old_value_is_not_used() {
        let kept: Kept<u64, u8> = Kept::default();
        kept.slots
            .lock()
            .unwrap()
            .insert("ops".into(), (3, Instant::now() - MAX_AGE, 1));
        assert_eq!(kept.get("ops", &3), None);
    }
}

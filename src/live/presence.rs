//! Who is online: counted per user (a user with three tabs is one entry),
//! with joins and leaves batched into few `presence_diff` broadcasts.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::views::Author;

/// A user who went offline.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Departed {
    pub id: i64,
    pub username: String,
}

/// What changed since the last broadcast.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceDiff {
    pub joined: Vec<Author>,
    pub left: Vec<Departed>,
    pub count: usize,
}

impl PresenceDiff {
    /// Splits into diffs of at most `size` changes each (joins first); a
    /// diff naming nobody (only the count changed) stays one event.
    pub fn into_chunks(self, size: usize) -> Vec<PresenceDiff> {
        let size = size.max(1);
        let count = self.count;
        let mut parts = Vec::new();
        let mut joined = self.joined.into_iter().peekable();
        let mut left = self.left.into_iter().peekable();
        while joined.peek().is_some() || left.peek().is_some() {
            let part_joined: Vec<Author> = joined.by_ref().take(size).collect();
            let room = size - part_joined.len();
            let part_left: Vec<Departed> = left.by_ref().take(room).collect();
            parts.push(PresenceDiff {
                joined: part_joined,
                left: part_left,
                count,
            });
        }
        if parts.is_empty() {
            parts.push(PresenceDiff {
                joined: Vec::new(),
                left: Vec::new(),
                count,
            });
        }
        parts
    }
}

/// The full list, as sent on connect and in `presence` acks.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub online: Vec<Author>,
    pub count: usize,
}

struct Entry {
    sockets: usize,
    author: Arc<Author>,
}

#[derive(Default)]
struct State {
    online: HashMap<i64, Entry>,
    /// Online users in display order (lower-cased name, id).
    by_name: BTreeSet<(String, i64)>,
    joined: HashMap<i64, Arc<Author>>,
    left: HashMap<i64, Departed>,
}

/// The presence table of this instance.
#[derive(Default)]
pub struct Presence {
    state: Mutex<State>,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new socket of the user; true when it is their first here
    /// (the caller then announces them, see [`Presence::announce_joined`]).
    pub fn connect(&self, author: Author) -> bool {
        let mut state = self.lock();
        let id = author.id;
        if let Some(entry) = state.online.get_mut(&id) {
            entry.sockets += 1;
            entry.author = Arc::new(author);
            return false;
        }
        let author = Arc::new(author);
        state.by_name.insert((author.username.to_lowercase(), id));
        state.online.insert(id, Entry { sockets: 1, author });
        true
    }

    /// Uncounts a socket; the user's name when it was their last one here
    /// (the caller then announces them, see [`Presence::announce_left`]).
    pub fn disconnect(&self, user_id: i64) -> Option<String> {
        let mut state = self.lock();
        let entry = state.online.get_mut(&user_id)?;
        entry.sockets -= 1;
        if entry.sockets > 0 {
            return None;
        }
        let entry = state.online.remove(&user_id)?;
        state
            .by_name
            .remove(&(entry.author.username.to_lowercase(), user_id));
        Some(entry.author.username.clone())
    }

    /// Queues "came online" for the next diff. Left and came back within
    /// one batch: nobody needs to hear of it.
    pub fn announce_joined(&self, author: Author) {
        let mut state = self.lock();
        if state.left.remove(&author.id).is_none() {
            state.joined.insert(author.id, Arc::new(author));
        }
    }

    /// Queues "went offline" for the next diff (or cancels a queued
    /// arrival of the same batch).
    pub fn announce_left(&self, departed: Departed) {
        let mut state = self.lock();
        if state.joined.remove(&departed.id).is_none() {
            state.left.insert(departed.id, departed);
        }
    }

    /// The author record of an online user (no database read per message).
    pub fn author(&self, user_id: i64) -> Option<Arc<Author>> {
        self.lock().online.get(&user_id).map(|e| e.author.clone())
    }

    /// Replaces the shown name/picture of an online user.
    pub fn update_author(&self, author: Author) {
        let mut state = self.lock();
        if let Some(entry) = state.online.get_mut(&author.id) {
            entry.author = Arc::new(author);
        }
    }

    /// Everyone online, sorted by name.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_limited(usize::MAX)
    }

    /// The first `limit` people online by name, and how many there are.
    pub fn snapshot_limited(&self, limit: usize) -> Snapshot {
        let state = self.lock();
        let online = state
            .by_name
            .iter()
            .take(limit)
            .filter_map(|(_, id)| state.online.get(id))
            .map(|e| (*e.author).clone())
            .collect();
        Snapshot {
            count: state.online.len(),
            online,
        }
    }

    /// Takes the pending changes, if any.
    pub fn take_diff(&self) -> Option<PresenceDiff> {
        let mut state = self.lock();
        if state.joined.is_empty() && state.left.is_empty() {
            return None;
        }
        let joined = state.joined.drain().map(|(_, a)| (*a).clone()).collect();
        let left = state.left.drain().map(|(_, d)| d).collect();
        Some(PresenceDiff {
            joined,
            left,
            count: state.online.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(id: i64) -> Author {
        Author {
            id,
            username: format!("user{id}"),
            avatar_url: String::new(),
        }
    }

    /// Local bookkeeping as `Live` does it without Redis.
    fn connect(p: &Presence, author: Author) -> bool {
        let first = p.connect(author.clone());
        if first {
            p.announce_joined(author);
        }
        first
    }

    fn disconnect(p: &Presence, id: i64) -> bool {
        match p.disconnect(id) {
            Some(username) => {
                p.announce_left(Departed { id, username });
                true
            }
            None => false,
        }
    }

    #[test]
    fn second_tab_is_not_news() {
        let p = Presence::default();
        assert!(connect(&p, author(1)));
        assert!(!connect(&p, author(1)));
        let diff = p.take_diff().unwrap();
        assert_eq!(diff.joined.len(), 1);
        assert_eq!(diff.count, 1);
        assert!(!disconnect(&p, 1));
        assert!(p.take_diff().is_none());
        assert!(disconnect(&p, 1));
        let diff = p.take_diff().unwrap();
        assert_eq!(
            diff.left,
            vec![Departed {
                id: 1,
                username: "user1".into()
            }]
        );
        assert_eq!(diff.count, 0);
    }

    #[test]
    fn big_diffs_are_split_into_small_events() {
        let diff = PresenceDiff {
            joined: (0..120).map(author).collect(),
            left: (200..230)
                .map(|id| Departed {
                    id,
                    username: format!("user{id}"),
                })
                .collect(),
            count: 120,
        };
        let parts = diff.into_chunks(50);
        assert_eq!(parts.len(), 3);
        assert!(parts
            .iter()
            .all(|p| p.joined.len() + p.left.len() <= 50 && p.count == 120));
        assert_eq!(parts.iter().map(|p| p.joined.len()).sum::<usize>(), 120);
        assert_eq!(parts.iter().map(|p| p.left.len()).sum::<usize>(), 30);
    }

    #[test]
    fn a_diff_naming_nobody_still_carries_the_count() {
        let diff = PresenceDiff {
            joined: Vec::new(),
            left: Vec::new(),
            count: 7,
        };
        let parts = diff.into_chunks(50);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].count, 7);
    }

    #[test]
    fn join_then_leave_in_one_batch_cancels_out() {
        let p = Presence::default();
        connect(&p, author(1));
        disconnect(&p, 1);
        assert!(p.take_diff().is_none());
        connect(&p, author(2));
        p.take_diff();
        disconnect(&p, 2);
        connect(&p, author(2));
        assert!(p.take_diff().is_none(), "a quick reconnect is no change");
        assert_eq!(p.snapshot().count, 1);
    }
}

//! The newest messages of each busy conversation, kept in memory so a
//! client resuming after a short drop (`history {after}`) or opening a
//! conversation (the newest page) is answered without the database: a
//! reconnect storm then costs no history queries.
//!
//! A conversation's ring holds every message shown in it (`in_room`) whose
//! id is above its `floor`, oldest first: the writer records each message
//! as it commits it, before broadcasting, in id order, so nothing above the
//! floor is ever missing. A page the ring cannot answer whole (older than
//! the floor, or more messages than it holds) is read from the database.
//!
//! It is never stale: any change to a stored message (edit, delete,
//! reaction, a reply changing a thread's summary) drops that conversation's
//! ring, and a change to how authors are shown (a new photo, a deleted
//! account) drops them all; the next message starts a ring again. With
//! several instances (Redis) another instance's writer and changes are not
//! seen here, so the rings stay off.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::db::messages::Page;
use crate::views::MessageView;

/// Messages kept per conversation (a catch-up after a few seconds' drop,
/// or the first page of 50, fits).
const RING_LEN: usize = 128;
/// Conversations kept; past it, the one written to longest ago is dropped.
const MAX_ROOMS: usize = 256;

struct Ring {
    /// Every in-room message with a larger id is in `views`.
    floor: i64,
    views: VecDeque<MessageView>,
}

impl Ring {
    fn newest_id(&self) -> i64 {
        self.views.back().map_or(self.floor, |v| v.id)
    }
}

/// The rings of this instance's conversations.
pub struct Recent {
    enabled: bool,
    rooms: Mutex<HashMap<String, Ring>>,
}

impl Recent {
    /// Rings kept (`enabled`) or never kept (several instances).
    pub fn new(enabled: bool) -> Recent {
        Recent {
            enabled,
            rooms: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ring>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a message just committed; messages arrive in id order.
    pub fn record(&self, view: &MessageView) {
        if !self.enabled || !view.in_room {
            return;
        }
        let mut rooms = self.lock();
        if !rooms.contains_key(&view.room) && rooms.len() >= MAX_ROOMS {
            let stalest = rooms
                .iter()
                .min_by_key(|(_, ring)| ring.newest_id())
                .map(|(room, _)| room.clone());
            if let Some(room) = stalest {
                rooms.remove(&room);
            }
        }
        let ring = rooms.entry(view.room.clone()).or_insert_with(|| Ring {
            // Every earlier message of this conversation was committed
            // before this one, so none lies between the floor and it.
            floor: view.id - 1,
            views: VecDeque::with_capacity(RING_LEN),
        });
        if view.id <= ring.newest_id() {
            // Out of order: never expected; start over rather than guess.
            rooms.remove(&view.room);
            return;
        }
        if ring.views.len() == RING_LEN {
            if let Some(oldest) = ring.views.pop_front() {
                ring.floor = oldest.id;
            }
        }
        let mut kept = view.clone();
        // Echoed to the sender only, never part of history.
        kept.client_id = None;
        ring.views.push_back(kept);
    }

    /// A message of `room` changed: its ring no longer holds the truth.
    pub fn changed(&self, room: &str) {
        if self.enabled {
            self.lock().remove(room);
        }
    }

    /// Forgets every ring: how authors are shown changed (photo, deleted
    /// account), or which conversation changed is unknown.
    pub fn forget_all(&self) {
        if self.enabled {
            self.lock().clear();
        }
    }

    /// The page of `room` as the database would give it, when the ring
    /// holds all of it: the oldest `limit` after `after`, or the newest
    /// `limit`. Pages before an id are left to the database.
    pub fn page(&self, room: &str, page: &Page) -> Option<Vec<MessageView>> {
        if !self.enabled || page.before.is_some() {
            return None;
        }
        let limit = usize::try_from(page.limit).ok()?;
        let rooms = self.lock();
        let ring = rooms.get(room)?;
        match page.after {
            Some(after) if after >= ring.floor => {
                let start = ring.views.partition_point(|v| v.id <= after);
                Some(ring.views.range(start..).take(limit).cloned().collect())
            }
            Some(_) => None,
            None if ring.views.len() >= limit => {
                let start = ring.views.len() - limit;
                Some(ring.views.range(start..).cloned().collect())
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, room: &str, in_room: bool) -> MessageView {
        MessageView {
            id,
            room: room.into(),
            author: None,
            text: format!("m{id}"),
            html: String::new(),
            created_at: String::new(),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply_to: None,
            in_room,
            thread: None,
            attachments: Vec::new(),
            client_id: Some("c".into()),
        }
    }

    fn page(after: Option<i64>, limit: i64) -> Page {
        Page {
            before: None,
            after,
            limit,
        }
    }

    fn ids(views: Option<Vec<MessageView>>) -> Option<Vec<i64>> {
        views.map(|v| v.into_iter().map(|m| m.id).collect())
    }

    #[test]
    fn answers_only_what_it_holds_whole() {
        let recent = Recent::new(true);
        for id in [10, 12, 13] {
            recent.record(&message(id, "global", true));
        }
        recent.record(&message(14, "global", false));
        recent.record(&message(15, "other", true));
        // Nothing is known below the first message recorded.
        assert_eq!(ids(recent.page("global", &page(Some(8), 50))), None);
        assert_eq!(
            ids(recent.page("global", &page(Some(9), 50))),
            Some(vec![10, 12, 13])
        );
        assert_eq!(
            ids(recent.page("global", &page(Some(10), 1))),
            Some(vec![12])
        );
        assert_eq!(
            ids(recent.page("global", &page(Some(13), 50))),
            Some(vec![])
        );
        // The newest page only when the ring holds that many.
        assert_eq!(
            ids(recent.page("global", &page(None, 2))),
            Some(vec![12, 13])
        );
        assert_eq!(ids(recent.page("global", &page(None, 50))), None);
        assert_eq!(ids(recent.page("nowhere", &page(Some(1), 50))), None);
        let kept = recent.page("global", &page(Some(9), 1)).unwrap();
        assert_eq!(kept[0].client_id, None);
    }

    #[test]
    fn eviction_raises_the_floor() {
        let recent = Recent::new(true);
        for id in 1..=(RING_LEN as i64 + 5) {
            recent.record(&message(id, "global", true));
        }
        assert_eq!(ids(recent.page("global", &page(Some(4), 1))), None);
        assert_eq!(ids(recent.page("global", &page(Some(5), 1))), Some(vec![6]));
    }

    #[test]
    fn changes_drop_rings_and_off_means_off() {
        let recent = Recent::new(true);
        recent.record(&message(1, "a", true));
        recent.record(&message(2, "b", true));
        recent.changed("a");
        assert!(recent.page("a", &page(Some(0), 5)).is_none());
        assert!(recent.page("b", &page(Some(1), 5)).is_some());
        recent.forget_all();
        assert!(recent.page("b", &page(Some(1), 5)).is_none());
        let off = Recent::new(false);
        off.record(&message(1, "a", true));
        assert!(off.page("a", &page(Some(0), 5)).is_none());
    }

    #[test]
    fn a_full_house_drops_the_stalest_room() {
        let recent = Recent::new(true);
        for n in 0..MAX_ROOMS as i64 {
            recent.record(&message(n + 1, &format!("r{n}"), true));
        }
        recent.record(&message(10_000, "new", true));
        assert!(recent.page("r0", &page(Some(0), 1)).is_none());
        assert!(recent.page("r1", &page(Some(1), 1)).is_some());
        assert!(recent.page("new", &page(Some(9_999), 1)).is_some());
    }
}

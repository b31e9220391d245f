//! The shadow report's in-memory records' strings (history/recent.rs):
//! each distinct group, member or text held once and named by a `u32`, so
//! that a week of a flapping group's records costs a few bytes each, not
//! five or six strings. Strings no record names any more are freed by
//! [`Names::sweep`].

use std::collections::HashMap;
use std::sync::Arc;

/// Where a name's shared copy comes from (the plan's group and connection
/// names): `None` when it has none, and the table holds a copy of its own.
pub type Shared<'a> = &'a dyn Fn(&str) -> Option<Arc<str>>;

/// No string.
pub const NONE: u32 = u32::MAX;

/// The strings, by id.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<Arc<str>, u32>,
    /// By id; `None`: free (its id is in `free`).
    names: Vec<Option<Arc<str>>>,
    free: Vec<u32>,
}

impl Names {
    /// The id of `s` (held from now on).
    pub fn id(&mut self, s: &str) -> u32 {
        self.id_shared(s, &|_| None)
    }

    /// The id of `s`, held as `shared`'s copy when it has one (a reference
    /// count, not an allocation).
    pub fn id_shared(&mut self, s: &str, shared: Shared<'_>) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let s: Arc<str> = shared(s).filter(|c| **c == *s).unwrap_or_else(|| Arc::from(s));
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = Some(s.clone());
                id
            }
            None => {
                self.names.push(Some(s.clone()));
                u32::try_from(self.names.len() - 1).unwrap_or(NONE)
            }
        };
        self.ids.insert(s, id);
        id
    }

    /// The id of `s`, [`NONE`] for none.
    pub fn opt(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NONE, |s| self.id(s))
    }

    /// [`Names::opt`], held as `shared`'s copy when it has one.
    pub fn opt_shared(&mut self, s: Option<&str>, shared: Shared<'_>) -> u32 {
        s.map_or(NONE, |s| self.id_shared(s, shared))
    }

    /// Every string held swapped for `shared`'s copy where it has one (the
    /// records read from the history file at start held their own).
    pub fn share(&mut self, shared: Shared<'_>) {
        for (id, slot) in self.names.iter_mut().enumerate() {
            let Some(c) = slot.as_ref().and_then(|s| shared(s).filter(|c| c == s)) else {
                continue;
            };
            // Removed first: an insert over an equal key keeps the old key.
            self.ids.remove(&*c);
            self.ids.insert(c.clone(), u32::try_from(id).unwrap_or(NONE));
            *slot = Some(c);
        }
    }

    /// The string of `id` (`None` for [`NONE`] or a freed id).
    pub fn get(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).and_then(Option::as_deref)
    }

    /// How many strings are held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Frees every string whose id `live` does not yield.
    pub fn sweep(&mut self, live: impl Iterator<Item = u32>) {
        let mut used = vec![false; self.names.len()];
        for id in live {
            if let Some(u) = used.get_mut(id as usize) {
                *u = true;
            }
        }
        for (id, u) in used.iter().enumerate() {
            if *u {
                continue;
            }
            if let Some(s) = self.names[id].take() {
                self.ids.remove(&s);
                self.free.push(u32::try_from(id).unwrap_or(NONE));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_is_held_once_and_freed_when_no_record_names_it() {
        let mut n = Names::default();
        let (a, b) = (n.id("a"), n.id("b"));
        assert_eq!(n.id("a"), a);
        assert_eq!((n.get(a), n.get(b), n.get(NONE)), (Some("a"), Some("b"), None));
        n.sweep([b].into_iter());
        assert_eq!((n.get(a), n.get(b), n.len()), (None, Some("b"), 1));
        // The freed id is used again.
        assert_eq!(n.id("c"), a);
        assert_eq!(n.get(a), Some("c"));
    }

    #[test]
    fn a_shared_copy_is_held_instead_of_a_new_one() {
        let plan: Arc<str> = Arc::from("G1");
        let shared = |s: &str| (s == "G1").then(|| plan.clone());
        let mut n = Names::default();
        let g = n.id_shared("G1", &shared);
        assert!(Arc::ptr_eq(n.names[g as usize].as_ref().unwrap(), &plan));
        assert_eq!(n.opt_shared(Some("M"), &shared), n.id("M"));
        // Read before the plan was known: its own copy, swapped by share.
        let mut seeded = Names::default();
        let id = seeded.id("G1");
        let own = seeded.names[id as usize].clone().unwrap();
        seeded.share(&shared);
        assert!(Arc::ptr_eq(seeded.names[id as usize].as_ref().unwrap(), &plan));
        assert!(Arc::ptr_eq(seeded.ids.get_key_value("G1").unwrap().0, &plan));
        assert_eq!(Arc::strong_count(&own), 1, "the table's own copy is dropped");
        assert_eq!(seeded.id("G1"), id);
    }
}

//! The shadow report's in-memory records' strings (history/recent.rs):
//! each distinct group, member or text held once and named by a `u32`, so
//! that a week of a flapping group's records costs a few bytes each, not
//! five or six strings. Strings no record names any more are freed by
//! [`Names::sweep`].

use std::collections::HashMap;
use std::sync::Arc;

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
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let s: Arc<str> = Arc::from(s);
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
}

//! `[connections.*]` as kept for the daemon's life: one boxed slice sorted
//! by name, looked up by binary search.
//!
//! A `BTreeMap<String, Connection>` held each name twice (the key and the
//! connection's own `name`) and its nodes were a third empty on average:
//! at 5,000 connections the map took 1.28 MB in 666 node allocations, the
//! slice takes one allocation of exactly 5,000 connections (BENCHMARKS.md,
//! "Settings (conf31)"). The methods are the map's that readers use, with
//! the same order (names as bytes), so readers did not change. Generic
//! over [`Named`] so that this module needs nothing of `settings`.

use std::ops::Index;

/// What [`ByName`] sorts and finds by.
pub trait Named {
    fn name(&self) -> &str;
}

/// Items sorted by name, names unique: `Connections` is
/// `ByName<Connection>` (config::settings).
#[derive(Clone, Debug, PartialEq)]
pub struct ByName<T>(Box<[T]>);

impl<T> Default for ByName<T> {
    fn default() -> Self {
        ByName(Box::default())
    }
}

impl<T: Named> ByName<T> {
    /// Sorts `list` by name. Names must be unique (a TOML table has each
    /// key once); of duplicates, lookups find one.
    pub fn new(mut list: Vec<T>) -> Self {
        list.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        ByName(list.into_boxed_slice())
    }

    pub fn get(&self, name: &str) -> Option<&T> {
        self.position(name).ok().map(|i| &self.0[i])
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|c| c.name().cmp(name))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Names in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|c| c.name())
    }

    /// Items in name order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }

    /// (name, item) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|c| (c.name(), c))
    }

    /// Adds `c`, or replaces the item of its name (returned). Linear: for
    /// tests and tools, not for building a large table.
    pub fn insert(&mut self, c: T) -> Option<T> {
        let mut list = std::mem::take(&mut self.0).into_vec();
        let old = match list.binary_search_by(|x| x.name().cmp(c.name())) {
            Ok(i) => Some(std::mem::replace(&mut list[i], c)),
            Err(i) => {
                list.insert(i, c);
                None
            }
        };
        self.0 = list.into_boxed_slice();
        old
    }
}

impl<T: Named> Index<&str> for ByName<T> {
    type Output = T;

    /// Panics when there is no item `name`, like the map did.
    fn index(&self, name: &str) -> &T {
        self.get(name).unwrap_or_else(|| panic!("no {name}"))
    }
}

impl<'a, T: Named> IntoIterator for &'a ByName<T> {
    type Item = (&'a str, &'a T);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, T>, fn(&'a T) -> (&'a str, &'a T)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|c| (c.name(), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct C(&'static str, u8);

    impl Named for C {
        fn name(&self) -> &str {
            self.0
        }
    }

    #[test]
    fn looks_up_by_name_and_iterates_in_the_maps_byte_order() {
        let mut c = ByName::new(["b", "C10", "a", "C2", "C1"].map(|n| C(n, 0)).into());
        assert_eq!(c.keys().collect::<Vec<_>>(), ["C1", "C10", "C2", "a", "b"]);
        assert!(c.contains_key("C10") && !c.contains_key("c10") && !c.contains_key("C3"));
        assert_eq!(c["a"], C("a", 0));
        assert!(c.get("zz").is_none());
        assert!(c.insert(C("C3", 0)).is_none());
        assert_eq!(c.insert(C("a", 1)), Some(C("a", 0)), "replaces");
        assert_eq!(c["a"].1, 1);
        let order: Vec<&str> = c.iter().map(|(n, _)| n).collect();
        assert_eq!(order, ["C1", "C10", "C2", "C3", "a", "b"]);
        assert_eq!((c.len(), c.values().count(), (&c).into_iter().count()), (6, 6, 6));
    }
}

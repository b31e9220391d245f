//! A list that is almost always one item long, kept without an allocation
//! for that one (issue #30: thousands of connections with one target,
//! groups with one failover condition). More are held in one allocation of
//! exactly their number. Reads as a slice.

/// One item inline, or more boxed.
#[derive(Clone, Debug, PartialEq)]
pub enum OneOrMany<T> {
    One(T),
    Many(Box<[T]>),
}

impl<T> std::ops::Deref for OneOrMany<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(all) => all,
        }
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(mut all: Vec<T>) -> OneOrMany<T> {
        if all.len() == 1
            && let Some(one) = all.pop()
        {
            return OneOrMany::One(one);
        }
        OneOrMany::Many(all.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::settings::{Target, Targets};

    fn ip(s: &str) -> Target {
        Target::Ip(s.parse().unwrap())
    }

    /// One target is held inline, more keep their order, none is empty.
    #[test]
    fn targets_read_as_written() {
        let one = Targets::from(vec![ip("192.0.2.1")]);
        assert!(matches!(one, Targets::One(_)));
        assert_eq!(&*one, &[ip("192.0.2.1")]);
        let names = vec![ip("192.0.2.1"), Target::Name("b.example".into()), ip("2001:db8::1")];
        let many = Targets::from(names.clone());
        assert!(matches!(&many, Targets::Many(all) if all.len() == 3));
        assert_eq!(&*many, names.as_slice());
        assert_eq!((&many).into_iter().count(), 3);
        assert!(Targets::from(Vec::new()).is_empty());
    }
}

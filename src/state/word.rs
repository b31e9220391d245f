//! A health word of the state file ("up", "down"; unknown is absent), held
//! without an allocation of its own: at thousands of groups every group's
//! and member's word as a `String` was three small allocations a group.
//! Any other text read back is kept as written, so a file round-trips.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A word as saved: `"up"`, `"down"`, or something else read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    Up,
    Down,
    Other(Box<str>),
}

impl Word {
    pub fn as_str(&self) -> &str {
        match self {
            Word::Up => "up",
            Word::Down => "down",
            Word::Other(s) => s,
        }
    }
}

impl From<&str> for Word {
    fn from(s: &str) -> Word {
        match s {
            "up" => Word::Up,
            "down" => Word::Down,
            other => Word::Other(other.into()),
        }
    }
}

impl Serialize for Word {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

struct WordVisitor;

impl Visitor<'_> for WordVisitor {
    type Value = Word;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a health word")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Word, E> {
        Ok(Word::from(v))
    }
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Word, D::Error> {
        d.deserialize_str(WordVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_back_as_written() {
        let text = r#"["up","down","sideways",null]"#;
        let words: Vec<Option<Word>> = serde_json::from_str(text).unwrap();
        assert_eq!(
            words,
            [Some(Word::Up), Some(Word::Down), Some(Word::from("sideways")), None]
        );
        assert_eq!(serde_json::to_string(&words).unwrap(), text);
        assert!(serde_json::from_str::<Word>("3").is_err(), "a word is a string");
    }
}

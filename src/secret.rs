//! Secrets in the configuration: never printed, compared in constant time.

use std::fmt;

use serde::Deserialize;
use subtle::ConstantTimeEq;

/// A configured secret: never printed by `Debug`, compared in constant time.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Constant-time equality with a presented value.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// One secret or several (rotation: any of them is accepted). Read from a string or a list;
/// empty entries (an unset environment variable, a trailing comma) are dropped.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Secrets(Vec<Secret>);

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(
            values
                .into_iter()
                .map(|v| Secret::new(v.into().trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// The secrets as bytes, for HMAC keys.
    pub fn keys(&self) -> Vec<&[u8]> {
        self.0.iter().map(|s| s.expose().as_bytes()).collect()
    }
}

/// A list of secrets as written, empty entries kept (they are named by position); one value
/// alone is a list of one, and an all-digit one (the environment parses it as a number) is
/// text like any other.
pub fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    struct List;
    impl<'de> serde::de::Visitor<'de> for List {
        type Value = Vec<Secret>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<Secret>, E> {
            Ok(vec![Secret::new(v)])
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Vec<Secret>, E> {
            Ok(vec![Secret::new(v.to_string())])
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Vec<Secret>, E> {
            Ok(vec![Secret::new(v.to_string())])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Secret>, A::Error> {
            let mut all = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                all.push(Secret::new(s));
            }
            Ok(all)
        }
    }
    d.deserialize_any(List)
}

impl<'de> Deserialize<'de> for Secrets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> serde::de::Visitor<'de> for OneOrMany {
            type Value = Secrets;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secrets, E> {
                Ok(Secrets::new([v]))
            }
            // An all-digit secret from the environment arrives parsed as a number.
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secrets, E> {
                Ok(Secrets::new([v.to_string()]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secrets, E> {
                Ok(Secrets::new([v.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Secrets, A::Error> {
                let mut all = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    all.push(s);
                }
                Ok(Secrets::new(all))
            }
        }
        d.deserialize_any(OneOrMany)
    }
}

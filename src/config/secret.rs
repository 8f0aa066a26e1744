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

/// A URL as it may be shown: its password and its query (a Slack- or Zapier-style hook's
/// token lives there) are `***`. Works on text that does not parse as a URL too, since a
/// wrong value is shown in its problem.
pub fn shown_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let mut out = match rest.split_once('?') {
        Some((before, _)) => format!("{before}?***"),
        None => rest.to_string(),
    };
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_shown_url_hides_its_password_and_query() {
        for (url, shown) in [
            (
                "http://user:PASS@host/hook?token=TOKEN",
                "http://user:***@host/hook?***",
            ),
            (
                "https://hooks.example/T0/B0?x=1#top",
                "https://hooks.example/T0/B0?***#top",
            ),
            ("https://user@host/p", "https://user@host/p"),
            ("https://a:b@c@host:8080", "https://a:***@host:8080"),
            ("https://api.hrflow.ai/v1", "https://api.hrflow.ai/v1"),
            ("mailto:x@y.z?subject=s", "mailto:x@y.z?***"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}

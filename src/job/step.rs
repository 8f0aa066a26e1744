//! How far a job got: the checkpoints a retry resumes from.

/// Checkpoints of a job; a retry resumes from the last one reached. After the fetch, the
/// destination names its own (`Kind::STEPS`: Flatchr's `pushed`, `enriched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    New,
    Fetched,
    Reached(Label),
}

/// A destination's checkpoint name, kept inline so that a step stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// How many of `bytes` the name takes.
    len: u8,
    /// The name's UTF-8, zeros after it.
    bytes: [u8; Label::MAX],
}

impl Label {
    /// The longest checkpoint name, in bytes: room for any destination's, and small to copy.
    const MAX: usize = 22;
    /// `None` for a name too long to be a checkpoint.
    pub const fn new(name: &str) -> Option<Self> {
        let from = name.as_bytes();
        if from.len() > Self::MAX {
            return None;
        }
        let mut bytes = [0; Self::MAX];
        let mut i = 0;
        while i < from.len() {
            bytes[i] = from[i];
            i += 1;
        }
        Some(Self {
            len: from.len() as u8,
            bytes,
        })
    }
    pub fn as_str(&self) -> &str {
        // Built from a `&str`, cut at its own length: always UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Step {
    /// A destination's checkpoint (`Step::reached("pushed")`).
    pub fn reached(name: &str) -> Self {
        Label::new(name).map_or(Self::New, Self::Reached)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "new",
            Self::Fetched => "fetched",
            Self::Reached(label) => label.as_str(),
        }
    }

    /// As the store writes it; an unreadable one starts over.
    pub fn from_db(value: &str) -> Self {
        match value {
            "new" | "" => Self::New,
            "fetched" => Self::Fetched,
            other => Self::reached(other),
        }
    }
}

impl serde::Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Pages and the CLI print a step as the store writes it.
impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

//! A reading problem in words: what `config` said, without a value that could be a secret in
//! the wrong place, and the known key nearest to a misspelt one.

use config::Value;

/// The error's key (where `config` knows it) and what is wrong, in words.
pub(super) fn describe(e: &config::ConfigError) -> (Option<String>, String) {
    match e {
        config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => (
            key.clone(),
            format!("must be {expected} (found {})", kind(unexpected)),
        ),
        config::ConfigError::At { error, key, .. } => (key.clone(), describe(error).1),
        other => (None, without_values(&other.to_string())),
    }
}

/// `= "value" what is wrong`, for the values that are never secrets and mean nothing unshown:
/// a duration that is not one, a word that is not one of a setting's choices.
pub(super) fn shown(value: &Value, e: &config::ConfigError) -> Option<String> {
    let config::ConfigError::At { error, .. } = e else {
        return None;
    };
    let config::ConfigError::Message(message) = error.as_ref() else {
        return None;
    };
    let text = value.clone().into_string().ok()?;
    let said = [super::duration::NOT_A_DURATION, "must be one of "]
        .iter()
        .any(|start| message.starts_with(start));
    said.then(|| format!("= {text:?} {message}"))
}

/// A message with every quoted value (`like this` or "like this") taken out: the value may be
/// a secret in the wrong place.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote = None;
    for c in message.chars() {
        match (quote, c) {
            (None, '`' | '"') => {
                quote = Some(c);
                out.push_str("(a value)");
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    out
}

/// What kind of value was found, never the value: it may be a secret in the wrong place.
/// (`config` writes `string "x"`, `integer `5``, `sequence`...: the words before the value.)
fn kind(found: &impl std::fmt::Display) -> String {
    let text = found.to_string();
    let words = text.split([' ']).take_while(|w| !w.starts_with(['"', '`']));
    format!("a {}", words.collect::<Vec<_>>().join(" "))
}

/// The known key closest to a misspelt one, if any is close enough to be what was meant.
pub(super) fn nearest<'k>(name: &str, known: &'k [String]) -> Option<&'k str> {
    let name = name.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&name, k), k))
        .filter(|(d, k)| {
            *d <= (k.len() / 3).max(1) || k.starts_with(&name) || name.starts_with(k.as_str())
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

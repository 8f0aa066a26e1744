//! Reading the merged layers into `Settings` without stopping at the first mistake: every key
//! serde ignores is an unknown key (named with the nearest known one), and every value of the
//! wrong type is listed, each put back to its default so the next one can be found too.

use std::collections::HashMap;

use config::{Source, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::route::{Common, Route};
use super::{ConfigError, Settings};
use crate::destination::{Destination, Reader, Sections};

/// More wrong values than this in one file is not a file worth reading on.
const MAX_TYPE_ERRORS: usize = 64;

/// The settings the layers make, with every problem found reading them (unknown keys, values
/// of the wrong type); `Err` only when the layers themselves cannot be read.
pub(super) fn read(
    layers: config::Config,
    defaults: &config::Config,
    file: Option<&std::path::Path>,
    env: &HashMap<String, String>,
) -> Result<(Settings, Vec<String>), ConfigError> {
    let mut reading = Reading {
        tree: Value::new(None, ValueKind::Table(layers.collect()?)),
        defaults: Value::new(None, ValueKind::Table(defaults.collect()?)),
        removed: Vec::new(),
        wrong: Vec::new(),
        known: HashMap::new(),
        file,
        env,
    };
    let mut unknown = Vec::new();
    let sections: Vec<&str> = Sections::defaults().iter().map(|(n, _)| *n).collect();
    let (mut settings, ignored): (Settings, _) = reading.part(&[])?;
    // The routes and the destinations' sections are read below, by their own types.
    unknown.extend(ignored.into_iter().filter(|path| match path.as_slice() {
        [Segment::Key(k)] => k != "routes" && !sections.contains(&k.as_str()),
        _ => true,
    }));
    let mut at = At::new(&mut reading, Vec::new());
    settings.destinations = Sections::read(&mut at)?;
    unknown.append(&mut at.ignored);
    settings.routes = reading.routes(&mut unknown)?;
    let mut unknown: Vec<String> = unknown.iter().map(|p| reading.unknown_key(p)).collect();
    unknown.sort();
    reading.wrong.extend(unknown);
    Ok((settings, reading.wrong))
}

/// The merged layers being read, part by part, with what was found wrong so far.
struct Reading<'a> {
    /// The merged layers; a wrong value is put back to its default (or taken out) here.
    tree: Value,
    /// The built-in values, for putting a wrong one back and naming the keys of a section.
    defaults: Value,
    /// List elements taken out so far: later paths are named as the file wrote them.
    removed: Vec<Vec<Segment>>,
    /// Values of the wrong type, in words.
    wrong: Vec<String>,
    /// The keys each table read names (its type's fields), for the nearest to a misspelt one.
    known: HashMap<Vec<Segment>, Vec<&'static str>>,
    file: Option<&'a std::path::Path>,
    env: &'a HashMap<String, String>,
}

impl Reading<'_> {
    /// `T` from the table at `at`, with the paths of the keys it ignored. A value of the wrong
    /// type is listed, put back to its default (or taken out) and the table read again, so
    /// that the next mistake shows too.
    fn part<T: DeserializeOwned>(
        &mut self,
        at: &[Segment],
    ) -> Result<(T, Vec<Vec<Segment>>), ConfigError> {
        let fields = crate::fields::of::<T>();
        self.known.entry(at.to_vec()).or_default().extend(fields);
        loop {
            let value = lookup(&self.tree, at)
                .cloned()
                .unwrap_or_else(|| Value::new(None, ValueKind::Table(Default::default())));
            let mut ignored = Vec::new();
            let result: Result<T, _> =
                serde_ignored::deserialize(value, |path| ignored.push(segments(&path)));
            let e = match result {
                Ok(t) => {
                    let ignored = ignored.into_iter().map(|p| [at, &p].concat()).collect();
                    return Ok((t, ignored));
                }
                Err(e) => e,
            };
            let (key, message) = describe(&e);
            let path = [at, &key.as_deref().map(parse_key).unwrap_or_default()].concat();
            let shown_key = key.map(|_| key_text(&as_written(&path, &self.removed)));
            let value = lookup(&self.tree, &path);
            let origin = value.and_then(|v| where_from(v, &path, self.file, self.env));
            self.wrong.push(
                match (&shown_key, origin, value.and_then(|v| shown(v, &e))) {
                    (Some(k), Some(o), Some(said)) => format!("{k} {said} ({o})"),
                    (Some(k), None, Some(said)) => format!("{k} {said}"),
                    (Some(k), Some(o), None) => format!("{k} ({o}): {message}"),
                    (Some(k), None, None) => format!("{k}: {message}"),
                    (None, _, _) => message,
                },
            );
            let repaired = match path.is_empty() || self.wrong.len() >= MAX_TYPE_ERRORS {
                true => Repair::Nothing,
                false => repair(&mut self.tree, &self.defaults, &path),
            };
            match repaired {
                Repair::Nothing => {
                    return Err(ConfigError::Invalid(std::mem::take(&mut self.wrong)));
                }
                Repair::TookElement => self.removed.push(path),
                Repair::Done => {}
            }
        }
    }

    /// `[[routes]]`: the keys every route has, then its destination's own. A key is unknown
    /// when no destination reads it.
    fn routes(&mut self, unknown: &mut Vec<Vec<Segment>>) -> Result<Vec<Route>, ConfigError> {
        let list = vec![Segment::Key("routes".into())];
        if lookup(&self.tree, &list).is_none() {
            return Ok(Vec::new());
        }
        let (commons, ignored): (Vec<Common>, _) = self.part(&list)?;
        let others = crate::destination::route_keys();
        unknown.extend(ignored.into_iter().filter(|path| match path.get(2) {
            Some(Segment::Key(k)) => !others.contains(&k.as_str()),
            _ => true,
        }));
        let mut routes = Vec::with_capacity(commons.len());
        for (i, common) in commons.into_iter().enumerate() {
            let at = [list.as_slice(), &[Segment::Index(i)]].concat();
            let known = crate::fields::of::<Common>().iter().chain(&others);
            self.known.entry(at.clone()).or_default().extend(known);
            let mut problems = Vec::new();
            let mut reader = At::new(self, at);
            let destination = Destination::read(&common.destination, &mut reader, &mut problems)?;
            routes.push(Route::new(common, destination, problems));
        }
        Ok(routes)
    }
}

/// A destination's reader of its own keys: its section under the root, or a route's table.
struct At<'r, 'a> {
    reading: &'r mut Reading<'a>,
    /// Where the reading stands: the root, or `routes[i]`.
    base: Vec<Segment>,
    /// The keys the destination's types did not read, as paths from the root.
    ignored: Vec<Vec<Segment>>,
}

impl<'r, 'a> At<'r, 'a> {
    fn new(reading: &'r mut Reading<'a>, base: Vec<Segment>) -> Self {
        Self {
            reading,
            base,
            ignored: Vec::new(),
        }
    }
}

impl Reader for At<'_, '_> {
    type Error = ConfigError;
    fn read<T: DeserializeOwned>(&mut self, name: Option<&str>) -> Result<T, ConfigError> {
        let mut at = self.base.clone();
        at.extend(name.map(|n| Segment::Key(n.into())));
        let (t, ignored) = self.reading.part(&at)?;
        self.ignored.extend(ignored);
        Ok(t)
    }
}

/// One step of a key's path: a table's key or an array's index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `server.port`, `routes[0].logics`, as the errors of `config` and these messages write them.
fn key_text(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The reverse of `key_text`, also reading `config`'s own `routes[0]enrich` (no dot after an
/// index).
fn parse_key(key: &str) -> Vec<Segment> {
    let mut path = Vec::new();
    let mut name = String::new();
    let mut chars = key.chars();
    let flush = |name: &mut String, path: &mut Vec<Segment>| {
        if !name.is_empty() {
            path.push(Segment::Key(std::mem::take(name)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut name, &mut path),
            '[' => {
                flush(&mut name, &mut path);
                let index: String = chars.by_ref().take_while(|c| *c != ']').collect();
                if let Ok(i) = index.parse() {
                    path.push(Segment::Index(i));
                }
            }
            c => name.push(c),
        }
    }
    flush(&mut name, &mut path);
    path
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut p = segments(parent);
            p.push(Segment::Index(*index));
            p
        }
        Path::Map { parent, key } => {
            let mut p = segments(parent);
            p.push(Segment::Key(key.clone()));
            p
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent),
    }
}

/// The error's key (where `config` knows it) and what is wrong, in words.
fn describe(e: &config::ConfigError) -> (Option<String>, String) {
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
fn shown(value: &Value, e: &config::ConfigError) -> Option<String> {
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

fn lookup<'v>(tree: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    path.iter().try_fold(tree, |v, s| match (&v.kind, s) {
        (ValueKind::Table(t), Segment::Key(k)) => t.get(k),
        (ValueKind::Array(a), Segment::Index(i)) => a.get(*i),
        _ => None,
    })
}

fn lookup_mut<'v>(tree: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    path.iter().try_fold(tree, |v, s| match (&mut v.kind, s) {
        (ValueKind::Table(t), Segment::Key(k)) => t.get_mut(k),
        (ValueKind::Array(a), Segment::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// What `repair` did.
enum Repair {
    /// Put the default back, or took a table's key out.
    Done,
    /// Took a list's element out: the later ones moved down by one.
    TookElement,
    /// `path` names nothing.
    Nothing,
}

/// Puts the default back at `path`, or takes the value out where there is none (a route's
/// key, a list's element).
fn repair(tree: &mut Value, defaults: &Value, path: &[Segment]) -> Repair {
    if let Some(default) = lookup(defaults, path).cloned()
        && let Some(slot) = lookup_mut(tree, path)
    {
        *slot = default;
        return Repair::Done;
    }
    let Some((last, parent)) = path.split_last() else {
        return Repair::Nothing;
    };
    match (lookup_mut(tree, parent).map(|v| &mut v.kind), last) {
        (Some(ValueKind::Table(t)), Segment::Key(k)) => match t.remove(k) {
            Some(_) => Repair::Done,
            None => Repair::Nothing,
        },
        (Some(ValueKind::Array(a)), Segment::Index(i)) if *i < a.len() => {
            a.remove(*i);
            Repair::TookElement
        }
        _ => Repair::Nothing,
    }
}

/// `path` in the tree as it is now, named as the file wrote it: each element taken out of a
/// list moved the later ones down.
fn as_written(path: &[Segment], removed: &[Vec<Segment>]) -> Vec<Segment> {
    let mut p = path.to_vec();
    for r in removed.iter().rev() {
        let Some((Segment::Index(gone), list)) = r.split_last() else {
            continue;
        };
        if p.len() > list.len()
            && p[..list.len()] == *list
            && let Segment::Index(j) = &mut p[list.len()]
            && *j >= *gone
        {
            *j += 1;
        }
    }
    p
}

/// Where a value was written: the file (as the command line named it), or the environment
/// variable that set it; a table is where its first value was written.
fn where_from(
    value: &Value,
    path: &[Segment],
    file: Option<&std::path::Path>,
    env: &HashMap<String, String>,
) -> Option<String> {
    let origin = match (&value.kind, value.origin()) {
        (_, Some(origin)) => origin,
        (ValueKind::Table(t), None) => {
            let (key, first) = t.iter().min_by(|a, b| a.0.cmp(b.0))?;
            let mut inner = path.to_vec();
            inner.push(Segment::Key(key.clone()));
            return where_from(first, &inner, file, env).map(|o| match o.strip_prefix("from ") {
                // The table came from the environment: name the variable, not the table.
                Some(var) => format!("from {var}"),
                None => o,
            });
        }
        _ => return None,
    };
    if origin != "the environment" {
        return Some(match file {
            Some(f) => format!("in {}", f.display()),
            None => format!("in {origin}"),
        });
    }
    // The variable's name: `RELAY__A__B` for a.b, any case; a table's is the first under it.
    let wanted = format!(
        "relay__{}",
        path.iter()
            .filter_map(|s| match s {
                Segment::Key(k) => Some(k.to_lowercase()),
                Segment::Index(_) => None,
            })
            .collect::<Vec<_>>()
            .join("__")
    );
    let mut names: Vec<&String> = env
        .keys()
        .filter(|k| {
            let k = k.to_lowercase();
            k == wanted || k.starts_with(&format!("{wanted}__"))
        })
        .collect();
    names.sort();
    names
        .first()
        .map(|n| format!("from {n}"))
        .or_else(|| Some("from the environment".into()))
}

impl Reading<'_> {
    /// `server.prot (in relay.toml): unknown key (did you mean port?)`.
    fn unknown_key(&self, path: &[Segment]) -> String {
        let written = key_text(&as_written(path, &self.removed));
        let Some((Segment::Key(name), parent)) = path.split_last() else {
            return format!("{written}: unknown key");
        };
        let known = self.known_keys(parent);
        let hint = match nearest(name, &known) {
            Some(near) => format!("did you mean {near}?"),
            None if known.is_empty() => "nothing is read here".to_string(),
            None => format!("expected one of {}", known.join(", ")),
        };
        let origin = lookup(&self.tree, path)
            .and_then(|v| where_from(v, path, self.file, self.env))
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        format!("{written}{origin}: unknown key ({hint})")
    }

    /// The keys the relay reads under `parent`: those its types read there, and those the
    /// built-in values name. A section's `accounts.NAME` repeats the section's own keys.
    fn known_keys(&self, parent: &[Segment]) -> Vec<String> {
        let read = match parent {
            [section @ .., Segment::Key(a), Segment::Key(_)] if a == "accounts" => self
                .known
                .get(section)
                .map(|k| k.iter().filter(|k| **k != "accounts").collect::<Vec<_>>()),
            _ => self.known.get(parent).map(|k| k.iter().collect()),
        };
        let mut keys: Vec<String> = read
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.to_string())
            .collect();
        if let Some(ValueKind::Table(t)) = lookup(&self.defaults, parent).map(|v| &v.kind) {
            keys.extend(t.keys().cloned());
        }
        if parent.is_empty() {
            keys.push("routes".into());
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The known key closest to a misspelt one, if any is close enough to be what was meant.
fn nearest<'k>(name: &str, known: &'k [String]) -> Option<&'k str> {
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

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;

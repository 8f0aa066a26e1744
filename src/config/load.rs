//! Reading the merged layers into `Settings` without stopping at the first mistake: every key
//! serde ignores is an unknown key (named with the nearest known one), and every value of the
//! wrong type is listed, each put back to its default so the next one can be found too.

use std::collections::HashMap;

use config::{Source, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::route::{Common, Route};
use super::said::{describe, nearest, shown};
use super::tree::{
    Repair, Segment, as_written, key_text, lookup, parse_key, repair, segments, where_from,
};
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
    /// The file as the command line named it, for saying where a value was written.
    file: Option<&'a std::path::Path>,
    /// The environment the layers read, for naming the variable that set a value.
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
    /// The reading the destination's keys join (their problems, their known keys).
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

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;

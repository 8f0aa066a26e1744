//! The merged layers as a tree of `config` values: paths into it (as the messages write them),
//! putting a wrong value back to its default, and where a value was written.

use std::collections::HashMap;

use config::{Value, ValueKind};

/// One step of a key's path: a table's key or an array's index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// `server.port`, `routes[0].logics`, as the errors of `config` and these messages write them.
pub(super) fn key_text(path: &[Segment]) -> String {
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
pub(super) fn parse_key(key: &str) -> Vec<Segment> {
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

pub(super) fn segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
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

pub(super) fn lookup<'v>(tree: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    path.iter().try_fold(tree, |v, s| match (&v.kind, s) {
        (ValueKind::Table(t), Segment::Key(k)) => t.get(k),
        (ValueKind::Array(a), Segment::Index(i)) => a.get(*i),
        _ => None,
    })
}

pub(super) fn lookup_mut<'v>(tree: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    path.iter().try_fold(tree, |v, s| match (&mut v.kind, s) {
        (ValueKind::Table(t), Segment::Key(k)) => t.get_mut(k),
        (ValueKind::Array(a), Segment::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// What `repair` did.
pub(super) enum Repair {
    /// Put the default back, or took a table's key out.
    Done,
    /// Took a list's element out: the later ones moved down by one.
    TookElement,
    /// `path` names nothing.
    Nothing,
}

/// Puts the default back at `path`, or takes the value out where there is none (a route's
/// key, a list's element).
pub(super) fn repair(tree: &mut Value, defaults: &Value, path: &[Segment]) -> Repair {
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
pub(super) fn as_written(path: &[Segment], removed: &[Vec<Segment>]) -> Vec<Segment> {
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
pub(super) fn where_from(
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

//! Where a candidate goes. A destination is one module implementing [`Kind`]: its section of the
//! configuration and its keys on a route (typed, read by the configuration where they stand),
//! what `check-config` says of them, how the page names it, `prepare` (pure: the route's
//! logics and format, then its own mapping; what `preview` prints) and `deliver` (effects, with
//! the checkpoints it names). The worker, the store, the pages, the commands and the
//! configuration go through [`Destination`], [`Sections`] and [`Senders`] and name no
//! destination; no destination reads the configuration beyond its own keys and [`Common`].
//!
//! A new destination is one new module and one line in the `destinations!` list below.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::job::{Failure, Step};
use crate::logic::{Scripts, Transform};
use crate::online::check::Check;
use crate::store::{ClaimedJob, Store};

#[macro_use]
mod list;

destinations! {
    flatchr => Flatchr,
    careers => Careers,
    webhook => Webhook,
    huntflow => Huntflow,
}

/// What `prepare` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<P = Prepared> {
    /// The logic named dropped the profile.
    Dropped(String),
    Send(P),
}

/// What destinations take of the settings beyond their own keys.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// Each upstream request's limit (`worker.request_timeout`).
    pub request_timeout: Duration,
    /// The largest resume downloaded (`worker.max_resume_bytes`).
    pub max_resume_bytes: u64,
    /// How people reach this service (`server.public_url`), for a `User-Agent`; may be empty.
    pub public_url: String,
}

/// What a destination builds its client from.
pub struct Build<'a, S> {
    /// Its own section.
    pub section: &'a S,
    /// What destinations take of the rest of the settings.
    pub common: &'a Common,
    /// For what a destination keeps in the database (tokens, responses).
    pub store: &'a Store,
    /// The shared client (one connection pool).
    pub http: &'a reqwest::Client,
}

/// One delivery: the job, the store, and the furthest checkpoint reached (for the attempt
/// record, and for the next attempt to resume from).
pub struct Delivery<'a> {
    /// For the created-once record and what the destination keeps.
    pub store: &'a Store,
    /// The job delivered (route, profile, event).
    pub job: &'a ClaimedJob,
    /// The furthest checkpoint reached: recorded, and resumed from.
    pub step: &'a mut Step,
    /// What the attempt record shows beyond the outcome (Huntflow's possible duplicates).
    pub note: &'a mut Option<String>,
}

/// How the configuration hands a destination its own keys, read where they stand (with every
/// unknown key and wrong value named there): its section (`[flatchr]`) or a route's table.
pub trait Reader {
    type Error;
    /// Reads `T` from the section `name`, or from the route's table when `name` is `None`.
    fn read<T: DeserializeOwned>(&mut self, name: Option<&str>) -> Result<T, Self::Error>;
}

/// A destination: its route keys (`Self`), its section, what it prepares, and its client.
pub trait Kind: Sized + Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// Its `destination = "..."`, and its section's name.
    const NAME: &'static str;
    /// How people name where it delivers (`Flatchr`), in alerts.
    const TITLE: &'static str;
    /// Its section's built-in values, as `key = value` lines of TOML; empty: it has no
    /// section. A section's `accounts.NAME` tables repeat its keys (each falling back to it).
    const DEFAULTS: &'static str = "";
    /// The checkpoints a delivery records after the profile is fetched, in order.
    const STEPS: &'static [&'static str];
    /// The checkpoints at which the candidate exists upstream, recorded by the attempt's own
    /// write when the destination leaves that to it (see `store::pushes`).
    const CREATED_AT: &'static [&'static str] = &[];
    /// `[NAME]` as written (read only when `DEFAULTS` is not empty).
    type Section: DeserializeOwned + Clone + std::fmt::Debug + Default + Send + Sync + 'static;
    /// Its keys on a route, as written; each has a default, so a missing one is a problem of
    /// the route (listed by `from_keys`), not a stop of the reading.
    type Keys: DeserializeOwned;
    type Prepared: Clone + std::fmt::Debug + PartialEq + Send + 'static;
    type Sender: Send + Sync + 'static;

    /// What its keys mean; what is wrong goes in `problems` (the route names itself).
    fn from_keys(keys: Self::Keys, problems: &mut Vec<String>) -> Self;
    /// What `check-config` says of the route against the destination's section.
    fn problems(&self, _section: &Self::Section) -> Vec<String> {
        Vec::new()
    }
    /// What is wrong with the section itself, whatever the routes.
    fn section_problems(_section: &Self::Section) -> Vec<String> {
        Vec::new()
    }
    /// `check-config`'s lines about the section (its accounts), never a secret.
    fn section_summary(_section: &Self::Section) -> Vec<String> {
        Vec::new()
    }
    /// The secrets in the section, for scrubbing text that leaves the process.
    fn secrets(_section: &Self::Section) -> Vec<String> {
        Vec::new()
    }
    /// Where it delivers, in words, for the pages and `routes list`.
    fn describe(&self) -> String;
    /// Its keys, for `check-config`'s summary.
    fn summary(&self) -> String;
    /// The account it uses, as an operator names it (`default`), if it has accounts.
    fn account(&self) -> Option<String> {
        None
    }
    /// "How far it got", in words, for a checkpoint of `STEPS`.
    fn step_words(&self, step: &str, _delivered: bool) -> String {
        step.into()
    }
    fn prepare(
        &self,
        route: Transform<'_>,
        scripts: &Scripts,
        profile: Cow<'_, Value>,
    ) -> Result<Plan<Self::Prepared>, Failure>;
    /// What `preview` prints of what would be sent (`outcome` and the bodies).
    fn preview(&self, prepared: &Self::Prepared) -> Value;
    fn sender(build: &Build<'_, Self::Section>) -> Self::Sender;
    fn deliver<'a>(
        &'a self,
        sender: &'a Self::Sender,
        delivery: Delivery<'a>,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<(), Failure>> + Send + 'a;
    /// Takes this replica's share of the deployment's rate, `live` replicas sharing it.
    fn share_rate(_sender: &Self::Sender, _live: i64) {}
    /// The script functions it offers a route's `format` (`default_push`).
    fn register(_engine: &mut rhai::Engine) {}
    /// What `check-config --online` asks its upstream about the routes sending to it, each
    /// bounded by `timeout`. Nothing that creates anything.
    fn online<'a>(
        _routes: Vec<&'a Self>,
        _section: &'a Self::Section,
        _http: &'a reqwest::Client,
        _timeout: Duration,
    ) -> impl Future<Output = Vec<Check>> + Send + 'a {
        async { Vec::new() }
    }
}

/// What the route's logics leave of a profile.
pub(crate) enum Kept<'a> {
    Profile(Cow<'a, Value>),
    DroppedBy(String),
}

/// Runs the route's logics, if it has any (they may rewrite the profile, so they get a copy).
pub(crate) fn kept<'a>(
    route: Transform<'_>,
    scripts: &Scripts,
    profile: Cow<'a, Value>,
) -> Result<Kept<'a>, crate::logic::LogicError> {
    if route.logics.is_empty() {
        return Ok(Kept::Profile(profile));
    }
    Ok(match scripts.filter(route, profile.into_owned())? {
        crate::logic::Filtered::Dropped(logic) => Kept::DroppedBy(logic),
        crate::logic::Filtered::Kept(p) => Kept::Profile(Cow::Owned(p)),
    })
}

/// How an operator names an account: `default` for the destination's section itself.
pub(crate) fn account_label(name: &str) -> String {
    match name {
        "" => "default".into(),
        named => named.into(),
    }
}

/// A script's error ends the job: running it again gives the same error.
pub(crate) fn permanent(e: crate::logic::LogicError) -> Failure {
    Failure::permanent(e.to_string())
}

/// What `hrflow-relay preview` prints for one route: `{"route", "outcome": "send" | "filtered"
/// | "dead", ...}`, with what would be sent.
pub fn preview(
    route: Transform<'_>,
    destination: &Destination,
    scripts: &Scripts,
    profile: Value,
) -> Value {
    let mut out = match destination.prepare(route, scripts, Cow::Owned(profile)) {
        Ok(Plan::Dropped(logic)) => json!({"outcome": "filtered", "logic": logic}),
        Ok(Plan::Send(p)) => destination.preview_of(&p),
        Err(f) => json!({"outcome": "dead", "reason": f.message()}),
    };
    out["route"] = json!(route.name);
    out["destination"] = json!(destination.kind());
    out
}

//! Where a candidate goes. A destination is one module implementing [`Kind`]: its keys on a
//! route (typed), what `check-config` says of them, how the page names it, `prepare` (pure:
//! the route's logics and format, then its own mapping; what `preview` prints) and `deliver`
//! (effects, with the checkpoints it names). The worker, the store, the pages and the commands
//! go through [`Destination`] and [`Senders`] and name no destination.
//!
//! A new destination is one new module and one line in the `destinations!` list at the end.

use std::borrow::Cow;
use std::future::Future;

use serde_json::{Value, json};

use crate::config::{Route, RouteKeys, Settings};
use crate::job::{Failure, Step};
use crate::logic::Scripts;
use crate::online::check::Check;
use crate::store::{ClaimedJob, Store};

/// What `prepare` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<P = Prepared> {
    /// The logic named dropped the profile.
    Dropped(String),
    Send(P),
}

/// What a destination builds its client from.
pub struct Build<'a> {
    pub settings: &'a Settings,
    pub store: &'a Store,
    pub http: &'a reqwest::Client,
}

/// One delivery: the job, the store, and the furthest checkpoint reached (for the attempt
/// record, and for the next attempt to resume from).
pub struct Delivery<'a> {
    pub store: &'a Store,
    pub job: &'a ClaimedJob,
    pub step: &'a mut Step,
    /// What the attempt record shows beyond the outcome (Huntflow's possible duplicates).
    pub note: &'a mut Option<String>,
}

/// A destination: its route keys (`Self`), what it prepares, and its client.
pub trait Kind: Sized + Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// Its `destination = "..."`.
    const NAME: &'static str;
    /// The checkpoints a delivery records after the profile is fetched, in order.
    const STEPS: &'static [&'static str];
    /// The checkpoints at which the candidate exists upstream, recorded by the attempt's own
    /// write when the destination leaves that to it (see `store::pushes`).
    const CREATED_AT: &'static [&'static str] = &[];
    type Prepared: Clone + std::fmt::Debug + PartialEq + Send + 'static;
    type Sender: Send + Sync + 'static;

    /// Reads its keys of a route; what is wrong goes in `problems` (the route names itself).
    fn from_keys(keys: &RouteKeys, problems: &mut Vec<String>) -> Self;
    /// What `check-config` says of the route against the rest of the settings.
    fn problems(&self, _settings: &Settings) -> Vec<String> {
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
    fn step_words(&self, step: &str, delivered: bool) -> String;
    fn prepare(
        &self,
        route: &Route,
        scripts: &Scripts,
        profile: Cow<'_, Value>,
    ) -> Result<Plan<Self::Prepared>, Failure>;
    /// What `preview` prints of what would be sent (`outcome` and the bodies).
    fn preview(&self, prepared: &Self::Prepared) -> Value;
    fn sender(build: &Build<'_>) -> Self::Sender;
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
        _settings: &'a Settings,
        _http: &'a reqwest::Client,
        _timeout: std::time::Duration,
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
    route: &Route,
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

/// The destinations, one line each: `module => Variant`. Makes the route's [`Destination`],
/// what it prepares ([`Prepared`]), the clients ([`Senders`]) and the dispatch between them.
macro_rules! destinations {
    ($($module:ident => $Variant:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Where a route's candidates go, with that destination's keys.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Destination {
            $($Variant($module::$Variant),)*
            /// A destination the relay does not know (the route's `problems` say which).
            Unknown,
        }

        /// What a destination will send.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Prepared {
            $($Variant(<$module::$Variant as Kind>::Prepared),)*
        }

        /// A client per destination, built once at start.
        pub struct Senders {
            $(pub $module: <$module::$Variant as Kind>::Sender,)*
        }

        /// Every destination's `destination = "..."`.
        pub const NAMES: &[&str] = &[$(<$module::$Variant as Kind>::NAME,)*];

        impl Destination {
            /// The destination a route's keys name, read by it.
            pub fn from_keys(keys: &RouteKeys, problems: &mut Vec<String>) -> Self {
                $(if keys.destination == <$module::$Variant as Kind>::NAME {
                    return Self::$Variant(<$module::$Variant as Kind>::from_keys(keys, problems));
                })*
                problems.push(format!(
                    "has unknown destination {:?} (expected {})",
                    keys.destination,
                    NAMES.join(", ")
                ));
                Self::Unknown
            }
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$Variant(_) => <$module::$Variant as Kind>::NAME,)*
                    Self::Unknown => "unknown",
                }
            }
            pub fn problems(&self, settings: &Settings) -> Vec<String> {
                match self {
                    $(Self::$Variant(d) => d.problems(settings),)*
                    Self::Unknown => Vec::new(),
                }
            }
            pub fn describe(&self) -> String {
                match self {
                    $(Self::$Variant(d) => d.describe(),)*
                    Self::Unknown => "unknown".into(),
                }
            }
            pub fn summary(&self) -> String {
                match self {
                    $(Self::$Variant(d) => format!("{} {}", <$module::$Variant as Kind>::NAME, d.summary()),)*
                    Self::Unknown => "unknown".into(),
                }
            }
            pub fn account(&self) -> Option<String> {
                match self {
                    $(Self::$Variant(d) => d.account(),)*
                    Self::Unknown => None,
                }
            }
            pub fn step_words(&self, step: &str, delivered: bool) -> String {
                match self {
                    $(Self::$Variant(d) => d.step_words(step, delivered),)*
                    Self::Unknown => step.to_string(),
                }
            }
            /// Whether the candidate exists upstream once a job reached `step`.
            pub fn created_at(&self, step: Step) -> bool {
                match self {
                    $(Self::$Variant(_) => <$module::$Variant as Kind>::CREATED_AT.iter().any(|c| Step::reached(c) == step),)*
                    Self::Unknown => false,
                }
            }
            /// The route's logics and format, then the destination's mapping. Script errors
            /// and profiles a destination cannot take are permanent failures. The profile may
            /// be borrowed: a route without logics reads it where it is.
            pub fn prepare(
                &self,
                route: &Route,
                scripts: &Scripts,
                profile: Cow<'_, Value>,
            ) -> Result<Plan, Failure> {
                Ok(match self {
                    $(Self::$Variant(d) => match d.prepare(route, scripts, profile)? {
                        Plan::Dropped(logic) => Plan::Dropped(logic),
                        Plan::Send(p) => Plan::Send(Prepared::$Variant(p)),
                    },)*
                    Self::Unknown => {
                        return Err(Failure::permanent(format!(
                            "route {:?} has no valid destination: {}",
                            route.name,
                            route.problems.join("; ")
                        )))
                    }
                })
            }
            fn preview_of(&self, prepared: &Prepared) -> Value {
                match (self, prepared) {
                    $((Self::$Variant(d), Prepared::$Variant(p)) => d.preview(p),)*
                    #[allow(unreachable_patterns)]
                    _ => json!({"outcome": "dead", "reason": "the route changed destination"}),
                }
            }
            /// Delivers what `prepare` made; `delivery.step` is set to the furthest step
            /// reached.
            pub async fn deliver(
                &self,
                senders: &Senders,
                delivery: Delivery<'_>,
                prepared: Prepared,
            ) -> Result<(), Failure> {
                match (self, prepared) {
                    $((Self::$Variant(d), Prepared::$Variant(p)) => {
                        d.deliver(&senders.$module, delivery, p).await
                    })*
                    #[allow(unreachable_patterns)]
                    _ => Err(Failure::permanent(format!(
                        "route {:?} changed destination while its job ran",
                        delivery.job.route
                    ))),
                }
            }
        }

        impl Senders {
            pub fn build(build: &Build<'_>) -> Self {
                Self { $($module: <$module::$Variant as Kind>::sender(build),)* }
            }
            pub fn share_rate(&self, live: i64) {
                $(<$module::$Variant as Kind>::share_rate(&self.$module, live);)*
            }
        }

        /// Every destination's checkpoint of this name, as the store reads it back.
        pub fn step(label: &str) -> Option<&'static str> {
            [$(<$module::$Variant as Kind>::STEPS,)*]
                .into_iter()
                .flatten()
                .find(|s| **s == label)
                .copied()
        }

        /// Every destination's `--online` checks of the routes sending to it, in the list's
        /// order.
        pub async fn online(
            settings: &Settings,
            http: &reqwest::Client,
            timeout: std::time::Duration,
        ) -> Vec<Check> {
            let mut checks = Vec::new();
            $(
                let routes: Vec<&$module::$Variant> = settings
                    .routes
                    .iter()
                    .filter_map(|r| match &r.destination {
                        Destination::$Variant(d) => Some(d),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    })
                    .collect();
                if !routes.is_empty() {
                    checks.extend(<$module::$Variant as Kind>::online(routes, settings, http, timeout).await);
                }
            )*
            checks
        }

        /// Registers every destination's script functions.
        pub fn register(engine: &mut rhai::Engine) {
            $(<$module::$Variant as Kind>::register(engine);)*
        }
    };
}

destinations! {
    flatchr => Flatchr,
    careers => Careers,
    webhook => Webhook,
    huntflow => Huntflow,
}

/// What `hrflow-relay preview` prints for one route: `{"route", "outcome": "send" | "filtered"
/// | "dead", ...}`, with what would be sent.
pub fn preview(route: &Route, scripts: &Scripts, profile: Value) -> Value {
    let mut out = match route
        .destination
        .prepare(route, scripts, Cow::Owned(profile))
    {
        Ok(Plan::Dropped(logic)) => json!({"outcome": "filtered", "logic": logic}),
        Ok(Plan::Send(p)) => route.destination.preview_of(&p),
        Err(f) => json!({"outcome": "dead", "reason": f.message()}),
    };
    out["route"] = json!(route.name);
    out["destination"] = json!(route.destination.kind());
    out
}

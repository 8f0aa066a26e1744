//! `destinations!`: from the one list of destinations (`module => Variant`), the route's
//! [`Destination`](super::Destination), what it prepares, the clients, every destination's
//! section, and the dispatch between them: a `match` per method, so adding a destination
//! touches no match by hand.

macro_rules! destinations {
    ($($module:ident => $Variant:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Where a route's candidates go, with that destination's keys.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Destination {
            $($Variant($module::$Variant),)*
            /// A destination the relay does not know, as written (the route's problems say so).
            Unknown(String),
        }

        /// What a destination will send.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Prepared {
            $($Variant(<$module::$Variant as Kind>::Prepared),)*
        }

        /// Every destination's section of the configuration (`[flatchr]`), typed.
        #[derive(Debug, Clone, Default)]
        pub struct Sections {
            $(pub $module: <$module::$Variant as Kind>::Section,)*
        }

        /// A client per destination, built once at start.
        pub struct Senders {
            $(pub $module: <$module::$Variant as Kind>::Sender,)*
        }

        /// Every destination's `destination = "..."`.
        pub const NAMES: &[&str] = &[$(<$module::$Variant as Kind>::NAME,)*];

        /// The keys any destination reads on a route: one of them on a route of another
        /// destination is not a misspelling (the documented example route writes them all).
        pub fn route_keys() -> Vec<&'static str> {
            let mut keys = Vec::new();
            $(keys.extend(crate::fields::of::<<$module::$Variant as Kind>::Keys>());)*
            keys
        }

        impl Sections {
            /// Each section's built-in values: (its name, its `key = value` lines).
            pub fn defaults() -> Vec<(&'static str, &'static str)> {
                [$((<$module::$Variant as Kind>::NAME, <$module::$Variant as Kind>::DEFAULTS),)*]
                    .into_iter()
                    .filter(|(_, d)| !d.is_empty())
                    .collect()
            }
            /// Reads every destination's section where it stands.
            pub fn read<R: Reader>(reader: &mut R) -> Result<Self, R::Error> {
                Ok(Self {
                    $($module: match <$module::$Variant as Kind>::DEFAULTS {
                        "" => Default::default(),
                        _ => reader.read(Some(<$module::$Variant as Kind>::NAME))?,
                    },)*
                })
            }
            /// What is wrong with the sections, whatever the routes.
            pub fn problems(&self) -> Vec<String> {
                let mut all = Vec::new();
                $(all.extend(<$module::$Variant as Kind>::section_problems(&self.$module));)*
                all
            }
            /// `check-config`'s lines about them.
            pub fn summary(&self) -> Vec<String> {
                let mut all = Vec::new();
                $(all.extend(<$module::$Variant as Kind>::section_summary(&self.$module));)*
                all
            }
            /// The secrets they hold.
            pub fn secrets(&self) -> Vec<String> {
                let mut all = Vec::new();
                $(all.extend(<$module::$Variant as Kind>::secrets(&self.$module));)*
                all
            }
        }

        impl Destination {
            /// The destination `name` with its keys, read from the route's table.
            pub fn read<R: Reader>(
                name: &str,
                reader: &mut R,
                problems: &mut Vec<String>,
            ) -> Result<Self, R::Error> {
                $(if name == <$module::$Variant as Kind>::NAME {
                    let keys = reader.read(None)?;
                    return Ok(Self::$Variant(<$module::$Variant as Kind>::from_keys(keys, problems)));
                })*
                problems.push(format!(
                    "has unknown destination {name:?} (expected {})",
                    NAMES.join(", ")
                ));
                Ok(Self::Unknown(name.to_string()))
            }
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$Variant(_) => <$module::$Variant as Kind>::NAME,)*
                    Self::Unknown(_) => "unknown",
                }
            }
            /// What `check-config` says of the route against its destination's section.
            pub fn problems(&self, sections: &Sections) -> Vec<String> {
                match self {
                    $(Self::$Variant(d) => d.problems(&sections.$module),)*
                    Self::Unknown(_) => Vec::new(),
                }
            }
            pub fn describe(&self) -> String {
                match self {
                    $(Self::$Variant(d) => d.describe(),)*
                    Self::Unknown(_) => "unknown".into(),
                }
            }
            pub fn summary(&self) -> String {
                match self {
                    $(Self::$Variant(d) => format!("{} {}", <$module::$Variant as Kind>::NAME, d.summary()),)*
                    Self::Unknown(_) => "unknown".into(),
                }
            }
            pub fn account(&self) -> Option<String> {
                match self {
                    $(Self::$Variant(d) => d.account(),)*
                    Self::Unknown(_) => None,
                }
            }
            /// The account in words (`Flatchr account "agency"`), for alerts: only a named
            /// one, which says which of several is meant.
            pub fn named_account(&self) -> Option<String> {
                match self {
                    $(Self::$Variant(d) => d
                        .account()
                        .filter(|a| a != "default")
                        .map(|a| format!("{} account {a:?}", <$module::$Variant as Kind>::TITLE)),)*
                    Self::Unknown(_) => None,
                }
            }
            pub fn step_words(&self, step: &str, delivered: bool) -> String {
                match self {
                    $(Self::$Variant(d) => d.step_words(step, delivered),)*
                    Self::Unknown(_) => step.to_string(),
                }
            }
            /// Whether the candidate exists upstream once a job reached `step`.
            pub fn created_at(&self, step: Step) -> bool {
                match self {
                    $(Self::$Variant(_) => <$module::$Variant as Kind>::CREATED_AT.iter().any(|c| Step::reached(c) == step),)*
                    Self::Unknown(_) => false,
                }
            }
            /// The route's logics and format, then the destination's mapping. Script errors
            /// and profiles a destination cannot take are permanent failures. The profile may
            /// be borrowed: a route without logics reads it where it is.
            pub fn prepare(
                &self,
                route: Transform<'_>,
                scripts: &Scripts,
                profile: Cow<'_, Value>,
            ) -> Result<Plan, Failure> {
                Ok(match self {
                    $(Self::$Variant(d) => match d.prepare(route, scripts, profile)? {
                        Plan::Dropped(logic) => Plan::Dropped(logic),
                        Plan::Send(p) => Plan::Send(Prepared::$Variant(p)),
                    },)*
                    Self::Unknown(name) => {
                        return Err(Failure::permanent(format!(
                            "route {:?} has no valid destination: {name:?} is none of {}",
                            route.name,
                            NAMES.join(", ")
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
            pub fn build(sections: &Sections, common: &Common, store: &Store, http: &reqwest::Client) -> Self {
                Self {
                    $($module: <$module::$Variant as Kind>::sender(&Build {
                        section: &sections.$module,
                        common,
                        store,
                        http,
                    }),)*
                }
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
            destinations: &[&Destination],
            sections: &Sections,
            http: &reqwest::Client,
            timeout: Duration,
        ) -> Vec<Check> {
            let mut checks = Vec::new();
            $(
                let routes: Vec<&$module::$Variant> = destinations
                    .iter()
                    .filter_map(|d| match d {
                        Destination::$Variant(d) => Some(d),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    })
                    .collect();
                if !routes.is_empty() {
                    checks.extend(
                        <$module::$Variant as Kind>::online(routes, &sections.$module, http, timeout).await,
                    );
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

//! The transform: a route's logics and format, written as named functions in one Rhai file
//! and run under operation, depth, size and time limits.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{AST, Dynamic, Engine, Scope};
use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum LogicError {
    #[error("cannot read logic script {path}: {error}")]
    Read { path: String, error: String },
    #[error("logic script {path} does not compile: {error}")]
    Compile { path: String, error: String },
    #[error("script function {function} failed: {error}")]
    Run { function: String, error: String },
    #[error("script function {function} returned {found}, expected {expected}")]
    Returned {
        function: String,
        found: String,
        expected: &'static str,
    },
}

/// What a route asks of the script: its logics in order and its format, named by the route
/// (the script knows routes by this alone, and no destination).
#[derive(Debug, Clone, Copy)]
pub struct Transform<'a> {
    /// For messages.
    pub name: &'a str,
    /// Script functions run in order before the format.
    pub logics: &'a [String],
    /// Empty: the destination's own mapping.
    pub format: &'a str,
}

/// What a route's logics left of a profile.
#[derive(Debug, Clone, PartialEq)]
pub enum Filtered {
    Kept(Value),
    /// The logic named dropped the profile.
    Dropped(String),
}

thread_local! {
    /// The deadline of the script call running on this thread; read by the progress hook.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

#[derive(Clone)]
pub struct Scripts {
    /// Rhai with the relay's limits and the destinations' functions.
    engine: Arc<Engine>,
    /// The compiled script; `None` without one.
    ast: Option<Arc<AST>>,
    /// A script call's time limit.
    timeout: Duration,
}

/// The functions a script may call beyond rhai's own (the destinations' `default_push`...),
/// handed in by whoever loads the script: the engine knows no destination.
pub type Functions = fn(&mut Engine);

fn engine(max_operations: u64, print: bool, functions: Functions) -> Engine {
    let mut engine = Engine::new();
    // Rhai writes print() and debug() to stdout, raw: a candidate's name holding a newline and
    // a JSON object would forge a log line, and whatever a script prints (an email) would land
    // in the logs. Nothing, unless asked; then an escaped field of a debug-level line.
    if print {
        engine.on_print(|text| tracing::debug!(output = text, "script print"));
        engine.on_debug(|text, source, position| {
            tracing::debug!(
                output = text,
                source = source.unwrap_or(""),
                line = position.line().unwrap_or(0),
                "script debug"
            )
        });
    } else {
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
    }
    engine.set_max_operations(max_operations);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(1 << 20);
    engine.set_max_array_size(10_000);
    engine.set_max_map_size(10_000);
    engine.on_progress(|_| {
        let late = DEADLINE
            .with(|d| d.get())
            .is_some_and(|d| Instant::now() > d);
        late.then(|| Dynamic::from("time limit exceeded"))
    });
    functions(&mut engine);
    engine
}

impl Scripts {
    /// No script: routes may only use the built-in mapping.
    pub fn none() -> Self {
        Self {
            engine: Arc::new(engine(1, false, |_| {})),
            ast: None,
            timeout: Duration::from_secs(1),
        }
    }

    pub fn load(
        path: &str,
        max_operations: u64,
        timeout: Duration,
        print: bool,
        functions: Functions,
    ) -> Result<Self, LogicError> {
        if path.is_empty() {
            return Ok(Self::none());
        }
        let source = std::fs::read_to_string(path).map_err(|e| LogicError::Read {
            path: path.into(),
            error: e.to_string(),
        })?;
        Self::compile(path, &source, max_operations, timeout, print, functions)
    }

    pub fn compile(
        path: &str,
        source: &str,
        max_operations: u64,
        timeout: Duration,
        print: bool,
        functions: Functions,
    ) -> Result<Self, LogicError> {
        let engine = engine(max_operations, print, functions);
        let ast = engine.compile(source).map_err(|e| LogicError::Compile {
            path: path.into(),
            error: e.to_string(),
        })?;
        Ok(Self {
            engine: Arc::new(engine),
            ast: Some(Arc::new(ast)),
            timeout,
        })
    }

    /// Every function a route names that the script lacks, or that does not take one argument.
    pub fn check<'a>(&self, routes: impl IntoIterator<Item = Transform<'a>>) -> Vec<String> {
        let mut problems = Vec::new();
        for route in routes {
            let format = (!route.format.is_empty()).then_some(route.format);
            for name in route.logics.iter().map(String::as_str).chain(format) {
                let arity = self.ast.as_ref().and_then(|ast| {
                    ast.iter_functions()
                        .filter(|f| f.name == name)
                        .map(|f| f.params.len())
                        .find(|n| *n == 1)
                        .or_else(|| {
                            ast.iter_functions()
                                .find(|f| f.name == name)
                                .map(|f| f.params.len())
                        })
                });
                match arity {
                    None => problems.push(format!("route {:?} names function {name:?}, which the logic script does not define", route.name)),
                    Some(1) => {}
                    Some(n) => problems.push(format!("route {:?}: function {name:?} takes {n} arguments, it must take one (the profile)", route.name)),
                }
            }
        }
        problems
    }

    fn call(&self, function: &str, profile: &Value) -> Result<Dynamic, LogicError> {
        let run_err = |error: String| LogicError::Run {
            function: function.into(),
            error,
        };
        let ast = self
            .ast
            .as_ref()
            .ok_or_else(|| run_err("no logic script is configured".into()))?;
        let arg = rhai::serde::to_dynamic(profile).map_err(|e| run_err(e.to_string()))?;
        DEADLINE.with(|d| d.set(Some(Instant::now() + self.timeout)));
        let result = self
            .engine
            .call_fn::<Dynamic>(&mut Scope::new(), ast, function, (arg,));
        DEADLINE.with(|d| d.set(None));
        result.map_err(|e| match *e {
            rhai::EvalAltResult::ErrorTerminated(..) => {
                run_err(format!("time limit of {:?} exceeded", self.timeout))
            }
            other => run_err(other.to_string()),
        })
    }

    /// Runs the route's logics in order: the profile they leave, or the logic that dropped it.
    pub fn filter(&self, route: Transform<'_>, mut profile: Value) -> Result<Filtered, LogicError> {
        for logic in route.logics {
            let result = self.call(logic, &profile)?;
            if result.is_unit() {
                return Ok(Filtered::Dropped(logic.clone()));
            }
            if let Ok(keep) = result.as_bool() {
                if !keep {
                    return Ok(Filtered::Dropped(logic.clone()));
                }
                continue;
            }
            if result.is_map() {
                profile = to_json(logic, &result)?;
                continue;
            }
            return Err(LogicError::Returned {
                function: logic.clone(),
                found: result.type_name().into(),
                expected: "true/false, a profile map or ()",
            });
        }
        Ok(Filtered::Kept(profile))
    }

    /// The route's format function applied to the profile, or `None` when it has none.
    pub fn format(
        &self,
        route: Transform<'_>,
        profile: &Value,
    ) -> Result<Option<Value>, LogicError> {
        if route.format.is_empty() {
            return Ok(None);
        }
        let result = self.call(route.format, profile)?;
        if !result.is_map() {
            return Err(LogicError::Returned {
                function: route.format.into(),
                found: result.type_name().into(),
                expected: "a map",
            });
        }
        to_json(route.format, &result).map(Some)
    }
}

fn to_json(function: &str, value: &Dynamic) -> Result<Value, LogicError> {
    rhai::serde::from_dynamic(value).map_err(|e| LogicError::Run {
        function: function.into(),
        error: e.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    const SCRIPT: &str = r#"
        fn keep(p) { true }
        fn drop(p) { false }
        fn unit(p) { }
        fn rename(p) { p.info.first_name = "Grace"; p }
        fn french(p) { p.text_language == "fr" }
        fn number(p) { 42 }
        fn boom(p) { throw "no way"; }
        fn spin(p) { let x = 0; loop { x += 1; } }
        fn deep(p) { deep(p) }
        fn custom(p) { #{ vacancy: "other", email: p.info.email, extra: 1 } }
        fn both(p) { #{ push: default_push(p), enrich: #{ reference: "r" } } }
        fn two(a, b) { true }
    "#;

    pub fn scripts() -> Scripts {
        Scripts::compile(
            "test.rhai",
            SCRIPT,
            100_000,
            Duration::from_millis(500),
            false,
            crate::destination::register,
        )
        .unwrap()
    }

    /// A route named "r" with these logics and format (kept for the test's whole run).
    pub fn route(logics: &[&str], format: &'static str) -> Transform<'static> {
        let logics: Vec<String> = logics.iter().map(|s| s.to_string()).collect();
        Transform {
            name: "r",
            logics: Box::leak(logics.into_boxed_slice()),
            format,
        }
    }

    pub fn profile() -> Value {
        json!({"key": "k", "text_language": "fr", "info": {"first_name": "Ada", "last_name": "L", "email": "a@x.org"}, "attachments": null})
    }

    #[test]
    fn logics_keep_drop_and_modify() {
        let s = scripts();
        assert_eq!(
            s.filter(route(&["keep", "drop", "keep"], ""), profile())
                .unwrap(),
            Filtered::Dropped("drop".into())
        );
        assert_eq!(
            s.filter(route(&["unit"], ""), profile()).unwrap(),
            Filtered::Dropped("unit".into())
        );
        let Filtered::Kept(p) = s
            .filter(route(&["french", "rename"], ""), profile())
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(p["info"]["first_name"], "Grace");
    }

    #[test]
    fn errors_and_limits_name_the_function() {
        let s = scripts();
        let err = s.filter(route(&["boom"], ""), profile()).unwrap_err();
        assert!(
            matches!(&err, LogicError::Run { function, error } if function == "boom" && error.contains("no way")),
            "{err}"
        );
        let err = s.filter(route(&["number"], ""), profile()).unwrap_err();
        assert!(err.to_string().contains("number returned i64"), "{err}");
        let err = s.filter(route(&["spin"], ""), profile()).unwrap_err();
        assert!(err.to_string().contains("spin failed"), "{err}");
        let err = s.filter(route(&["deep"], ""), profile()).unwrap_err();
        assert!(err.to_string().contains("deep failed"), "{err}");
    }

    #[test]
    fn time_limit_stops_a_script_within_its_budget() {
        let s = Scripts::compile(
            "t.rhai",
            SCRIPT,
            u64::MAX,
            Duration::from_millis(100),
            false,
            crate::destination::register,
        )
        .unwrap();
        let started = Instant::now();
        let err = s.filter(route(&["spin"], ""), profile()).unwrap_err();
        assert!(err.to_string().contains("time limit"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn check_finds_missing_names_and_wrong_arity() {
        let s = scripts();
        let problems = s.check([route(&["keep", "missing"], "two")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("\"missing\""));
        assert!(problems[1].contains("takes 2 arguments"));
        assert!(
            Scripts::compile(
                "bad.rhai",
                "fn x( {",
                10,
                Duration::from_secs(1),
                false,
                |_| {}
            )
            .is_err()
        );
    }
}

//! What `check-config` finds wrong beyond the durations and the signature mode: URLs,
//! accounts, credentials that would let in more than meant, routes, the logic script.

use super::*;

impl Settings {
    /// Bounds between durations that each read as one.
    pub(super) fn duration_bounds(&self) -> Vec<String> {
        let shown = duration::shown;
        let (w, s) = (&self.worker, &self.server);
        let mut problems = Vec::new();
        if w.lease < w.request_timeout * 5 {
            problems.push(format!(
                "worker.lease = {:?} must be at least 5 x worker.request_timeout ({:?}): a job makes up to five calls",
                shown(w.lease),
                shown(w.request_timeout)
            ));
        }
        if w.replica_timeout < Duration::from_secs(5) {
            problems.push(format!(
                "worker.replica_timeout = {:?} must be at least 5s: processes heartbeat every 2 s, and a live one must never look gone",
                shown(w.replica_timeout)
            ));
        }
        for (key, value, least) in [
            ("sync.interval", self.sync.interval, Duration::from_secs(1)),
            (
                "server.body_timeout",
                s.body_timeout,
                Duration::from_millis(100),
            ),
            (
                "retention.interval",
                self.retention.interval,
                Duration::from_secs(1),
            ),
        ] {
            if value < least {
                problems.push(format!(
                    "{key} = {:?} must be at least {}",
                    shown(value),
                    shown(least)
                ));
            }
        }
        problems
    }

    /// The problems beyond the durations and the signature mode.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = self.url_problems();
        problems.extend(self.destinations.problems());
        problems.extend(self.limit_problems());
        problems.extend(self.hrflow_problems());
        problems.extend(self.careers_path_problems());
        problems.extend(credential_problems(
            "admin",
            &self.admin.tokens,
            &self.admin.basic_users,
            true,
        ));
        problems.extend(credential_problems(
            "careers",
            &self.careers.tokens,
            &self.careers.basic_users,
            false,
        ));
        problems.extend(route::problems(self));
        problems.extend(self.sync_problems());
        problems
    }

    /// HrFlow's API, this service's public URL and the alert hook are http(s) URLs.
    fn url_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = parse_http_url(&self.hrflow.api_url) {
            problems.push(format!(
                "hrflow.api_url = {:?} is not an http(s) URL: {e}",
                shown_url(&self.hrflow.api_url)
            ));
        }
        for (key, value) in [
            ("server.public_url", self.server.public_url.as_str()),
            ("alerts.webhook_url", self.alerts.webhook_url.expose()),
        ] {
            if !value.is_empty()
                && let Err(e) = parse_http_url(value)
            {
                // The alert URL carries a token: name the key, never the value.
                let shown = if key == "alerts.webhook_url" {
                    "(hidden)".to_string()
                } else {
                    shown_url(value)
                };
                problems.push(format!("{key} = {shown:?} is not an http(s) URL: {e}"));
            }
        }
        problems
    }

    /// The database URL's kind, and the counts and sizes that must be above zero or within
    /// bounds.
    fn limit_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let db = self.database.url.expose();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres:")
            || db.starts_with("postgresql:"))
        {
            problems.push("database.url must start with sqlite: or postgres:".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".into());
        }
        if self.worker.concurrency == 0 {
            problems.push("worker.concurrency must be at least 1".into());
        }
        if self.worker.retry_schedule.is_empty() {
            problems.push("worker.retry_schedule must hold at least one delay".into());
        }
        if self.backfill.page_size == 0 || self.backfill.page_size > 1000 {
            problems.push(format!(
                "backfill.page_size = {} must be between 1 and 1000",
                self.backfill.page_size
            ));
        }
        if !(self.backfill.requests_per_second > 0.0 && self.backfill.requests_per_second <= 100.0)
        {
            problems.push(format!(
                "backfill.requests_per_second = {} must be above 0 and at most 100",
                self.backfill.requests_per_second
            ));
        }
        if self.server.max_body_bytes == 0 {
            problems.push("server.max_body_bytes must be at least 1".into());
        }
        if self.server.max_connections == 0 {
            problems.push("server.max_connections must be at least 1".into());
        }
        problems
    }

    /// What fetching profiles and checking events need once routes exist.
    fn hrflow_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.routes.is_empty() {
            if self.hrflow.webhook_secret.is_empty() && self.hrflow.signature != SignatureMode::None
            {
                problems.push(
                    "hrflow.webhook_secret is empty while routes are configured, so anyone could send events: set it to the secret of HrFlow's webhook (an empty RELAY__HRFLOW__WEBHOOK_SECRET counts as empty and overrides the file), or set hrflow.signature = \"none\" if something in front of the relay authenticates HrFlow".into(),
                );
            }
            if self.hrflow.api_key.is_empty() {
                problems.push("hrflow.api_key is empty: profiles cannot be fetched".into());
            }
            if self.hrflow.user_email.is_empty() {
                problems.push("hrflow.user_email is empty: profiles cannot be fetched".into());
            }
        }
        problems
    }

    /// The careers API's mount point is a path, and none of the relay's own.
    fn careers_path_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let path = &self.careers.path;
        if !path.starts_with('/')
            || path.trim_end_matches('/').is_empty()
            || path.contains(['?', '#', '{', '}'])
        {
            problems.push(format!(
                "careers.path = {path:?} must be a path such as \"/careers\""
            ));
        }
        let reserved = ["/admin", "/hrflow", "/health", "/metrics", "/openapi.json"];
        if reserved
            .iter()
            .any(|r| path.trim_end_matches('/') == *r || path.starts_with(&format!("{r}/")))
        {
            problems.push(format!(
                "careers.path = {path:?} is taken by the relay's own routes ({})",
                reserved.join(", ")
            ));
        }
        problems
    }

    /// Every `[sync]` source is one a route takes.
    fn sync_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, source) in self.sync.sources.iter().enumerate() {
            if source.trim().is_empty() {
                problems.push(format!("sync.sources[{i}] is empty"));
            } else if !self.routes.iter().any(|r| r.listens_to(source)) {
                problems.push(format!(
                    "sync.sources[{i}] = {source:?}: no route takes this source (a route takes it when its sources list is empty or holds it)"
                ));
            }
        }
        problems
    }
}

/// The shortest admin token taken: shorter ones are guessed.
const MIN_TOKEN_CHARS: usize = 16;

/// Credentials that would let in more than meant: a Basic entry without a colon or with an
/// empty user or password; for `[admin]`, a token shorter than `MIN_TOKEN_CHARS`. Entries are
/// named by position, never shown. Empty entries (an empty environment variable) are nothing,
/// not a problem: they never match.
fn credential_problems(
    section: &str,
    tokens: &[Secret],
    basic_users: &[Secret],
    short_tokens: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, user) in basic_users
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.is_empty())
    {
        match user.expose().split_once(':') {
            None => problems.push(format!(
                "{section}.basic_users[{i}] has no colon: write it as \"user:password\""
            )),
            Some((name, _)) if name.trim().is_empty() => {
                problems.push(format!("{section}.basic_users[{i}] has an empty user name"))
            }
            Some((_, password)) if password.trim().is_empty() => problems.push(format!(
                "{section}.basic_users[{i}] has an empty password: anyone knowing the user name would get in"
            )),
            Some(_) => {}
        }
    }
    if short_tokens {
        for (i, token) in tokens.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            let chars = token.expose().chars().count();
            if chars < MIN_TOKEN_CHARS {
                problems.push(format!(
                    "{section}.tokens[{i}] has {chars} character(s); a token needs at least {MIN_TOKEN_CHARS} (make one with `head -c 24 /dev/urandom | base64`)"
                ));
            }
        }
    }
    problems
}

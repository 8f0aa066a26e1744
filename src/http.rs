//! The one HTTP client every upstream call goes through (its User-Agent, connect timeout and
//! idle pool are the same for HrFlow, Flatchr, Huntflow and webhooks), and the URLs it is given:
//! read as http(s), shown without what could be a secret.

use anyhow::Context;

/// Built once at start and cloned: clones share one connection pool.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("hrflow-relay/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")
}

/// A URL the relay calls: http or https, with a host.
pub fn parse_http_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(url),
        _ => Err("the scheme must be http or https, with a host".into()),
    }
}

/// A URL as it may be shown: its password and its query (a Slack- or Zapier-style hook's
/// token lives there) are `***`. Text that does not parse as a URL is shown only up to where a
/// secret could start: not at all when it holds an `@` (a malformed password can hide any
/// delimiter), else without what follows a `?` or `#`.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) => {
            let secret = parsed.password().is_some() || parsed.query().is_some();
            if !secret {
                return url.to_string();
            }
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            if parsed.query().is_some() {
                parsed.set_query(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) if url.contains('@') => "(hidden: not a URL)".to_string(),
        Err(_) => match url.find(['?', '#']) {
            Some(at) => format!("{}{}***", &url[..at], &url[at..=at]),
            None => url.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_shown_url_hides_its_password_and_query() {
        for (url, shown) in [
            (
                "http://user:PASS@host/hook?token=TOKEN",
                "http://user:***@host/hook?***",
            ),
            (
                "https://hooks.example/T0/B0?x=1#top",
                "https://hooks.example/T0/B0?***#top",
            ),
            ("https://user@host/p", "https://user@host/p"),
            ("https://a:b@c@host:8080", "https://a:***@host:8080/"),
            ("https://api.hrflow.ai/v1", "https://api.hrflow.ai/v1"),
            ("http://127.0.0.1:9", "http://127.0.0.1:9"),
            ("mailto:x@y.z?subject=s", "mailto:x@y.z?***"),
            ("not a url", "not a url"),
            // Malformed: whatever a password could be, none of it shows.
            ("https://user:pa#ss@host/x", "(hidden: not a URL)"),
            ("https://user:pa/ss@host/x", "(hidden: not a URL)"),
            ("host.example?token=T", "host.example?***"),
            ("host.example#T", "host.example#***"),
        ] {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}

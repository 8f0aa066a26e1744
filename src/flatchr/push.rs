//! The PushProfile body, as HrFlow's 0.2.0 connector builds it, with its defects fixed: the
//! resume keeps its real extension and content type, and `token` is added when sending.
//!
//! Before sending, `resume.url` names the file to download; `client::FlatchrClient::push`
//! replaces it with `resume.data`. `preview` shows the body in that form.

use serde_json::{Value, json};

use crate::profile;

/// The push body for a profile, without `vacancy` and `token` (the route and the configuration
/// supply those). A missing email is left null: sending refuses it with a clear reason.
pub fn body(profile: &Value) -> Value {
    let name = |field| {
        profile::info(profile, field)
            .cloned()
            .unwrap_or(json!("N/A"))
    };
    let resume = profile::resume_attachment(profile);
    let extension = resume.and_then(profile::attachment_extension);
    let url = resume
        .and_then(|a| a.get("public_url"))
        .and_then(Value::as_str);
    let resume = match (url, extension) {
        (Some(url), ext) => json!({
            "fileName": format!("resume{}", ext.as_deref().map(|e| format!(".{e}")).unwrap_or_default()),
            "contentType": profile::content_type(ext.as_deref()),
            "url": url,
        }),
        // As 0.2.0 does when no file exists.
        (None, _) => {
            json!({"fileName": "resume.pdf", "contentType": "application/octet-stream", "data": null})
        }
    };
    json!({
        "firstname": name("first_name"),
        "lastname": name("last_name"),
        "type": "document",
        "email": profile::info(profile, "email").cloned().unwrap_or(Value::Null),
        "resume": resume,
    })
}

/// Fills what a format function may leave out: the route's vacancy.
pub fn complete(mut body: Value, vacancy: &str) -> Value {
    if let Value::Object(map) = &mut body {
        map.entry("vacancy").or_insert_with(|| json!(vacancy));
    }
    body
}

/// The resume URL still to download, if the body names one.
pub fn resume_url(body: &Value) -> Option<&str> {
    body.get("resume")?.get("url")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_real_extension() {
        let p = json!({"info": {"first_name": "Ada", "last_name": null, "email": "a@x.org"},
            "attachments": [{"file_name": "original", "extension": ".docx", "public_url": "https://f/cv.docx"}]});
        let b = complete(body(&p), "vac");
        assert_eq!(b["resume"]["fileName"], "resume.docx");
        assert_eq!(b["resume"]["url"], "https://f/cv.docx");
        assert_eq!(b["lastname"], "N/A");
        assert_eq!(b["vacancy"], "vac");
        assert_eq!(
            complete(json!({"vacancy": "mine"}), "vac")["vacancy"],
            "mine"
        );
    }
}

//! Read-only views on an HrFlow profile. Profiles stay JSON (scripts see and may change any
//! field), so these accessors tolerate nulls and wrong types wherever HrFlow allows them.

use serde_json::Value;

pub fn info<'a>(profile: &'a Value, field: &str) -> Option<&'a Value> {
    profile
        .get("info")
        .and_then(|i| i.get(field))
        .filter(|v| !v.is_null())
}

pub fn info_str<'a>(profile: &'a Value, field: &str) -> Option<&'a str> {
    info(profile, field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

pub fn email(profile: &Value) -> Option<&str> {
    info_str(profile, "email")
}

pub fn key(profile: &Value) -> &str {
    profile.get("key").and_then(Value::as_str).unwrap_or("")
}

/// An array field, or an empty slice when it is null or missing.
pub fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The resume to send: the attachment named `resume`, else `original` (as 0.2.0 chooses).
pub fn resume_attachment(profile: &Value) -> Option<&Value> {
    let attachments = list(profile, "attachments");
    ["resume", "original"].iter().find_map(|name| {
        attachments
            .iter()
            .find(|a| a.get("file_name").and_then(Value::as_str) == Some(name))
    })
}

/// A safe file extension for an attachment: its `extension`, else its URL's, without the dot.
pub fn attachment_extension(attachment: &Value) -> Option<String> {
    let from_field = attachment.get("extension").and_then(Value::as_str);
    let from_url = attachment
        .get("public_url")
        .and_then(Value::as_str)
        .and_then(|u| u.split(['?', '#']).next())
        .and_then(|u| u.rsplit('/').next())
        .and_then(|name| name.rsplit_once('.').map(|(_, ext)| ext));
    [from_field, from_url]
        .into_iter()
        .flatten()
        .find_map(|ext| {
            let ext = ext.trim_start_matches('.').to_ascii_lowercase();
            let ok =
                !ext.is_empty() && ext.len() <= 8 && ext.chars().all(|c| c.is_ascii_alphanumeric());
            ok.then_some(ext)
        })
}

/// The content type Flatchr should store for a resume with this extension.
pub fn content_type(extension: Option<&str>) -> &'static str {
    match extension {
        Some("pdf") => "application/pdf",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("odt") => "application/vnd.oasis.opendocument.text",
        Some("rtf") => "application/rtf",
        Some("txt") => "text/plain",
        Some("html" | "htm") => "text/html",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resume_prefers_resume_then_original_and_survives_null() {
        let p = json!({"attachments": [
            {"file_name": "original", "extension": ".docx", "public_url": "https://h/o.docx"},
            {"file_name": "resume", "extension": ".pdf", "public_url": "https://h/r.pdf"}]});
        assert_eq!(resume_attachment(&p).unwrap()["file_name"], "resume");
        let p = json!({"attachments": [{"file_name": "original", "public_url": "https://h/x/cv.DOCX?sig=1"}]});
        let a = resume_attachment(&p).unwrap();
        assert_eq!(attachment_extension(a).as_deref(), Some("docx"));
        assert_eq!(
            content_type(Some("docx")),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert!(resume_attachment(&json!({"attachments": null})).is_none());
        assert!(resume_attachment(&json!({})).is_none());
        assert_eq!(
            attachment_extension(&json!({"extension": "../../etc"})),
            None
        );
    }
}

//! The applicant body, from an HrFlow profile (reference/huntflow_api.md): names (`"N/A"` when
//! null, as the Flatchr push does), email and phone, the first experience's title and company,
//! the birthday when it is a whole date, and the resume's text in `externals`. The account's
//! source and the uploaded file's id are added when sending.

use serde_json::{Value, json};

use crate::profile;

/// What a Huntflow delivery sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Applicant {
    /// `POST /applicants`, without `externals[0].files` and `account_source`.
    pub body: Value,
    /// The resume to upload: its URL, file name and content type.
    pub resume: Option<Resume>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// Where the file is downloaded from (HrFlow's signed URL).
    pub url: String,
    /// The file name Huntflow shows.
    pub name: String,
    /// The upload's content type, from the file's extension.
    pub content_type: &'static str,
}

impl Applicant {
    /// The applicant's email, when it has one: what finds it again after a lost answer.
    pub fn email(&self) -> Option<&str> {
        self.body
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
    }

    /// The body as sent: the source and the file ids in its one `externals` entry.
    pub fn complete(&self, account_source: i64, files: &[i64]) -> Value {
        let mut body = self.body.clone();
        if let Some(map) = body.as_object_mut() {
            let externals = map.entry("externals").or_insert_with(|| json!([{}]));
            if !externals.is_array() || externals.as_array().is_some_and(Vec::is_empty) {
                *externals = json!([{}]);
            }
            if let Some(first) = externals.get_mut(0).and_then(Value::as_object_mut) {
                first.entry("auth_type").or_insert(json!("NATIVE"));
                if account_source > 0 {
                    first.insert("account_source".into(), json!(account_source));
                }
                if !files.is_empty() {
                    first.insert("files".into(), json!(files));
                }
            }
        }
        body
    }
}

pub fn body(profile: &Value) -> Value {
    let name = |field| {
        profile::info_str(profile, field)
            .map(|s| json!(s))
            .unwrap_or(json!("N/A"))
    };
    let text = |field| {
        profile::info_str(profile, field)
            .map(|s| json!(s))
            .unwrap_or(Value::Null)
    };
    let first = profile::list(profile, "experiences").first();
    let of_first = |field: &str| {
        first
            .and_then(|e| e.get(field))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| json!(s))
            .unwrap_or(Value::Null)
    };
    let mut body = json!({
        "first_name": name("first_name"),
        "last_name": name("last_name"),
        "middle_name": null,
        "email": text("email"),
        "phone": text("phone"),
        "position": of_first("title"),
        "company": of_first("company"),
        "birthday": birthday(profile),
        "externals": [{"auth_type": "NATIVE", "data": {"body": profile.get("text").and_then(Value::as_str).unwrap_or_default()}}],
    });
    // Nulls say nothing to Huntflow: left out, as a person leaves a field empty.
    if let Some(map) = body.as_object_mut() {
        map.retain(|k, v| !v.is_null() || k == "middle_name");
    }
    body
}

/// `YYYY-MM-DD` when `info.date_birth` is a whole date (a time of day after it is dropped).
fn birthday(profile: &Value) -> Value {
    profile::info_str(profile, "date_birth")
        .and_then(|d| d.get(..10))
        .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
        .map_or(Value::Null, |d| json!(d))
}

/// The attachment PushProfile uses.
pub fn resume(profile: &Value) -> Option<Resume> {
    let attachment = profile::resume_attachment(profile)?;
    let url = attachment.get("public_url")?.as_str()?.to_string();
    let extension = profile::attachment_extension(attachment);
    Some(Resume {
        url,
        name: format!(
            "resume{}",
            extension
                .as_deref()
                .map(|e| format!(".{e}"))
                .unwrap_or_default()
        ),
        content_type: profile::content_type(extension.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_names_contacts_first_experience_and_a_whole_birthday() {
        let p = json!({"text": "CV text", "info": {"first_name": "Ada", "last_name": null, "email": "ada@example.org",
            "phone": "+33 6", "date_birth": "1815-12-10T00:00:00"},
            "experiences": [{"title": "Analyst", "company": "Engines"}, {"title": "Other"}],
            "attachments": [{"file_name": "resume", "extension": ".pdf", "public_url": "https://f/cv.pdf"}]});
        let b = body(&p);
        assert_eq!(b["first_name"], "Ada");
        assert_eq!(b["last_name"], "N/A");
        assert_eq!(b["position"], "Analyst");
        assert_eq!(b["company"], "Engines");
        assert_eq!(b["birthday"], "1815-12-10");
        assert_eq!(b["externals"][0]["data"]["body"], "CV text");
        let r = resume(&p).unwrap();
        assert_eq!(
            (r.name.as_str(), r.content_type),
            ("resume.pdf", "application/pdf")
        );
        let a = Applicant {
            body: b,
            resume: Some(r),
        };
        let sent = a.complete(209, &[1329115]);
        assert_eq!(sent["externals"][0]["account_source"], 209);
        assert_eq!(sent["externals"][0]["files"], json!([1329115]));
        assert_eq!(a.complete(0, &[])["externals"][0].get("account_source"), None);
    }

    #[test]
    fn a_partial_birthday_and_no_experience_are_left_out() {
        let b = body(&json!({"info": {"date_birth": "1990"}, "experiences": null}));
        assert!(b.get("birthday").is_none() && b.get("position").is_none());
        assert_eq!(b["first_name"], "N/A");
        assert!(b.get("email").is_none());
    }
}

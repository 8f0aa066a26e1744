//! From an HrFlow profile to a response item and its letters.
//!
//! The stored item keeps the 0.1 names (`resumes`, `photo`, `birthday`); `response::render`
//! turns it into either form.

use serde_json::{Map, Value, json};

use crate::profile;
use crate::store::careers::NewLetter;

#[derive(Debug, Clone, PartialEq)]
pub struct MappedResponse {
    /// The response as stored, under the 0.1 names.
    pub item: Value,
    /// Its letters (cover letters, recommendations), stored beside it.
    pub letters: Vec<NewLetter>,
}

/// The vacancy a careers route delivers to: the profile tag named `vacancy_tag` when the
/// route sets one and the profile has it, else the route's `vacancy`.
pub fn vacancy_id(vacancy: Option<i64>, vacancy_tag: &str, profile: &Value) -> Result<i64, String> {
    if !vacancy_tag.is_empty() {
        let tag = profile::list(profile, "tags")
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(vacancy_tag))
            .and_then(|t| t.get("value"));
        match tag {
            Some(Value::String(s)) => {
                return s.trim().parse().map_err(|_| {
                    format!(
                        "the profile tag {:?} holds {s:?}, which is not a vacancy id",
                        vacancy_tag
                    )
                });
            }
            Some(Value::Number(n)) => {
                return n.as_i64().ok_or_else(|| {
                    format!(
                        "the profile tag {:?} holds {n}, which is not a vacancy id",
                        vacancy_tag
                    )
                });
            }
            _ if vacancy.is_none() => {
                return Err(format!(
                    "the profile has no tag {:?} naming its vacancy",
                    vacancy_tag
                ));
            }
            _ => {}
        }
    }
    vacancy.ok_or_else(|| "the route has no vacancy".to_string())
}

/// Splits `full_name` at its first space: the first word is the first name.
fn split_full_name(full: &str) -> (Option<String>, Option<String>) {
    let full = full.trim();
    match full.split_once(char::is_whitespace) {
        Some((first, rest)) => (
            Some(first.to_string()),
            Some(rest.trim().to_string()).filter(|s| !s.is_empty()),
        ),
        None if !full.is_empty() => (Some(full.to_string()), None),
        None => (None, None),
    }
}

fn insert_str(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        map.insert(key.into(), json!(v));
    }
}

/// The default mapping; a profile without any name cannot be a response.
pub fn from_profile(p: &Value) -> Result<MappedResponse, String> {
    let (first, last) = names(p)?;
    let mut item = Map::new();
    item.insert("first_name".into(), json!(first));
    item.insert("last_name".into(), json!(last));
    insert_str(&mut item, "phone", profile::info_str(p, "phone"));
    insert_str(&mut item, "email", profile::email(p));
    let entry = resume_entry(p);
    item.insert(
        "resumes".into(),
        if entry.is_empty() {
            json!([])
        } else {
            json!([entry])
        },
    );
    insert_str(&mut item, "photo", profile::info_str(p, "picture"));
    if let Some(date) = profile::info_str(p, "date_birth")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
    {
        item.insert(
            "birthday".into(),
            json!(date.format("%Y-%m-%d").to_string()),
        );
    }
    Ok(MappedResponse {
        item: Value::Object(item),
        letters: cover_letters(p),
    })
}

/// First and last name: the profile's own, else its full name split; one of them at least.
fn names(p: &Value) -> Result<(String, String), String> {
    let (split_first, split_last) = profile::info_str(p, "full_name")
        .map(split_full_name)
        .unwrap_or((None, None));
    let first = profile::info_str(p, "first_name")
        .map(str::to_string)
        .or(split_first);
    let last = profile::info_str(p, "last_name")
        .map(str::to_string)
        .or(split_last);
    if first.is_none() && last.is_none() {
        return Err(
            "no candidate name: the profile has no first_name, last_name or full_name".into(),
        );
    }
    Ok((first.unwrap_or_default(), last.unwrap_or_default()))
}

/// The resume entry: the resume file (named with its extension) and the summary, each when
/// the profile has it; empty when it has neither.
fn resume_entry(p: &Value) -> Map<String, Value> {
    let mut entry = Map::new();
    let resume = profile::resume_attachment(p);
    if let Some((att, url)) =
        resume.and_then(|a| Some((a, a.get("public_url").and_then(Value::as_str)?)))
    {
        let base = att
            .get("original_file_name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("resume");
        let name = match profile::attachment_extension(att) {
            Some(ext) if !base.to_ascii_lowercase().ends_with(&format!(".{ext}")) => {
                format!("{base}.{ext}")
            }
            _ => base.to_string(),
        };
        entry.insert("files".into(), json!([{"name": name, "url": url}]));
    }
    if let Some(summary) = profile::info_str(p, "summary") {
        entry.insert("data".into(), json!({"body": summary}));
    }
    entry
}

/// The profile's cover letters (`cover_letter` metadatas), as response letters.
fn cover_letters(p: &Value) -> Vec<NewLetter> {
    profile::list(p, "metadatas")
        .iter()
        .filter(|m| m.get("name").and_then(Value::as_str) == Some("cover_letter"))
        .filter_map(|m| m.get("value").and_then(Value::as_str))
        .filter(|c| !c.trim().is_empty())
        .map(|c| NewLetter {
            kind: "response".into(),
            comment: c.to_string(),
            author: None,
            created_at: None,
        })
        .collect()
}

/// What a route's format function returned: the item itself, with its letters under `letters`.
pub fn from_format(function: &str, mut result: Value) -> Result<MappedResponse, String> {
    let Some(map) = result.as_object_mut() else {
        return Err(format!("format {function} must return a map"));
    };
    let letters = match map.remove("letters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|l| letter(function, l))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("format {function}: `letters` must be an array")),
    };
    // Either key is accepted from a script; stored under the 0.1 name.
    if let Some(resume) = map.remove("resume") {
        map.entry("resumes").or_insert(resume);
    }
    for field in ["first_name", "last_name"] {
        if !map.get(field).is_some_and(Value::is_string) {
            return Err(format!(
                "format {function} returned no {field} (a required string)"
            ));
        }
    }
    map.remove("id");
    map.remove("created");
    Ok(MappedResponse {
        item: result,
        letters,
    })
}

fn letter(function: &str, l: &Value) -> Result<NewLetter, String> {
    let kind = l
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| *t == "response" || *t == "recommendation");
    let comment = l.get("comment").and_then(Value::as_str);
    let (Some(kind), Some(comment)) = (kind, comment) else {
        return Err(format!(
            "format {function}: each letter needs a type (response or recommendation) and a comment"
        ));
    };
    let created_at = l
        .get("created")
        .and_then(Value::as_str)
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|d| d.timestamp_millis());
    let author = l
        .get("author")
        .filter(|a| a.get("name").is_some_and(Value::is_string))
        .cloned();
    Ok(NewLetter {
        kind: kind.into(),
        comment: comment.into(),
        author,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A careers route's vacancy and tag, as `vacancy_id` takes them.
    fn route(vacancy: &str, tag: &str) -> (Option<i64>, String) {
        (vacancy.parse().ok(), tag.to_string())
    }

    fn vacancy_of((vacancy, tag): &(Option<i64>, String), p: &Value) -> Result<i64, String> {
        vacancy_id(*vacancy, tag, p)
    }

    #[test]
    fn names_fall_back_to_the_full_name() {
        let p = json!({"info": {"first_name": null, "last_name": "Liskov", "full_name": "Margaret Liskov"}});
        let m = from_profile(&p).unwrap();
        assert_eq!(
            (m.item["first_name"].as_str(), m.item["last_name"].as_str()),
            (Some("Margaret"), Some("Liskov"))
        );
        let p = json!({"info": {"full_name": "José María Wałęsa"}});
        assert_eq!(from_profile(&p).unwrap().item["last_name"], "María Wałęsa");
        assert!(
            from_profile(&json!({"info": {"full_name": "  "}}))
                .unwrap_err()
                .contains("no candidate name")
        );
        assert!(from_profile(&json!({"info": null})).is_err());
    }

    #[test]
    fn resume_photo_birthday_and_letters() {
        let p = json!({"info": {"first_name": "A", "last_name": "B", "summary": "Text", "picture": "https://f/p.png",
                                "date_birth": "1990-04-12T00:00:00", "email": "a@b.c", "phone": null},
                       "attachments": [{"file_name": "original", "original_file_name": "cv", "extension": ".docx", "public_url": "https://f/cv.docx"}],
                       "metadatas": [{"name": "cover_letter", "value": "Hire me"}, {"name": "other", "value": "x"}]});
        let m = from_profile(&p).unwrap();
        assert_eq!(
            m.item["resumes"],
            json!([{"files": [{"name": "cv.docx", "url": "https://f/cv.docx"}], "data": {"body": "Text"}}])
        );
        assert_eq!(m.item["birthday"], "1990-04-12");
        assert_eq!(m.item["photo"], "https://f/p.png");
        assert!(m.item.get("phone").is_none());
        assert_eq!(m.letters.len(), 1);
        assert_eq!(m.letters[0].comment, "Hire me");
    }

    #[test]
    fn vacancy_from_route_or_tag() {
        let p = json!({"tags": [{"name": "huntflow_vacancy", "value": "7"}]});
        assert_eq!(vacancy_of(&route("3", ""), &p), Ok(3));
        assert_eq!(vacancy_of(&route("3", "huntflow_vacancy"), &p), Ok(7));
        assert_eq!(vacancy_of(&route("3", "missing"), &p), Ok(3));
        assert!(
            vacancy_of(&route("", "missing"), &p)
                .unwrap_err()
                .contains("no tag")
        );
    }

    #[test]
    fn format_output_is_checked() {
        let m = from_format("f", json!({"first_name": "A", "last_name": "B", "resume": [], "letters": [{"type": "recommendation", "comment": "Good", "author": {"name": "S"}}]})).unwrap();
        assert_eq!(
            m.item,
            json!({"first_name": "A", "last_name": "B", "resumes": []})
        );
        assert_eq!(m.letters[0].kind, "recommendation");
        assert!(
            from_format("f", json!({"first_name": "A"}))
                .unwrap_err()
                .contains("last_name")
        );
        assert!(from_format("f", json!({"first_name": "A", "last_name": "B", "letters": [{"type": "x", "comment": "c"}]})).is_err());
    }
}

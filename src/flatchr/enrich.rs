//! The EnrichProfile body, field for field as HrFlow's 0.2.0 connector sends it, except for its
//! defects: the real names in `value.name`, no failure on null locations, attachments or
//! `experiences_duration`, and skills and languages sent.

use serde_json::{Value, json};

use crate::profile::{self, list};

fn get<'a>(v: &'a Value, field: &str) -> &'a Value {
    v.get(field).unwrap_or(&Value::Null)
}

fn location_field<'a>(item: &'a Value, field: &str) -> &'a Value {
    get(get(item, "location"), field)
}

/// EnrichProfile's body: the parsed profile as Flatchr's `parsing` attribute.
pub fn body(profile: &Value) -> Value {
    let info = get(profile, "info");
    let experiences = list(profile, "experiences");
    let non_empty = |field: &str| -> Vec<Value> {
        experiences
            .iter()
            .filter_map(|x| {
                x.get(field)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            })
            .map(|s| json!(s))
            .collect()
    };
    let names = |field: &str| -> Vec<Value> {
        list(profile, field)
            .iter()
            .filter_map(|s| s.get("name").cloned())
            .filter(|n| n.is_string())
            .collect()
    };
    // 0.2.0 sends int(experiences_duration): truncation toward zero.
    let experience = get(profile, "experiences_duration")
        .as_f64()
        .map(|y| json!(y.trunc() as i64))
        .unwrap_or(Value::Null);
    json!({
        "app_name": "HRMatch",
        "reference": get(info, "email"),
        "name": "parsing",
        "type": "applicants",
        "value": {
            "address": {
                "administrative_area_level_1": location_field(info, "text"),
                "location_lat": location_field(info, "lat"),
                "location_lng": location_field(info, "lng"),
            },
            "education": list(profile, "educations").iter().map(education).collect::<Vec<_>>(),
            "employment": experiences.iter().map(employment).collect::<Vec<_>>(),
            "name": name(profile),
            "phone": [{"dialNumber": get(info, "phone"), "useCode": null}],
            "email": [{"address": get(info, "email")}],
            "position": non_empty("title"),
            "employment_positions": non_empty("company"),
            "experience": experience,
            "skills": names("skills"),
            "languages": names("languages"),
        }
    })
}

/// One of the profile's educations.
fn education(e: &Value) -> Value {
    json!({
        "institution": {
            "communication": {"address": [{"formattedAddress": location_field(e, "text")}]},
            "name": get(e, "school"),
        },
        "educationLevelCodes": [{"name": get(e, "title")}],
        "educationDegrees": [{"name": get(e, "title"), "date": get(e, "date_start"), "specializations": []}],
        "end": get(e, "date_end"),
        "descriptions": [get(e, "description")],
    })
}

/// One of the profile's experiences.
fn employment(x: &Value) -> Value {
    json!({
        "title": get(x, "title"),
        "positionHistories": [{
            "organization": {
                "communication": {"address": [{
                    "countryCode": null, "city": null, "postalCode": null,
                    "geoLocation": {"latitude": location_field(x, "lat"), "longitude": location_field(x, "lng")},
                    "formattedAddress": location_field(x, "text"),
                }]},
                "name": get(x, "company"),
            },
            "jobCategories": [], "jobLevels": [],
            "start": get(x, "date_start"),
            "current": null,
        }],
        "start": get(x, "date_start"),
        "current": null,
        "descriptions": [get(x, "description")],
    })
}

/// The real names (0.2.0 sends the field names instead): the full name, else first and last.
fn name(profile: &Value) -> Value {
    let first = profile::info_str(profile, "first_name");
    let last = profile::info_str(profile, "last_name");
    let formatted = profile::info_str(profile, "full_name")
        .map(str::to_string)
        .or_else(|| {
            let joined = [first, last]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
    json!({"formattedName": formatted, "given": first, "family": last})
}

//! The bodies a Flatchr route makes of a profile.

use super::*;
use crate::logic::tests::{profile, route, scripts};

fn bodies(plan: Plan<Bodies>) -> Bodies {
    match plan {
        Plan::Send(b) => b,
        other => panic!("{other:?}"),
    }
}

#[test]
fn logics_then_the_built_in_mapping() {
    let s = scripts();
    assert_eq!(
        prepare(
            route(&["keep", "drop"], ""),
            "vac",
            &s,
            Cow::Owned(profile())
        )
        .unwrap(),
        Plan::Dropped("drop".into())
    );
    let b = bodies(
        prepare(
            route(&["french", "rename"], ""),
            "vac",
            &s,
            Cow::Owned(profile()),
        )
        .unwrap(),
    );
    assert_eq!(b.push["firstname"], "Grace");
    assert_eq!(b.push["vacancy"], "vac");
}

#[test]
fn format_replaces_the_push_body_or_both() {
    let s = scripts();
    let b = bodies(prepare(route(&[], "custom"), "vac", &s, Cow::Owned(profile())).unwrap());
    assert_eq!(
        b.push,
        json!({"vacancy": "other", "email": "a@x.org", "extra": 1})
    );
    assert_eq!(b.enrich["app_name"], "HRMatch");
    let b = bodies(prepare(route(&[], "both"), "vac", &s, Cow::Owned(profile())).unwrap());
    assert_eq!(b.push["firstname"], "Ada");
    assert_eq!(b.enrich, json!({"reference": "r"}));
}

#[test]
fn a_profile_without_email_is_shown_dead() {
    let s = scripts();
    let mut p = profile();
    p["info"]["email"] = Value::Null;
    let flatchr = Flatchr {
        account: String::new(),
        vacancy: "vac".into(),
        enrich: true,
    };
    let shown = preview(
        &flatchr,
        &bodies(prepare(route(&[], ""), "vac", &s, Cow::Owned(p)).unwrap()),
    );
    assert_eq!(
        (shown["outcome"].as_str(), shown["reason"].as_str()),
        (Some("dead"), Some(NO_EMAIL))
    );
    assert_eq!(shown["push"]["token"], "<flatchr.api_key>");
}

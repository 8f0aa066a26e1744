//! `page` and `per_page` (alias `count`): pages count from 1, `page=0` means 1, `per_page`
//! defaults to 20 and is capped at 100.

use serde_json::{Value, json};

use crate::error::ApiError;

pub const DEFAULT_PER_PAGE: i64 = 20;
pub const MAX_PER_PAGE: i64 = 100;
/// Past this page nothing can exist (it would overflow the offset): answered empty.
const MAX_PAGE: i64 = 1 << 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// From 1.
    pub page: i64,
    /// At most `MAX_PER_PAGE`.
    pub per_page: i64,
}

impl Paging {
    /// Reads the query string; a non-numeric or negative value is a 400 naming the parameter.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut page = None;
        let mut per_page = None;
        let mut err = ApiError::bad_request("invalid paging parameters");
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "page" => &mut page,
                "per_page" | "count" => &mut per_page,
                _ => continue,
            };
            let digits = value.trim();
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // Too large to hold is still a page past the end, not an error.
                *slot = Some(digits.parse::<i64>().unwrap_or(i64::MAX));
            } else {
                err = err.field(key.to_string(), "must be a non-negative integer");
            }
        }
        if !err.fields.is_empty() {
            return Err(err);
        }
        let per_page = match per_page {
            None | Some(0) => DEFAULT_PER_PAGE,
            Some(n) => n.min(MAX_PER_PAGE),
        };
        Ok(Self {
            page: page.unwrap_or(1).clamp(1, MAX_PAGE),
            per_page,
        })
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    /// The envelope of a page: `items`, `page`, `pages` (at least 1), `per_page`, `found`.
    /// How many pages `found` items make (at least 1).
    pub fn pages(&self, found: i64) -> i64 {
        ((found + self.per_page - 1) / self.per_page).max(1)
    }

    pub fn envelope(&self, items: Vec<Value>, found: i64) -> Value {
        let pages = self.pages(found);
        json!({"items": items, "page": self.page, "pages": pages, "per_page": self.per_page, "found": found})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_aliases_caps_and_errors() {
        assert_eq!(
            Paging::parse("").unwrap(),
            Paging {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(
            Paging::parse("page=0&count=5").unwrap(),
            Paging {
                page: 1,
                per_page: 5
            }
        );
        assert_eq!(
            Paging::parse("page=3&per_page=1000").unwrap(),
            Paging {
                page: 3,
                per_page: 100
            }
        );
        assert_eq!(
            Paging::parse("page=99999999999999999999999").unwrap().page,
            MAX_PAGE
        );
        let err = Paging::parse("page=-1&per_page=abc").unwrap_err();
        assert!(err.fields.contains_key("page") && err.fields.contains_key("per_page"));
        assert!(
            Paging::parse("count=1.5")
                .unwrap_err()
                .fields
                .contains_key("count")
        );
        let p = Paging {
            page: 3,
            per_page: 20,
        };
        assert_eq!(p.offset(), 40);
        assert_eq!(p.envelope(vec![], 55)["pages"], 3);
        assert_eq!(p.envelope(vec![], 0)["pages"], 1);
    }
}

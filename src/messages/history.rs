//! Reading history pages, shared by the REST route and the socket event.

use crate::db::messages::Page;
use crate::error::{AppError, FieldErrors};

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// A history request parameter as it arrived.
pub enum Param<'a> {
    Absent,
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl<'a> Param<'a> {
    /// A JSON field that may be absent.
    pub fn from_json(value: Option<&'a serde_json::Value>) -> Self {
        value.map_or(Param::Absent, Param::Json)
    }
}

fn parse_id(name: &'static str, param: Param<'_>, errors: &mut FieldErrors) -> Option<i64> {
    let parsed = match param {
        Param::Absent => return None,
        Param::Text("") => return None,
        Param::Json(serde_json::Value::Null) => return None,
        Param::Text(text) => text.trim().parse::<i64>().ok(),
        Param::Json(serde_json::Value::Number(n)) => n.as_i64(),
        Param::Json(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        Param::Json(_) => None,
    };
    match parsed {
        Some(v) if v >= 0 => Some(v),
        _ => {
            errors.insert(name.into(), "must be a non-negative integer".into());
            None
        }
    }
}

/// Validates `before`, `after` and `limit` (limits above 100 are capped).
pub fn parse_page(before: Param<'_>, after: Param<'_>, limit: Param<'_>) -> Result<Page, AppError> {
    let mut errors = FieldErrors::new();
    let before = parse_id("before", before, &mut errors);
    let after = parse_id("after", after, &mut errors);
    let limit = match parse_id("limit", limit, &mut errors) {
        None => DEFAULT_LIMIT,
        Some(0) => {
            errors.insert("limit".into(), "must be between 1 and 100".into());
            DEFAULT_LIMIT
        }
        Some(n) => n.min(MAX_LIMIT),
    };
    if errors.is_empty() {
        Ok(Page {
            before,
            after,
            limit,
        })
    } else {
        Err(AppError::Validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_caps() {
        let page = parse_page(Param::Absent, Param::Text(""), Param::Absent).unwrap();
        assert_eq!((page.before, page.after, page.limit), (None, None, 50));
        let page = parse_page(Param::Text("10"), Param::Absent, Param::Text("500")).unwrap();
        assert_eq!((page.before, page.limit), (Some(10), 100));
        let v = json!(7);
        let page = parse_page(Param::Absent, Param::Json(&v), Param::Absent).unwrap();
        assert_eq!(page.after, Some(7));
    }

    #[test]
    fn rejects_garbage() {
        let obj = json!({"x": 1});
        assert!(parse_page(Param::Text("abc"), Param::Absent, Param::Absent).is_err());
        assert!(parse_page(Param::Absent, Param::Json(&obj), Param::Absent).is_err());
        assert!(parse_page(Param::Absent, Param::Absent, Param::Text("0")).is_err());
        assert!(parse_page(Param::Absent, Param::Absent, Param::Text("-5")).is_err());
    }
}

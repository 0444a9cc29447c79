//! Redaction of audit details (§10.1): any field whose name contains `value`, `password`,
//! `secret`, `key`, `token` or `credential` (case-insensitively) is replaced by
//! `[REDACTED]`, at every depth, inside objects and arrays alike.

use serde_json::{Map, Value};

/// What a redacted field holds instead.
pub const REDACTED: &str = "[REDACTED]";

/// Field names containing any of these are never recorded.
const SENSITIVE: [&str; 6] = ["value", "password", "secret", "key", "token", "credential"];

fn is_sensitive(name: &str) -> bool {
    let lower = name.to_lowercase();
    SENSITIVE.iter().any(|s| lower.contains(s))
}

/// `details` with every sensitive field redacted, recursively.
pub fn sanitize_details(details: Value) -> Value {
    match details {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_sensitive(&k) {
                        (k, Value::String(REDACTED.to_string()))
                    } else {
                        (k, sanitize_details(v))
                    }
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(sanitize_details).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sensitive_fields_are_redacted_at_every_depth() {
        let details = json!({
            "version": 3,
            "newValue": {"key": "sk-live"},
            "apiKey": "sk-live",
            "nested": {
                "Password": "hunter2",
                "list": [{"accessToken": "t", "name": "ok"}, "plain"],
                "clientSecret": {"deep": 1},
                "db": {"credentials": ["a", "b"], "host": "db.internal"}
            },
            "changeReason": "rotation"
        });
        assert_eq!(
            sanitize_details(details),
            json!({
                "version": 3,
                "newValue": REDACTED,
                "apiKey": REDACTED,
                "nested": {
                    "Password": REDACTED,
                    "list": [{"accessToken": REDACTED, "name": "ok"}, "plain"],
                    "clientSecret": REDACTED,
                    "db": {"credentials": REDACTED, "host": "db.internal"}
                },
                "changeReason": "rotation"
            })
        );
    }

    #[test]
    fn scalars_and_empty_objects_pass_through() {
        assert_eq!(sanitize_details(json!(null)), json!(null));
        assert_eq!(sanitize_details(json!({})), json!({}));
        assert_eq!(sanitize_details(json!([1, "x"])), json!([1, "x"]));
    }
}

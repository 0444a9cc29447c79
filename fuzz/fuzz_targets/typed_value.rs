//! Typed-value JSON parsing and validation, every type (PEM and SSH parsing included).
//!
//! The first byte picks a mode: raw JSON, or one of the nine types with the rest of the
//! input as its main field (so the PEM, SSH and connection-string parsers get arbitrary
//! text, not just what survives JSON). Properties: no panic; a value that validates
//! serializes, parses back to the same value and validates again; its Debug print is
//! exactly `SecretValue(TYPE, [REDACTED])`; and an error never repeats the input's main
//! field (checked differentially: a message that contains the field must still contain it
//! when the field is replaced by as many `Z`s, or the field came from the input).
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use secret_core::SecretValue;
use serde_json::{Value, json};

/// The type and main field of each mode after raw JSON.
const MODES: [(&str, &str); 9] = [
    ("API_KEY", "key"),
    ("OAUTH2_TOKEN", "accessToken"),
    ("USERNAME_PASSWORD", "password"),
    ("CERTIFICATE", "certificate"),
    ("SSH_KEY", "privateKey"),
    ("CONNECTION_STRING", "connectionString"),
    ("JSON_CREDENTIAL", "credential"),
    ("ENV_VARIABLE_SET", "variables"),
    ("GENERIC", "value"),
];

fn body(mode: u8, rest: &[u8]) -> Option<(Vec<u8>, Option<String>)> {
    let Some(index) = (mode as usize).checked_sub(1).filter(|i| *i < MODES.len()) else {
        return Some((rest.to_vec(), None));
    };
    let text = std::str::from_utf8(rest).ok()?.to_string();
    let (ty, field) = MODES[index];
    let mut v = json!({"type": ty});
    v[field] = match ty {
        "JSON_CREDENTIAL" => serde_json::from_str::<Value>(&text).unwrap_or(json!({"k": text})),
        "ENV_VARIABLE_SET" => json!({"KEY": text}),
        _ => Value::String(text.clone()),
    };
    match ty {
        "OAUTH2_TOKEN" => v["tokenType"] = json!("Bearer"),
        "USERNAME_PASSWORD" => v["username"] = json!("fuzz-user"),
        "SSH_KEY" => v["keyType"] = json!("ed25519"),
        _ => {}
    }
    Some((serde_json::to_vec(&v).ok()?, Some(text)))
}

/// The error message for `json`, parsed and (if it parses) validated.
fn error_of(json: &[u8], now: chrono::DateTime<Utc>) -> Option<String> {
    match SecretValue::from_json_bytes(json) {
        Err(err) => Some(err.to_string()),
        Ok(v) => v.validate_at(now).err().map(|e| e.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((json, field)) = body(mode % 12, rest) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    // Secret text long enough to be recognised if echoed.
    let telltale = field.filter(|f| f.len() >= 8 && !f.trim().is_empty());
    if let Some(t) = &telltale
        && let Some(message) = error_of(&json, now)
        && message.contains(t.as_str())
    {
        let blank = "Z".repeat(t.len());
        let (other, _) = body(mode % 12, blank.as_bytes()).unwrap();
        let fixed = error_of(&other, now).is_some_and(|m| m.contains(t.as_str()));
        assert!(fixed, "an error repeated the value");
    }
    let Ok(value) = SecretValue::from_json_bytes(&json) else {
        return;
    };
    assert_eq!(
        format!("{value:?}"),
        format!("SecretValue({}, [REDACTED])", value.secret_type()),
        "Debug printed more than the type"
    );
    if let Ok((valid, _facts)) = value.validate_at(now) {
        let _ = valid.masked();
        let bytes = valid.to_json_bytes().expect("a valid value serializes");
        let back = SecretValue::from_json_bytes(&bytes).expect("its JSON parses back");
        let again = back.to_json_bytes().expect("it serializes again");
        assert_eq!(*again, *bytes, "round trip");
        back.validate_at(now).expect("a normalised value validates again");
    }
});

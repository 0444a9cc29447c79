//! Request-body decoding of the create and update endpoints, as the handlers do it.
//!
//! Properties: no panic; a refused body's error never repeats a string the body carried
//! (a value may be in it), other than the schema's own field and enum names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_api::http::fuzzing::{decode_create, decode_update, decode_update_value};
use serde_json::Value;

/// Every string in the body at least 8 bytes long.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() >= 8 => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                if k.len() >= 8 {
                    out.push(k.clone());
                }
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// Names the error may legitimately repeat: the schema's fields and enum values.
fn is_schema_word(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let err = match which % 3 {
        0 => decode_create(body).err(),
        1 => decode_update(body).err(),
        _ => decode_update_value(body).err(),
    };
    let Some(err) = err else {
        return;
    };
    let message = err.to_string();
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let mut carried = Vec::new();
    strings(&json, &mut carried);
    for s in carried {
        if !is_schema_word(&s) {
            assert!(!message.contains(&s), "an error repeated a string of the body");
        }
    }
});

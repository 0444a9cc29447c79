//! Request-body decoding of the create and update endpoints, as the handlers do it.
//!
//! Properties: no panic; a refused body's error never repeats a string the body carried (a
//! value may be in it). Checked differentially: a message containing a string of the body
//! must still contain it when that string is replaced by as many `Z`s, or it came from the
//! body rather than from the message's fixed text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_api::http::fuzzing::{decode_create, decode_update, decode_update_value};
use serde_json::Value;

/// Every string value in the body at least 8 bytes long.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() >= 8 => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// `v` with every string equal to `from` replaced by `to`.
fn replace(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s == from => *s = to.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|i| replace(i, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace(v, from, to)),
        _ => {}
    }
}

fn decode(which: u8, body: &[u8]) -> Option<String> {
    match which % 3 {
        0 => decode_create(body).err(),
        1 => decode_update(body).err(),
        _ => decode_update_value(body).err(),
    }
    .map(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let Some(message) = decode(which, body) else {
        return;
    };
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let mut carried = Vec::new();
    strings(&json, &mut carried);
    for s in carried {
        if !message.contains(&s) {
            continue;
        }
        let mut other = json.clone();
        replace(&mut other, &s, &"Z".repeat(s.len()));
        let other = serde_json::to_vec(&other).unwrap();
        let fixed = decode(which, &other).is_some_and(|m| m.contains(&s));
        assert!(fixed, "an error repeated a string of the body");
    }
});

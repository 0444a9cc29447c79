//! Token parsing and verification.
//!
//! Three properties: arbitrary input as a token never panics; claims signed with the right
//! key never panic and, when accepted, give a principal with a user id; and a valid token,
//! once mutated by the input (bytes overwritten, inserted, removed), is never accepted unless
//! the mutation left it unchanged.
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use secret_access::{TokenIssuer, TokenVerifier};
use secret_core::{OrgRole, Principal, ProjectRole, TeamRole};

const KEY: &[u8] = b"fuzzing-key-fuzzing-key-fuzzing-key-0123";

fuzz_target!(|data: &[u8]| {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let verifier = TokenVerifier::hs256(KEY)
        .unwrap()
        .with_issuer("fuzz-issuer")
        .with_audience("fuzz-audience");
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = verifier.check(text, now);
            }
        }
        1 => {
            // Arbitrary claims, correctly signed.
            let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
                return;
            };
            let key = jsonwebtoken::EncodingKey::from_secret(KEY).unwrap();
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            if let Ok(token) = jsonwebtoken::encode(&header, &claims, &key)
                && let Ok(p) = verifier.check(&token, now)
            {
                assert!(!p.user_id.trim().is_empty());
            }
        }
        _ => {
            let issuer = TokenIssuer::hs256(KEY)
                .unwrap()
                .with_issuer("fuzz-issuer")
                .with_audience("fuzz-audience");
            let principal = Principal::user("u-1")
                .with_org("o1", OrgRole::Admin)
                .with_team("t1", "o1", TeamRole::Lead)
                .with_project("p1", "o1", Some("t1"), ProjectRole::Admin)
                .with_role("r-ops", Some("o1"));
            let token = issuer.mint(&principal, Duration::minutes(5), now).unwrap();
            assert!(verifier.check(&token, now).is_ok());
            let mut bytes = token.clone().into_bytes();
            for op in rest.chunks(3) {
                let [kind, at, byte] = [op[0], *op.get(1).unwrap_or(&0), *op.get(2).unwrap_or(&0)];
                if bytes.is_empty() {
                    break;
                }
                let at = usize::from(at) * bytes.len() / 256;
                match kind % 3 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let Ok(mutated) = String::from_utf8(bytes) else {
                return;
            };
            if mutated != token {
                assert!(
                    verifier.check(&mutated, now).is_err(),
                    "a mutated token was accepted"
                );
            }
        }
    }
});

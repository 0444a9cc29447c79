//! Bearer tokens: round trips for each algorithm and every rejection reason.

// Clippy's allow-*-in-tests settings cover `#[test]` functions only, not the helpers
// around them; in test code a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secret_access::{TokenAlgorithm, TokenError, TokenIssuer, TokenVerifier};
use secret_core::{OrgRole, Principal, ProjectRole, SecretError, TeamRole};
use serde_json::{Value, json};

use common::now;

const SECRET: &[u8] = b"an-hs256-test-secret-of-32-bytes";
const OTHER_SECRET: &[u8] = b"another-hs256-secret-of-32-bytes";
const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa_public.pem");
const RSA_OTHER_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_other_private.pem");
const ED_PRIVATE: &[u8] = include_bytes!("fixtures/ed25519_private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("fixtures/ed25519_public.pem");
const ED_OTHER_PRIVATE: &[u8] = include_bytes!("fixtures/ed25519_other_private.pem");

fn hs_verifier() -> TokenVerifier {
    TokenVerifier::hs256(SECRET).unwrap()
}

fn rs_verifier() -> TokenVerifier {
    TokenVerifier::rs256_pem(RSA_PUBLIC).unwrap()
}

fn full_principal() -> Principal {
    Principal::user("user-42")
        .named("Ada Lovelace")
        .with_org("org-1", OrgRole::Admin)
        .with_org("org-2", OrgRole::Member)
        .with_team("team-1", "org-1", TeamRole::Lead)
        .with_team("team-2", "org-2", TeamRole::Member)
        .with_project("project-1", "org-1", Some("team-1"), ProjectRole::Admin)
        .with_project("project-2", "org-2", None, ProjectRole::Member)
        .with_role("auditor", None)
        .with_role("ops", Some("org-1"))
        .authenticated_at(now() - Duration::minutes(3))
}

/// Minimal valid claims as of `now()`, to be altered by each test.
fn claims() -> Value {
    let now = now().timestamp();
    json!({"sub": "user-42", "iat": now, "exp": now + 600})
}

fn sign_hs(claims: &Value) -> String {
    let key = EncodingKey::from_secret(SECRET).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

/// Checks the precise reason and that the public error is UNAUTHENTICATED without the token.
fn assert_rejected(verifier: &TokenVerifier, token: &str, expected: TokenError) {
    assert_eq!(verifier.check(token, now()).unwrap_err(), expected);
    match verifier.verify_at(token, now()) {
        Err(SecretError::Unauthenticated { reason }) => {
            assert_eq!(reason, expected.to_string());
            for part in token.split('.').filter(|p| p.len() > 3) {
                assert!(!reason.contains(part), "reason {reason:?} echoes the token");
            }
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[test]
fn hs256_round_trip_keeps_every_claim() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    let token = issuer
        .mint(&full_principal(), Duration::minutes(15), now())
        .unwrap();
    assert_eq!(
        hs_verifier().verify_at(&token, now()).unwrap(),
        full_principal()
    );
}

#[test]
fn rs256_round_trip() {
    let issuer = TokenIssuer::rs256_pem(RSA_PRIVATE).unwrap();
    let token = issuer
        .mint(&full_principal(), Duration::minutes(15), now())
        .unwrap();
    assert_eq!(
        rs_verifier().verify_at(&token, now()).unwrap(),
        full_principal()
    );
}

#[test]
fn eddsa_round_trip() {
    let issuer = TokenIssuer::eddsa_pem(ED_PRIVATE).unwrap();
    let verifier = TokenVerifier::eddsa_pem(ED_PUBLIC).unwrap();
    assert_eq!(verifier.algorithm(), TokenAlgorithm::EdDsa);
    let token = issuer
        .mint(&full_principal(), Duration::minutes(15), now())
        .unwrap();
    assert_eq!(verifier.verify_at(&token, now()).unwrap(), full_principal());
}

#[test]
fn minted_claims_use_the_documented_names() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    let token = issuer
        .mint(&full_principal(), Duration::minutes(15), now())
        .unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let t = now().timestamp();
    assert_eq!(
        claims,
        json!({
            "sub": "user-42",
            "name": "Ada Lovelace",
            "superAdmin": false,
            "orgs": {"org-1": "ADMIN", "org-2": "MEMBER"},
            "teams": {
                "team-1": {"org": "org-1", "role": "LEAD"},
                "team-2": {"org": "org-2", "role": "MEMBER"},
            },
            "projects": {
                "project-1": {"org": "org-1", "team": "team-1", "role": "ADMIN"},
                "project-2": {"org": "org-2", "role": "MEMBER"},
            },
            "roles": [{"id": "auditor"}, {"id": "ops", "org": "org-1"}],
            "iat": t,
            "exp": t + 900,
            "authTime": t - 180,
        })
    );
}

#[test]
fn auth_time_defaults_to_the_minting_time() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    let token = issuer
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    let principal = hs_verifier().verify_at(&token, now()).unwrap();
    assert_eq!(principal.auth_time, Some(now()));
}

#[test]
fn optional_claims_default_to_empty() {
    let principal = hs_verifier().verify_at(&sign_hs(&claims()), now()).unwrap();
    assert_eq!(principal, Principal::user("user-42"));
}

#[test]
fn alg_none_is_not_accepted() {
    let header = b64(&json!({"alg": "none", "typ": "JWT"}));
    let token = format!("{header}.{}.", b64(&claims()));
    let expected = TokenError::AlgorithmNotAccepted {
        expected: TokenAlgorithm::Hs256,
    };
    assert_rejected(&hs_verifier(), &token, expected);
    let expected = TokenError::AlgorithmNotAccepted {
        expected: TokenAlgorithm::Rs256,
    };
    assert_rejected(&rs_verifier(), &token, expected);
}

#[test]
fn token_signed_with_another_key_has_an_invalid_signature() {
    let other = TokenIssuer::hs256(OTHER_SECRET).unwrap();
    let token = other
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    assert_rejected(&hs_verifier(), &token, TokenError::InvalidSignature);

    let other = TokenIssuer::rs256_pem(RSA_OTHER_PRIVATE).unwrap();
    let token = other
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    assert_rejected(&rs_verifier(), &token, TokenError::InvalidSignature);

    let other = TokenIssuer::eddsa_pem(ED_OTHER_PRIVATE).unwrap();
    let token = other
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    let verifier = TokenVerifier::eddsa_pem(ED_PUBLIC).unwrap();
    assert_rejected(&verifier, &token, TokenError::InvalidSignature);
}

#[test]
fn tampered_claims_break_the_signature() {
    let token = sign_hs(&claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut forged = claims();
    forged["superAdmin"] = json!(true);
    parts[1] = b64(&forged);
    assert_rejected(
        &hs_verifier(),
        &parts.join("."),
        TokenError::InvalidSignature,
    );
}

#[test]
fn rs256_token_is_not_accepted_by_an_hs256_verifier() {
    let issuer = TokenIssuer::rs256_pem(RSA_PRIVATE).unwrap();
    let token = issuer
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    let expected = TokenError::AlgorithmNotAccepted {
        expected: TokenAlgorithm::Hs256,
    };
    assert_rejected(&hs_verifier(), &token, expected);
}

#[test]
fn hs256_token_is_not_accepted_by_an_rs256_verifier() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    let token = issuer
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    let expected = TokenError::AlgorithmNotAccepted {
        expected: TokenAlgorithm::Rs256,
    };
    assert_rejected(&rs_verifier(), &token, expected.clone());

    // The classic confusion attack: HMAC keyed with the verifier's public key PEM.
    let key = EncodingKey::from_secret(RSA_PUBLIC).unwrap();
    let forged = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(), &key).unwrap();
    assert_rejected(&rs_verifier(), &forged, expected);
}

#[test]
fn eddsa_token_is_not_accepted_by_an_rs256_verifier() {
    let issuer = TokenIssuer::eddsa_pem(ED_PRIVATE).unwrap();
    let token = issuer
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    let expected = TokenError::AlgorithmNotAccepted {
        expected: TokenAlgorithm::Rs256,
    };
    assert_rejected(&rs_verifier(), &token, expected);
}

#[test]
fn expired_beyond_the_leeway_is_refused() {
    let mut c = claims();
    c["exp"] = json!(now().timestamp() - 31);
    assert_rejected(&hs_verifier(), &sign_hs(&c), TokenError::Expired);
    c["exp"] = json!(now().timestamp() - 30);
    assert_rejected(&hs_verifier(), &sign_hs(&c), TokenError::Expired);
}

#[test]
fn expired_within_the_leeway_is_accepted() {
    let mut c = claims();
    c["exp"] = json!(now().timestamp() - 10);
    assert!(hs_verifier().verify_at(&sign_hs(&c), now()).is_ok());
    let strict = hs_verifier().with_leeway(StdDuration::ZERO);
    assert_rejected(&strict, &sign_hs(&c), TokenError::Expired);
}

#[test]
fn minted_token_expires_after_its_ttl() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    let token = issuer
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    let later = now() + Duration::minutes(5) + Duration::seconds(30);
    assert_eq!(hs_verifier().check(&token, later), Err(TokenError::Expired));
    let just_before = now() + Duration::minutes(5) + Duration::seconds(29);
    assert!(hs_verifier().check(&token, just_before).is_ok());
}

#[test]
fn issued_in_the_future_beyond_the_leeway_is_not_yet_valid() {
    let mut c = claims();
    c["iat"] = json!(now().timestamp() + 31);
    assert_rejected(&hs_verifier(), &sign_hs(&c), TokenError::NotYetValid);
    c["iat"] = json!(now().timestamp() + 20);
    assert!(hs_verifier().verify_at(&sign_hs(&c), now()).is_ok());
    let mut c = claims();
    c["nbf"] = json!(now().timestamp() + 120);
    assert_rejected(&hs_verifier(), &sign_hs(&c), TokenError::NotYetValid);
}

#[test]
fn auth_time_in_the_future_is_invalid() {
    let mut c = claims();
    c["authTime"] = json!(now().timestamp() + 3600);
    assert_rejected(
        &hs_verifier(),
        &sign_hs(&c),
        TokenError::InvalidClaim("authTime"),
    );
}

#[test]
fn missing_required_claims_are_named() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_rejected(
        &hs_verifier(),
        &sign_hs(&c),
        TokenError::MissingClaim("exp"),
    );
    let mut c = claims();
    c.as_object_mut().unwrap().remove("sub");
    assert_rejected(
        &hs_verifier(),
        &sign_hs(&c),
        TokenError::MissingClaim("sub"),
    );
}

#[test]
fn wrong_claim_types_are_named() {
    let cases = [
        ("exp", json!("tomorrow"), "exp"),
        ("iat", json!(true), "iat"),
        ("sub", json!(42), "sub"),
        ("sub", json!(""), "sub"),
        ("name", json!(["a"]), "name"),
        ("superAdmin", json!("yes"), "superAdmin"),
        ("orgs", json!({"org-1": "OWNER"}), "orgs"),
        ("orgs", json!(["org-1"]), "orgs"),
        (
            "teams",
            json!({"team-1": {"org": "org-1", "role": "ADMIN"}}),
            "teams",
        ),
        ("teams", json!({"team-1": {"role": "LEAD"}}), "teams"),
        (
            "teams",
            json!({"team-1": {"org": "o", "role": "LEAD", "x": 1}}),
            "teams",
        ),
        ("teams", json!(["team-1"]), "teams"),
        ("projects", json!({"project-1": 1}), "projects"),
        (
            "projects",
            json!({"project-1": {"team": "t1", "role": "ADMIN"}}),
            "projects",
        ),
        ("roles", json!("admin"), "roles"),
        ("roles", json!([{"org": "org-1"}]), "roles"),
        ("roles", json!([{"id": ""}]), "roles"),
        ("authTime", json!("2026-01-01"), "authTime"),
    ];
    for (claim, value, named) in cases {
        let mut c = claims();
        c[claim] = value;
        assert_rejected(
            &hs_verifier(),
            &sign_hs(&c),
            TokenError::InvalidClaim(named),
        );
    }
}

#[test]
fn flat_membership_claims_are_refused_with_the_form_to_write() {
    let cases = [
        (
            "teams",
            json!({"team-1": "LEAD"}),
            r#"{"t1":{"org":"o1","role":"LEAD"}}"#,
        ),
        (
            "projects",
            json!({"project-1": "ADMIN"}),
            r#"{"p1":{"org":"o1","team":"t1","role":"ADMIN"}}"#,
        ),
        (
            "roles",
            json!(["auditor"]),
            r#"[{"id":"r-ops","org":"o1"}]"#,
        ),
    ];
    for (claim, value, form) in cases {
        let mut c = claims();
        c[claim] = value;
        let err = hs_verifier().check(&sign_hs(&c), now()).unwrap_err();
        assert!(
            matches!(err, TokenError::FlatMembership { claim: named, .. } if named == claim),
            "{claim}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(form), "{claim}: {message}");
        assert!(message.contains("flat form"), "{claim}: {message}");
    }
}

#[test]
fn hierarchical_memberships_round_trip() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    let token = issuer
        .mint(&full_principal(), Duration::minutes(15), now())
        .unwrap();
    let p = hs_verifier().verify_at(&token, now()).unwrap();
    assert_eq!(
        p,
        full_principal().authenticated_at(now() - Duration::minutes(3))
    );
    assert!(p.is_team_lead_in(Some("org-1"), Some("team-1")));
    assert!(!p.is_team_lead_in(Some("org-2"), Some("team-1")));
    assert!(p.has_role_in("auditor", Some("org-9")), "platform-wide");
    assert!(p.has_role_in("ops", Some("org-1")));
    assert!(!p.has_role_in("ops", Some("org-2")));
    assert!(!p.has_role_in("ops", None));
}

#[test]
fn garbage_is_malformed() {
    let valid_header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
    let cases = [
        String::new(),
        "garbage".to_owned(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        "a.b.c.d".to_owned(),
        "!!!.###.$$$".to_owned(),
        format!("{}.{}.", b64(&json!([1, 2])), b64(&claims())),
        format!("{}.{}.sig", b64(&json!({"typ": "JWT"})), b64(&claims())),
    ];
    for token in &cases {
        assert_rejected(&hs_verifier(), token, TokenError::Malformed);
    }
    // The signature is checked before the claims are read: an unsigned body is a bad signature.
    let token = format!("{valid_header}.not-json.c2ln");
    assert_rejected(&hs_verifier(), &token, TokenError::InvalidSignature);
    // A correctly signed token whose claims are not a JSON object.
    let key = EncodingKey::from_secret(SECRET).unwrap();
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &json!([1]), &key).unwrap();
    assert_rejected(&hs_verifier(), &token, TokenError::Malformed);
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let token = "a".repeat(secret_access::token::MAX_TOKEN_BYTES + 1);
    assert_rejected(&hs_verifier(), &token, TokenError::TooLarge);
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let verifier = hs_verifier()
        .with_issuer("platform")
        .with_audience("secrets");
    let issuer = TokenIssuer::hs256(SECRET)
        .unwrap()
        .with_issuer("platform")
        .with_audience("secrets");
    let token = issuer
        .mint(&Principal::user("u"), Duration::minutes(5), now())
        .unwrap();
    assert!(verifier.verify_at(&token, now()).is_ok());

    assert_rejected(
        &verifier,
        &sign_hs(&claims()),
        TokenError::MissingClaim("iss"),
    );
    let mut c = claims();
    c["iss"] = json!("elsewhere");
    assert_rejected(&verifier, &sign_hs(&c), TokenError::InvalidClaim("iss"));
    c["iss"] = json!("platform");
    c["aud"] = json!(["billing", "secrets"]);
    assert!(verifier.verify_at(&sign_hs(&c), now()).is_ok());
    c["aud"] = json!("billing");
    assert_rejected(&verifier, &sign_hs(&c), TokenError::InvalidClaim("aud"));
}

#[test]
fn short_hs256_secrets_are_refused() {
    let short = b"only-31-bytes-long-secret-value";
    assert_eq!(short.len(), 31);
    assert!(matches!(
        TokenVerifier::hs256(short),
        Err(SecretError::Validation { field, .. }) if field == "secret"
    ));
    assert!(matches!(
        TokenIssuer::hs256(short),
        Err(SecretError::Validation { field, .. }) if field == "secret"
    ));
}

#[test]
fn keys_of_the_wrong_kind_are_refused() {
    assert!(TokenVerifier::rs256_pem(RSA_PRIVATE).is_err());
    assert!(TokenVerifier::rs256_pem(ED_PUBLIC).is_err());
    assert!(TokenVerifier::eddsa_pem(ED_PRIVATE).is_err());
    assert!(TokenVerifier::eddsa_pem(RSA_PUBLIC).is_err());
    assert!(TokenVerifier::rs256_pem(b"not a pem").is_err());
    assert!(TokenIssuer::rs256_pem(RSA_PUBLIC).is_err());
    assert!(TokenIssuer::rs256_pem(ED_PRIVATE).is_err());
    assert!(TokenIssuer::eddsa_pem(RSA_PRIVATE).is_err());
    assert!(TokenIssuer::eddsa_pem(b"").is_err());
}

#[test]
fn minting_needs_a_positive_ttl_and_a_user() {
    let issuer = TokenIssuer::hs256(SECRET).unwrap();
    assert!(
        issuer
            .mint(&Principal::user("u"), Duration::zero(), now())
            .is_err()
    );
    assert!(
        issuer
            .mint(&Principal::user("u"), Duration::seconds(-5), now())
            .is_err()
    );
    assert!(
        issuer
            .mint(&Principal::user(""), Duration::minutes(5), now())
            .is_err()
    );
}

#[test]
fn debug_output_hides_keys() {
    let verifier = format!("{:?}", hs_verifier());
    let issuer = format!("{:?}", TokenIssuer::hs256(SECRET).unwrap());
    for text in [verifier, issuer] {
        assert!(text.contains("[REDACTED]"), "{text}");
        assert!(!text.contains("hs256-test-secret"), "{text}");
    }
}

//! Tests of typed values: wire format, validation, normalisation, facts, masking, redaction.
//! Key and certificate fixtures live in `tests/fixtures` (see `generate.sh` there).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use zeroize::Zeroize;

use super::*;
use crate::enums::SshKeyType;
use crate::error::ErrorCode;
use crate::limits::MAX_VALUE_JSON_BYTES;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/", $name))
    };
}

const CERT_RSA: &str = fixture!("cert_rsa.pem");
const CERT_RSA_KEY: &str = fixture!("cert_rsa_key.pem");
const CERT_RSA_KEY_PKCS1: &str = fixture!("cert_rsa_key_pkcs1.pem");
const CERT_RSA_KEY_ENCRYPTED: &str = fixture!("cert_rsa_key_encrypted.pem");
const CERT_RSA_KEY_PKCS1_ENCRYPTED: &str = fixture!("cert_rsa_key_pkcs1_encrypted.pem");
const CERT_EC: &str = fixture!("cert_ec.pem");
const CERT_EC_KEY: &str = fixture!("cert_ec_key.pem");
const CERT_ED25519: &str = fixture!("cert_ed25519.pem");
const CERT_ED25519_KEY: &str = fixture!("cert_ed25519_key.pem");
const CERT_EXPIRED: &str = fixture!("cert_expired.pem");

const SSH_ED25519: &str = fixture!("ssh_ed25519.key");
const SSH_ED25519_PUB: &str = fixture!("ssh_ed25519.pub");
const SSH_RSA: &str = fixture!("ssh_rsa.key");
const SSH_RSA_PUB: &str = fixture!("ssh_rsa.pub");
const SSH_ECDSA: &str = fixture!("ssh_ecdsa.key");
const SSH_ECDSA_PUB: &str = fixture!("ssh_ecdsa.pub");
const SSH_ED25519_ENCRYPTED: &str = fixture!("ssh_ed25519_encrypted.key");
const SSH_ED25519_ENCRYPTED_PUB: &str = fixture!("ssh_ed25519_encrypted.pub");
const SSH_RSA_PEM: &str = fixture!("ssh_rsa_pem.key");
const SSH_RSA_PEM_PUB: &str = fixture!("ssh_rsa_pem.pub");
const SSH_ECDSA_PEM: &str = fixture!("ssh_ecdsa_pem.key");
const SSH_ECDSA_PEM_PUB: &str = fixture!("ssh_ecdsa_pem.pub");

/// Fingerprints as `ssh-keygen -l -E sha256` printed them for the fixtures.
const FP_ED25519: &str = "SHA256:h2zO/KGfQ71HksH9yCigOR9I4KxGJPCu27xjMy2e7iY";
const FP_RSA: &str = "SHA256:AfDbVCf70Pa8MAsx2Uqy/1KUqa1gKTUWceFA369heQI";
const FP_ECDSA: &str = "SHA256:hsN5BUdLJVmxGTvVzh5kvtCO9C58XR07uXl5p8Yik54";
const FP_ED25519_ENCRYPTED: &str = "SHA256:jQNfZnE5hB4J79bTozKJjgHhWo7p4bTgFtmfwk7z5uk";
const FP_RSA_PEM: &str = "SHA256:dKly2GGh8ksVBxHYft8CPyO9YAGISsGnBjJf8yzIaak";
const FP_ECDSA_PEM: &str = "SHA256:DtLGl0Ql3K23DR1zIVMjmsqyX6MO+b7bZNslwzMqLdc";

/// The fixtures' certificates (except the expired one) end then.
fn fixture_not_after() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2126, 11, 4, 15, 18, 47).unwrap()
}

/// A fixed "now" at which the fixture certificates are valid (and the expired one is not).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

fn value(json: Value) -> AnySecretValue {
    serde_json::from_value(json).unwrap()
}

fn valid(json: Value) -> (AnySecretValue, ValueFacts) {
    value(json).validate_at(now()).unwrap()
}

fn wire(value: &AnySecretValue) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Validation must fail with VALIDATION_ERROR on exactly `field`.
#[track_caller]
fn assert_invalid(json: Value, field: &str) -> String {
    match value(json).validate_at(now()) {
        Err(SecretError::Validation {
            field: actual,
            reason,
        }) => {
            assert_eq!(actual, field, "wrong field (reason: {reason})");
            reason
        }
        Err(other) => panic!("expected a validation error on {field}, got {other:?}"),
        Ok((v, _)) => panic!(
            "expected a validation error on {field}, got {:?}",
            v.secret_type()
        ),
    }
}

fn ssh(private_key: &str, key_type: &str) -> Value {
    json!({"type": "SSH_KEY", "privateKey": private_key, "keyType": key_type})
}

fn cert(certificate: &str) -> Value {
    json!({"type": "CERTIFICATE", "certificate": certificate})
}

fn conn(s: &str) -> Value {
    json!({"type": "CONNECTION_STRING", "connectionString": s})
}

// ---------------------------------------------------------------- wire format and serde

#[test]
fn api_key_wire_format_is_the_tagged_camel_case_object() {
    let text = r#"{"type":"API_KEY","key":"sk-live-0123456789abcd"}"#;
    let v: AnySecretValue = serde_json::from_str(text).unwrap();
    assert_eq!(v.secret_type(), SecretType::ApiKey);
    assert_eq!(serde_json::to_string(&v).unwrap(), text);
}

#[test]
fn type_tag_may_come_after_the_fields() {
    let v: AnySecretValue = serde_json::from_str(r#"{"key":"abc","type":"API_KEY"}"#).unwrap();
    assert_eq!(v.secret_type(), SecretType::ApiKey);
}

#[test]
fn every_type_round_trips_through_json() {
    let samples = [
        json!({"type": "API_KEY", "key": "k-0123456789"}),
        json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "refreshToken": "rt",
               "tokenType": "Bearer", "expiresAt": "2030-06-01T12:00:00Z", "scope": "read write"}),
        json!({"type": "USERNAME_PASSWORD", "username": "alice", "password": "pw"}),
        json!({"type": "CERTIFICATE", "certificate": CERT_RSA, "privateKey": CERT_RSA_KEY,
               "chain": [CERT_EC], "expiresAt": "2126-11-04T15:18:47Z"}),
        json!({"type": "SSH_KEY", "privateKey": SSH_ED25519, "publicKey": SSH_ED25519_PUB,
               "keyType": "ed25519"}),
        json!({"type": "CONNECTION_STRING", "connectionString": "postgres://u:p@h:5432/d",
               "parsed": {"host": "h", "port": 5432, "database": "d", "username": "u"}}),
        json!({"type": "JSON_CREDENTIAL", "credential": {"type": "service_account", "n": [1, 2]}}),
        json!({"type": "ENV_VARIABLE_SET", "variables": {"A": "1", "B": ""}}),
        json!({"type": "GENERIC", "value": "anything"}),
    ];
    for (sample, expected_type) in samples.into_iter().zip(SecretType::ALL) {
        let v = value(sample.clone());
        assert_eq!(v.secret_type(), *expected_type);
        assert_eq!(wire(&v), sample, "{expected_type} did not round-trip");
        let (normalised, _) = v.validate_at(now()).unwrap();
        assert_eq!(
            wire(&normalised),
            sample,
            "{expected_type} changed in validation"
        );
    }
}

#[test]
fn optional_fields_are_omitted_when_absent() {
    let v = value(json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "tokenType": "Bearer"}));
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"type":"OAUTH2_TOKEN","accessToken":"at","tokenType":"Bearer"}"#
    );
}

#[test]
fn unknown_field_is_rejected_for_every_type() {
    let samples = [
        json!({"type": "API_KEY", "key": "k", "extra": 1}),
        json!({"type": "OAUTH2_TOKEN", "accessToken": "a", "tokenType": "B", "extra": 1}),
        json!({"type": "USERNAME_PASSWORD", "username": "u", "password": "p", "extra": 1}),
        json!({"type": "CERTIFICATE", "certificate": "c", "extra": 1}),
        json!({"type": "SSH_KEY", "privateKey": "k", "keyType": "rsa", "extra": 1}),
        json!({"type": "CONNECTION_STRING", "connectionString": "a=b", "extra": 1}),
        json!({"type": "JSON_CREDENTIAL", "credential": {"a": 1}, "extra": 1}),
        json!({"type": "ENV_VARIABLE_SET", "variables": {"A": "1"}, "extra": 1}),
        json!({"type": "GENERIC", "value": "v", "extra": 1}),
        json!({"type": "CONNECTION_STRING", "connectionString": "a=b", "parsed": {"password": "x"}}),
    ];
    for sample in samples {
        let err = serde_json::from_value::<AnySecretValue>(sample.clone()).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{sample}: {err}");
    }
    let err =
        SecretValue::from_json_bytes(br#"{"type":"GENERIC","value":"v","valeu":"w"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationError);
    assert!(err.to_string().contains("unknown field `valeu`"), "{err}");
}

#[test]
fn wrong_or_missing_type_tag_is_rejected() {
    for bad in [
        r#"{"type":"API_KEYS","key":"k"}"#,
        r#"{"type":"api_key","key":"k"}"#,
        r#"{"type":7,"key":"k"}"#,
        r#"{"key":"k"}"#,
        r#"{"type":"GENERIC","key":"k"}"#,
        r#"["API_KEY","k"]"#,
        r#""k""#,
    ] {
        assert!(
            serde_json::from_str::<AnySecretValue>(bad).is_err(),
            "{bad} was accepted"
        );
        let err = SecretValue::from_json_bytes(bad.as_bytes()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError, "{bad}");
    }
}

#[test]
fn deserialization_errors_never_quote_the_value() {
    let samples = [
        json!({"type": "SSH_KEY", "privateKey": "k", "keyType": "zq-marker"}),
        json!({"type": "OAUTH2_TOKEN", "accessToken": "a", "tokenType": "B",
               "expiresAt": "zq-marker"}),
        json!({"type": "CONNECTION_STRING", "connectionString": "a=b",
               "parsed": {"port": "zq-marker"}}),
        json!({"type": "ENV_VARIABLE_SET", "variables": ["zq-marker"]}),
        json!({"type": "JSON_CREDENTIAL", "credential": "zq-marker"}),
    ];
    for sample in samples {
        let err = serde_json::from_value::<AnySecretValue>(sample.clone()).unwrap_err();
        assert!(!err.to_string().contains("zq-marker"), "{err}");
        let bytes = serde_json::to_vec(&sample).unwrap();
        let err = SecretValue::from_json_bytes(&bytes).unwrap_err();
        assert!(!err.to_string().contains("zq-marker"), "{err}");
        assert!(!format!("{err:?}").contains("zq-marker"), "{err:?}");
    }
    let err = SecretValue::from_json_bytes(br#"{"type":"GENERIC","value":"zq-marker"#).unwrap_err();
    assert!(!err.to_string().contains("zq-marker"), "{err}");
}

// ---------------------------------------------------------------- SecretValue

#[test]
fn secret_value_json_bytes_round_trip_canonically() {
    let text = r#"{"type":"USERNAME_PASSWORD","username":"alice","password":"p w"}"#;
    let secret = SecretValue::from_json_bytes(text.as_bytes()).unwrap();
    assert_eq!(secret.secret_type(), SecretType::UsernamePassword);
    let bytes = secret.to_json_bytes().unwrap();
    assert_eq!(bytes.as_slice(), text.as_bytes());
    assert_eq!(bytes.capacity(), bytes.len(), "buffer was sized exactly");
    let pretty = serde_json::to_vec_pretty(&serde_json::from_str::<Value>(text).unwrap()).unwrap();
    let again = SecretValue::from_json_bytes(&pretty).unwrap();
    assert_eq!(again.to_json_bytes().unwrap().as_slice(), text.as_bytes());
}

#[test]
fn secret_value_serializes_like_the_inner_value_and_clones() {
    let secret = SecretValue::new(value(json!({"type": "GENERIC", "value": "v"})));
    let copy = secret.clone();
    assert_eq!(
        serde_json::to_string(&copy).unwrap(),
        r#"{"type":"GENERIC","value":"v"}"#
    );
    let back: SecretValue = serde_json::from_str(r#"{"type":"GENERIC","value":"v"}"#).unwrap();
    assert_eq!(back.expose_secret().secret_type(), SecretType::Generic);
    assert_eq!(back.masked(), MASK);
}

#[test]
fn secret_value_validates_in_its_box() {
    let secret = SecretValue::from(value(conn("postgres://u:pw@db.example.com/app")));
    let (secret, facts) = secret.validate_at(now()).unwrap();
    assert_eq!(
        facts.masked,
        format!("postgres://db.example.com/app {MASK}")
    );
    let AnySecretValue::ConnectionString(v) = secret.expose_secret() else {
        panic!()
    };
    assert_eq!(
        v.parsed.as_ref().and_then(|p| p.host.as_deref()),
        Some("db.example.com")
    );
    let err = SecretValue::new(value(json!({"type": "GENERIC", "value": ""}))).validate();
    assert_eq!(err.unwrap_err().code(), ErrorCode::ValidationError);
}

#[test]
fn check_type_reports_invalid_secret_type() {
    let v = value(json!({"type": "GENERIC", "value": "v"}));
    assert!(v.check_type(SecretType::Generic).is_ok());
    let err = v.check_type(SecretType::ApiKey).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSecretType);
    assert!(matches!(
        err,
        SecretError::InvalidSecretType {
            expected: SecretType::ApiKey,
            actual: SecretType::Generic
        }
    ));
    let secret = SecretValue::new(v);
    assert_eq!(
        secret
            .check_type(SecretType::Certificate)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidSecretType
    );
}

#[test]
fn value_facts_serialize_in_camel_case_without_empty_fields() {
    let (_, facts) = valid(json!({"type": "CERTIFICATE", "certificate": CERT_EC}));
    assert_eq!(
        serde_json::to_value(&facts).unwrap(),
        json!({
            "certificateSubject": "CN=ec.example.com, O=Acme",
            "certificateNotAfter": "2126-11-04T15:18:47Z",
            "naturalExpiry": "2126-11-04T15:18:47Z",
            "masked": "Certificate: CN=ec.example.com, O=Acme",
        })
    );
    let back: ValueFacts = serde_json::from_value(serde_json::to_value(&facts).unwrap()).unwrap();
    assert_eq!(back, facts);
}

// ---------------------------------------------------------------- redaction and zeroization

/// One value of each type with "zq-marker" in every secret field.
fn marked_values() -> Vec<AnySecretValue> {
    let m = "zq-marker";
    vec![
        value(json!({"type": "API_KEY", "key": format!("{m}-0123456789")})),
        value(
            json!({"type": "OAUTH2_TOKEN", "accessToken": m, "refreshToken": m,
                     "tokenType": m, "scope": m}),
        ),
        value(json!({"type": "USERNAME_PASSWORD", "username": m, "password": m})),
        value(
            json!({"type": "CERTIFICATE", "certificate": m, "privateKey": m, "chain": [m],
                     "passphrase": m}),
        ),
        value(
            json!({"type": "SSH_KEY", "privateKey": m, "publicKey": m, "passphrase": m,
                     "keyType": "ed25519"}),
        ),
        value(
            json!({"type": "CONNECTION_STRING", "connectionString": format!("pg://u:{m}@h/d"),
                     "parsed": {"host": m, "username": m}}),
        ),
        value(json!({"type": "JSON_CREDENTIAL", "credential": {m: m, "k": [m]}})),
        value(json!({"type": "ENV_VARIABLE_SET", "variables": {"NAME": m}})),
        value(json!({"type": "GENERIC", "value": m})),
    ]
}

#[test]
fn debug_output_of_every_type_holds_no_secret() {
    for v in marked_values() {
        let secret_type = v.secret_type();
        let any = format!("{v:?} {v:#?}");
        assert!(!any.contains("zq-marker"), "{any}");
        let secret = SecretValue::new(v);
        let boxed = format!("{secret:?}");
        assert_eq!(boxed, format!("SecretValue({secret_type}, [REDACTED])"));
    }
    let v = value(ssh("zq-marker", "ed25519"));
    assert_eq!(
        format!("{v:?}"),
        "SshKey(SshKeySecret { key_type: Ed25519, private_key: [REDACTED], public_key: None, \
         passphrase: None })"
    );
    let v = value(json!({"type": "API_KEY", "key": "zq-marker"}));
    assert_eq!(format!("{v:?}"), "ApiKey(ApiKeySecret { key: [REDACTED] })");
}

#[test]
fn zeroize_wipes_every_secret_field() {
    for mut v in marked_values() {
        v.zeroize();
        let after = serde_json::to_string(&v).unwrap();
        assert!(!after.contains("zq-marker"), "{after}");
    }
}

// ---------------------------------------------------------------- API_KEY

#[test]
fn api_key_must_not_be_blank_or_contain_nul() {
    assert_invalid(json!({"type": "API_KEY", "key": ""}), "value.key");
    assert_invalid(json!({"type": "API_KEY", "key": "   \t"}), "value.key");
    let reason = assert_invalid(
        json!({"type": "API_KEY", "key": "zq-mark\u{0}er"}),
        "value.key",
    );
    assert!(!reason.contains("zq"));
}

#[test]
fn api_key_masking_shows_last_four_characters_only_for_long_keys() {
    let masked = |k: &str| value(json!({"type": "API_KEY", "key": k})).masked();
    assert_eq!(masked("sk-live-abcd"), "••••••••abcd");
    assert_eq!(masked("sk-live-abc"), MASK);
    assert_eq!(masked("äöüäöüäöü€漢字😀"), "••••••••€漢字😀");
    assert_eq!(masked("ключключклюЖ"), "••••••••клюЖ");
    assert_eq!(masked("äöüäöüäöüäö"), MASK, "11 characters, 22 bytes");
    let (_, facts) = valid(json!({"type": "API_KEY", "key": "0123456789abcdef"}));
    assert_eq!(facts.masked, "••••••••cdef");
    assert_eq!(
        facts,
        ValueFacts {
            masked: "••••••••cdef".into(),
            ..ValueFacts::default()
        }
    );
}

// ---------------------------------------------------------------- OAUTH2_TOKEN

#[test]
fn oauth2_token_expiry_is_its_natural_expiry_and_it_is_fully_masked() {
    let (_, facts) = valid(
        json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "tokenType": "Bearer",
                                  "expiresAt": "2030-06-01T12:00:00Z"}),
    );
    assert_eq!(
        facts.natural_expiry,
        Some(Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0).unwrap())
    );
    assert_eq!(facts.masked, MASK);
    let (_, facts) = valid(json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "tokenType": "x"}));
    assert_eq!(facts.natural_expiry, None);
}

#[test]
fn oauth2_token_requires_access_token_and_token_type() {
    let base =
        |at: &str, tt: &str| json!({"type": "OAUTH2_TOKEN", "accessToken": at, "tokenType": tt});
    assert_invalid(base("", "Bearer"), "value.accessToken");
    assert_invalid(base("a\u{0}b", "Bearer"), "value.accessToken");
    assert_invalid(base("at", " "), "value.tokenType");
    assert_invalid(
        json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "tokenType": "Bearer", "refreshToken": ""}),
        "value.refreshToken",
    );
    assert_invalid(
        json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "tokenType": "Bearer", "scope": " "}),
        "value.scope",
    );
    assert!(
        serde_json::from_value::<AnySecretValue>(
            json!({"type": "OAUTH2_TOKEN", "accessToken": "at"})
        )
        .is_err()
    );
}

// ---------------------------------------------------------------- USERNAME_PASSWORD

#[test]
fn username_password_shows_the_username_and_keeps_password_spaces() {
    let (v, facts) = valid(json!({"type": "USERNAME_PASSWORD", "username": "alice",
                                  "password": " pass word "}));
    assert_eq!(facts.masked, "alice / ••••••••");
    assert_eq!(wire(&v)["password"], " pass word ");
}

#[test]
fn username_password_requires_both_parts() {
    let up = |u: &str, p: &str| json!({"type": "USERNAME_PASSWORD", "username": u, "password": p});
    assert_invalid(up(" ", "pw"), "value.username");
    assert_invalid(up("u\u{0}", "pw"), "value.username");
    assert_invalid(up("alice", ""), "value.password");
    assert_invalid(up("alice", "p\u{0}w"), "value.password");
}

// ---------------------------------------------------------------- CERTIFICATE

#[test]
fn certificate_yields_subject_not_after_and_normalised_expiry() {
    let (v, facts) = valid(json!({"type": "CERTIFICATE", "certificate": CERT_RSA,
                                  "privateKey": CERT_RSA_KEY}));
    assert_eq!(
        facts.certificate_subject.as_deref(),
        Some("CN=rsa.example.com, O=Acme, C=US")
    );
    assert_eq!(facts.certificate_not_after, Some(fixture_not_after()));
    assert_eq!(facts.natural_expiry, Some(fixture_not_after()));
    assert_eq!(
        facts.masked,
        "Certificate: CN=rsa.example.com, O=Acme, C=US"
    );
    assert_eq!(wire(&v)["expiresAt"], "2126-11-04T15:18:47Z");
    assert_eq!(v.masked(), facts.masked);
}

#[test]
fn certificate_accepts_rsa_ec_and_ed25519_keys_in_every_pem_form() {
    for (certificate, key) in [
        (CERT_RSA, CERT_RSA_KEY),
        (CERT_RSA, CERT_RSA_KEY_PKCS1),
        (CERT_EC, CERT_EC_KEY),
        (CERT_ED25519, CERT_ED25519_KEY),
    ] {
        let (_, facts) =
            valid(json!({"type": "CERTIFICATE", "certificate": certificate, "privateKey": key}));
        assert!(facts.certificate_subject.is_some());
    }
    let (_, facts) = valid(cert(CERT_ED25519));
    assert_eq!(facts.masked, "Certificate: CN=ed.example.com");
}

#[test]
fn certificate_private_key_must_match_the_certificate() {
    for (certificate, key) in [
        (CERT_RSA, CERT_EC_KEY),
        (CERT_RSA, CERT_ED25519_KEY),
        (CERT_EC, SSH_ECDSA_PEM),
        (CERT_ED25519, CERT_RSA_KEY_PKCS1),
    ] {
        let reason = assert_invalid(
            json!({"type": "CERTIFICATE", "certificate": certificate, "privateKey": key}),
            "value.privateKey",
        );
        assert!(reason.contains("does not match"), "{reason}");
    }
}

#[test]
fn certificate_encrypted_private_key_requires_a_passphrase() {
    for key in [CERT_RSA_KEY_ENCRYPTED, CERT_RSA_KEY_PKCS1_ENCRYPTED] {
        let mut input = json!({"type": "CERTIFICATE", "certificate": CERT_RSA, "privateKey": key});
        assert_invalid(input.clone(), "value.passphrase");
        input["passphrase"] = json!("fixture-pass");
        valid(input.clone());
        input["passphrase"] = json!("");
        assert_invalid(input, "value.passphrase");
    }
}

#[test]
fn certificate_private_key_must_be_a_pem_private_key() {
    for key in [
        "garbage",
        SSH_ED25519,
        CERT_EC,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        assert_invalid(
            json!({"type": "CERTIFICATE", "certificate": CERT_RSA, "privateKey": key}),
            "value.privateKey",
        );
    }
}

#[test]
fn certificate_expiry_may_be_earlier_but_not_later_than_not_after() {
    let earlier = "2100-01-01T00:00:00Z";
    let (v, facts) =
        valid(json!({"type": "CERTIFICATE", "certificate": CERT_EC, "expiresAt": earlier}));
    assert_eq!(wire(&v)["expiresAt"], earlier);
    assert_eq!(
        facts.natural_expiry,
        Some(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(facts.certificate_not_after, Some(fixture_not_after()));
    assert_invalid(
        json!({"type": "CERTIFICATE", "certificate": CERT_EC, "expiresAt": "2127-01-01T00:00:00Z"}),
        "value.expiresAt",
    );
}

#[test]
fn expired_certificate_is_rejected() {
    let reason = assert_invalid(cert(CERT_EXPIRED), "value.certificate");
    assert!(reason.contains("expired"), "{reason}");
    let then = Utc.with_ymd_and_hms(2020, 6, 1, 0, 0, 0).unwrap();
    let (_, facts) = value(cert(CERT_EXPIRED)).validate_at(then).unwrap();
    assert_eq!(
        facts.certificate_subject.as_deref(),
        Some("CN=expired.example.com")
    );
    assert_eq!(
        facts.certificate_not_after,
        Some(Utc.with_ymd_and_hms(2020, 12, 31, 23, 59, 59).unwrap())
    );
    assert!(value(cert(CERT_EXPIRED)).validate().is_err());
}

#[test]
fn garbage_certificates_are_rejected() {
    let two = format!("{CERT_RSA}{CERT_EC}");
    for garbage in [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
        CERT_RSA_KEY,
        two.as_str(),
    ] {
        assert_invalid(cert(garbage), "value.certificate");
    }
}

#[test]
fn certificate_chain_entries_must_each_parse() {
    let (v, _) = valid(json!({"type": "CERTIFICATE", "certificate": CERT_RSA,
                              "chain": [CERT_EC, CERT_ED25519]}));
    assert_eq!(wire(&v)["chain"].as_array().map(Vec::len), Some(2));
    assert_invalid(
        json!({"type": "CERTIFICATE", "certificate": CERT_RSA, "chain": [CERT_EC, "garbage"]}),
        "value.chain[1]",
    );
    let (v, _) = valid(json!({"type": "CERTIFICATE", "certificate": CERT_RSA, "chain": []}));
    assert!(wire(&v).get("chain").is_none(), "an empty chain is dropped");
}

#[test]
fn certificate_with_unparseable_subject_masks_it() {
    let v = value(cert("garbage"));
    assert_eq!(v.masked(), format!("Certificate: {MASK}"));
}

// ---------------------------------------------------------------- SSH_KEY

#[test]
fn openssh_keys_of_each_type_validate_with_their_fingerprint() {
    for (key, public, key_type, fingerprint) in [
        (SSH_ED25519, SSH_ED25519_PUB, "ed25519", FP_ED25519),
        (SSH_RSA, SSH_RSA_PUB, "rsa", FP_RSA),
        (SSH_ECDSA, SSH_ECDSA_PUB, "ecdsa", FP_ECDSA),
    ] {
        let mut input = ssh(key, key_type);
        let (_, facts) = valid(input.clone());
        assert_eq!(
            facts.ssh_fingerprint.as_deref(),
            Some(fingerprint),
            "{key_type}"
        );
        assert_eq!(facts.masked, format!("SSH key ({key_type}) ••••••••"));
        input["publicKey"] = json!(public);
        let (_, facts) = valid(input);
        assert_eq!(
            facts.ssh_fingerprint.as_deref(),
            Some(fingerprint),
            "{key_type}"
        );
    }
}

#[test]
fn legacy_pem_and_pkcs8_ssh_keys_validate() {
    let (_, facts) = valid(ssh(SSH_RSA_PEM, "rsa"));
    assert_eq!(facts.ssh_fingerprint.as_deref(), Some(FP_RSA_PEM));
    let mut input = ssh(SSH_RSA_PEM, "rsa");
    input["publicKey"] = json!(SSH_RSA_PEM_PUB);
    valid(input);

    let mut input = ssh(SSH_ECDSA_PEM, "ecdsa");
    let (_, facts) = valid(input.clone());
    assert_eq!(facts.ssh_fingerprint.as_deref(), Some(FP_ECDSA_PEM));
    input["publicKey"] = json!(SSH_ECDSA_PEM_PUB);
    valid(input);

    let (_, facts) = valid(ssh(CERT_ED25519_KEY, "ed25519"));
    assert!(
        facts
            .ssh_fingerprint
            .is_some_and(|f| f.starts_with("SHA256:"))
    );
    valid(ssh(CERT_RSA_KEY, "rsa"));
    valid(ssh(CERT_EC_KEY, "ecdsa"));
}

#[test]
fn ssh_key_type_must_match_the_key() {
    for (key, wrong) in [
        (SSH_ED25519, "rsa"),
        (SSH_RSA, "ecdsa"),
        (SSH_ECDSA, "ed25519"),
        (SSH_RSA_PEM, "ed25519"),
        (SSH_ECDSA_PEM, "rsa"),
        (CERT_ED25519_KEY, "rsa"),
        (CERT_RSA_KEY, "ecdsa"),
    ] {
        let reason = assert_invalid(ssh(key, wrong), "value.keyType");
        assert!(reason.contains("does not match"), "{reason}");
    }
}

#[test]
fn ssh_public_key_must_match_the_private_key() {
    let mut input = ssh(SSH_ED25519, "ed25519");
    input["publicKey"] = json!(SSH_ED25519_ENCRYPTED_PUB);
    let reason = assert_invalid(input.clone(), "value.publicKey");
    assert!(
        reason.contains("does not match the private key"),
        "{reason}"
    );

    input["publicKey"] = json!(SSH_RSA_PUB);
    let reason = assert_invalid(input.clone(), "value.publicKey");
    assert!(reason.contains("keyType"), "{reason}");

    input["publicKey"] = json!("ssh-ed25519 not-base64!");
    assert_invalid(input, "value.publicKey");

    let mut input = ssh(SSH_RSA_PEM, "rsa");
    input["publicKey"] = json!(SSH_RSA_PUB);
    assert_invalid(input, "value.publicKey");
}

#[test]
fn encrypted_ssh_keys_require_a_passphrase() {
    let mut input = ssh(SSH_ED25519_ENCRYPTED, "ed25519");
    assert_invalid(input.clone(), "value.passphrase");
    input["passphrase"] = json!("fixture-pass");
    input["publicKey"] = json!(SSH_ED25519_ENCRYPTED_PUB);
    let (_, facts) = valid(input.clone());
    assert_eq!(facts.ssh_fingerprint.as_deref(), Some(FP_ED25519_ENCRYPTED));
    input["publicKey"] = json!(SSH_ED25519_PUB);
    assert_invalid(input, "value.publicKey");

    let mut input = ssh(CERT_RSA_KEY_ENCRYPTED, "rsa");
    assert_invalid(input.clone(), "value.passphrase");
    input["passphrase"] = json!("fixture-pass");
    let (_, facts) = valid(input.clone());
    assert_eq!(
        facts.ssh_fingerprint, None,
        "an encrypted PKCS#8 key hides its public key"
    );
    input["publicKey"] = json!(SSH_RSA_PUB);
    let (_, facts) = valid(input);
    assert_eq!(
        facts.ssh_fingerprint.as_deref(),
        Some(FP_RSA),
        "taken from the public key"
    );

    let mut input = ssh(CERT_RSA_KEY_PKCS1_ENCRYPTED, "rsa");
    assert_invalid(input.clone(), "value.passphrase");
    input["passphrase"] = json!("fixture-pass");
    valid(input);
}

#[test]
fn garbage_ssh_keys_are_rejected() {
    let truncated = &SSH_ED25519[..SSH_ED25519.len() / 2];
    let corrupted = SSH_ED25519.replacen("b3BlbnNzaC1rZXktdjE", "b3BlbnNzaC1rZXktdjI", 1);
    for garbage in [
        "",
        "not a key",
        truncated,
        corrupted.as_str(),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n",
        SSH_ED25519_PUB,
        CERT_RSA,
    ] {
        assert_invalid(ssh(garbage, "ed25519"), "value.privateKey");
    }
}

#[test]
fn ssh_key_type_uses_its_wire_spelling() {
    let v = value(ssh(SSH_ED25519, "ed25519"));
    assert_eq!(wire(&v)["keyType"], "ed25519");
    let AnySecretValue::SshKey(inner) = &v else {
        panic!()
    };
    assert_eq!(inner.key_type, SshKeyType::Ed25519);
    assert!(serde_json::from_value::<AnySecretValue>(ssh(SSH_ED25519, "ED25519")).is_err());
}

// ---------------------------------------------------------------- CONNECTION_STRING

#[test]
fn url_connection_string_is_parsed_without_the_password() {
    let (v, facts) = valid(conn(
        "postgres://app_user:S3cr3t-pw@db.example.com:5432/app?sslmode=require",
    ));
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"type":"CONNECTION_STRING","connectionString":"postgres://app_user:S3cr3t-pw@db.example.com:5432/app?sslmode=require","parsed":{"host":"db.example.com","port":5432,"database":"app","username":"app_user"}}"#
    );
    assert_eq!(facts.masked, "postgres://db.example.com:5432/app ••••••••");
    assert_eq!(
        facts.connection,
        Some(ParsedConnection {
            host: Some("db.example.com".into()),
            port: Some(5432),
            database: Some("app".into()),
            username: Some("app_user".into()),
        })
    );
    let facts_json = serde_json::to_string(&facts).unwrap();
    assert!(!facts_json.contains("S3cr3t"), "{facts_json}");
}

#[test]
fn short_url_connection_string_from_the_brief() {
    let (v, facts) = valid(conn("postgres://u:p@h:5432/d"));
    assert_eq!(
        wire(&v)["parsed"],
        json!({"host": "h", "port": 5432, "database": "d", "username": "u"})
    );
    assert_eq!(facts.masked, "postgres://h:5432/d ••••••••");
}

#[test]
fn ado_net_connection_string_is_parsed_without_the_password() {
    let s = "Server=tcp:sql.example.com,1433;Database=db;User Id=u;Password=S3cr3t-pw;";
    let (v, facts) = valid(conn(s));
    assert_eq!(
        wire(&v),
        json!({"type": "CONNECTION_STRING", "connectionString": s,
               "parsed": {"host": "sql.example.com", "port": 1433, "database": "db", "username": "u"}})
    );
    assert_eq!(facts.masked, "sql.example.com:1433/db ••••••••");
    assert!(!serde_json::to_string(&facts).unwrap().contains("S3cr3t"));
}

#[test]
fn key_value_connection_strings_handle_quotes_braces_and_key_spellings() {
    let parsed = |s: &str| valid(conn(s)).1.connection.unwrap_or_default();
    let p = parsed(
        r#"Host=pg.local; Port=6432; Username="us;er"; Password='p;w''x'; Database={my;db}"#,
    );
    assert_eq!(p.host.as_deref(), Some("pg.local"));
    assert_eq!(p.port, Some(6432));
    assert_eq!(p.username.as_deref(), Some("us;er"));
    assert_eq!(p.database.as_deref(), Some("my;db"));

    let p = parsed("DRIVER={ODBC Driver 18};SERVER=h2;UID=sa;PWD={pa}}ss};DATABASE=master");
    assert_eq!(
        (p.host.as_deref(), p.username.as_deref()),
        (Some("h2"), Some("sa"))
    );
    assert_eq!(p.database.as_deref(), Some("master"));

    let p = parsed("Data Source=myhost:1521;Initial Catalog=cat;user id=bob;password=x");
    assert_eq!((p.host.as_deref(), p.port), (Some("myhost"), Some(1521)));
    assert_eq!(
        (p.database.as_deref(), p.username.as_deref()),
        (Some("cat"), Some("bob"))
    );

    let p =
        parsed("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s=");
    assert_eq!(p.host.as_deref(), Some("ns.servicebus.windows.net"));

    let (v, facts) = valid(conn(
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==;",
    ));
    assert_eq!(facts.connection, None);
    assert_eq!(facts.masked, MASK);
    assert!(wire(&v).get("parsed").is_none());
}

#[test]
fn url_connection_string_edge_cases_never_expose_the_password() {
    let cases = [
        (
            "postgres://u:p@ss/w0rd@db.example.com:5432/d",
            "postgres://db.example.com:5432/d ••••••••",
        ),
        (
            "mongodb://u:zq-pw@h1.example.com:27017,h2.example.com:27017/app?replicaSet=rs0",
            "mongodb://h1.example.com:27017/app ••••••••",
        ),
        (
            "jdbc:postgresql://pg.example.com:5432/d?user=u&password=zq-pw",
            "jdbc:postgresql://pg.example.com:5432/d ••••••••",
        ),
        (
            "redis://:zq-pw@[::1]:6379/0",
            "redis://[::1]:6379/0 ••••••••",
        ),
        (
            "jdbc:sqlserver://sql.example.com:1433;databaseName=db;user=u;password=zq-p@ss/w0rd",
            "jdbc:sqlserver://sql.example.com:1433/db ••••••••",
        ),
        (
            "amqp://u%40x:zq-pw@mq.example.com/vhost",
            "amqp://mq.example.com/vhost ••••••••",
        ),
    ];
    for (s, masked) in cases {
        let (_, facts) = valid(conn(s));
        assert_eq!(facts.masked, masked);
        let facts_json = serde_json::to_string(&facts).unwrap();
        assert!(
            !facts_json.contains("zq-pw") && !facts_json.contains("w0rd"),
            "{facts_json}"
        );
    }
    let (_, facts) = valid(conn("amqp://u%40x:pw@mq.example.com/vhost"));
    assert_eq!(
        facts.connection.and_then(|p| p.username).as_deref(),
        Some("u@x")
    );
}

#[test]
fn caller_supplied_parsed_connection_is_replaced() {
    let mut input = conn("mysql://root:pw@mysql.example.com/shop");
    input["parsed"] = json!({"host": "evil.example.com", "port": 1, "username": "pw"});
    let (v, _) = valid(input);
    assert_eq!(
        wire(&v)["parsed"],
        json!({"host": "mysql.example.com", "database": "shop", "username": "root"})
    );
}

#[test]
fn unparseable_connection_strings_are_rejected() {
    for bad in [
        "",
        "   ",
        "just some text",
        "postgres://",
        "postgres://u:zq-pw@h:notaport/d",
        "postgres://h:0/d",
        "postgres://bad host/d",
        "Server=h;Port=abc",
        "Server=h,99999",
        "Server=h;Password=\"zq-unterminated",
        "=value",
        "Server=h;\u{0}",
    ] {
        let reason = assert_invalid(conn(bad), "value.connectionString");
        assert!(!reason.contains("zq"), "{reason}");
    }
}

// ---------------------------------------------------------------- JSON_CREDENTIAL

#[test]
fn json_credential_masks_everything_but_its_field_count() {
    let (v, facts) = valid(json!({"type": "JSON_CREDENTIAL", "credential": {
        "type": "service_account", "private_key": "zq-key", "client_email": "a@b.iam"}}));
    assert_eq!(facts.masked, "JSON credential (3 fields) ••••••••");
    assert_eq!(wire(&v)["credential"]["private_key"], "zq-key");
    let (_, facts) = valid(json!({"type": "JSON_CREDENTIAL", "credential": {"k": null}}));
    assert_eq!(facts.masked, "JSON credential (1 field) ••••••••");
}

#[test]
fn json_credential_must_be_a_non_empty_object_without_nul() {
    assert_invalid(
        json!({"type": "JSON_CREDENTIAL", "credential": {}}),
        "value.credential",
    );
    assert_invalid(
        json!({"type": "JSON_CREDENTIAL", "credential": {"a": {"b": ["x\u{0}"]}}}),
        "value.credential",
    );
    assert_invalid(
        json!({"type": "JSON_CREDENTIAL", "credential": {"a\u{0}": 1}}),
        "value.credential",
    );
    for not_object in [json!([1]), json!("s"), json!(null)] {
        let input = json!({"type": "JSON_CREDENTIAL", "credential": not_object});
        assert!(serde_json::from_value::<AnySecretValue>(input).is_err());
    }
}

// ---------------------------------------------------------------- ENV_VARIABLE_SET

#[test]
fn env_variable_set_shows_names_and_masks_values() {
    let (_, facts) = valid(json!({"type": "ENV_VARIABLE_SET",
                                  "variables": {"DB_URL": "x", "_TOKEN2": "", "api_key": "y"}}));
    assert_eq!(
        facts.masked,
        "DB_URL=••••••••, _TOKEN2=••••••••, api_key=••••••••"
    );
}

#[test]
fn env_variable_names_must_be_identifiers() {
    let env = |name: &str| json!({"type": "ENV_VARIABLE_SET", "variables": {name: "v"}});
    for (bad, shown) in [
        ("1BAD", true),
        ("has-dash", true),
        ("", false),
        ("A B", true),
        ("É", true),
    ] {
        let reason = assert_invalid(env(bad), "value.variables");
        if shown {
            assert!(reason.contains(bad), "{reason}");
        }
    }
    valid(env("GOOD_1"));
    valid(env("_"));
}

#[test]
fn env_variable_set_is_non_empty_bounded_and_nul_free() {
    assert_invalid(
        json!({"type": "ENV_VARIABLE_SET", "variables": {}}),
        "value.variables",
    );
    let reason = assert_invalid(
        json!({"type": "ENV_VARIABLE_SET", "variables": {"A": "zq-\u{0}"}}),
        "value.variables",
    );
    assert!(!reason.contains("zq"), "{reason}");
    let many: BTreeMap<String, String> = (0..=MAX_ENV_VARIABLES)
        .map(|i| (format!("V{i}"), String::new()))
        .collect();
    assert_invalid(
        json!({"type": "ENV_VARIABLE_SET", "variables": many}),
        "value.variables",
    );
    let enough: BTreeMap<String, String> = (0..MAX_ENV_VARIABLES)
        .map(|i| (format!("V{i}"), String::new()))
        .collect();
    valid(json!({"type": "ENV_VARIABLE_SET", "variables": enough}));
}

// ---------------------------------------------------------------- GENERIC and size

#[test]
fn generic_value_is_fully_masked_and_must_not_be_empty() {
    let (_, facts) = valid(json!({"type": "GENERIC", "value": "zq-anything"}));
    assert_eq!(facts.masked, MASK);
    assert_invalid(json!({"type": "GENERIC", "value": ""}), "value.value");
    assert_invalid(json!({"type": "GENERIC", "value": "a\u{0}"}), "value.value");
}

#[test]
fn oversize_value_is_payload_too_large() {
    let big = "x".repeat(65 * 1024);
    let err = value(json!({"type": "GENERIC", "value": big}))
        .validate_at(now())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PayloadTooLarge);
    assert!(matches!(
        err,
        SecretError::PayloadTooLarge { ref what, limit } if what == "value" && limit == MAX_VALUE_JSON_BYTES
    ));
    let overhead = r#"{"type":"GENERIC","value":""}"#.len();
    let fits = "x".repeat(MAX_VALUE_JSON_BYTES - overhead);
    valid(json!({"type": "GENERIC", "value": fits.clone()}));
    let over = format!("{fits}x");
    let err = value(json!({"type": "GENERIC", "value": over}))
        .validate_at(now())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PayloadTooLarge);
}

#[test]
fn pem_with_crlf_line_endings_is_accepted() {
    let crlf = |s: &str| s.replace('\n', "\r\n");
    let (_, facts) = valid(json!({"type": "CERTIFICATE", "certificate": crlf(CERT_EC),
                                  "privateKey": crlf(CERT_EC_KEY)}));
    assert_eq!(
        facts.certificate_subject.as_deref(),
        Some("CN=ec.example.com, O=Acme")
    );
    let (_, facts) = valid(ssh(&crlf(SSH_ED25519), "ed25519"));
    assert_eq!(facts.ssh_fingerprint.as_deref(), Some(FP_ED25519));
    let (_, facts) = valid(ssh(&crlf(SSH_RSA_PEM), "rsa"));
    assert_eq!(facts.ssh_fingerprint.as_deref(), Some(FP_RSA_PEM));
}

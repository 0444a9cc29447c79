use serde_json::json;

use super::*;

const ID: &str = "0190f0aa-1111-7abc-8def-0123456789ab";

fn uri(s: &str) -> SecretReference {
    SecretReference::parse_uri(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn uri_error(s: &str) -> String {
    match SecretReference::parse_uri(s) {
        Ok(r) => panic!("{s} parsed as {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_scope_path_parses_and_prints_back() {
    let cases = [
        (format!("secret://{ID}"), SecretLocator::Id(ID.into())),
        (
            "secret://global/OPENAI_KEY".to_string(),
            SecretLocator::Named {
                scope: SecretScope::Global,
                organization_id: None,
                owner_id: None,
                name: "OPENAI_KEY".into(),
            },
        ),
        (
            "secret://org/acme/db-password".to_string(),
            SecretLocator::Named {
                scope: SecretScope::Organization,
                organization_id: Some("acme".into()),
                owner_id: None,
                name: "db-password".into(),
            },
        ),
        (
            "secret://team/acme/platform/GH_TOKEN".to_string(),
            SecretLocator::Named {
                scope: SecretScope::Team,
                organization_id: Some("acme".into()),
                owner_id: Some("platform".into()),
                name: "GH_TOKEN".into(),
            },
        ),
        (
            "secret://project/acme/p-1/API".to_string(),
            SecretLocator::Named {
                scope: SecretScope::Project,
                organization_id: Some("acme".into()),
                owner_id: Some("p-1".into()),
                name: "API".into(),
            },
        ),
        (
            "secret://user/MINE".to_string(),
            SecretLocator::Named {
                scope: SecretScope::User,
                organization_id: None,
                owner_id: None,
                name: "MINE".into(),
            },
        ),
    ];
    for (text, locator) in cases {
        let r = uri(&text);
        assert_eq!(r.locator, locator, "{text}");
        assert_eq!((r.field.as_deref(), r.version), (None, None));
        assert_eq!(r.to_string(), text);
    }
}

#[test]
fn version_and_field_parse_in_uri_order() {
    let r = uri("secret://org/acme/DB?version=3#username");
    assert_eq!(r.version, Some(3));
    assert_eq!(r.field.as_deref(), Some("username"));
    assert_eq!(r.to_string(), "secret://org/acme/DB?version=3#username");
    let r = uri(&format!("secret://{ID}#key"));
    assert_eq!((r.field.as_deref(), r.version), (Some("key"), None));
}

#[test]
fn malformed_uris_say_what_is_wrong() {
    let cases = [
        ("secret://", "empty path segment"),
        ("secret://MY_KEY", "not a secret id"),
        ("secret://global/", "empty path segment"),
        ("secret://global//X", "empty path segment"),
        ("secret://org/X", "does not fit a scope path"),
        ("secret://org/acme/team/X", "does not fit a scope path"),
        ("secret://vault/acme/X", "'vault' does not fit"),
        ("secret://global/9lives", "not a secret name"),
        ("secret://org/ac%20me/X", "percent-encoded"),
        ("secret://org/a c/X", "not a valid organization id"),
        ("secret://global/X?version=0", "positive integer"),
        ("secret://global/X?version=-2", "positive integer"),
        ("secret://global/X?version=two", "positive integer"),
        ("secret://global/X?v=2", "only query parameter"),
        ("secret://global/X#", "1 to 255"),
        ("secret://global/X#a b", "only letters"),
        ("secret://global/X#key?version=2", "only letters"),
        ("https://global/X", "starts with secret://"),
    ];
    for (text, expected) in cases {
        let err = uri_error(text);
        assert!(err.contains(expected), "{text}: {err}");
        assert!(err.starts_with("invalid reference:"), "{text}: {err}");
    }
}

#[test]
fn the_json_form_is_strict() {
    let r = SecretReference::from_json(
        &json!({"type": "SECRET_REF", "secretId": ID, "field": "password", "version": 2}),
    )
    .unwrap();
    assert_eq!(r.locator, SecretLocator::Id(ID.into()));
    assert_eq!((r.field.as_deref(), r.version), (Some("password"), Some(2)));
    let r = SecretReference::from_json(
        &json!({"type": "SECRET_REF", "secretId": ID, "field": null, "version": null}),
    )
    .unwrap();
    assert_eq!((r.field, r.version), (None, None));
    let cases = [
        (json!({"secretId": ID}), "SECRET_REF"),
        (json!({"type": "SECRET", "secretId": ID}), "SECRET_REF"),
        (json!({"type": "SECRET_REF"}), "secretId is required"),
        (json!({"type": "SECRET_REF", "secretId": "MY_KEY"}), "UUID"),
        (
            json!({"type": "SECRET_REF", "secretId": ID, "version": 0}),
            "positive",
        ),
        (
            json!({"type": "SECRET_REF", "secretId": ID, "version": "1"}),
            "positive",
        ),
        (
            json!({"type": "SECRET_REF", "secretId": ID, "field": 3}),
            "field must be a string",
        ),
        (
            json!({"type": "SECRET_REF", "secretId": ID, "extra": 1}),
            "unknown field 'extra'",
        ),
        (json!([ID]), "a string or a SECRET_REF object"),
    ];
    for (v, expected) in cases {
        let err = SecretReference::from_json(&v).unwrap_err().to_string();
        assert!(err.contains(expected), "{v}: {err}");
    }
}

#[test]
fn config_values_are_plain_strings_or_references() {
    assert_eq!(
        ConfigValue::from_json(&json!("postgres://localhost")).unwrap(),
        ConfigValue::Plain("postgres://localhost".into())
    );
    assert!(matches!(
        ConfigValue::from_json(&json!("secret://global/X")).unwrap(),
        ConfigValue::Reference(_)
    ));
    assert!(matches!(
        ConfigValue::from_json(&json!({"type": "SECRET_REF", "secretId": ID})).unwrap(),
        ConfigValue::Reference(_)
    ));
    // A malformed reference is an error, never passed on as a plain string.
    assert!(ConfigValue::from_json(&json!("secret://nope")).is_err());
    assert!(ConfigValue::from_json(&json!(42)).is_err());
}

fn value(v: serde_json::Value) -> SecretValue {
    SecretValue::from_json(v).unwrap()
}

#[test]
fn fields_default_per_type_and_can_be_named() {
    let login = value(json!({"type": "USERNAME_PASSWORD", "username": "alice", "password": "pw"}));
    assert_eq!(field_text(&login, None).unwrap().as_str(), "pw");
    assert_eq!(
        field_text(&login, Some("username")).unwrap().as_str(),
        "alice"
    );
    let err = field_text(&login, Some("key")).unwrap_err().to_string();
    assert!(
        err.contains("no field 'key' (fields: username, password)"),
        "{err}"
    );

    let key = value(json!({"type": "API_KEY", "key": "sk-1"}));
    assert_eq!(field_text(&key, None).unwrap().as_str(), "sk-1");
    let generic = value(json!({"type": "GENERIC", "value": "g"}));
    assert_eq!(field_text(&generic, None).unwrap().as_str(), "g");
    let conn = value(json!({"type": "CONNECTION_STRING", "connectionString": "a=b"}));
    assert_eq!(field_text(&conn, None).unwrap().as_str(), "a=b");
    let token = value(json!({"type": "OAUTH2_TOKEN", "accessToken": "at", "tokenType": "Bearer"}));
    assert_eq!(field_text(&token, None).unwrap().as_str(), "at");
    let err = field_text(&token, Some("refreshToken"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no 'refreshToken'"), "{err}");

    let cred = value(json!({"type": "JSON_CREDENTIAL", "credential": {"a": "x", "n": [1]}}));
    assert_eq!(
        field_text(&cred, None).unwrap().as_str(),
        r#"{"a":"x","n":[1]}"#
    );
    assert_eq!(field_text(&cred, Some("a")).unwrap().as_str(), "x");
    assert_eq!(field_text(&cred, Some("n")).unwrap().as_str(), "[1]");

    let set = value(json!({"type": "ENV_VARIABLE_SET", "variables": {"A": "1"}}));
    assert_eq!(field_text(&set, Some("A")).unwrap().as_str(), "1");
    let err = field_text(&set, None).unwrap_err().to_string();
    assert!(err.contains("no default field"), "{err}");
    assert!(field_text(&set, Some("B")).is_err());
}

#[test]
fn errors_never_quote_a_value() {
    let key = value(json!({"type": "API_KEY", "key": "sk-CANARY-123"}));
    for field in ["value", "keys", "KEY"] {
        let err = field_text(&key, Some(field)).unwrap_err().to_string();
        assert!(!err.contains("CANARY"), "{err}");
    }
}

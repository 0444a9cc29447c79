//! The wire types as a client uses them: what it sends is what the server reads, and what
//! the server answers parses back.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use secret_core::wire::{
    CreateSecretRequest, ErrorBody, ErrorResponse, GrantList, UpdateSecretRequest,
    UpdateVaultRequest,
};
use serde_json::json;

#[test]
fn an_update_keeps_absent_fields_absent_and_cleared_fields_null() {
    let sent = json!({"description": null, "tags": ["prod"], "versionRetention": 5});
    let req: UpdateSecretRequest = serde_json::from_value(sent).unwrap();
    assert_eq!(req.description, Some(None), "null clears");
    assert_eq!(req.expires_at, None, "absent keeps");
    let again = serde_json::to_value(&req).unwrap();
    assert_eq!(again["description"], serde_json::Value::Null);
    assert!(again.get("expiresAt").is_none(), "{again}");
    assert_eq!(again["tags"], json!(["prod"]));
    assert_eq!(again["versionRetention"], 5);
    let back: UpdateSecretRequest = serde_json::from_value(again).unwrap();
    assert_eq!(back.description, Some(None));
    assert_eq!(back.expires_at, None);
    assert_eq!(back.version_retention, Some(Some(5)));
}

#[test]
fn a_vault_update_without_config_keeps_the_stored_settings() {
    let req: UpdateVaultRequest = serde_json::from_value(json!({"isActive": false})).unwrap();
    assert!(req.config.is_none());
    let sent = serde_json::to_value(&req).unwrap();
    let back: UpdateVaultRequest = serde_json::from_value(sent).unwrap();
    assert!(back.config.is_none());
    assert_eq!(back.is_active, Some(false));
}

#[test]
fn a_create_request_names_unknown_fields_and_round_trips_its_value() {
    let body = json!({"name": "OPENAI_API_KEY", "type": "API_KEY",
        "value": {"type": "API_KEY", "key": "sk-wire-0123456789"}, "scope": "GLOBAL"});
    let req: CreateSecretRequest = serde_json::from_value(body.clone()).unwrap();
    let sent = serde_json::to_value(&req).unwrap();
    assert_eq!(sent["value"], body["value"]);
    assert_eq!(sent["type"], "API_KEY");
    let mut bad = body;
    bad["colour"] = json!("red");
    let Err(err) = serde_json::from_value::<CreateSecretRequest>(bad) else {
        panic!("an unknown field is refused");
    };
    let err = err.to_string();
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn the_error_envelope_and_listings_parse_back() {
    let envelope = json!({"error": {"code": "SECRET_NOT_FOUND", "message": "no such secret",
        "requestId": "req-1"}});
    let parsed: ErrorResponse = serde_json::from_value(envelope.clone()).unwrap();
    assert_eq!(
        parsed.error,
        ErrorBody {
            code: "SECRET_NOT_FOUND".into(),
            message: "no such secret".into(),
            request_id: "req-1".into(),
            details: None,
        }
    );
    assert_eq!(serde_json::to_value(&parsed).unwrap(), envelope);
    let page = json!({"items": [{"id": "g1", "secretId": "s1", "granteeType": "USER",
        "granteeId": "bob", "canRead": true, "canUpdate": false, "canDelete": false,
        "canGrant": false, "expiresAt": null, "grantedAt": "2026-12-01T00:00:00Z",
        "grantedById": "alice"}], "page": 1, "limit": 1, "total": 1});
    let grants: GrantList = serde_json::from_value(page.clone()).unwrap();
    assert_eq!(grants.items[0].grantee_id, "bob");
    assert_eq!(serde_json::to_value(&grants).unwrap(), page);
}

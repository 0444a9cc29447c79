use super::*;

#[test]
fn public_pem_label_is_required() {
    assert!(
        require_public_pem(b"-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----").is_some()
    );
    assert!(
        require_public_pem(b"-----BEGIN RSA PUBLIC KEY-----\nAA\n-----END RSA PUBLIC KEY-----")
            .is_some()
    );
    assert!(require_public_pem(b"-----BEGIN PRIVATE KEY-----\nAA\n").is_none());
    assert!(require_public_pem(b"garbage").is_none());
}

#[test]
fn fractional_and_out_of_range_timestamps() {
    let claims: Map<String, Value> =
        serde_json::from_str(r#"{"a": 10.7, "b": 1e300, "c": "x", "d": null}"#).unwrap();
    assert_eq!(timestamp_claim(&claims, "a"), Ok(Some(10)));
    assert_eq!(
        timestamp_claim(&claims, "b"),
        Err(TokenError::InvalidClaim("b"))
    );
    assert_eq!(
        timestamp_claim(&claims, "c"),
        Err(TokenError::InvalidClaim("c"))
    );
    assert_eq!(timestamp_claim(&claims, "d"), Ok(None));
    assert_eq!(timestamp_claim(&claims, "e"), Ok(None));
}

#[test]
fn errors_become_unauthenticated_with_a_safe_reason() {
    let err = SecretError::from(TokenError::MissingClaim("exp"));
    assert!(matches!(
        err,
        SecretError::Unauthenticated { ref reason } if reason == "token is missing the `exp` claim"
    ));
}

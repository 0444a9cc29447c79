//! Validation and normalisation of typed values, and the non-secret facts derived from them.
//! Error reasons name the rule that failed and never quote the value.

use std::io;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::types::{EnvVariableSetSecret, JsonCredentialSecret};
use super::{AnySecretValue, ValueFacts, certificate, connection, mask, ssh};
use crate::error::SecretError;
use crate::limits::MAX_VALUE_JSON_BYTES;

/// The most variables an ENV_VARIABLE_SET may hold.
pub const MAX_ENV_VARIABLES: usize = 1_000;

/// Validates and normalises `value` in place, returning its facts. On error the value may be
/// partly normalised; callers that keep it should discard it.
pub(crate) fn validate_in_place(
    value: &mut AnySecretValue,
    now: DateTime<Utc>,
) -> Result<ValueFacts, SecretError> {
    check_size(value)?;
    let mut facts = ValueFacts::default();
    match value {
        AnySecretValue::ApiKey(v) => check_text("value.key", &v.key)?,
        AnySecretValue::OAuth2Token(v) => {
            check_text("value.accessToken", &v.access_token)?;
            check_optional_text("value.refreshToken", v.refresh_token.as_deref())?;
            check_text("value.tokenType", &v.token_type)?;
            check_optional_text("value.scope", v.scope.as_deref())?;
            facts.natural_expiry = v.expires_at;
        }
        AnySecretValue::UsernamePassword(v) => {
            check_text("value.username", &v.username)?;
            check_secret("value.password", &v.password)?;
        }
        AnySecretValue::Certificate(v) => {
            let certificate = certificate::validate(v, now)?;
            facts.certificate_subject = Some(certificate.subject);
            facts.certificate_not_after = Some(certificate.not_after);
            facts.natural_expiry = v.expires_at;
        }
        AnySecretValue::SshKey(v) => facts.ssh_fingerprint = ssh::validate(v)?,
        AnySecretValue::ConnectionString(v) => {
            check_text("value.connectionString", &v.connection_string)?;
            let info = connection::parse(&v.connection_string)
                .map_err(|reason| SecretError::validation("value.connectionString", reason))?;
            let parsed = (!info.parsed.is_empty()).then_some(info.parsed);
            v.parsed.clone_from(&parsed);
            facts.connection = parsed;
        }
        AnySecretValue::JsonCredential(v) => validate_json_credential(v)?,
        AnySecretValue::EnvVariableSet(v) => validate_env_variables(v)?,
        AnySecretValue::Generic(v) => check_secret("value.value", &v.value)?,
    }
    // Normalisation may have grown the value (a recomputed `parsed`).
    check_size(value)?;
    facts.masked = mask::masked(value);
    Ok(facts)
}

/// A required string: not blank, no NUL.
pub(crate) fn check_text(field: &str, s: &str) -> Result<(), SecretError> {
    if s.trim().is_empty() {
        return Err(SecretError::validation(field, "must not be empty"));
    }
    check_no_nul(field, s)
}

/// An optional string: if present, not blank and no NUL.
pub(crate) fn check_optional_text(field: &str, s: Option<&str>) -> Result<(), SecretError> {
    match s {
        Some(s) if s.trim().is_empty() => Err(SecretError::validation(
            field,
            "must not be empty when present (omit it instead)",
        )),
        Some(s) => check_no_nul(field, s),
        None => Ok(()),
    }
}

/// A required secret where whitespace is significant (a password): not empty, no NUL.
pub(crate) fn check_secret(field: &str, s: &str) -> Result<(), SecretError> {
    if s.is_empty() {
        return Err(SecretError::validation(field, "must not be empty"));
    }
    check_no_nul(field, s)
}

/// An optional secret where whitespace is significant (a passphrase).
pub(crate) fn check_optional_secret(field: &str, s: Option<&str>) -> Result<(), SecretError> {
    match s {
        Some("") => Err(SecretError::validation(
            field,
            "must not be empty when present (omit it instead)",
        )),
        Some(s) => check_no_nul(field, s),
        None => Ok(()),
    }
}

fn check_no_nul(field: &str, s: &str) -> Result<(), SecretError> {
    if s.contains('\0') {
        return Err(SecretError::validation(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(())
}

fn validate_json_credential(v: &JsonCredentialSecret) -> Result<(), SecretError> {
    if v.credential.is_empty() {
        return Err(SecretError::validation(
            "value.credential",
            "must be a non-empty JSON object",
        ));
    }
    // Iterative, so a deeply nested value cannot exhaust the stack.
    let mut pending: Vec<&Value> = v.credential.values().collect();
    let mut has_nul = v.credential.keys().any(|k| k.contains('\0'));
    while let Some(item) = pending.pop() {
        match item {
            Value::String(s) => has_nul |= s.contains('\0'),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                has_nul |= map.keys().any(|k| k.contains('\0'));
                pending.extend(map.values());
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    if has_nul {
        return Err(SecretError::validation(
            "value.credential",
            "must not contain NUL characters",
        ));
    }
    Ok(())
}

fn validate_env_variables(v: &EnvVariableSetSecret) -> Result<(), SecretError> {
    const FIELD: &str = "value.variables";
    if v.variables.is_empty() {
        return Err(SecretError::validation(
            FIELD,
            "must contain at least one variable",
        ));
    }
    if v.variables.len() > MAX_ENV_VARIABLES {
        return Err(SecretError::validation(
            FIELD,
            format!("must contain at most {MAX_ENV_VARIABLES} variables"),
        ));
    }
    for (name, value) in &v.variables {
        if name.is_empty() {
            return Err(SecretError::validation(FIELD, "a variable name is empty"));
        }
        if !is_env_name(name) {
            // Names are not secret; showing the offending one helps the caller.
            return Err(SecretError::validation(
                FIELD,
                format!("variable name {name:?} must match ^[A-Za-z_][A-Za-z0-9_]*$"),
            ));
        }
        if value.contains('\0') {
            return Err(SecretError::validation(
                FIELD,
                format!("the value of {name} must not contain NUL characters"),
            ));
        }
    }
    Ok(())
}

/// Whether `name` matches `^[A-Za-z_][A-Za-z0-9_]*$`.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Refuses values whose canonical JSON exceeds [`MAX_VALUE_JSON_BYTES`].
fn check_size(value: &AnySecretValue) -> Result<(), SecretError> {
    if json_len(value)? > MAX_VALUE_JSON_BYTES {
        return Err(SecretError::PayloadTooLarge {
            what: "value".to_owned(),
            limit: MAX_VALUE_JSON_BYTES,
        });
    }
    Ok(())
}

/// The length of the canonical JSON of `value`, measured without materialising it.
pub(crate) fn json_len(value: &AnySecretValue) -> Result<usize, SecretError> {
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, value)
        .map_err(|_| SecretError::internal("a secret value could not be serialized"))?;
    Ok(counter.0)
}

/// A writer that only counts bytes.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! Entry points for the fuzz targets in `fuzz/` (and tests): the request-body decoding of
//! the create and update endpoints exactly as the handlers do it, without a server. Not a
//! stable API.

use secret_core::SecretError;
use secret_core::model::{CreateSecretParams, UpdateSecretParams, UpdateValueParams};

use super::extract::parse_json;
use secret_core::wire::{CreateSecretRequest, UpdateSecretRequest, UpdateSecretValueRequest};

/// Decodes a `POST /api/secrets` body into the service's parameters.
pub fn decode_create(body: &[u8]) -> Result<CreateSecretParams, SecretError> {
    parse_json::<CreateSecretRequest>(body).map(CreateSecretParams::from)
}

/// Decodes a `PUT /api/secrets/{id}` body into the service's parameters.
pub fn decode_update(body: &[u8]) -> Result<UpdateSecretParams, SecretError> {
    parse_json::<UpdateSecretRequest>(body).map(|r| r.into_params(None))
}

/// Decodes a `PUT /api/secrets/{id}/value` body into the service's parameters.
pub fn decode_update_value(body: &[u8]) -> Result<UpdateValueParams, SecretError> {
    parse_json::<UpdateSecretValueRequest>(body).map(|r| UpdateValueParams {
        value: r.value,
        change_reason: r.change_reason,
        expected_version: None,
    })
}

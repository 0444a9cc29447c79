//! JSON request bodies: read up to the size limit, parsed with error messages that name at
//! most a known field and a position, never the input (a value may be in it).

use actix_web::dev::Payload;
use actix_web::error::JsonPayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use secret_core::SecretError;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use zeroize::Zeroizing;

use super::error::ApiError;
use super::extract::{request_id_of, state_of};

/// A JSON request body, read up to the configured size limit and parsed with error messages
/// that name at most a known field and a position, never the input (a value may be in it).
pub(crate) struct JsonBody<T>(pub(crate) T);

/// A route's own body limit for [`JsonBody`] (resource `app_data`), in place of the
/// server's `max_body_bytes`: the import routes take whole files.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// Field names of the request bodies: the only names an error message may repeat.
const KNOWN_FIELDS: &[&str] = &[
    "name",
    "description",
    "type",
    "value",
    "scope",
    "organizationId",
    "teamId",
    "projectId",
    "expiresAt",
    "rotationEnabled",
    "rotationIntervalDays",
    "tags",
    "metadata",
    "storageBackend",
    "changeReason",
    "newValue",
    "version",
    "granteeType",
    "granteeId",
    "canRead",
    "canUpdate",
    "canDelete",
    "canGrant",
    "content",
    "targetScope",
    "overwrite",
    "prefix",
    "stripPrefix",
    "dryRun",
    "valueType",
    "atomic",
    "vaultId",
    "secrets",
];

/// Messages that name only fields of the schema (serde's and the value parser's own).
const SAFE_MESSAGE_PREFIXES: &[&str] = &[
    "missing field",
    "duplicate field",
    "a field of this",
    "must be a JSON object",
    "field `type` must be",
    "unknown `type`",
];

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request_id = request_id_of(req);
        let limit = match req.app_data::<BodyLimit>() {
            Some(BodyLimit(limit)) => Ok(*limit),
            None => state_of(req).map(|s| s.max_body_bytes),
        };
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let fail = |err: SecretError| ApiError::from_secret(err, &request_id);
            let limit = limit.map_err(fail)?;
            let too_large = || SecretError::PayloadTooLarge {
                what: "request body".to_owned(),
                limit,
            };
            if declared.is_some_and(|len| len > limit) {
                return Err(fail(too_large()));
            }
            if !json {
                return Err(fail(SecretError::validation(
                    "Content-Type",
                    "must be application/json",
                )));
            }
            // Sized up front so that growing does not leave copies of the body behind.
            let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0)));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    fail(SecretError::validation(
                        "body",
                        "the request body could not be read",
                    ))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(fail(too_large()));
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody).map_err(fail)
        })
    }
}

/// The limit and safe error answers for actix's own `web::Json`, should a handler use it
/// instead of [`JsonBody`]: the same statuses and codes, and no quoting of the body.
pub(crate) fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, req| {
            let err = match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => SecretError::PayloadTooLarge {
                    what: "request body".to_owned(),
                    limit,
                },
                JsonPayloadError::ContentType => {
                    SecretError::validation("Content-Type", "must be application/json")
                }
                JsonPayloadError::Deserialize(e) if e.classify() == Category::Data => {
                    SecretError::validation(
                        "body",
                        format!(
                            "does not match the expected shape (line {}, column {})",
                            e.line(),
                            e.column()
                        ),
                    )
                }
                JsonPayloadError::Deserialize(e) => syntax_error(&e),
                _ => SecretError::validation("body", "the request body could not be read"),
            };
            ApiError::from_secret(err, &request_id_of(req)).into()
        })
}

/// Parses a JSON body into `T`; the error names at most a known field and a position.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, SecretError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| describe(&e))?;
    de.end().map_err(|e| syntax_error(&e))?;
    Ok(value)
}

fn syntax_error(e: &serde_json::Error) -> SecretError {
    SecretError::validation(
        "body",
        format!(
            "is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    )
}

fn describe(err: &serde_path_to_error::Error<serde_json::Error>) -> SecretError {
    let inner = err.inner();
    if inner.classify() != Category::Data {
        return syntax_error(inner);
    }
    let (line, column) = (inner.line(), inner.column());
    let full = inner.to_string();
    let message = full
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&full);
    let detail = if SAFE_MESSAGE_PREFIXES.iter().any(|p| message.starts_with(p)) {
        message
    } else if message.starts_with("unknown field") {
        "unknown field"
    } else if message.starts_with("unknown variant") {
        "unknown enum value"
    } else {
        "invalid value"
    };
    let field = safe_path(err.path()).unwrap_or_else(|| "body".to_owned());
    SecretError::validation(field, format!("{detail} (line {line}, column {column})"))
}

/// The path to the failing element, cut at the first segment that is not a known field
/// name or an index (map keys are input and are not repeated).
fn safe_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if KNOWN_FIELDS.contains(&key.as_str()) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            _ => break,
        }
    }
    (!out.is_empty()).then_some(out)
}

//! Extractors: the request id, the authenticated caller with its [`SecretContext`], JSON
//! bodies (`json_body`, re-exported here), `If-Match`, and
//! the listing's query string.

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::{Ready, ready};
use secret_core::model::ListSecretsParams;
use secret_core::name::validate_platform_id;
use secret_core::{SecretContext, SecretError, SecretScope, SecretType};

use super::AppState;
use super::error::ApiError;

/// The consumer module recorded when a request names none.
pub(crate) const DEFAULT_CONSUMER_MODULE: &str = "rest-api";

/// The longest User-Agent kept in the context, in characters.
const MAX_USER_AGENT_CHARS: usize = 512;

/// The request's id, set by the `observe` middleware before any handler runs.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

impl RequestId {
    /// A caller-supplied id if it is 1 to 128 characters of `[A-Za-z0-9._-]`, else a new
    /// UUID v7.
    pub(crate) fn accept_or_generate(supplied: Option<&header::HeaderValue>) -> Self {
        let valid = supplied
            .and_then(|v| v.to_str().ok())
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 128
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            })
            .map(str::to_owned);
        RequestId(valid.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()))
    }
}

/// The request id of `req` (a fresh one if the middleware did not run).
pub(crate) fn request_id_of(req: &HttpRequest) -> String {
    if let Some(id) = req.extensions().get::<RequestId>() {
        return id.0.clone();
    }
    let id = RequestId::accept_or_generate(None);
    req.extensions_mut().insert(id.clone());
    id.0
}

pub(crate) fn state_of(req: &HttpRequest) -> Result<&web::Data<AppState>, SecretError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| SecretError::internal("application state is not registered"))
}

/// The authenticated caller of an `/api` route: its context for the service and the
/// request id for error answers.
pub(crate) struct Caller {
    /// The context every service call of this request uses.
    pub(crate) ctx: SecretContext,
    /// The request's id.
    pub(crate) request_id: String,
}

impl Caller {
    /// The error answer to `err` for this request.
    pub(crate) fn error(&self, err: SecretError) -> ApiError {
        ApiError::from_secret(err, &self.request_id)
    }

    fn from_request_sync(
        req: &HttpRequest,
        request_id: &str,
    ) -> Result<SecretContext, SecretError> {
        let state = state_of(req)?;
        let token = bearer_token(req.headers())?;
        let principal = state.verifier.verify(token)?;
        let module = optional_id(req.headers(), "X-Consumer-Module")?
            .unwrap_or_else(|| DEFAULT_CONSUMER_MODULE.to_owned());
        Self::context_of(req, principal, module, request_id)
    }

    /// The context of a request by `principal` (already verified) through `module`: the
    /// platform ids of its headers, its request id, client address and user agent.
    pub(crate) fn context_of(
        req: &HttpRequest,
        principal: secret_core::Principal,
        module: String,
        request_id: &str,
    ) -> Result<SecretContext, SecretError> {
        let state = state_of(req)?;
        let headers = req.headers();
        let mut ctx = SecretContext::new(principal, module);
        ctx.organization_id = optional_id(headers, "X-Organization-Id")?;
        ctx.team_id = optional_id(headers, "X-Team-Id")?;
        ctx.project_id = optional_id(headers, "X-Project-Id")?;
        ctx.consumer_resource_id = optional_id(headers, "X-Consumer-Resource-Id")?;
        ctx.request_id = Some(request_id.to_owned());
        // The peer address, or X-Forwarded-For's client when the peer is a trusted proxy.
        ctx.ip_address = super::proxy::client_ip(
            req.peer_addr().map(|a| a.ip()),
            headers,
            &state.trusted_proxies,
        )
        .map(|ip| ip.to_string());
        ctx.user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(ctx)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request_id = request_id_of(req);
        ready(match Caller::from_request_sync(req, &request_id) {
            Ok(ctx) => Ok(Caller { ctx, request_id }),
            Err(err) => Err(ApiError::from_secret(err, &request_id)),
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, SecretError> {
    let unauthenticated = |reason: &str| SecretError::Unauthenticated {
        reason: reason.to_owned(),
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("missing bearer token"))?
        .to_str()
        .map_err(|_| unauthenticated("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthenticated(
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthenticated("missing bearer token"));
    }
    Ok(token)
}

/// An optional platform id from a header; an empty header counts as absent.
fn optional_id(headers: &HeaderMap, name: &str) -> Result<Option<String>, SecretError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| SecretError::validation(name, "must be visible ASCII"))?
        .trim();
    if value.is_empty() {
        return Ok(None);
    }
    validate_platform_id(name, value)?;
    Ok(Some(value.to_owned()))
}

/// The `If-Match` precondition: the version the caller expects, or `None` (absent or `*`).
pub(crate) struct IfMatch(pub(crate) Option<i64>);

impl IfMatch {
    fn parse(headers: &HeaderMap) -> Result<Option<i64>, SecretError> {
        let mut values = headers.get_all(header::IF_MATCH);
        let Some(value) = values.next() else {
            return Ok(None);
        };
        let malformed = || {
            SecretError::validation(
                "If-Match",
                "must be one version as an entity tag, e.g. \"3\", or *",
            )
        };
        if values.next().is_some() {
            return Err(malformed());
        }
        let raw = value.to_str().map_err(|_| malformed())?.trim();
        if raw == "*" {
            return Ok(None);
        }
        let unquoted = match raw.strip_prefix('"') {
            Some(rest) => rest.strip_suffix('"').ok_or_else(malformed)?,
            None => raw,
        };
        if unquoted.is_empty() || !unquoted.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        match unquoted.parse::<i64>() {
            Ok(v) if v >= 1 => Ok(Some(v)),
            _ => Err(malformed()),
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            IfMatch::parse(req.headers())
                .map(IfMatch)
                .map_err(|e| ApiError::from_secret(e, &request_id_of(req))),
        )
    }
}

pub(crate) use super::json_body::{BodyLimit, JsonBody, json_config, parse_json};

/// The query parameters a listing accepts.
const LIST_PARAMS: &str = "scope, type, tags, search, includeDeleted, page, limit";

/// Parses `GET /api/secrets`'s query: `tags` may repeat and may be comma-separated.
pub(crate) fn parse_list_query(query: &str) -> Result<ListSecretsParams, SecretError> {
    let mut params = ListSecretsParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "scope" => {
                params.scope = Some(value.parse::<SecretScope>().map_err(|_| {
                    enum_error("scope", SecretScope::ALL.iter().map(|s| s.as_str()))
                })?)
            }
            "type" => {
                params.secret_type =
                    Some(value.parse::<SecretType>().map_err(|_| {
                        enum_error("type", SecretType::ALL.iter().map(|s| s.as_str()))
                    })?)
            }
            "tags" | "tags[]" => params.tags.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            ),
            "search" => {
                params.search = Some(value.into_owned()).filter(|s| !s.trim().is_empty());
            }
            "includeDeleted" => {
                params.include_deleted = match value.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(SecretError::validation(
                            "includeDeleted",
                            "must be true or false",
                        ));
                    }
                }
            }
            "page" => params.page = Some(positive("page", &value)?),
            "limit" => params.limit = Some(positive("limit", &value)?),
            _ => {
                return Err(SecretError::validation(
                    "query",
                    format!("unknown parameter; accepted: {LIST_PARAMS}"),
                ));
            }
        }
    }
    Ok(params)
}

pub(crate) fn enum_error<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> SecretError {
    SecretError::validation(
        field,
        format!("must be one of: {}", names.collect::<Vec<_>>().join(", ")),
    )
}

/// A query parameter that must be a positive integer.
pub(crate) fn positive(field: &str, value: &str) -> Result<u64, SecretError> {
    value
        .parse::<u64>()
        .map_err(|_| SecretError::validation(field, "must be a positive integer"))
}

/// The listing's parsed query string.
pub(crate) struct ListQuery(pub(crate) ListSecretsParams);

impl FromRequest for ListQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            parse_list_query(req.query_string())
                .map(ListQuery)
                .map_err(|e| ApiError::from_secret(e, &request_id_of(req))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn if_match(v: &str) -> Result<Option<i64>, SecretError> {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        IfMatch::parse(&h)
    }

    #[test]
    fn if_match_accepts_quoted_bare_and_star() {
        assert_eq!(if_match("\"3\"").unwrap(), Some(3));
        assert_eq!(if_match("3").unwrap(), Some(3));
        assert_eq!(if_match("*").unwrap(), None);
        assert_eq!(IfMatch::parse(&HeaderMap::new()).unwrap(), None);
        for bad in ["\"3", "W/\"3\"", "abc", "0", "-1", "\"\"", "1, 2"] {
            assert!(if_match(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_ids_are_accepted_only_when_safe() {
        let ok = HeaderValue::from_static("abc-123_X.y");
        assert_eq!(RequestId::accept_or_generate(Some(&ok)).0, "abc-123_X.y");
        let bad = HeaderValue::from_static("has space");
        assert_ne!(RequestId::accept_or_generate(Some(&bad)).0, "has space");
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(RequestId::accept_or_generate(Some(&long)).0.len(), 36);
    }

    #[test]
    fn list_query_reads_repeated_and_comma_separated_tags() {
        let p = parse_list_query("tags=a&tags=b,c&scope=TEAM&includeDeleted=true&page=2&limit=5")
            .unwrap();
        assert_eq!(p.tags, vec!["a", "b", "c"]);
        assert_eq!(p.scope, Some(SecretScope::Team));
        assert!(p.include_deleted);
        assert_eq!((p.page, p.limit), (Some(2), Some(5)));
        assert!(parse_list_query("scope=NOPE").is_err());
        assert!(parse_list_query("page=x").is_err());
        assert!(parse_list_query("bogus=1").is_err());
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        version: i64,
        metadata: Option<std::collections::BTreeMap<String, i32>>,
        value: Option<secret_core::SecretValue>,
    }

    #[test]
    fn body_errors_never_quote_the_input() {
        let cases = [
            r#"{"name":"n","version":"sk-live-SECRET"}"#,
            r#"{"name":"n","version":1,"sk-live-SECRET":1}"#,
            r#"{"name":"n","version":1,"metadata":{"sk-live-SECRET":"x"}}"#,
            r#"{"name":"n","version":1,"value":{"type":"API_KEY","key":7,"x":"sk-live-SECRET"}}"#,
            r#"{"name":"n","version":1,"value":{"type":"sk-live-SECRET"}}"#,
            r#"{"name":"sk-live-SECRET"#,
        ];
        for body in cases {
            let err = parse_json::<Probe>(body.as_bytes()).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("SECRET"), "{body} -> {text}");
            assert_eq!(err.code().as_str(), "VALIDATION_ERROR");
        }
        let err = parse_json::<Probe>(br#"{"name":"n","version":"x"}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid version: invalid value"),
            "{err}"
        );
        let err = parse_json::<Probe>(br#"{"name":"n","version":1,"value":{"type":"API_KEY"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("missing field `key`"), "{err}");
    }
}

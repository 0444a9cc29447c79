//! Reading a configuration's JSON field by field, so that every error names the field and
//! none repeats what was sent.

use serde_json::{Map, Value};

use super::Credential;
use crate::error::SecretError;

/// The longest accepted credential, path or address in a configuration.
const MAX_FIELD_LEN: usize = 8192;

pub(super) fn field_error(path: &str, reason: impl Into<String>) -> SecretError {
    SecretError::validation(path, reason)
}

/// A JSON object's fields, read one by one; whatever is left over is an unknown field.
pub(super) struct Fields<'a> {
    path: &'a str,
    pub(super) map: Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(path: &'a str, value: Value) -> Result<Self, SecretError> {
        match value {
            Value::Object(map) => Ok(Fields { path, map }),
            _ => Err(field_error(path, "must be an object")),
        }
    }

    pub(super) fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// An optional string field: absent or null is `None`; blank is an error.
    pub(super) fn opt_str(&mut self, key: &str) -> Result<Option<String>, SecretError> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if s.trim().is_empty() {
                    return Err(field_error(&self.name(key), "must not be blank"));
                }
                if s.len() > MAX_FIELD_LEN {
                    return Err(field_error(
                        &self.name(key),
                        format!("must be at most {MAX_FIELD_LEN} bytes"),
                    ));
                }
                Ok(Some(s))
            }
            Some(_) => Err(field_error(&self.name(key), "must be a string")),
        }
    }

    pub(super) fn str(&mut self, key: &str) -> Result<String, SecretError> {
        self.opt_str(key)?
            .ok_or_else(|| field_error(&self.name(key), "is required"))
    }

    pub(super) fn credential(&mut self, key: &str) -> Result<Credential, SecretError> {
        self.str(key).map(Credential::new)
    }

    pub(super) fn opt_u64(&mut self, key: &str) -> Result<Option<u64>, SecretError> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| field_error(&self.name(key), "must be a whole number")),
            Some(_) => Err(field_error(&self.name(key), "must be a number")),
        }
    }

    pub(super) fn object(&mut self, key: &str) -> Result<Value, SecretError> {
        self.map
            .remove(key)
            .filter(|v| !v.is_null())
            .ok_or_else(|| field_error(&self.name(key), "is required"))
    }

    /// `timeoutSeconds`: 1 to 60, default 10.
    pub(super) fn timeout_seconds(&mut self) -> Result<u64, SecretError> {
        let t = self.opt_u64("timeoutSeconds")?.unwrap_or(10);
        if !(1..=60).contains(&t) {
            return Err(field_error(
                &self.name("timeoutSeconds"),
                "must be from 1 to 60",
            ));
        }
        Ok(t)
    }

    /// `namePrefix` (default empty): at most `max` characters, each one `allowed`;
    /// `rule` says which in the error.
    pub(super) fn name_prefix(
        &mut self,
        max: usize,
        allowed: impl Fn(char) -> bool,
        rule: &str,
    ) -> Result<String, SecretError> {
        let path = self.name("namePrefix");
        let s = match self.map.remove("namePrefix") {
            None | Some(Value::Null) => return Ok(String::new()),
            Some(Value::String(s)) => s,
            Some(_) => return Err(field_error(&path, "must be a string")),
        };
        if s.len() > max {
            return Err(field_error(
                &path,
                format!("must be at most {max} characters"),
            ));
        }
        if !s.chars().all(allowed) {
            return Err(field_error(&path, format!("may hold only {rule}")));
        }
        Ok(s)
    }

    /// Fails on the first field nobody asked for (named, never its value).
    pub(super) fn finish(self, what: &str) -> Result<(), SecretError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(field_error(
                &self.name(k),
                format!("is not a field of {what}"),
            )),
        }
    }
}

/// A mount or path prefix: segments of letters, digits, `-`, `_` and `.`, joined by `/`,
/// with no empty, `.` or `..` segment. Leading and trailing slashes are dropped.
pub(super) fn vault_path(path: &str, s: &str, allow_empty: bool) -> Result<String, SecretError> {
    let trimmed = s.trim_matches('/');
    if trimmed.is_empty() {
        return if allow_empty {
            Ok(String::new())
        } else {
            Err(field_error(path, "must not be empty"))
        };
    }
    let ok = trimmed.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    if !ok || trimmed.len() > 255 {
        return Err(field_error(
            path,
            "must be path segments of letters, digits, '-', '_' and '.' joined by '/'",
        ));
    }
    Ok(trimmed.to_string())
}

/// An `http(s)://host[:port]` URL without credentials, path, query or fragment.
pub(super) fn http_url(path: &str, s: &str) -> Result<String, SecretError> {
    let url = url::Url::parse(s).map_err(|_| field_error(path, "must be an http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(field_error(path, "must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(field_error(
            path,
            "must not hold credentials; put them in config.auth",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(field_error(
            path,
            "must be scheme, host and port only (no path, query or fragment)",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

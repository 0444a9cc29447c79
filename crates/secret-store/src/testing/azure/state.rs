//! The stand-in vault's state and its answers: the secrets and their versions, the Key
//! Vault data-plane routes and the Entra ID token endpoint, each as the REST reference
//! describes it (see the module above).

use super::*;

/// Key Vault's limits (the "Azure Key Vault service limits" page).
pub(super) const MAX_VALUE_BYTES: usize = 25 * 1024;
pub(super) const MAX_TAGS: usize = 15;

#[derive(Clone)]
pub(super) struct Version {
    pub(super) id: String,
    pub(super) value: String,
    pub(super) content_type: Option<String>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) enabled: bool,
    /// `exp` and `nbf` (seconds since the epoch). Key Vault keeps them and answers reads
    /// outside them all the same ("About Azure Key Vault secrets": date-time controlled
    /// operations), so the stand-in does too.
    pub(super) exp: Option<i64>,
    pub(super) nbf: Option<i64>,
    pub(super) created: i64,
    pub(super) updated: i64,
}

#[derive(Default)]
pub(super) struct Secret {
    /// The name as first written (names are case-insensitive; the map key is lower case).
    pub(super) name: String,
    pub(super) versions: Vec<Version>,
    /// When it was deleted, if it is in the deleted state.
    pub(super) deleted: Option<i64>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) secrets: Mutex<HashMap<String, Secret>>,
    pub(super) token: String,
    pub(super) base: OnceLock<String>,
    pub(super) controls: Controls,
    pub(super) purge_protection: AtomicBool,
    /// The DER of the certificate whose key may sign client assertions.
    pub(super) client_certificate: Mutex<Option<Vec<u8>>>,
}

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

pub(super) fn kv_error(
    status: StatusCode,
    code: &str,
    message: &str,
    inner: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut error = json!({"code": code, "message": message});
    if let Some(inner) = inner {
        error["innererror"] = json!({"code": inner});
    }
    let mut r = reply(status, json!({ "error": error }));
    if let Ok(v) = hyper::header::HeaderValue::from_str(code) {
        r.headers_mut().insert("x-ms-error-code", v);
    }
    r
}

pub(super) fn not_found(name: &str) -> Response<Full<Bytes>> {
    kv_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!("A secret with (name/id) {name} was not found in this key vault."),
        None,
    )
}

pub(super) fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl State {
    pub(super) fn base(&self) -> &str {
        self.base.get().map(String::as_str).unwrap_or_default()
    }

    pub(super) fn attributes(v: &Version) -> Value {
        let mut a = json!({"enabled": v.enabled, "created": v.created, "updated": v.updated,
               "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90});
        if let Some(exp) = v.exp {
            a["exp"] = json!(exp);
        }
        if let Some(nbf) = v.nbf {
            a["nbf"] = json!(nbf);
        }
        a
    }

    pub(super) fn bundle(&self, s: &Secret, v: &Version, with_value: bool) -> Value {
        let mut b = json!({
            "id": format!("{}/secrets/{}/{}", self.base(), s.name, v.id),
            "attributes": Self::attributes(v),
            "tags": v.tags,
        });
        if let Some(ct) = &v.content_type {
            b["contentType"] = json!(ct);
        }
        if with_value {
            b["value"] = json!(v.value);
        }
        b
    }

    pub(super) fn deleted_bundle(&self, s: &Secret, deleted: i64) -> Value {
        let mut b = s
            .versions
            .last()
            .map(|v| self.bundle(s, v, false))
            .unwrap_or_else(|| json!({}));
        b["recoveryId"] = json!(format!("{}/deletedsecrets/{}", self.base(), s.name));
        b["deletedDate"] = json!(deleted);
        b["scheduledPurgeDate"] = json!(deleted + 90 * 86_400);
        b
    }

    /// A 32-hex-digit version id, as Key Vault makes them.
    pub(super) fn new_version_id(&self) -> String {
        uuid::Uuid::now_v7().simple().to_string()
    }

    pub(super) fn set(&self, name: &str, body: &Value) -> Response<Full<Bytes>> {
        if !valid_name(name) {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "The request URI contains an invalid name: names are 1-127 letters, digits and dashes.",
                None,
            );
        }
        let Some(value) = body["value"].as_str() else {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "Property value is required.",
                None,
            );
        };
        if value.len() > MAX_VALUE_BYTES {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "The secret value is larger than the maximum allowed size.",
                None,
            );
        }
        let tags: BTreeMap<String, String> = body["tags"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "Too many tags.",
                None,
            );
        }
        let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let entry = secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Secret {
                name: name.to_string(),
                ..Secret::default()
            });
        if entry.deleted.is_some() {
            return kv_error(
                StatusCode::CONFLICT,
                "Conflict",
                &format!(
                    "Secret {name} is currently in a deleted but recoverable state, and its name \
                     cannot be reused; in this state, the secret can only be recovered or purged."
                ),
                Some("ObjectIsDeletedButRecoverable"),
            );
        }
        let t = now();
        let version = Version {
            id: self.new_version_id(),
            value: value.to_string(),
            content_type: body["contentType"].as_str().map(str::to_string),
            tags,
            enabled: body["attributes"]["enabled"].as_bool().unwrap_or(true),
            exp: body["attributes"]["exp"].as_i64(),
            nbf: body["attributes"]["nbf"].as_i64(),
            created: t,
            updated: t,
        };
        entry.versions.push(version.clone());
        reply(StatusCode::OK, self.bundle(entry, &version, true))
    }

    pub(super) fn get(&self, name: &str, version: &str) -> Response<Full<Bytes>> {
        let secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = secrets
            .get(&name.to_ascii_lowercase())
            .filter(|s| s.deleted.is_none())
        else {
            return not_found(name);
        };
        let found = if version.is_empty() {
            s.versions.last()
        } else {
            s.versions.iter().find(|v| v.id == version)
        };
        match found {
            None => not_found(name),
            Some(v) if !v.enabled => kv_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                Some("SecretDisabled"),
            ),
            Some(v) => reply(StatusCode::OK, self.bundle(s, v, true)),
        }
    }

    pub(super) fn versions(&self, name: &str) -> Response<Full<Bytes>> {
        let secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = secrets
            .get(&name.to_ascii_lowercase())
            .filter(|s| s.deleted.is_none())
        else {
            return not_found(name);
        };
        let items: Vec<Value> = s
            .versions
            .iter()
            .map(|v| self.bundle(s, v, false))
            .collect();
        reply(StatusCode::OK, json!({"value": items, "nextLink": null}))
    }

    pub(super) fn update(&self, name: &str, version: &str, body: &Value) -> Response<Full<Bytes>> {
        let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = secrets
            .get_mut(&name.to_ascii_lowercase())
            .filter(|s| s.deleted.is_none())
        else {
            return not_found(name);
        };
        let index = if version.is_empty() {
            s.versions.len().checked_sub(1)
        } else {
            s.versions.iter().position(|v| v.id == version)
        };
        let Some(index) = index else {
            return not_found(name);
        };
        let v = &mut s.versions[index];
        if let Some(enabled) = body["attributes"]["enabled"].as_bool() {
            v.enabled = enabled;
        }
        if let Some(exp) = body["attributes"]["exp"].as_i64() {
            v.exp = Some(exp);
        }
        if let Some(nbf) = body["attributes"]["nbf"].as_i64() {
            v.nbf = Some(nbf);
        }
        if let Some(ct) = body["contentType"].as_str() {
            v.content_type = Some(ct.to_string());
        }
        if let Some(tags) = body["tags"].as_object() {
            v.tags = tags
                .iter()
                .map(|(k, t)| (k.clone(), t.as_str().unwrap_or_default().to_string()))
                .collect();
        }
        v.updated = now();
        let v = v.clone();
        reply(StatusCode::OK, self.bundle(s, &v, false))
    }

    pub(super) fn delete(&self, name: &str) -> Response<Full<Bytes>> {
        let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = secrets
            .get_mut(&name.to_ascii_lowercase())
            .filter(|s| s.deleted.is_none())
        else {
            return not_found(name);
        };
        let t = now();
        s.deleted = Some(t);
        reply(StatusCode::OK, self.deleted_bundle(s, t))
    }

    pub(super) fn deleted(&self, name: &str) -> Response<Full<Bytes>> {
        let secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        match secrets.get(&name.to_ascii_lowercase()) {
            Some(s) if s.deleted.is_some() => reply(
                StatusCode::OK,
                self.deleted_bundle(s, s.deleted.unwrap_or_default()),
            ),
            _ => kv_error(
                StatusCode::NOT_FOUND,
                "SecretNotFound",
                &format!("Deleted Secret not found: {name}"),
                None,
            ),
        }
    }

    pub(super) fn recover(&self, name: &str) -> Response<Full<Bytes>> {
        let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        match secrets.get_mut(&name.to_ascii_lowercase()) {
            Some(s) if s.deleted.is_some() => {
                s.deleted = None;
                let body = s
                    .versions
                    .last()
                    .map(|v| self.bundle(s, v, false))
                    .unwrap_or_else(|| json!({}));
                reply(StatusCode::OK, body)
            }
            _ => kv_error(
                StatusCode::NOT_FOUND,
                "SecretNotFound",
                &format!("Deleted Secret not found: {name}"),
                None,
            ),
        }
    }

    pub(super) fn purge(&self, name: &str) -> Response<Full<Bytes>> {
        if self.purge_protection.load(Ordering::SeqCst) {
            return kv_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Operation \"purge\" is not allowed because purge protection is enabled for this vault.",
                None,
            );
        }
        let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let key = name.to_ascii_lowercase();
        match secrets.get(&key) {
            Some(s) if s.deleted.is_some() => {
                secrets.remove(&key);
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
            _ => kv_error(
                StatusCode::NOT_FOUND,
                "SecretNotFound",
                &format!("Deleted Secret not found: {name}"),
                None,
            ),
        }
    }

    pub(super) fn token(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && match (form.get("client_secret"), form.get("client_assertion")) {
                (Some(secret), None) => secret == CLIENT_SECRET,
                (None, Some(assertion)) => {
                    form.get("client_assertion_type").map(String::as_str)
                        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                        && self.assertion_ok(assertion)
                }
                _ => false,
            };
        if !ok {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client",
                       "error_description": "AADSTS7000215: Invalid client secret provided.",
                       "error_codes": [7000215]}),
            );
        }
        reply(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                   "access_token": self.token}),
        )
    }

    /// Whether a client assertion is what Entra ID accepts for a certificate credential:
    /// RS256 under the trusted certificate's key, `x5t` its SHA-1 thumbprint, `aud` this
    /// tenant's token endpoint, `iss` and `sub` the client id, not expired.
    fn assertion_ok(&self, assertion: &str) -> bool {
        use base64::Engine;
        use sha1::Digest;
        let Some(der) = self
            .client_certificate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return false;
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
            return false;
        };
        let key =
            jsonwebtoken::DecodingKey::from_rsa_der(&cert.public_key().subject_public_key.data);
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return false;
        };
        let thumbprint =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der));
        if header.alg != jsonwebtoken::Algorithm::RS256
            || header.x5t.as_deref() != Some(&thumbprint)
        {
            return false;
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[format!("{}/{TENANT_ID}/oauth2/v2.0/token", self.base())]);
        validation.set_issuer(&[CLIENT_ID]);
        validation.sub = Some(CLIENT_ID.to_string());
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub", "nbf"]);
        jsonwebtoken::decode::<Value>(assertion, &key, &validation).is_ok()
    }

    pub(super) fn route(
        &self,
        method: &Method,
        path: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if method == Method::POST
            && segments.len() == 4
            && segments[1..] == ["oauth2", "v2.0", "token"]
        {
            return self.token(body);
        }
        if auth != Some(format!("Bearer {}", self.token).as_str()) {
            let mut r = kv_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "AKV10000: Request is missing a Bearer or PoP token.",
                None,
            );
            let challenge = format!(
                "Bearer authorization=\"{}/{TENANT_ID}\", resource=\"https://vault.azure.net\"",
                self.base()
            );
            if let Ok(v) = hyper::header::HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, v);
            }
            return r;
        }
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        match (method, segments.as_slice()) {
            (&Method::PUT, ["secrets", name]) => self.set(name, &json),
            (&Method::GET, ["secrets", name, "versions"]) => self.versions(name),
            (&Method::GET, ["secrets", name]) => self.get(name, ""),
            (&Method::GET, ["secrets", name, version]) => self.get(name, version),
            (&Method::PATCH, ["secrets", name, version]) => self.update(name, version, &json),
            (&Method::DELETE, ["secrets", name]) => self.delete(name),
            (&Method::GET, ["deletedsecrets", name]) => self.deleted(name),
            (&Method::POST, ["deletedsecrets", name, "recover"]) => self.recover(name),
            (&Method::DELETE, ["deletedsecrets", name]) => self.purge(name),
            _ => kv_error(StatusCode::NOT_FOUND, "NotFound", "No such route.", None),
        }
    }
}

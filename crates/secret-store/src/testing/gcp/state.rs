//! The stand-in's state and its answers: the secrets and their versions, and each RPC of
//! `SecretManagerService` as the reference describes it (see the module above).

use super::*;

#[derive(Clone)]
pub(super) struct Version {
    pub(super) number: u64,
    pub(super) state: sm::secret_version::State,
    pub(super) data: Vec<u8>,
    pub(super) created: i64,
    pub(super) etag: String,
}

pub(super) struct Secret {
    pub(super) labels: HashMap<String, String>,
    pub(super) annotations: HashMap<String, String>,
    pub(super) created: i64,
    pub(super) versions: Vec<Version>,
    pub(super) etag: String,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) secrets: Mutex<BTreeMap<String, Secret>>,
    pub(super) controls: Controls,
    pub(super) etags: AtomicU64,
}

pub(super) fn timestamp(secs: i64) -> gcloud_sdk::prost_types::Timestamp {
    gcloud_sdk::prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}

pub(super) fn valid_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn valid_label(s: &str, key: bool) -> bool {
    s.len() <= 63
        && (!key || !s.is_empty())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Annotations as the `Secret` reference describes them: keys of 1-63 characters (at
/// most 128 bytes) that begin and end with a letter or digit and hold only those, `-`, `_`
/// and `.` between; keys and values together under 16 KiB.
pub(super) fn valid_annotations(a: &HashMap<String, String>) -> bool {
    let key_ok = |k: &str| {
        let inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        (1..=63).contains(&k.chars().count())
            && k.len() <= 128
            && k.starts_with(|c: char| c.is_ascii_alphanumeric())
            && k.ends_with(|c: char| c.is_ascii_alphanumeric())
            && k.chars().all(inner)
    };
    a.keys().all(|k| key_ok(k))
        && a.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() < 16 * 1024
}

/// Splits `projects/P/secrets/S[/versions/V]`.
pub(super) fn split(name: &str) -> Result<(String, Option<String>), Status> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["projects", p, "secrets", s] if *p == PROJECT_ID => Ok(((*s).to_string(), None)),
        ["projects", p, "secrets", s, "versions", v] if *p == PROJECT_ID => {
            Ok(((*s).to_string(), Some((*v).to_string())))
        }
        ["projects", p, ..] if *p != PROJECT_ID => Err(Status::permission_denied(
            "Permission denied on the project (or it may not exist).",
        )),
        _ => Err(Status::invalid_argument("Invalid resource name.")),
    }
}

impl State {
    pub(super) fn etag(&self) -> String {
        format!("\"{}\"", self.etags.fetch_add(1, Ordering::SeqCst))
    }

    pub(super) fn secrets(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Secret>> {
        self.secrets.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn secret_proto(id: &str, s: &Secret) -> sm::Secret {
        sm::Secret {
            name: format!("projects/{PROJECT_ID}/secrets/{id}"),
            labels: s.labels.clone(),
            annotations: s.annotations.clone(),
            create_time: Some(timestamp(s.created)),
            etag: s.etag.clone(),
            replication: Some(sm::Replication {
                replication: Some(sm::replication::Replication::Automatic(
                    sm::replication::Automatic::default(),
                )),
            }),
            ..sm::Secret::default()
        }
    }

    pub(super) fn version_proto(id: &str, v: &Version) -> sm::SecretVersion {
        sm::SecretVersion {
            name: format!("projects/{PROJECT_ID}/secrets/{id}/versions/{}", v.number),
            create_time: Some(timestamp(v.created)),
            state: v.state as i32,
            etag: v.etag.clone(),
            ..sm::SecretVersion::default()
        }
    }

    pub(super) fn create_secret(
        &self,
        r: Request<sm::CreateSecretRequest>,
    ) -> Result<Response<sm::Secret>, Status> {
        let r = r.into_inner();
        if r.parent != format!("projects/{PROJECT_ID}") {
            return Err(Status::permission_denied(
                "Permission denied on the project (or it may not exist).",
            ));
        }
        if !valid_id(&r.secret_id) {
            return Err(Status::invalid_argument("Secret ID is invalid."));
        }
        let secret = r.secret.unwrap_or_default();
        if secret.replication.and_then(|x| x.replication).is_none() {
            return Err(Status::invalid_argument("Replication policy is required."));
        }
        if secret.labels.len() > 64
            || !secret
                .labels
                .iter()
                .all(|(k, v)| valid_label(k, true) && valid_label(v, false))
        {
            return Err(Status::invalid_argument("Labels are invalid."));
        }
        if !valid_annotations(&secret.annotations) {
            return Err(Status::invalid_argument("Annotations are invalid."));
        }
        let mut secrets = self.secrets();
        if secrets.contains_key(&r.secret_id) {
            return Err(Status::already_exists(format!(
                "Secret [projects/{PROJECT_ID}/secrets/{}] already exists.",
                r.secret_id
            )));
        }
        let s = Secret {
            labels: secret.labels,
            annotations: secret.annotations,
            created: chrono::Utc::now().timestamp(),
            versions: Vec::new(),
            etag: self.etag(),
        };
        let proto = Self::secret_proto(&r.secret_id, &s);
        secrets.insert(r.secret_id, s);
        Ok(Response::new(proto))
    }

    pub(super) fn get_secret(
        &self,
        r: Request<sm::GetSecretRequest>,
    ) -> Result<Response<sm::Secret>, Status> {
        let r = r.into_inner();
        let (id, _) = split(&r.name)?;
        let secrets = self.secrets();
        let s = secrets
            .get(&id)
            .ok_or_else(|| Status::not_found(format!("Secret [{}] not found.", r.name)))?;
        Ok(Response::new(Self::secret_proto(&id, s)))
    }

    /// UpdateSecret of the fields the stand-in keeps (`labels`, `annotations`): the mask is
    /// required, a stale etag is ABORTED, and the secret gets a new etag.
    pub(super) fn update_secret(
        &self,
        r: Request<sm::UpdateSecretRequest>,
    ) -> Result<Response<sm::Secret>, Status> {
        let r = r.into_inner();
        let secret = r
            .secret
            .ok_or_else(|| Status::invalid_argument("Secret is required."))?;
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Status::invalid_argument("update_mask is required."));
        }
        if let Some(p) = paths
            .iter()
            .find(|p| !matches!(p.as_str(), "labels" | "annotations"))
        {
            return Err(Status::invalid_argument(format!(
                "The stand-in cannot update the field {p}."
            )));
        }
        let (id, _) = split(&secret.name)?;
        if !valid_annotations(&secret.annotations) {
            return Err(Status::invalid_argument("Annotations are invalid."));
        }
        let etag = self.etag();
        let mut secrets = self.secrets();
        let s = secrets
            .get_mut(&id)
            .ok_or_else(|| Status::not_found(format!("Secret [{}] not found.", secret.name)))?;
        if !secret.etag.is_empty() && secret.etag != s.etag {
            return Err(Status::aborted("The etag does not match the current etag."));
        }
        for p in &paths {
            match p.as_str() {
                "labels" => s.labels.clone_from(&secret.labels),
                _ => s.annotations.clone_from(&secret.annotations),
            }
        }
        s.etag = etag;
        Ok(Response::new(Self::secret_proto(&id, s)))
    }

    pub(super) fn add_secret_version(
        &self,
        r: Request<sm::AddSecretVersionRequest>,
    ) -> Result<Response<sm::SecretVersion>, Status> {
        let r = r.into_inner();
        let (id, _) = split(&r.parent)?;
        let data = r
            .payload
            .map(|p| p.data.ref_sensitive_value().clone())
            .unwrap_or_default();
        if data.len() > MAX_PAYLOAD {
            return Err(Status::invalid_argument(
                "Secret payload is larger than 65536 bytes.",
            ));
        }
        let etag = self.etag();
        let mut secrets = self.secrets();
        let s = secrets
            .get_mut(&id)
            .ok_or_else(|| Status::not_found(format!("Secret [{}] not found.", r.parent)))?;
        let v = Version {
            number: s.versions.len() as u64 + 1,
            state: sm::secret_version::State::Enabled,
            data,
            created: chrono::Utc::now().timestamp(),
            etag,
        };
        s.versions.push(v.clone());
        Ok(Response::new(Self::version_proto(&id, &v)))
    }

    /// The version a name points at (`latest`: the newest), with its secret's id.
    pub(super) fn find(&self, name: &str) -> Result<(String, Version), Status> {
        let (id, version) = split(name)?;
        let secrets = self.secrets();
        let s = secrets.get(&id).ok_or_else(|| {
            Status::not_found(format!(
                "Secret [projects/{PROJECT_ID}/secrets/{id}] not found."
            ))
        })?;
        let v = match version.as_deref() {
            Some("latest") => s.versions.last(),
            Some(n) => n
                .parse::<u64>()
                .ok()
                .and_then(|n| s.versions.iter().find(|v| v.number == n)),
            None => None,
        };
        v.cloned()
            .map(|v| (id, v))
            .ok_or_else(|| Status::not_found(format!("Secret Version [{name}] not found.")))
    }

    pub(super) fn get_secret_version(
        &self,
        r: Request<sm::GetSecretVersionRequest>,
    ) -> Result<Response<sm::SecretVersion>, Status> {
        let (id, v) = self.find(&r.into_inner().name)?;
        Ok(Response::new(Self::version_proto(&id, &v)))
    }

    pub(super) fn access_secret_version(
        &self,
        r: Request<sm::AccessSecretVersionRequest>,
    ) -> Result<Response<sm::AccessSecretVersionResponse>, Status> {
        let name = r.into_inner().name;
        let (id, v) = self.find(&name)?;
        if v.state != sm::secret_version::State::Enabled {
            return Err(Status::failed_precondition(format!(
                "Secret Version [{name}] is in {} state.",
                v.state.as_str_name()
            )));
        }
        Ok(Response::new(sm::AccessSecretVersionResponse {
            name: format!("projects/{PROJECT_ID}/secrets/{id}/versions/{}", v.number),
            payload: Some(SecretPayload {
                data: gcloud_sdk::SecretValue::new(v.data),
                data_crc32c: None,
            }),
        }))
    }

    pub(super) fn list_secret_versions(
        &self,
        r: Request<sm::ListSecretVersionsRequest>,
    ) -> Result<Response<sm::ListSecretVersionsResponse>, Status> {
        let (id, _) = split(&r.into_inner().parent)?;
        let secrets = self.secrets();
        let s = secrets.get(&id).ok_or_else(|| {
            Status::not_found(format!(
                "Secret [projects/{PROJECT_ID}/secrets/{id}] not found."
            ))
        })?;
        let versions: Vec<sm::SecretVersion> = s
            .versions
            .iter()
            .rev()
            .map(|v| Self::version_proto(&id, v))
            .collect();
        Ok(Response::new(sm::ListSecretVersionsResponse {
            total_size: i32::try_from(versions.len()).unwrap_or(i32::MAX),
            versions,
            next_page_token: String::new(),
        }))
    }

    pub(super) fn list_secrets(
        &self,
        r: Request<sm::ListSecretsRequest>,
    ) -> Result<Response<sm::ListSecretsResponse>, Status> {
        if r.into_inner().parent != format!("projects/{PROJECT_ID}") {
            return Err(Status::permission_denied(
                "Permission denied on the project (or it may not exist).",
            ));
        }
        let secrets = self.secrets();
        let listed: Vec<sm::Secret> = secrets
            .iter()
            .take(1)
            .map(|(id, s)| Self::secret_proto(id, s))
            .collect();
        Ok(Response::new(sm::ListSecretsResponse {
            secrets: listed,
            next_page_token: String::new(),
            total_size: i32::try_from(secrets.len()).unwrap_or(i32::MAX),
        }))
    }

    /// Moves a version to `to`, checking its etag.
    pub(super) fn transition(
        &self,
        name: &str,
        etag: &str,
        to: sm::secret_version::State,
    ) -> Result<Response<sm::SecretVersion>, Status> {
        let (id, version) = split(name)?;
        let new_etag = self.etag();
        let mut secrets = self.secrets();
        let s = secrets
            .get_mut(&id)
            .ok_or_else(|| Status::not_found(format!("Secret Version [{name}] not found.")))?;
        let n: u64 = version
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Status::invalid_argument("Invalid resource name."))?;
        let v = s
            .versions
            .iter_mut()
            .find(|v| v.number == n)
            .ok_or_else(|| Status::not_found(format!("Secret Version [{name}] not found.")))?;
        if !etag.is_empty() && etag != v.etag {
            return Err(Status::aborted("The etag does not match the current etag."));
        }
        if v.state == sm::secret_version::State::Destroyed {
            return Err(Status::failed_precondition(format!(
                "Secret Version [{name}] is in DESTROYED state."
            )));
        }
        v.state = to;
        v.etag = new_etag;
        if to == sm::secret_version::State::Destroyed {
            v.data.clear();
        }
        Ok(Response::new(Self::version_proto(&id, v)))
    }

    pub(super) fn disable_secret_version(
        &self,
        r: Request<sm::DisableSecretVersionRequest>,
    ) -> Result<Response<sm::SecretVersion>, Status> {
        let r = r.into_inner();
        self.transition(&r.name, &r.etag, sm::secret_version::State::Disabled)
    }

    pub(super) fn enable_secret_version(
        &self,
        r: Request<sm::EnableSecretVersionRequest>,
    ) -> Result<Response<sm::SecretVersion>, Status> {
        let r = r.into_inner();
        self.transition(&r.name, &r.etag, sm::secret_version::State::Enabled)
    }

    pub(super) fn destroy_secret_version(
        &self,
        r: Request<sm::DestroySecretVersionRequest>,
    ) -> Result<Response<sm::SecretVersion>, Status> {
        let r = r.into_inner();
        self.transition(&r.name, &r.etag, sm::secret_version::State::Destroyed)
    }

    pub(super) fn delete_secret(
        &self,
        r: Request<sm::DeleteSecretRequest>,
    ) -> Result<Response<()>, Status> {
        let r = r.into_inner();
        let (id, _) = split(&r.name)?;
        let mut secrets = self.secrets();
        let s = secrets
            .get(&id)
            .ok_or_else(|| Status::not_found(format!("Secret [{}] not found.", r.name)))?;
        if !r.etag.is_empty() && r.etag != s.etag {
            return Err(Status::aborted("The etag does not match the current etag."));
        }
        secrets.remove(&id);
        Ok(Response::new(()))
    }

    /// Checks the bearer token: a service-account JWT of the accepted key.
    pub(super) fn authorized(&self, headers: &http::HeaderMap) -> bool {
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, signature] = parts.as_slice() else {
            return false;
        };
        let decode = |s: &str| -> Option<Value> {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()?;
            serde_json::from_slice(&bytes).ok()
        };
        let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
            return false;
        };
        !signature.is_empty()
            && header["alg"] == "RS256"
            && header["kid"] == KEY_ID
            && claims["iss"] == CLIENT_EMAIL
            && claims["exp"]
                .as_i64()
                .is_some_and(|e| e > chrono::Utc::now().timestamp())
    }
}

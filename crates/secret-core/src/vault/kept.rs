//! Settings changed through a form that never shows credentials: each credential the new
//! settings leave blank is kept from the stored ones.

use serde_json::Value;

use super::BackendConfig;

impl BackendConfig {
    /// `config` with each credential it leaves out (absent, null or "") taken from these
    /// settings, when both sign in with the same method; anything else it says is kept as
    /// it says it. A credential is what the stored settings hold under `auth` that the
    /// public view leaves out (a token, a secret id, a client secret, a key), so nothing
    /// has to list them twice.
    pub fn with_kept_credentials(&self, mut config: Value) -> Value {
        let stored: Value = serde_json::from_slice(&self.to_stored_json()).unwrap_or_default();
        let public = self.public_view();
        let (Some(stored_auth), Some(public_auth)) = (
            stored.get("auth").and_then(Value::as_object),
            public.get("auth").and_then(Value::as_object),
        ) else {
            return config;
        };
        let Some(auth) = config.get_mut("auth").and_then(Value::as_object_mut) else {
            return config;
        };
        if auth.get("method") != stored_auth.get("method") {
            return config;
        }
        for (key, kept) in stored_auth {
            if public_auth.contains_key(key) || kept.is_null() {
                continue;
            }
            let blank = match auth.get(key) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(_) => false,
            };
            if blank {
                auth.insert(key.clone(), kept.clone());
            }
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::StorageBackendKind;

    fn bao(auth: Value) -> BackendConfig {
        BackendConfig::parse(
            StorageBackendKind::HashicorpVault,
            json!({"address": "http://127.0.0.1:8200", "auth": auth}),
        )
        .unwrap()
    }

    #[test]
    fn a_blank_credential_is_kept_and_a_typed_one_replaces_it() {
        let stored = bao(json!({"method": "APPROLE", "roleId": "role-1", "secretId": "s-1"}));
        let kept = stored.with_kept_credentials(json!({"address": "http://10.0.0.1:8200",
            "auth": {"method": "APPROLE", "roleId": "", "secretId": "s-2", "mount": "ar"}}));
        assert_eq!(
            kept,
            json!({"address": "http://10.0.0.1:8200",
                "auth": {"method": "APPROLE", "roleId": "role-1", "secretId": "s-2", "mount": "ar"}})
        );
    }

    #[test]
    fn another_method_keeps_nothing() {
        let stored = bao(json!({"method": "TOKEN", "token": "hvs.kept"}));
        let sent = json!({"address": "http://127.0.0.1:8200",
            "auth": {"method": "APPROLE", "roleId": "r"}});
        assert_eq!(stored.with_kept_credentials(sent.clone()), sent);
    }

    #[test]
    fn settings_that_are_not_credentials_are_never_filled_in() {
        let stored = bao(
            json!({"method": "KUBERNETES", "role": "app", "jwt": "jwt-1",
            "mount": "k8s"}),
        );
        let kept = stored.with_kept_credentials(json!({"address": "http://127.0.0.1:8200",
            "auth": {"method": "KUBERNETES", "role": "app-2"}}));
        assert_eq!(
            kept["auth"],
            json!({"method": "KUBERNETES", "role": "app-2", "jwt": "jwt-1"})
        );
    }

    #[test]
    fn settings_without_credentials_are_left_alone() {
        let stored = BackendConfig::parse(
            StorageBackendKind::AwsSecretsManager,
            json!({"region": "us-east-1", "auth": {"method": "DEFAULT"}}),
        )
        .unwrap();
        let sent = json!({"region": "eu-west-1", "auth": {"method": "DEFAULT"}});
        assert_eq!(stored.with_kept_credentials(sent.clone()), sent);
    }
}

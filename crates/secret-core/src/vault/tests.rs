use serde_json::json;

use super::*;

const TOKEN: &str = "hvs.CANARY-token-7f3a";

fn bao(auth: Value) -> Value {
    json!({"address": "http://127.0.0.1:8200", "namespace": null, "mount": "secret",
           "auth": auth})
}

fn parse(config: Value) -> Result<BackendConfig, SecretError> {
    BackendConfig::parse(StorageBackendKind::HashicorpVault, config)
}

fn field_of(err: SecretError) -> String {
    match err {
        SecretError::Validation { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn the_pinned_token_shape_parses_with_defaults() {
    let c = parse(bao(json!({"method": "TOKEN", "token": TOKEN}))).unwrap();
    let BackendConfig::HashicorpVault(c) = c else {
        panic!("not a vault config")
    };
    assert_eq!(c.address, "http://127.0.0.1:8200");
    assert_eq!(c.mount, "secret");
    assert_eq!(c.namespace, None);
    assert_eq!(c.path_prefix, "secret-manager");
    assert_eq!(c.timeout_seconds, 10);
    assert_eq!(
        c.auth,
        VaultAuth::Token {
            token: Credential::new(TOKEN)
        }
    );
}

#[test]
fn approle_and_kubernetes_take_their_fields_and_default_mounts() {
    let c = parse(bao(
        json!({"method": "APPROLE", "roleId": "r-1", "secretId": "s-1"}),
    ))
    .unwrap();
    let BackendConfig::HashicorpVault(c) = c else {
        panic!()
    };
    assert!(matches!(c.auth, VaultAuth::AppRole { ref mount, .. } if mount == "approle"));
    let k = parse(bao(
        json!({"method": "KUBERNETES", "role": "app", "jwt": "eyJ"}),
    ))
    .unwrap();
    let BackendConfig::HashicorpVault(k) = k else {
        panic!()
    };
    assert!(
        matches!(k.auth, VaultAuth::Kubernetes { ref mount, jwt: Some(_), jwt_path: None, .. }
        if mount == "kubernetes")
    );
    let k = parse(bao(json!({"method": "KUBERNETES", "role": "app"}))).unwrap();
    let BackendConfig::HashicorpVault(k) = k else {
        panic!()
    };
    assert!(
        matches!(k.auth, VaultAuth::Kubernetes { jwt: None, jwt_path: Some(ref p), .. }
        if p.ends_with("serviceaccount/token"))
    );
}

#[test]
fn bad_fields_are_named_and_never_echoed() {
    let cases = [
        (
            json!({"mount": "secret", "auth": {"method": "TOKEN", "token": "t"}}),
            "config.address",
        ),
        (bao(json!({"method": "TOKEN"})), "config.auth.token"),
        (
            bao(json!({"method": "TOKEN", "token": 42})),
            "config.auth.token",
        ),
        (
            bao(json!({"method": "TOKEN", "token": "  "})),
            "config.auth.token",
        ),
        (
            bao(json!({"method": "PASSWORD", "password": TOKEN})),
            "config.auth.method",
        ),
        (
            bao(json!({"method": "APPROLE", "roleId": "r"})),
            "config.auth.secretId",
        ),
        (
            bao(json!({"method": "KUBERNETES", "jwt": TOKEN})),
            "config.auth.role",
        ),
        (
            bao(json!({"method": "KUBERNETES", "role": "r", "jwt": "j", "jwtPath": "/p"})),
            "config.auth.jwt",
        ),
        (
            bao(json!({"method": "TOKEN", "token": "t", TOKEN: 1})),
            "config.auth.hvs.CANARY-token-7f3a",
        ),
        (
            json!({"address": "ftp://h", "auth": {"method": "TOKEN", "token": "t"}}),
            "config.address",
        ),
        (
            json!({"address": format!("http://u:{TOKEN}@h:8200"), "auth": {"method": "TOKEN", "token": "t"}}),
            "config.address",
        ),
        (
            json!({"address": "http://h/v1", "auth": {"method": "TOKEN", "token": "t"}}),
            "config.address",
        ),
        (
            json!({"address": "http://h", "mount": "../sys", "auth": {"method": "TOKEN", "token": "t"}}),
            "config.mount",
        ),
        (
            json!({"address": "http://h", "timeoutSeconds": 0, "auth": {"method": "TOKEN", "token": "t"}}),
            "config.timeoutSeconds",
        ),
        (json!({"address": "http://h"}), "config.auth"),
        (json!("http://h"), "config"),
    ];
    for (config, field) in cases {
        let err = parse(config.clone()).expect_err(field);
        let message = err.to_string();
        if !field.contains("CANARY") {
            assert!(!message.contains("CANARY"), "{message}");
            assert!(!message.contains("u:"), "{message}");
        }
        assert_eq!(field_of(err), field, "{config}");
    }
}

#[test]
fn a_misspelt_field_is_refused_naming_it() {
    let mut config = bao(json!({"method": "TOKEN", "token": "t"}));
    config["adress"] = json!("x");
    let err = parse(config).unwrap_err();
    assert_eq!(field_of(err), "config.adress");
}

#[test]
fn the_public_view_holds_no_credential() {
    for auth in [
        json!({"method": "TOKEN", "token": TOKEN}),
        json!({"method": "APPROLE", "roleId": TOKEN, "secretId": TOKEN}),
        json!({"method": "KUBERNETES", "role": "app", "jwt": TOKEN}),
    ] {
        let c = parse(bao(auth)).unwrap();
        let view = c.public_view().to_string();
        assert!(!view.contains("CANARY"), "{view}");
        assert!(view.contains("127.0.0.1:8200"));
        assert!(!format!("{c:?}").contains("CANARY"));
        // What is stored reads back to the same settings.
        let stored = c.to_stored_json();
        let back =
            BackendConfig::from_stored_json(StorageBackendKind::HashicorpVault, &stored).unwrap();
        assert_eq!(back, c);
    }
}

#[test]
fn local_takes_no_settings_and_the_others_need_theirs() {
    assert_eq!(
        BackendConfig::parse(StorageBackendKind::LocalEncrypted, json!({})).unwrap(),
        BackendConfig::Local
    );
    assert!(BackendConfig::parse(StorageBackendKind::LocalEncrypted, json!({"a": 1})).is_err());
    // Every other backend needs its settings.
    let err = BackendConfig::parse(StorageBackendKind::GcpSecretManager, json!({})).unwrap_err();
    assert_eq!(field_of(err), "config.projectId");
}

#[test]
fn raw_configs_and_credentials_are_redacted_in_debug() {
    let raw = RawConfig(json!({"token": TOKEN}));
    assert_eq!(format!("{raw:?}"), "RawConfig([REDACTED])");
    assert_eq!(
        format!("{:?}", Credential::new(TOKEN)),
        "Credential([REDACTED])"
    );
}

#[test]
fn vault_names_are_checked() {
    assert!(validate_vault_name("bao-dev").is_ok());
    assert!(validate_vault_name(" ").is_err());
    assert!(validate_vault_name("a\nb").is_err());
    assert!(validate_vault_name(&"x".repeat(256)).is_err());
}

const AWS_SECRET: &str = "wJalrXUtnFEMI/CANARY/bPxRfiCYEXAMPLEKEY";

fn aws(config: Value) -> Result<BackendConfig, SecretError> {
    BackendConfig::parse(StorageBackendKind::AwsSecretsManager, config)
}

#[test]
fn the_pinned_aws_shapes_parse_with_defaults() {
    let c = aws(
        json!({"region": "us-east-1", "endpointUrl": null, "kmsKeyId": null,
                       "namePrefix": "", "auth": {"method": "DEFAULT"}}),
    )
    .unwrap();
    let BackendConfig::AwsSecretsManager(c) = c else {
        panic!("not an AWS configuration")
    };
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.name_prefix, "");
    assert_eq!(c.timeout_seconds, 10);
    assert_eq!(c.recovery_window_days, 30);
    assert_eq!(c.auth, AwsAuth::Default);
    let keyed = aws(json!({"region": "eu-west-2", "namePrefix": "platform/",
        "endpointUrl": "http://127.0.0.1:5000", "recoveryWindowDays": 7,
        "auth": {"method": "ACCESS_KEY", "accessKeyId": "AKIAEXAMPLE",
                 "secretAccessKey": AWS_SECRET, "sessionToken": null}}))
    .unwrap();
    // Stored whole, credentials included, and read back the same.
    let stored = keyed.to_stored_json();
    assert_eq!(
        BackendConfig::from_stored_json(StorageBackendKind::AwsSecretsManager, &stored).unwrap(),
        keyed
    );
    // Shown without the key, its id or the external id.
    let public = keyed.public_view().to_string();
    assert!(
        !public.contains("CANARY") && !public.contains("AKIAEXAMPLE"),
        "{public}"
    );
    assert!(public.contains("\"namePrefix\":\"platform/\""), "{public}");
    assert!(!format!("{keyed:?}").contains("CANARY"));
    let role = aws(
        json!({"region": "us-east-1", "auth": {"method": "ASSUME_ROLE",
        "roleArn": "arn:aws:iam::123456789012:role/secrets", "externalId": "CANARY-ext"}}),
    )
    .unwrap();
    let public = role.public_view().to_string();
    assert!(public.contains("arn:aws:iam::123456789012:role/secrets"));
    assert!(!public.contains("CANARY"), "{public}");
}

#[test]
fn bad_aws_fields_are_named_and_never_echoed() {
    let base = || json!({"region": "us-east-1", "auth": {"method": "DEFAULT"}});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"region": "US East", "auth": {"method": "DEFAULT"}}),
            "config.region",
        ),
        (json!({"auth": {"method": "DEFAULT"}}), "config.region"),
        (json!({"region": "us-east-1"}), "config.auth"),
        (
            json!({"region": "us-east-1", "namePrefix": "a b", "auth": {"method": "DEFAULT"}}),
            "config.namePrefix",
        ),
        (
            json!({"region": "us-east-1", "endpointUrl": "ftp://x", "auth": {"method": "DEFAULT"}}),
            "config.endpointUrl",
        ),
        (
            json!({"region": "us-east-1", "recoveryWindowDays": 3, "auth": {"method": "DEFAULT"}}),
            "config.recoveryWindowDays",
        ),
        (
            json!({"region": "us-east-1", "auth": {"method": "PASSWORD"}}),
            "config.auth.method",
        ),
        (
            json!({"region": "us-east-1", "auth": {"method": "ACCESS_KEY", "accessKeyId": "AKIA"}}),
            "config.auth.secretAccessKey",
        ),
        (
            json!({"region": "us-east-1", "auth": {"method": "ASSUME_ROLE", "roleArn": AWS_SECRET}}),
            "config.auth.roleArn",
        ),
        (
            json!({"region": "us-east-1", "auth": {"method": "DEFAULT", "token": AWS_SECRET}}),
            "config.auth.token",
        ),
    ];
    for (config, field) in cases {
        let err = aws(config.clone()).unwrap_err();
        assert!(!err.to_string().contains("CANARY"), "{err}");
        assert_eq!(field_of(err), field, "{config}");
    }
    let mut extra = base();
    extra["region_name"] = json!("us-east-1");
    assert_eq!(field_of(aws(extra).unwrap_err()), "config.region_name");
}

fn azure(config: Value) -> Result<BackendConfig, SecretError> {
    BackendConfig::parse(StorageBackendKind::AzureKeyVault, config)
}

#[test]
fn the_pinned_azure_shapes_parse_and_hide_the_client_secret() {
    let mi = azure(json!({"vaultUrl": "https://kv-prod.vault.azure.net",
        "auth": {"method": "MANAGED_IDENTITY", "clientId": null}}))
    .unwrap();
    let BackendConfig::AzureKeyVault(c) = &mi else {
        panic!("not an Azure configuration")
    };
    assert_eq!(c.vault_url, "https://kv-prod.vault.azure.net");
    assert_eq!(c.name_prefix, "");
    assert_eq!(c.timeout_seconds, 10);
    assert_eq!(c.auth, AzureAuth::ManagedIdentity { client_id: None });
    let sp = azure(
        json!({"vaultUrl": "https://kv-prod.vault.azure.net", "namePrefix": "plat-",
        "auth": {"method": "SERVICE_PRINCIPAL", "tenantId": "contoso.onmicrosoft.com",
                 "clientId": "11111111-1111-4111-8111-111111111111",
                 "clientSecret": "CANARY-client-secret"}}),
    )
    .unwrap();
    let stored = sp.to_stored_json();
    assert_eq!(
        BackendConfig::from_stored_json(StorageBackendKind::AzureKeyVault, &stored).unwrap(),
        sp
    );
    let public = sp.public_view().to_string();
    assert!(!public.contains("CANARY"), "{public}");
    assert!(public.contains("contoso.onmicrosoft.com"), "{public}");
    assert!(!format!("{sp:?}").contains("CANARY"));
    let cert = azure(json!({"vaultUrl": "https://kv.vault.azure.net",
        "auth": {"method": "CERTIFICATE", "tenantId": "t", "clientId": "c",
                 "certificatePath": "/etc/secret-manager/sp.pem"}}))
    .unwrap();
    assert!(
        cert.public_view()
            .to_string()
            .contains("/etc/secret-manager/sp.pem")
    );
}

#[test]
fn bad_azure_fields_are_named_and_never_echoed() {
    let sp = json!({"method": "SERVICE_PRINCIPAL", "tenantId": "t", "clientId": "c",
                    "clientSecret": "CANARY"});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"vaultUrl": "http://kv.vault.azure.net", "auth": sp}),
            "config.vaultUrl",
        ),
        (
            json!({"vaultUrl": "https://kv.vault.azure.net/x", "auth": sp}),
            "config.vaultUrl",
        ),
        (json!({"auth": sp}), "config.vaultUrl"),
        (
            json!({"vaultUrl": "https://kv.vault.azure.net", "namePrefix": "a_b", "auth": sp}),
            "config.namePrefix",
        ),
        (
            json!({"vaultUrl": "https://kv.vault.azure.net", "authorityHost": "http://login",
                   "auth": sp}),
            "config.authorityHost",
        ),
        (
            json!({"vaultUrl": "https://kv.vault.azure.net",
                   "auth": {"method": "SERVICE_PRINCIPAL", "tenantId": "t", "clientId": "c"}}),
            "config.auth.clientSecret",
        ),
        (
            json!({"vaultUrl": "https://kv.vault.azure.net",
                   "auth": {"method": "SERVICE_PRINCIPAL", "tenantId": "CANARY tenant",
                            "clientId": "c", "clientSecret": "s"}}),
            "config.auth.tenantId",
        ),
        (
            json!({"vaultUrl": "https://kv.vault.azure.net", "auth": {"method": "KEY"}}),
            "config.auth.method",
        ),
    ];
    for (config, field) in cases {
        let err = azure(config.clone()).unwrap_err();
        assert!(!err.to_string().contains("CANARY"), "{err}");
        assert_eq!(field_of(err), field, "{config}");
    }
}

fn gcp(config: Value) -> Result<BackendConfig, SecretError> {
    BackendConfig::parse(StorageBackendKind::GcpSecretManager, config)
}

fn service_account(private_key: &str) -> Value {
    json!({"type": "service_account", "project_id": "p", "private_key_id": "k1",
           "private_key": private_key, "client_email": "sm@p.iam.gserviceaccount.com"})
}

#[test]
fn the_pinned_google_shapes_parse_and_hide_the_key() {
    let d = gcp(json!({"projectId": "prod-secrets", "endpoint": null,
                       "auth": {"method": "DEFAULT"}}))
    .unwrap();
    let BackendConfig::GcpSecretManager(c) = &d else {
        panic!("not a Google configuration")
    };
    assert_eq!(c.project_id, "prod-secrets");
    assert_eq!(c.endpoint, None);
    assert_eq!(c.auth, GcpAuth::Default);
    let file = gcp(json!({"projectId": "prod-secrets",
                          "auth": {"method": "KEY_FILE", "path": "/etc/sm/key.json"}}))
    .unwrap();
    assert!(file.public_view().to_string().contains("/etc/sm/key.json"));
    let inline = gcp(
        json!({"projectId": "prod-secrets", "namePrefix": "platform_",
        "auth": {"method": "KEY_JSON", "json": service_account("CANARY-private-key")}}),
    )
    .unwrap();
    let stored = inline.to_stored_json();
    assert_eq!(
        BackendConfig::from_stored_json(StorageBackendKind::GcpSecretManager, &stored).unwrap(),
        inline
    );
    let public = inline.public_view().to_string();
    assert!(!public.contains("CANARY"), "{public}");
    assert!(public.contains("sm@p.iam.gserviceaccount.com"), "{public}");
    assert!(!format!("{inline:?}").contains("CANARY"));
}

#[test]
fn bad_google_fields_are_named_and_never_echoed() {
    let key = service_account("CANARY");
    let mut no_type = key.clone();
    no_type["type"] = json!("authorized_user");
    let mut no_email = key.clone();
    no_email.as_object_mut().unwrap().remove("client_email");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"projectId": "Prod Secrets", "auth": {"method": "DEFAULT"}}),
            "config.projectId",
        ),
        (json!({"auth": {"method": "DEFAULT"}}), "config.projectId"),
        (
            json!({"projectId": "p", "endpoint": "grpc://x", "auth": {"method": "DEFAULT"}}),
            "config.endpoint",
        ),
        (
            json!({"projectId": "p", "namePrefix": "a/b", "auth": {"method": "DEFAULT"}}),
            "config.namePrefix",
        ),
        (
            json!({"projectId": "p", "auth": {"method": "KEY_FILE"}}),
            "config.auth.path",
        ),
        (
            json!({"projectId": "p", "auth": {"method": "KEY_JSON", "json": no_type}}),
            "config.auth.json",
        ),
        (
            json!({"projectId": "p", "auth": {"method": "KEY_JSON", "json": no_email}}),
            "config.auth.json",
        ),
        (
            json!({"projectId": "p", "auth": {"method": "KEY_JSON", "json": "CANARY"}}),
            "config.auth.json",
        ),
        (
            json!({"projectId": "p", "auth": {"method": "OAUTH"}}),
            "config.auth.method",
        ),
    ];
    for (config, field) in cases {
        let err = gcp(config.clone()).unwrap_err();
        assert!(!err.to_string().contains("CANARY"), "{err}");
        assert_eq!(field_of(err), field, "{config}");
    }
}

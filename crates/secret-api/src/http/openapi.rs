//! The OpenAPI 3 document of the REST API, generated from the handlers' annotations and the
//! DTOs' schemas.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{access, audit, dto, error, ops, pending, schema, secrets, vaults};

/// Adds the bearer-token security scheme every `/api` operation refers to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A platform token: sub, name, superAdmin, orgs, teams, projects, roles, iat, exp, authTime",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Secret Manager API",
        description = "Secrets, versions and access grants (part 2 §12). Every `/api` route needs \
            `Authorization: Bearer <token>`; errors answer `{\"error\":{\"code\",\"message\",\"requestId\"}}`.",
    ),
    paths(
        secrets::create_secret,
        secrets::list_secrets,
        secrets::get_metadata,
        secrets::update_secret,
        secrets::delete_secret,
        secrets::get_value,
        secrets::update_value,
        secrets::restore_secret,
        secrets::permanently_delete_secret,
        secrets::rotate_secret,
        secrets::list_versions,
        secrets::get_version_value,
        secrets::rollback_secret,
        access::list_grants,
        access::grant_access,
        access::revoke_access,
        audit::audit_logs,
        audit::audit_log,
        audit::compliance_report,
        pending::export_secrets,
        pending::import_env,
        pending::import_json,
        pending::migrate_secrets,
        vaults::list_vaults,
        vaults::configure_vault,
        vaults::get_vault,
        vaults::update_vault,
        vaults::delete_vault,
        vaults::vault_health,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(
        error::ErrorResponse,
        error::ErrorBody,
        dto::CreateSecretRequest,
        vaults::ConfigureVaultRequest,
        vaults::UpdateVaultRequest,
        vaults::VaultResponse,
        vaults::VaultList,
        vaults::VaultHealthResponse,
        dto::UpdateSecretRequest,
        dto::UpdateSecretValueRequest,
        dto::RotateSecretRequest,
        dto::RollbackRequest,
        dto::GrantAccessRequest,
        dto::SecretMetadataResponse,
        dto::UsageResponse,
        dto::AuditRecordResponse,
        dto::AuditList,
        dto::ValueFactsResponse,
        dto::ConnectionFacts,
        dto::ValueResponse,
        dto::VersionResponse,
        dto::GrantResponse,
        dto::SecretList,
        dto::VersionList,
        dto::GrantList,
        dto::HealthResponse,
        schema::SecretValueSchema,
        schema::SecretTypeSchema,
        schema::SecretScopeSchema,
        schema::StorageBackendSchema,
        schema::GranteeTypeSchema,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "secrets", description = "Secrets and their values"),
        (name = "versions", description = "Rotation, version history and rollback"),
        (name = "access", description = "Per-secret access grants"),
        (name = "vaults", description = "Vault configurations: where secret values are kept"),
        (name = "reserved", description = "Routes of features not built yet: 501 NOT_IMPLEMENTED"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The OpenAPI 3 document of the REST API, as served at `/api/openapi.json`.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    ApiDoc::openapi().to_json()
}

//! The OpenAPI 3 document of the REST API, generated from the handlers' annotations and the
//! DTOs' schemas.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{access, audit, error, events, migrations, ops, resolve, secrets, transfer, vaults};

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
        transfer::export_secrets,
        transfer::import_env,
        transfer::import_json,
        resolve::resolve,
        events::events,
        migrations::migrate_secrets,
        migrations::get_migration,
        migrations::pause_migration,
        migrations::resume_migration,
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
        secret_core::wire::CreateSecretRequest,
        secret_core::wire::ConfigureVaultRequest,
        secret_core::wire::UpdateVaultRequest,
        secret_core::wire::VaultResponse,
        secret_core::wire::VaultList,
        secret_core::wire::VaultHealthResponse,
        secret_core::wire::UpdateSecretRequest,
        secret_core::wire::UpdateSecretValueRequest,
        secret_core::wire::RotateSecretRequest,
        secret_core::wire::RollbackRequest,
        secret_core::wire::GrantAccessRequest,
        secret_core::wire::SecretMetadataResponse,
        secret_core::wire::UsageResponse,
        secret_core::wire::AuditRecordResponse,
        secret_core::wire::AuditList,
        secret_core::wire::ValueFactsResponse,
        secret_core::wire::ConnectionFacts,
        secret_core::wire::ValueResponse,
        secret_core::wire::VersionResponse,
        secret_core::wire::GrantResponse,
        secret_core::wire::SecretList,
        secret_core::wire::VersionList,
        secret_core::wire::GrantList,
        secret_core::wire::HealthResponse,
        secret_core::wire::ReadinessChecks,
        secret_core::wire::ChangeFeedCheck,
        secret_core::wire::SecretChanged,
        secret_core::wire::ChangeKind,
        secret_core::wire::ImportEnvRequest,
        secret_core::wire::ImportJsonRequest,
        secret_core::wire::ImportSecretData,
        secret_core::wire::ImportResult,
        secret_core::wire::ImportItemError,
        secret_core::wire::ImportWarning,
        secret_core::wire::ImportedItem,
        secret_core::wire::ImportAction,
        secret_core::wire::ExportDocument,
        secret_core::wire::ExportedSecret,
        secret_core::wire::ExportOmission,
        secret_core::wire::ResolveRequest,
        secret_core::wire::ResolveResponse,
        secret_core::wire::ErrorDetail,
        secret_core::wire::MigrateRequest,
        secret_core::wire::MigrationPlan,
        secret_core::wire::MigrationStarted,
        secret_core::wire::MigrationStatus,
        secret_core::wire::MigrationError,
        secret_core::wire::MigrationState,
        secret_core::wire::MigrationVersions,
        secret_core::wire::schema::SecretValueSchema,
        secret_core::wire::schema::SecretTypeSchema,
        secret_core::wire::schema::SecretScopeSchema,
        secret_core::wire::schema::StorageBackendSchema,
        secret_core::wire::schema::GranteeTypeSchema,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "secrets", description = "Secrets and their values"),
        (name = "versions", description = "Rotation, version history and rollback"),
        (name = "access", description = "Per-secret access grants"),
        (name = "vaults", description = "Vault configurations: where secret values are kept"),
        (name = "import-export", description = "Import from .env and JSON, export to JSON and .env"),
        (name = "migration", description = "Migrations of secrets between vault configurations"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The OpenAPI 3 document of the REST API, as served at `/api/openapi.json`.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    ApiDoc::openapi().to_json()
}

//! The operations around secrets (§12.1): vault configurations, import and export,
//! migrations, the audit trail and compliance reports.

use reqwest::Method;
use secret_core::transfer::ImportResult;
use secret_core::wire::{
    AuditList, AuditRecordResponse, ConfigureVaultRequest, ImportEnvRequest, ImportJsonRequest,
    MigrateRequest, MigrationPlan, MigrationStarted, MigrationStatus, UpdateVaultRequest,
    VaultHealthResponse, VaultList, VaultResponse,
};

use crate::SecretClient;
use crate::error::ClientError;
use crate::http::Call;
use crate::ops::{AuditQuery, ExportQuery, encode};

impl SecretClient {
    /// `GET /api/vaults`.
    pub async fn list_vaults(&self) -> Result<VaultList, ClientError> {
        self.inner.fetch(&Call::get("api/vaults")).await
    }

    /// `GET /api/vaults/{id}`.
    pub async fn get_vault(&self, id: &str) -> Result<VaultResponse, ClientError> {
        self.inner
            .fetch(&Call::get(format!("api/vaults/{}", encode(id))))
            .await
    }

    /// `POST /api/vaults`.
    pub async fn configure_vault(
        &self,
        request: &ConfigureVaultRequest,
    ) -> Result<VaultResponse, ClientError> {
        self.inner
            .fetch(&Call::new(Method::POST, "api/vaults").json(request)?)
            .await
    }

    /// `PUT /api/vaults/{id}`.
    pub async fn update_vault(
        &self,
        id: &str,
        request: &UpdateVaultRequest,
    ) -> Result<VaultResponse, ClientError> {
        let call = Call::new(Method::PUT, format!("api/vaults/{}", encode(id))).json(request)?;
        self.inner.fetch(&call).await
    }

    /// `DELETE /api/vaults/{id}`.
    pub async fn delete_vault(&self, id: &str) -> Result<(), ClientError> {
        let call = Call::new(Method::DELETE, format!("api/vaults/{}", encode(id)));
        self.inner.send(&call).await.map(drop)
    }

    /// `POST /api/vaults/{id}/health`.
    pub async fn check_vault_health(&self, id: &str) -> Result<VaultHealthResponse, ClientError> {
        let call = Call::new(Method::POST, format!("api/vaults/{}/health", encode(id)));
        self.inner.fetch(&call).await
    }

    /// `POST /api/secrets/import/env`.
    pub async fn import_env(
        &self,
        request: &ImportEnvRequest,
    ) -> Result<ImportResult, ClientError> {
        let answer = self.import("api/secrets/import/env", request).await;
        self.inner.cache.clear();
        answer
    }

    /// `POST /api/secrets/import/json`.
    pub async fn import_json(
        &self,
        request: &ImportJsonRequest,
    ) -> Result<ImportResult, ClientError> {
        let answer = self.import("api/secrets/import/json", request).await;
        self.inner.cache.clear();
        answer
    }

    async fn import(
        &self,
        path: &str,
        request: &impl serde::Serialize,
    ) -> Result<ImportResult, ClientError> {
        self.inner
            .fetch(&Call::new(Method::POST, path).json(request)?)
            .await
    }

    /// `GET /api/secrets/export`: the document as the server wrote it (JSON, or `.env`
    /// text for `format=env`); with values it holds secrets: wiped when dropped.
    pub async fn export(
        &self,
        query: &ExportQuery,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ClientError> {
        let mut call = Call::get("api/secrets/export");
        for (k, v) in &query.0 {
            call = call.query(k, v);
        }
        Ok(self.inner.send(&call).await?.body)
    }

    /// `POST /api/secrets/migrate` with `dryRun`: the plan, nothing moved.
    pub async fn plan_migration(
        &self,
        request: &MigrateRequest,
    ) -> Result<MigrationPlan, ClientError> {
        let mut request = request.clone();
        request.dry_run = true;
        self.inner
            .fetch(&Call::new(Method::POST, "api/secrets/migrate").json(&request)?)
            .await
    }

    /// `POST /api/secrets/migrate`: starts it (follow it with [`SecretClient::migration`]).
    pub async fn start_migration(
        &self,
        request: &MigrateRequest,
    ) -> Result<MigrationStarted, ClientError> {
        let mut request = request.clone();
        request.dry_run = false;
        self.inner
            .fetch(&Call::new(Method::POST, "api/secrets/migrate").json(&request)?)
            .await
    }

    /// `GET /api/secrets/migrations/{id}`.
    pub async fn migration(&self, id: &str) -> Result<MigrationStatus, ClientError> {
        self.inner
            .fetch(&Call::get(format!("api/secrets/migrations/{}", encode(id))))
            .await
    }

    /// `POST /api/secrets/migrations/{id}/pause`.
    pub async fn pause_migration(&self, id: &str) -> Result<MigrationStatus, ClientError> {
        let path = format!("api/secrets/migrations/{}/pause", encode(id));
        self.inner.fetch(&Call::new(Method::POST, path)).await
    }

    /// `POST /api/secrets/migrations/{id}/resume`.
    pub async fn resume_migration(&self, id: &str) -> Result<MigrationStatus, ClientError> {
        let path = format!("api/secrets/migrations/{}/resume", encode(id));
        self.inner.fetch(&Call::new(Method::POST, path)).await
    }

    /// `GET /api/secrets/audit`.
    pub async fn audit_logs(&self, query: &AuditQuery) -> Result<AuditList, ClientError> {
        let mut call = Call::get("api/secrets/audit");
        for (k, v) in &query.0 {
            call = call.query(k, v);
        }
        self.inner.fetch(&call).await
    }

    /// `GET /api/secrets/audit/{id}`.
    pub async fn audit_record(&self, id: &str) -> Result<AuditRecordResponse, ClientError> {
        self.inner
            .fetch(&Call::get(format!("api/secrets/audit/{}", encode(id))))
            .await
    }

    /// `GET /api/secrets/compliance/report` for `[start, end]` (`YYYY-MM-DD`) as `json`
    /// or `pdf`: the document's bytes.
    pub async fn compliance_report(
        &self,
        start: &str,
        end: &str,
        format: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let call = Call::get("api/secrets/compliance/report")
            .query("startDate", start)
            .query("endDate", end)
            .query("format", format);
        Ok(self.inner.send(&call).await?.body.to_vec())
    }
}

//! Software configs and deployments.

use crate::codec::{micros, to_json, Cols, Sql};
use crate::error::{Result, StoreError};
use crate::records::{SoftwareConfigRecord, SoftwareDeploymentRecord};
use crate::stacks::push_limit;
use crate::Store;
use sqlx::any::AnyRow;
use uuid::Uuid;

const CONFIG_COLUMNS: &str =
    "id, name, group_name, config, inputs, outputs, options, tenant, created_at";
const DEPLOYMENT_COLUMNS: &str =
    "id, config_id, server_id, input_values, action, status, status_reason, \
    output_values, tenant, created_at, updated_at, version";

fn config_from_row(row: &AnyRow) -> Result<SoftwareConfigRecord> {
    let c = Cols(row);
    Ok(SoftwareConfigRecord {
        id: c.uuid("id")?,
        name: c.text("name")?,
        group: c.text("group_name")?,
        config: c.json("config")?,
        inputs: c.json("inputs")?,
        outputs: c.json("outputs")?,
        options: c.json("options")?,
        tenant: c.text("tenant")?,
        created_at: c.time("created_at")?,
    })
}

fn deployment_from_row(row: &AnyRow) -> Result<SoftwareDeploymentRecord> {
    let c = Cols(row);
    Ok(SoftwareDeploymentRecord {
        id: c.uuid("id")?,
        config_id: c.uuid("config_id")?,
        server_id: c.text("server_id")?,
        input_values: c.json("input_values")?,
        action: c.text("action")?,
        status: c.text("status")?,
        status_reason: c.text("status_reason")?,
        output_values: c.json("output_values")?,
        tenant: c.text("tenant")?,
        created_at: c.time("created_at")?,
        updated_at: c.opt_time("updated_at")?,
        version: c.int("version")?,
    })
}

/// Software deployment listing.
#[derive(Debug, Clone, Default)]
pub struct DeploymentQuery {
    /// `None`: every tenant.
    pub tenant: Option<String>,
    pub server_id: Option<String>,
    pub limit: Option<u64>,
    /// Id of the last deployment of the previous page.
    pub marker: Option<Uuid>,
}

/// Appends "after the marker row" for listings ordered by `(created_at, id)`.
fn push_created_marker(sql: &mut Sql, table: &str, marker: Uuid) -> Result<()> {
    let id = marker.to_string();
    sql.push(&format!(
        " AND (created_at > (SELECT created_at FROM {table} WHERE id = "
    ));
    sql.bind(id.clone())?;
    sql.push(&format!(
        ") OR (created_at = (SELECT created_at FROM {table} WHERE id = "
    ));
    sql.bind(id.clone())?;
    sql.push(") AND id > ");
    sql.bind(id)?;
    sql.push("))");
    Ok(())
}

async fn exists(store: &Store, table: &str, id: Uuid) -> Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut *store.conn().await?)
            .await?;
    Ok(found.is_some())
}

impl Store {
    pub async fn create_software_config(&self, config: &SoftwareConfigRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO software_configs ({CONFIG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(config.id.to_string())
        .bind(config.name.as_str())
        .bind(config.group.as_str())
        .bind(to_json(&config.config)?)
        .bind(to_json(&config.inputs)?)
        .bind(to_json(&config.outputs)?)
        .bind(to_json(&config.options)?)
        .bind(config.tenant.as_str())
        .bind(micros(&config.created_at))
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    pub async fn software_config(&self, id: Uuid) -> Result<SoftwareConfigRecord> {
        let row = sqlx::query(&format!(
            "SELECT {CONFIG_COLUMNS} FROM software_configs WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| StoreError::not_found("software config", id))?;
        config_from_row(&row)
    }

    /// A tenant's configs (every tenant's for `None`), oldest first, paged.
    pub async fn list_software_configs(
        &self,
        tenant: Option<&str>,
        limit: Option<u64>,
        marker: Option<Uuid>,
    ) -> Result<Vec<SoftwareConfigRecord>> {
        if let Some(marker) = marker {
            if !exists(self, "software_configs", marker).await? {
                return Err(StoreError::not_found("software config", marker));
            }
        }
        let mut sql = Sql::new(&format!(
            "SELECT {CONFIG_COLUMNS} FROM software_configs WHERE 1 = 1"
        ));
        if let Some(tenant) = tenant {
            sql.push(" AND tenant = ").bind(tenant.to_string())?;
        }
        if let Some(marker) = marker {
            push_created_marker(&mut sql, "software_configs", marker)?;
        }
        sql.push(" ORDER BY created_at, id");
        push_limit(&mut sql, limit)?;
        let rows = sqlx::query_with(&sql.text, sql.args)
            .persistent(false)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter().map(config_from_row).collect()
    }

    /// Refused with a conflict while a deployment uses the config.
    pub async fn delete_software_config(&self, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM software_configs WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("software config", id));
        }
        Ok(())
    }

    pub async fn create_software_deployment(&self, d: &SoftwareDeploymentRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO software_deployments ({DEPLOYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12)"
        ))
        .bind(d.id.to_string())
        .bind(d.config_id.to_string())
        .bind(d.server_id.as_str())
        .bind(to_json(&d.input_values)?)
        .bind(d.action.as_str())
        .bind(d.status.as_str())
        .bind(d.status_reason.as_str())
        .bind(to_json(&d.output_values)?)
        .bind(d.tenant.as_str())
        .bind(micros(&d.created_at))
        .bind(d.updated_at.as_ref().map(micros))
        .bind(d.version)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Stores `d` if its stored version is still `d.version`, then advances it.
    pub async fn update_software_deployment(&self, d: &mut SoftwareDeploymentRecord) -> Result<()> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE software_deployments SET config_id = $2, server_id = $3, input_values = $4, action = $5, \
             status = $6, status_reason = $7, output_values = $8, updated_at = $9, version = version + 1 \
             WHERE id = $1 AND version = $10",
        )
        .bind(d.id.to_string())
        .bind(d.config_id.to_string())
        .bind(d.server_id.as_str())
        .bind(to_json(&d.input_values)?)
        .bind(d.action.as_str())
        .bind(d.status.as_str())
        .bind(d.status_reason.as_str())
        .bind(to_json(&d.output_values)?)
        .bind(d.updated_at.as_ref().map(micros))
        .bind(d.version)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            drop(conn);
            return Err(if exists(self, "software_deployments", d.id).await? {
                crate::Conflict::VersionMismatch {
                    kind: "software deployment",
                    id: d.id,
                    expected: d.version,
                }
                .into()
            } else {
                StoreError::not_found("software deployment", d.id)
            });
        }
        d.version += 1;
        Ok(())
    }

    pub async fn software_deployment(&self, id: Uuid) -> Result<SoftwareDeploymentRecord> {
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM software_deployments WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| StoreError::not_found("software deployment", id))?;
        deployment_from_row(&row)
    }

    /// Deployments, oldest first, paged, optionally of one server.
    pub async fn list_software_deployments(
        &self,
        query: &DeploymentQuery,
    ) -> Result<Vec<SoftwareDeploymentRecord>> {
        if let Some(marker) = query.marker {
            if !exists(self, "software_deployments", marker).await? {
                return Err(StoreError::not_found("software deployment", marker));
            }
        }
        let mut sql = Sql::new(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM software_deployments WHERE 1 = 1"
        ));
        if let Some(tenant) = &query.tenant {
            sql.push(" AND tenant = ").bind(tenant.clone())?;
        }
        if let Some(server_id) = &query.server_id {
            sql.push(" AND server_id = ").bind(server_id.clone())?;
        }
        if let Some(marker) = query.marker {
            push_created_marker(&mut sql, "software_deployments", marker)?;
        }
        sql.push(" ORDER BY created_at, id");
        push_limit(&mut sql, query.limit)?;
        let rows = sqlx::query_with(&sql.text, sql.args)
            .persistent(false)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    pub async fn delete_software_deployment(&self, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM software_deployments WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("software deployment", id));
        }
        Ok(())
    }
}

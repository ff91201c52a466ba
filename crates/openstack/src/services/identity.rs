//! Keystone v3: projects, users, roles, domains, groups, regions, services, endpoints, role
//! assignments, trusts (Heat's deferred auth) and EC2 credentials (Heat's
//! `AWS::IAM::AccessKey`).

use serde_json::{json, Value};

use super::{ignore_not_found, Collection};
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::session::{ServiceClient, Session};

/// Keystone's API for one session.
#[derive(Clone)]
pub struct Identity {
    client: ServiceClient,
}

/// The Keystone object kinds with the same create/find/update/delete shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    Project,
    User,
    Role,
    Domain,
    Group,
    Region,
    Service,
    Endpoint,
}

impl IdentityKind {
    fn key(self) -> &'static str {
        match self {
            IdentityKind::Project => "project",
            IdentityKind::User => "user",
            IdentityKind::Role => "role",
            IdentityKind::Domain => "domain",
            IdentityKind::Group => "group",
            IdentityKind::Region => "region",
            IdentityKind::Service => "service",
            IdentityKind::Endpoint => "endpoint",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            IdentityKind::Project => "projects",
            IdentityKind::User => "users",
            IdentityKind::Role => "roles",
            IdentityKind::Domain => "domains",
            IdentityKind::Group => "groups",
            IdentityKind::Region => "regions",
            IdentityKind::Service => "services",
            IdentityKind::Endpoint => "endpoints",
        }
    }

    fn label(self) -> &'static str {
        match self {
            IdentityKind::Project => "Project",
            IdentityKind::User => "User",
            IdentityKind::Role => "Role",
            IdentityKind::Domain => "Domain",
            IdentityKind::Group => "Group",
            // Heat's entity names for the kinds Ember's older types did not look up.
            IdentityKind::Region => "KeystoneRegion",
            IdentityKind::Service => "KeystoneService",
            IdentityKind::Endpoint => "KeystoneEndpoint",
        }
    }
}

/// Python's `urllib.parse.quote(text, safe)`: bytes other than letters, digits, `-._~` and
/// those of `safe` percent-encoded (Heat quotes region ids so before creating them).
pub fn quote(text: &str, safe: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || safe.as_bytes().contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An id as one path segment, so a region id Heat sent quoted (`a%20b`) is found as itself.
fn path_segment(id: &str) -> String {
    quote(id, "")
}

impl Identity {
    pub async fn new(session: &Session) -> Result<Identity, Error> {
        Ok(Identity {
            client: session.service(ServiceType::Identity).await?,
        })
    }

    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    pub async fn create(&self, kind: IdentityKind, body: Value) -> Result<Value, Error> {
        Ok(self
            .client
            .post(format!("/{}", kind.plural()), json!({ kind.key(): body }))
            .send_json()
            .await?[kind.key()]
        .clone())
    }

    pub async fn update(
        &self,
        kind: IdentityKind,
        id: &str,
        changes: Value,
    ) -> Result<Value, Error> {
        Ok(self
            .client
            .patch(format!("/{}/{}", kind.plural(), path_segment(id)))
            .json(json!({ kind.key(): changes }))
            .idempotent(true)
            .send_json()
            .await?[kind.key()]
        .clone())
    }

    /// Delete; already gone counts as deleted. Keystone refuses to delete an enabled domain,
    /// so it is disabled first.
    pub async fn delete(&self, kind: IdentityKind, id: &str) -> Result<(), Error> {
        if kind == IdentityKind::Domain
            && ignore_not_found(self.update(kind, id, json!({"enabled": false})).await)?.is_none()
        {
            return Ok(());
        }
        ignore_not_found(
            self.client
                .delete(format!("/{}/{}", kind.plural(), path_segment(id)))
                .send()
                .await,
        )?;
        Ok(())
    }

    pub async fn find(&self, kind: IdentityKind, name_or_id: &str) -> Result<Value, Error> {
        if kind == IdentityKind::Region {
            // Regions have ids only, and Keystone refuses a `name` filter on their list.
            return match self
                .client
                .get(format!("/regions/{}", path_segment(name_or_id)))
                .send_json()
                .await
            {
                Ok(found) => Ok(found["region"].clone()),
                Err(e) if e.is_not_found() => Err(Error::NotFound {
                    kind: kind.label(),
                    name: name_or_id.to_string(),
                }),
                Err(e) => Err(e),
            };
        }
        let path = format!("/{}", kind.plural());
        Collection {
            client: &self.client,
            kind: kind.label(),
            path: &path,
            list_path: &path,
            one_key: kind.key(),
            many_key: kind.plural(),
            filters_by_name: true,
        }
        // Role and domain ids are not always UUIDs ("default").
        .find(name_or_id, false)
        .await
    }

    /// Grant `role_id` to a user or group on a project or domain
    /// (`/projects/{p}/users/{u}/roles/{r}`).
    pub async fn grant(&self, target: &str, actor: &str, role_id: &str) -> Result<(), Error> {
        self.client
            .request(
                reqwest::Method::PUT,
                format!("{target}{actor}/roles/{role_id}"),
            )
            .send()
            .await?;
        Ok(())
    }

    pub async fn revoke(&self, target: &str, actor: &str, role_id: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("{target}{actor}/roles/{role_id}"))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Create a trust from the current user (trustor) to `trustee_user_id` on the token's
    /// project, with impersonation and the given role names, as Heat does for deferred work.
    /// Creates a user (`body`: Keystone's user fields) holding `role_id` on `project_id`. A
    /// user whose role cannot be granted is deleted again: both exist, or neither.
    pub async fn create_user_with_role(
        &self,
        body: Value,
        project_id: &str,
        role_id: &str,
    ) -> Result<String, Error> {
        let user = self.create(IdentityKind::User, body).await?;
        let id = user["id"].as_str().unwrap_or_default().to_string();
        let granted = self
            .grant(
                &format!("/projects/{project_id}/"),
                &format!("users/{id}"),
                role_id,
            )
            .await;
        if let Err(error) = granted {
            self.delete(IdentityKind::User, &id).await?;
            return Err(error);
        }
        Ok(id)
    }

    pub async fn create_trust(
        &self,
        trustor_user_id: &str,
        trustee_user_id: &str,
        project_id: &str,
        roles: &[&str],
    ) -> Result<Value, Error> {
        let roles: Vec<Value> = roles.iter().map(|r| json!({ "name": r })).collect();
        Ok(self
            .client
            .post(
                "/OS-TRUST/trusts",
                json!({"trust": {
                    "trustor_user_id": trustor_user_id,
                    "trustee_user_id": trustee_user_id,
                    "project_id": project_id,
                    "impersonation": true,
                    "roles": roles,
                }}),
            )
            .send_json()
            .await?["trust"]
            .clone())
    }

    /// Create an EC2 credential (`access`, `secret`) of `user_id` on `project_id`
    /// (`OS-EC2`, as keystoneclient's `ec2.create`).
    pub async fn create_ec2_credential(
        &self,
        user_id: &str,
        project_id: &str,
    ) -> Result<Value, Error> {
        Ok(self
            .client
            .post(
                format!("/users/{user_id}/credentials/OS-EC2"),
                json!({ "tenant_id": project_id }),
            )
            .send_json()
            .await?["credential"]
            .clone())
    }

    /// Delete the EC2 credential `access` of `user_id`; a credential or user already gone
    /// counts as deleted.
    pub async fn delete_ec2_credential(&self, user_id: &str, access: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("/users/{user_id}/credentials/OS-EC2/{access}"))
                .send()
                .await,
        )?;
        Ok(())
    }

    pub async fn delete_trust(&self, id: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("/OS-TRUST/trusts/{id}"))
                .send()
                .await,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_as_python_quotes() {
        assert_eq!(quote("Region One/a_b.c-d~", "/"), "Region%20One/a_b.c-d~");
        assert_eq!(quote("a%20b/é", ""), "a%2520b%2F%C3%A9");
    }
}

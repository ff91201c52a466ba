//! Heat's stack domain users (`stack_user_domain_id`/`_name`, `stack_domain_admin`): Keystone
//! users that servers and in-instance agents authenticate as, each in a *domain project* of
//! the stack made in the stack user domain, managed with the domain admin's credentials.
//!
//! The embedding program sets a [`StackDomain`] as `EngineConfig::stack_domain`; resource
//! types reach it through `StackControl::stack_users`, which binds it to the stack tree a
//! resource belongs to ([`StackUsers`]), so no type ever holds the admin's credentials. A
//! stack tree (the root and its nested stacks, as Heat passes a parent's
//! `stack_user_project_id` to its children) has one domain project, made when a resource first
//! needs a user and deleted, with its users, when the root stack is deleted. Without a
//! `StackDomain` the types keep Heat's legacy behaviour (users in the stack owner's project).

use async_trait::async_trait;

use crate::error::ResourceError;

/// The stack tree a domain project belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackScope {
    /// The project owning the stacks.
    pub owner_project: String,
    /// The root stack's id.
    pub root_stack_id: String,
}

impl StackScope {
    /// Heat's name of the domain project: `<owner project>-<root stack id>`, cut to
    /// Keystone's 64 characters (`create_stack_domain_project`).
    pub fn project_name(&self) -> String {
        format!("{}-{}", self.owner_project, self.root_stack_id)
            .chars()
            .take(64)
            .collect()
    }
}

/// An EC2 keypair of a stack user (a Keystone `ec2` credential).
#[derive(Clone, PartialEq, Eq)]
pub struct Ec2Keypair {
    /// The Keystone credential's id, what deleting it needs.
    pub credential_id: String,
    pub access: String,
    pub secret: String,
}

impl std::fmt::Debug for Ec2Keypair {
    // The secret never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2Keypair")
            .field("credential_id", &self.credential_id)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

/// The stack user domain, acting with its admin's credentials (see the module documentation).
/// Failures are the resource's (`Error: Can't find role heat_stack_user`).
#[async_trait]
pub trait StackDomain: Send + Sync + std::fmt::Debug {
    /// The domain project of `scope`, made on first use.
    async fn project(&self, scope: &StackScope) -> Result<String, ResourceError>;
    /// A user of `scope`'s domain project with Heat's stack user role there; its id.
    async fn create_user(
        &self,
        scope: &StackScope,
        name: &str,
        password: Option<&str>,
    ) -> Result<String, ResourceError>;
    /// Deletes a user of `scope` (with its credentials); one already gone counts as deleted.
    async fn delete_user(&self, scope: &StackScope, user_id: &str) -> Result<(), ResourceError>;
    /// Enables or disables a user of `scope` (Heat's suspend and resume of its resource).
    async fn set_user_enabled(
        &self,
        scope: &StackScope,
        user_id: &str,
        enabled: bool,
    ) -> Result<(), ResourceError>;
    /// An EC2 keypair of a user of `scope`, on the domain project.
    async fn create_ec2_keypair(
        &self,
        scope: &StackScope,
        user_id: &str,
    ) -> Result<Ec2Keypair, ResourceError>;
    /// Deletes a keypair; one already gone counts as deleted.
    async fn delete_ec2_keypair(
        &self,
        scope: &StackScope,
        user_id: &str,
        credential_id: &str,
    ) -> Result<(), ResourceError>;
    /// Deletes `scope`'s domain project, if one was made, and the users in it.
    async fn delete_project(&self, scope: &StackScope) -> Result<(), ResourceError>;
    /// The Identity v3 URL stack users authenticate at (Heat's
    /// `server_keystone_endpoint_url`).
    fn auth_url(&self) -> String;
    /// The region servers are told to use, if the cloud has one configured.
    fn region(&self) -> Option<String>;
}

/// The stack user domain bound to one stack tree: what a resource type gets.
#[derive(Debug, Clone)]
pub struct StackUsers {
    pub domain: std::sync::Arc<dyn StackDomain>,
    pub scope: StackScope,
}

impl StackUsers {
    pub async fn project(&self) -> Result<String, ResourceError> {
        self.domain.project(&self.scope).await
    }

    pub async fn create_user(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<String, ResourceError> {
        self.domain.create_user(&self.scope, name, password).await
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<(), ResourceError> {
        self.domain.delete_user(&self.scope, user_id).await
    }

    pub async fn set_user_enabled(
        &self,
        user_id: &str,
        enabled: bool,
    ) -> Result<(), ResourceError> {
        self.domain
            .set_user_enabled(&self.scope, user_id, enabled)
            .await
    }

    pub async fn create_ec2_keypair(&self, user_id: &str) -> Result<Ec2Keypair, ResourceError> {
        self.domain.create_ec2_keypair(&self.scope, user_id).await
    }

    pub async fn delete_ec2_keypair(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> Result<(), ResourceError> {
        self.domain
            .delete_ec2_keypair(&self.scope, user_id, credential_id)
            .await
    }

    pub fn auth_url(&self) -> String {
        self.domain.auth_url()
    }

    pub fn region(&self) -> Option<String> {
        self.domain.region()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_named_as_heat_names_it() {
        let scope = StackScope {
            owner_project: "8f1c3a7e2b4d4e0f9a6b5c4d3e2f1a0b".into(),
            root_stack_id: "1b3c5d7e-9f11-4a2b-8c4d-6e8f0a1b2c3d".into(),
        };
        assert_eq!(
            scope.project_name(),
            "8f1c3a7e2b4d4e0f9a6b5c4d3e2f1a0b-1b3c5d7e-9f11-4a2b-8c4d-6e8f0a1"
        );
        assert_eq!(scope.project_name().len(), 64);
    }
}

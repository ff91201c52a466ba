//! The engine's errors, each mapping onto the Heat exception class the API reports.

/// Errors of the service facade. `heat_type` names Heat's exception class (the API maps it to an
/// HTTP status and error body); `Display` is Heat's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    StackValidationFailed(String),
    #[error("The Stack ({0}) could not be found.")]
    StackNotFound(String),
    #[error("The Resource ({resource}) could not be found in Stack {stack}.")]
    ResourceNotFound { resource: String, stack: String },
    #[error("The Event ({0}) could not be found.")]
    EventNotFound(String),
    #[error("The Snapshot ({0}) could not be found.")]
    SnapshotNotFound(String),
    #[error("Software config with id {0} not found")]
    SoftwareConfigNotFound(String),
    #[error("Deployment with id {0} not found")]
    DeploymentNotFound(String),
    #[error("Specified output key {0} not found.")]
    OutputNotFound(String),
    #[error("The Resource Type ({0}) could not be found.")]
    ResourceTypeNotFound(String),
    #[error("The Stack ({0}) already exists.")]
    StackExists(String),
    /// Another action holds the stack's lock.
    #[error("Stack {stack} already has an action ({action}) in progress.")]
    ActionInProgress { stack: String, action: String },
    #[error("{0}")]
    NotSupported(String),
    #[error("{action} is not supported for resource.")]
    ResourceActionNotSupported { action: String },
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Request limit exceeded: {0}")]
    RequestLimitExceeded(String),
    #[error("The Parameter ({0}) was not provided.")]
    UserParameterMissing(String),
    /// A value for a parameter the template does not declare; holds Heat's message
    /// ("The Parameter (x) was not defined in template.").
    #[error("{0}")]
    UnknownUserParameter(String),
    /// The template's version is missing, unknown or ambiguous; holds Heat's message
    /// ("The template version is invalid: ...").
    #[error("{0}")]
    InvalidTemplateVersion(String),
    #[error("{0}")]
    Store(String),
    /// Keystone refused the requester's rights for a stack's deferred work (a trust).
    #[error("{0}")]
    Forbidden(String),
    /// The stack's deferred work could not be delegated (Heat's `MissingCredentialError`).
    #[error("Missing required credential: {0}")]
    MissingCredential(String),
}

impl EngineError {
    /// Heat's exception class name for this error.
    pub fn heat_type(&self) -> &'static str {
        match self {
            EngineError::StackValidationFailed(_) => "StackValidationFailed",
            EngineError::StackNotFound(_) => "EntityNotFound",
            EngineError::ResourceNotFound { .. } => "ResourceNotFound",
            EngineError::EventNotFound(_) => "EntityNotFound",
            EngineError::SnapshotNotFound(_) => "NotFound",
            EngineError::OutputNotFound(_) => "NotFound",
            EngineError::SoftwareConfigNotFound(_) | EngineError::DeploymentNotFound(_) => {
                "NotFound"
            }
            EngineError::ResourceTypeNotFound(_) => "EntityNotFound",
            EngineError::StackExists(_) => "StackExists",
            EngineError::ActionInProgress { .. } => "ActionInProgress",
            EngineError::NotSupported(_) => "NotSupported",
            EngineError::ResourceActionNotSupported { .. } => "ResourceActionNotSupported",
            EngineError::InvalidRequest(_) => "HTTPBadRequest",
            EngineError::RequestLimitExceeded(_) => "RequestLimitExceeded",
            EngineError::UserParameterMissing(_) => "UserParameterMissing",
            EngineError::UnknownUserParameter(_) => "UnknownUserParameter",
            EngineError::InvalidTemplateVersion(_) => "InvalidTemplateVersion",
            EngineError::Store(_) => "Error",
            EngineError::Forbidden(_) => "Forbidden",
            EngineError::MissingCredential(_) => "MissingCredentialError",
        }
    }
}

/// A failure inside a resource handler. `kind` is the exception class Heat shows in reasons
/// (`Resource CREATE failed: ValueError: resources.x: ...`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourceError {
    #[error("{kind}: {message}")]
    Failed { kind: String, message: String },
    /// The update cannot be done in place: the engine replaces the resource.
    #[error("UpdateReplace")]
    UpdateReplace,
    #[error("ResourceActionNotSupported: {0} is not supported for resource.")]
    NotSupported(String),
}

impl ResourceError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        ResourceError::Failed {
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    /// Heat's `<ExcType>: resources.<name>: <msg>` rendering.
    pub fn located(&self, path: &str) -> String {
        match self {
            ResourceError::Failed { kind, message } => format!("{kind}: {path}: {message}"),
            ResourceError::UpdateReplace => {
                format!("UpdateReplace: {path}: The Resource {path} requires replacement.")
            }
            ResourceError::NotSupported(action) => {
                format!(
                    "ResourceActionNotSupported: {path}: {action} is not supported for resource."
                )
            }
        }
    }
}

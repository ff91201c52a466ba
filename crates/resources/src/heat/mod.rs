//! The cloud-free `OS::Heat::*` types.

pub mod autoscaling_group;
mod delay;
mod multipart_mime;
mod none;
pub(crate) mod random_string;
pub mod resource_chain;
pub mod resource_group;
pub mod scaling_policy;
pub mod software_config;
pub mod software_deployment;
pub mod stack;
mod test_resource;
mod value;
pub(crate) mod wait;
pub mod wait_condition;

pub use delay::Delay;
pub use none::NoneResource;
pub use random_string::RandomString;
pub use test_resource::TestResource;
pub use value::ValueResource;

use ember_engine::Registry;
use std::sync::Arc;

pub fn register(registry: &mut Registry) {
    registry.register("OS::Heat::None", Arc::new(NoneResource::new()));
    registry.register("OS::Heat::Value", Arc::new(ValueResource::new()));
    registry.register("OS::Heat::RandomString", Arc::new(RandomString::new()));
    registry.register("OS::Heat::TestResource", Arc::new(TestResource::new()));
    registry.register("OS::Heat::Delay", Arc::new(Delay::new()));
    // Stack-backed types share one handle through which the engine reaches them.
    let handle = ember_engine::nested::StackHandle::new();
    registry.add_stack_handle(handle.clone());
    registry.set_provider_factory(Arc::new(stack::Providers::new(handle.clone())));
    registry.register(
        "OS::Heat::Stack",
        Arc::new(stack::NestedStack::new(handle.clone())),
    );
    registry.register(
        "OS::Heat::ResourceGroup",
        Arc::new(resource_group::ResourceGroup::new(handle.clone())),
    );
    registry.register(
        "OS::Heat::ResourceChain",
        Arc::new(resource_chain::ResourceChain::new(handle.clone())),
    );
    registry.register(
        "OS::Heat::AutoScalingGroup",
        Arc::new(autoscaling_group::AutoScalingGroup::new(handle.clone())),
    );
    registry.register(
        "OS::Heat::ScalingPolicy",
        Arc::new(scaling_policy::ScalingPolicy::new(handle.clone())),
    );
    for (name, kind) in [
        (
            "OS::Heat::WaitConditionHandle",
            wait_condition::HandleKind::Native,
        ),
        (
            "OS::Heat::UpdateWaitConditionHandle",
            wait_condition::HandleKind::ReplacedOnUpdate,
        ),
        (
            "AWS::CloudFormation::WaitConditionHandle",
            wait_condition::HandleKind::Cfn,
        ),
    ] {
        registry.register(
            name,
            Arc::new(wait_condition::WaitConditionHandle::new(
                kind,
                handle.clone(),
            )),
        );
    }
    software_config::register(registry, &handle);
    software_deployment::register(registry, &handle);
    registry.register(
        "OS::Heat::WaitCondition",
        Arc::new(wait_condition::WaitCondition::new(false, handle.clone())),
    );
    registry.register(
        "AWS::CloudFormation::WaitCondition",
        Arc::new(wait_condition::WaitCondition::new(true, handle.clone())),
    );
}

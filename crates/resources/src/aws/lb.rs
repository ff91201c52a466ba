//! `AWS::ElasticLoadBalancing::LoadBalancer` as Heat builds it: a nested stack of one HAProxy
//! instance (with its IAM user and key for cfn-hup, a latency alarm and a wait condition the
//! instance signals when HAProxy runs), from a template built into Ember.
//!
//! The HAProxy configuration is generated from the first listener, the health check and the
//! addresses of the balanced instances, and reaches the instance as the content of
//! `/etc/haproxy/haproxy.cfg` in its `AWS::CloudFormation::Init` metadata. The template takes it
//! as a parameter, so a change of `Instances` (or `SecurityGroups`) is an update of the nested
//! stack with new parameters: the instance's metadata changes in place and cfn-hup on the
//! instance reloads HAProxy, as in Heat.

use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::nested::{ChildSource, ChildTemplate, StackHandle};
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, TypeSchema};
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::services::compute::Compute;
use serde_json::{json, Map, Value};

use super::vpc::not_implemented;
use super::{integer, list, map, schema, string};
use crate::heat::stack::{builtin_child, ProviderResource, StackBacked};
use crate::openstack::{client, cloud_error, Cloud};

const TYPE_NAME: &str = "AWS::ElasticLoadBalancing::LoadBalancer";

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    let handle = StackHandle::new();
    registry.add_stack_handle(handle.clone());
    registry.register(
        TYPE_NAME,
        Arc::new(LoadBalancer::new(handle, cloud.clone())),
    );
}

pub struct LoadBalancer {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    /// The engine, for the owning stack's parameters.
    handle: StackHandle,
    /// Creates and updates the nested stack from [`LoadBalancer::child_template`].
    stack: StackBacked,
    /// The nested stack of [`LOAD_BALANCER_TEMPLATE`]; it sees the template's parameters
    /// (see [`LoadBalancer::child_context`]) as its properties.
    nested: ProviderResource,
}

impl LoadBalancer {
    fn new(handle: StackHandle, cloud: Arc<Cloud>) -> Self {
        let listener = map("").with_keys(vec![
            (
                "InstancePort",
                integer("TCP port on which the instance server is listening.").required(),
            ),
            (
                "LoadBalancerPort",
                integer("The external load balancer port number.").required(),
            ),
            (
                "Protocol",
                string("The load balancer transport protocol to use.")
                    .required()
                    .constraint(Constraint::AllowedValues(vec![json!("TCP"), json!("HTTP")])),
            ),
            ("SSLCertificateId", string("Not Implemented.")),
            ("PolicyNames", list("Not Implemented.")),
        ]);
        let health_check = map("An application health check for the instances.").with_keys(vec![
            ("HealthyThreshold", integer("The number of consecutive health probe successes required before moving the instance to the healthy state.").required()),
            ("Interval", integer("The approximate interval, in seconds, between health checks of an individual instance.").required()),
            ("Target", string("The port being checked.").required()),
            ("Timeout", integer("Health probe timeout, in seconds.").required()),
            ("UnhealthyThreshold", integer("The number of consecutive health probe failures required before moving the instance to the unhealthy state").required()),
        ]);
        let schema = schema(
            "Implements a HAProxy-bearing instance as a nested stack.",
            vec![
                ("AvailabilityZones", list("The Availability Zones in which to create the load balancer.").required()),
                ("HealthCheck", health_check),
                ("Instances", list("The list of instance IDs load balanced.").update_allowed()),
                ("Listeners", list("One or more listeners for this load balancer.").required().with_items(listener)),
                ("AppCookieStickinessPolicy", string("Not Implemented.")),
                ("LBCookieStickinessPolicy", string("Not Implemented.")),
                ("SecurityGroups", list("List of Security Groups assigned on current LB.").update_allowed()),
                ("Subnets", list("Not Implemented.")),
            ],
            &[
                ("CanonicalHostedZoneName", "The name of the hosted zone that is associated with the LoadBalancer."),
                ("CanonicalHostedZoneNameID", "The ID of the hosted zone name that is associated with the LoadBalancer."),
                ("DNSName", "The DNS name for the LoadBalancer."),
                ("SourceSecurityGroup.GroupName", "The security group that you can use as part of your inbound rules for your LoadBalancer's back-end instances."),
                ("SourceSecurityGroup.OwnerAlias", "Owner of the source security group."),
            ],
        );
        LoadBalancer {
            schema,
            cloud,
            nested: ProviderResource::builtin(TYPE_NAME, LOAD_BALANCER_TEMPLATE, handle.clone()),
            stack: StackBacked::new(handle.clone()),
            handle,
        }
    }

    /// The address HAProxy reaches an instance at (Heat's `server_to_ipaddress`): the first
    /// address of the last network by name; `0.0.0.0` for a server Nova does not know.
    async fn instance_address(compute: &Compute, instance: &str) -> Result<String, ResourceError> {
        let server = match compute.server(instance).await {
            Ok(server) => server,
            Err(error) if error.is_not_found() => return Ok("0.0.0.0".into()),
            Err(error) => return Err(cloud_error(error)),
        };
        let mut networks: Vec<(&String, &Value)> = server["addresses"]
            .as_object()
            .into_iter()
            .flatten()
            .collect();
        networks.sort_by(|a, b| b.0.cmp(a.0));
        Ok(networks
            .into_iter()
            .find_map(|(_, addresses)| addresses.get(0)?.get("addr")?.as_str())
            .unwrap_or("0.0.0.0")
            .to_string())
    }

    /// The HAProxy configuration for these properties, or none without instances (Heat then
    /// leaves the file empty).
    async fn configuration(
        &self,
        cx: &ResourceContext,
        properties: &Properties,
    ) -> Result<Option<String>, ResourceError> {
        let instances: Vec<&str> = properties
            .get("Instances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if instances.is_empty() {
            return Ok(None);
        }
        let compute = client(&self.cloud, cx, Compute::new).await?;
        let mut addresses = Vec::with_capacity(instances.len());
        for instance in instances {
            addresses.push(Self::instance_address(&compute, instance).await?);
        }
        Ok(Some(haproxy_config(properties, &addresses)))
    }

    /// The built-in template given `parameters`, without the instance's `KeyName` when the
    /// owning stack has none, as Heat removes it.
    fn child_template(parameters: &Properties) -> ChildTemplate {
        if parameters.contains_key("KeyName") {
            builtin_child(LOAD_BALANCER_TEMPLATE, parameters)
        } else {
            builtin_child(
                &LOAD_BALANCER_TEMPLATE.replace(INSTANCE_KEY_NAME, ""),
                parameters,
            )
        }
    }

    /// The context the nested stack sees: its properties are the template's parameters.
    async fn child_context(&self, cx: &ResourceContext) -> Result<ResourceContext, ResourceError> {
        let mut parameters = Map::new();
        // Heat's "magic" parameters: the owning stack's values, when it declares them, choose
        // the load balancer instance's key pair, image, flavor and start timeout.
        let owning = self.handle.get()?.stack_parameters(&cx.stack_id).await?;
        for name in OWNING_STACK_PARAMETERS {
            if let Some(value) = owning.get(name) {
                parameters.insert(name.into(), value.clone());
            }
        }
        if let Some(groups) = cx.properties.get("SecurityGroups").filter(|g| !g.is_null()) {
            parameters.insert("SecurityGroups".into(), groups.clone());
        }
        if let Some(config) = self.configuration(cx, &cx.properties).await? {
            parameters.insert("HaproxyConfig".into(), Value::String(config));
        }
        let mut child = cx.clone();
        child.properties = parameters;
        Ok(child)
    }
}

/// An integer property of a map, as text (the schema has made it an integer).
fn number(map: &Value, key: &str) -> String {
    match &map[key] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Heat's `_haproxy_config`, text for text: one HTTP frontend on the first listener's port, a
/// round-robin backend of the instances on its instance port, checked as the health check says.
fn haproxy_config(properties: &Properties, addresses: &[String]) -> String {
    let listener = properties
        .get("Listeners")
        .and_then(|l| l.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    let health_check = properties
        .get("HealthCheck")
        .filter(|h| h.as_object().is_some_and(|h| !h.is_empty()));
    let (timeout_check, check) = match health_check {
        Some(h) => (
            format!("    timeout check {}s", number(h, "Timeout")),
            format!(
                " check inter {}s fall {} rise {}",
                number(h, "Interval"),
                number(h, "UnhealthyThreshold"),
                number(h, "HealthyThreshold")
            ),
        ),
        None => (String::new(), String::new()),
    };
    let instance_port = number(&listener, "InstancePort");
    let servers: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(index, address)| {
            format!(
                "    server server{} {address}:{instance_port}{check}",
                index + 1
            )
        })
        .collect();
    format!(
        "
global
    daemon
    maxconn 256
    stats socket /tmp/.haproxy-stats

defaults
    mode http
    timeout connect 5000ms
    timeout client 50000ms
    timeout server 50000ms

frontend http
    bind *:{lb_port}
    default_backend servers

backend servers
    balance roundrobin
    option http-server-close
    option forwardfor
    option httpchk
{timeout_check}
{servers}
",
        lb_port = number(&listener, "LoadBalancerPort"),
        servers = servers.join("\n"),
    )
}

#[async_trait]
impl ResourceType for LoadBalancer {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    /// Heat's refusals: the properties it does not implement, and a health check whose
    /// interval is shorter than its timeout.
    fn validate(&self, properties: &Properties) -> Result<(), String> {
        not_implemented(
            properties,
            &[
                "AppCookieStickinessPolicy",
                "LBCookieStickinessPolicy",
                "Subnets",
            ],
        )?;
        for listener in properties
            .get("Listeners")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            not_implemented(listener, &["SSLCertificateId", "PolicyNames"])?;
        }
        if let Some(check) = properties.get("HealthCheck").filter(|c| c.is_object()) {
            let seconds = |key| number(check, key).parse::<f64>().unwrap_or(0.0);
            if seconds("Interval") < seconds("Timeout") {
                return Err("Interval must be larger than Timeout".into());
            }
        }
        Ok(())
    }

    fn child_source(&self, properties: &Properties) -> Option<ChildSource> {
        self.nested.child_source(properties)
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let child = self.child_context(cx).await?;
        self.stack
            .create(&child, Self::child_template(&child.properties))
            .await
    }

    async fn check_create_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.check_create_complete(cx).await
    }

    /// `Instances` or `SecurityGroups` (the properties that update in place) changed: a nested
    /// update with the regenerated parameters.
    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let child = self.child_context(cx).await?;
        self.stack
            .update(&child, Self::child_template(&child.properties))
            .await
    }

    async fn check_update_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.check_update_complete(cx).await
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.nested.delete(cx).await
    }

    async fn check_delete_complete(&self, cx: &ResourceContext) -> Result<Progress, ResourceError> {
        self.nested.check_delete_complete(cx).await
    }

    /// `DNSName` is the HAProxy instance's public address; Heat answers the others with an
    /// empty string.
    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        match name {
            "DNSName" => self.nested.attribute(cx, "PublicIp").await,
            "show" => Ok(Some(Value::Null)),
            _ if self.schema.attributes.contains_key(name) => Ok(Some(json!(""))),
            _ => Ok(None),
        }
    }

    /// Heat's reference is the resource's name.
    fn reference_id(&self, cx: &ResourceContext) -> Value {
        Value::String(cx.name.clone())
    }
}

/// The parameters of [`LOAD_BALANCER_TEMPLATE`] that take the owning stack's value of the same
/// name, as in Heat.
const OWNING_STACK_PARAMETERS: [&str; 4] = ["KeyName", "LbImageId", "LbFlavor", "LBTimeout"];

/// The instance's key pair in [`LOAD_BALANCER_TEMPLATE`], a line of its own.
const INSTANCE_KEY_NAME: &str = "      KeyName: {Ref: KeyName}\n";

/// The nested stack of a load balancer: Heat's built-in HAProxy template in Ember's words. The
/// HAProxy configuration is the `HaproxyConfig` parameter.
const LOAD_BALANCER_TEMPLATE: &str = r##"
AWSTemplateFormatVersion: '2010-09-09'
Description: HAProxy load balancer instance (AWS::ElasticLoadBalancing::LoadBalancer).
Parameters:
  KeyName: {Type: String, Default: ''}
  LbImageId: {Type: String, Default: Fedora-Cloud-Base-20141203-21.x86_64}
  LbFlavor: {Type: String, Default: m1.small}
  LBTimeout: {Type: String, Default: '600'}
  SecurityGroups: {Type: CommaDelimitedList, Default: ''}
  HaproxyConfig: {Type: String, Default: ''}
Resources:
  latency_watcher:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Latency
      Namespace: AWS/ELB
      Statistic: Average
      Period: '60'
      EvaluationPeriods: '1'
      Threshold: '2'
      AlarmActions: []
      ComparisonOperator: GreaterThanThreshold
  CfnLBUser:
    Type: AWS::IAM::User
  CfnLBAccessKey:
    Type: AWS::IAM::AccessKey
    Properties:
      UserName: {Ref: CfnLBUser}
  LB_instance:
    Type: AWS::EC2::Instance
    Metadata:
      AWS::CloudFormation::Init:
        config:
          packages:
            yum: {haproxy: [], socat: []}
          services:
            systemd:
              crond: {enabled: 'true', ensureRunning: 'true'}
          files:
            /etc/cfn/cfn-credentials:
              content:
                Fn::Join:
                - ''
                - - AWSAccessKeyId=
                  - {Ref: CfnLBAccessKey}
                  - "\n"
                  - AWSSecretKey=
                  - {'Fn::GetAtt': [CfnLBAccessKey, SecretAccessKey]}
                  - "\n"
              mode: '000400'
              owner: root
              group: root
            /etc/cfn/cfn-hup.conf:
              content:
                Fn::Join:
                - ''
                - - "[main]\nstack="
                  - {Ref: 'AWS::StackId'}
                  - "\ncredential-file=/etc/cfn/cfn-credentials\nregion="
                  - {Ref: 'AWS::Region'}
                  - "\ninterval=60\n"
              mode: '000400'
              owner: root
              group: root
            /etc/cfn/hooks.conf:
              content:
                Fn::Join:
                - ''
                - - "[cfn-init]\ntriggers=post.update\npath=Resources.LB_instance.Metadata\naction=/opt/aws/bin/cfn-init -s "
                  - {Ref: 'AWS::StackId'}
                  - "    -r LB_instance     --region "
                  - {Ref: 'AWS::Region'}
                  - "\nrunas=root\n\n[reload]\ntriggers=post.update\npath=Resources.LB_instance.Metadata\naction=systemctl reload-or-restart haproxy.service\nrunas=root\n"
              mode: '000400'
              owner: root
              group: root
            /etc/haproxy/haproxy.cfg:
              content: {Ref: HaproxyConfig}
              mode: '000644'
              owner: root
              group: root
            /root/haproxy_tmp.te:
              content: "module haproxy_tmp 1.0;\nrequire { type tmp_t; type haproxy_t;class sock_file { rename write create unlink link };class dir { write remove_name add_name };}\nallow haproxy_t tmp_t:dir { write remove_name add_name };\nallow haproxy_t tmp_t:sock_file { rename write create unlink link};\n"
              mode: '000600'
              owner: root
              group: root
            /tmp/cfn-hup-crontab.txt:
              content:
                Fn::Join:
                - ''
                - - "MAIL=\"\"\n\n* * * * * /opt/aws/bin/cfn-hup -f\n* * * * * /opt/aws/bin/cfn-push-stats  --watch "
                  - {Ref: latency_watcher}
                  - " --haproxy\n"
              mode: '000600'
              owner: root
              group: root
    Properties:
      KeyName: {Ref: KeyName}
      ImageId: {Ref: LbImageId}
      InstanceType: {Ref: LbFlavor}
      SecurityGroups: {Ref: SecurityGroups}
      UserData:
        Fn::Base64:
          Fn::Join:
          - ''
          - - "#!/bin/bash -v\nfunction error_exit\n{\n  /opt/aws/bin/cfn-signal -e 1 -r \"$1\" '"
            - {Ref: WaitHandle}
            - "'\n  exit 1\n}\n/opt/aws/bin/cfn-init -s "
            - {Ref: 'AWS::StackId'}
            - "    -r LB_instance     --region "
            - {Ref: 'AWS::Region'}
            - " || error_exit 'Failed to run cfn-init'\n"
            - "# let HAProxy connect anywhere and use its stats socket under /tmp (SELinux)\n"
            - "setsebool haproxy_connect_any 1\ncd /root\n"
            - "checkmodule -M -m -o haproxy_tmp.mod haproxy_tmp.te\n"
            - "semodule_package -o haproxy_tmp.pp -m haproxy_tmp.mod\nsemodule -i haproxy_tmp.pp\n"
            - "touch /tmp/.haproxy-stats\nsemanage fcontext -a -t haproxy_tmpfs_t /tmp/.haproxy-stats\n"
            - "restorecon -R -v /tmp/.haproxy-stats\n"
            - "crontab /tmp/cfn-hup-crontab.txt\n"
            - "systemctl reload-or-restart haproxy.service\n"
            - "/opt/aws/bin/cfn-signal -e 0 -r \"LB server setup complete\" '"
            - {Ref: WaitHandle}
            - "'\n"
  WaitHandle:
    Type: AWS::CloudFormation::WaitConditionHandle
  WaitCondition:
    Type: AWS::CloudFormation::WaitCondition
    DependsOn: LB_instance
    Properties:
      Handle: {Ref: WaitHandle}
      Timeout: {Ref: LBTimeout}
Outputs:
  PublicIp:
    Description: instance IP
    Value: {'Fn::GetAtt': [LB_instance, PublicIp]}
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn props(value: Value) -> Properties {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn haproxy_config_is_heats_text() {
        let properties = props(json!({
            "Listeners": [{"LoadBalancerPort": 80, "InstancePort": 8080, "Protocol": "HTTP"}],
            "HealthCheck": {"HealthyThreshold": 3, "Interval": 10, "Target": "HTTP:80/", "Timeout": 5, "UnhealthyThreshold": 5},
        }));
        let expected = "\nglobal\n    daemon\n    maxconn 256\n    stats socket /tmp/.haproxy-stats\n\ndefaults\n    mode http\n    timeout connect 5000ms\n    timeout client 50000ms\n    timeout server 50000ms\n\nfrontend http\n    bind *:80\n    default_backend servers\n\nbackend servers\n    balance roundrobin\n    option http-server-close\n    option forwardfor\n    option httpchk\n    timeout check 5s\n    server server1 10.0.0.3:8080 check inter 10s fall 5 rise 3\n    server server2 0.0.0.0:8080 check inter 10s fall 5 rise 3\n";
        assert_eq!(
            haproxy_config(&properties, &["10.0.0.3".into(), "0.0.0.0".into()]),
            expected
        );
        // Without a health check: no check timeout and no server checks.
        let properties = props(json!({
            "Listeners": [{"LoadBalancerPort": 443, "InstancePort": 80, "Protocol": "TCP"}],
        }));
        assert!(haproxy_config(&properties, &["10.0.0.3".into()])
            .ends_with("    option httpchk\n\n    server server1 10.0.0.3:80\n"));
    }
}

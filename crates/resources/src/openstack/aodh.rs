//! The Aodh alarm types: `OS::Aodh::Alarm` (the deprecated `threshold` alarm), the three Gnocchi
//! alarms, `CompositeAlarm` and `EventAlarm`. One handler serves all six; an [`AlarmKind`] says
//! which properties form the alarm's `<type>_rule`.
//!
//! Ember improvement over Heat: an action that is an Ember/Heat-native signal URL
//! (`.../v1/{project}/stacks/{name}/{id}/resources/{res}/signal`, a scaling policy's
//! `signal_url`) needs a Keystone token, which Aodh sends only to `trust+http(s)://` actions. Heat
//! passes the URL unchanged, so such an alarm never signals; Ember hands it to Aodh as
//! `trust+http(s)://...`, and Aodh then makes a trust from the creating user to its own service
//! user (deleted with the alarm) and signals with a trust-scoped token.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ember_engine::resource::{Properties, UpdateRequest};
use ember_engine::schema::{Constraint, PropertySchema, TypeSchema};
use ember_engine::{Registry, ResourceContext, ResourceError, ResourceType, Started};
use ember_openstack::{ServiceClient, ServiceType};
use serde_json::{json, Map, Value};

use super::props::{allowed, boolean, integer, list, map, number, string, type_schema};
use super::{cloud_error, physical_id, Cloud};

const OPERATORS: &[&str] = &["le", "ge", "eq", "lt", "gt", "ne"];
const QUERY_TYPES: &[&str] = &["integer", "float", "string", "boolean", "datetime"];

/// The alarm types Heat maps onto Aodh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlarmKind {
    Threshold,
    GnocchiResources,
    GnocchiAggregationByMetrics,
    GnocchiAggregationByResources,
    Composite,
    Event,
}

impl AlarmKind {
    const ALL: [AlarmKind; 6] = [
        AlarmKind::Threshold,
        AlarmKind::GnocchiResources,
        AlarmKind::GnocchiAggregationByMetrics,
        AlarmKind::GnocchiAggregationByResources,
        AlarmKind::Composite,
        AlarmKind::Event,
    ];

    fn type_name(self) -> &'static str {
        match self {
            AlarmKind::Threshold => "OS::Aodh::Alarm",
            AlarmKind::GnocchiResources => "OS::Aodh::GnocchiResourcesAlarm",
            AlarmKind::GnocchiAggregationByMetrics => "OS::Aodh::GnocchiAggregationByMetricsAlarm",
            AlarmKind::GnocchiAggregationByResources => {
                "OS::Aodh::GnocchiAggregationByResourcesAlarm"
            }
            AlarmKind::Composite => "OS::Aodh::CompositeAlarm",
            AlarmKind::Event => "OS::Aodh::EventAlarm",
        }
    }

    /// Aodh's alarm `type`; the rule is sent as `<type>_rule`.
    fn aodh_type(self) -> &'static str {
        match self {
            AlarmKind::Threshold => "threshold",
            AlarmKind::GnocchiResources => "gnocchi_resources_threshold",
            AlarmKind::GnocchiAggregationByMetrics => "gnocchi_aggregation_by_metrics_threshold",
            AlarmKind::GnocchiAggregationByResources => {
                "gnocchi_aggregation_by_resources_threshold"
            }
            AlarmKind::Composite => "composite",
            AlarmKind::Event => "event",
        }
    }

    fn description(self) -> &'static str {
        match self {
            AlarmKind::Threshold => "A resource that implements alarming service of Aodh.",
            AlarmKind::GnocchiResources => {
                "A resource allowing for the watch of some specified resource."
            }
            AlarmKind::GnocchiAggregationByMetrics => {
                "A resource that implements alarm with specified metrics."
            }
            AlarmKind::GnocchiAggregationByResources => {
                "A resource that implements alarm as an aggregation of resources alarms."
            }
            AlarmKind::Composite => "A resource that implements Aodh composite alarm.",
            AlarmKind::Event => "A resource that implements event alarms.",
        }
    }

    /// The type's own properties (they form the rule), before the common ones.
    fn rule_properties(self) -> Vec<(&'static str, PropertySchema)> {
        let query_factors = |field_help: &str| {
            list("A list of query factors, each comparing a Sample attribute with a value.")
                .update_allowed()
                .with_items(map("").with_keys(vec![
                    ("field", string(field_help)),
                    (
                        "type",
                        allowed(
                            string("The type of the attribute.").default(json!("string")),
                            QUERY_TYPES,
                        ),
                    ),
                    ("op", allowed(string("Comparison operator."), OPERATORS)),
                    ("value", string("String value with which to compare.")),
                ]))
        };
        let gnocchi_common = || {
            vec![
                (
                    "comparison_operator",
                    allowed(
                        string("Operator used to compare specified statistic with threshold.")
                            .update_allowed(),
                        OPERATORS,
                    ),
                ),
                (
                    "evaluation_periods",
                    integer("Number of periods to evaluate over.").update_allowed(),
                ),
                (
                    "aggregation_method",
                    allowed(
                        string("The aggregation method to compare to the threshold.")
                            .update_allowed(),
                        &[
                            "mean", "sum", "last", "max", "min", "std", "median", "first", "count",
                        ],
                    ),
                ),
                (
                    "granularity",
                    integer("The time range in seconds.").update_allowed(),
                ),
                (
                    "threshold",
                    number("Threshold to evaluate against.")
                        .required()
                        .update_allowed(),
                ),
            ]
        };
        let metric = || {
            (
                "metric",
                string("Metric name watched by the alarm.")
                    .required()
                    .update_allowed(),
            )
        };
        let resource_type = || {
            (
                "resource_type",
                string("Resource type.").required().update_allowed(),
            )
        };
        let mut props = match self {
            AlarmKind::Threshold => vec![
                ("comparison_operator", allowed(string("Operator used to compare specified statistic with threshold.").update_allowed(), OPERATORS)),
                ("evaluation_periods", integer("Number of periods to evaluate over.").update_allowed()),
                ("meter_name", string("Meter name watched by the alarm.").required()),
                ("period", integer("Period (seconds) to evaluate over.").update_allowed()),
                ("statistic", allowed(string("Meter statistic to evaluate.").update_allowed(), &["count", "avg", "sum", "min", "max"])),
                ("threshold", number("Threshold to evaluate against.").required().update_allowed()),
                ("matching_metadata", map("Meter should match this resource metadata (key=value) additionally to the meter_name.").default(json!({})).update_allowed()),
                ("query", query_factors("Name of attribute to compare. Names of the form metadata.user_metadata.X or metadata.metering.X are equivalent to what you can address through matching_metadata; the former for Nova meters, the latter for all others.")),
            ],
            AlarmKind::GnocchiResources => vec![
                metric(),
                ("resource_id", string("Id of a resource.").required().update_allowed()),
                resource_type(),
            ],
            AlarmKind::GnocchiAggregationByMetrics => {
                vec![("metrics", list("A list of metric ids.").required().update_allowed())]
            }
            AlarmKind::GnocchiAggregationByResources => vec![
                metric(),
                ("query", string("The query to filter the metrics.").required().update_allowed()),
                resource_type(),
            ],
            AlarmKind::Composite => vec![(
                "composite_rule",
                map("Composite threshold rules in JSON format.")
                    .required()
                    .update_allowed()
                    .with_keys(vec![
                        ("operator", allowed(string("The operator indicates how to combine the rules."), &["or", "and"])),
                        ("rules", list("Rules list. Basic threshold/gnocchi rules and nested dict which combine threshold/gnocchi rules by \"and\" or \"or\" are allowed.").required().constraint(Constraint::Length { min: Some(2), max: None })),
                    ]),
            )],
            AlarmKind::Event => vec![
                ("event_type", string("Event type to evaluate against. If not specified will match all events.").default(json!("*")).update_allowed()),
                ("query", query_factors("Name of attribute to compare.")),
            ],
        };
        if matches!(
            self,
            AlarmKind::GnocchiResources
                | AlarmKind::GnocchiAggregationByMetrics
                | AlarmKind::GnocchiAggregationByResources
        ) {
            props.extend(gnocchi_common());
        }
        props
    }

    /// The `<type>_rule` body from the properties, as Heat builds it.
    fn rule(self, props: &Properties) -> Value {
        let names: Vec<&str> = self.rule_properties().iter().map(|(n, _)| *n).collect();
        let mut rule: Map<String, Value> = names
            .iter()
            .filter_map(|n| {
                Some((
                    n.to_string(),
                    props.get(*n).filter(|v| !v.is_null())?.clone(),
                ))
            })
            .collect();
        match self {
            AlarmKind::Threshold => {
                // matching_metadata becomes query factors on the sample's metadata.
                rule.remove("matching_metadata");
                let mut query: Vec<Value> = props
                    .get("query")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let prefix = if props
                    .get("meter_name")
                    .and_then(Value::as_str)
                    .is_some_and(|m| NOVA_METERS.contains(&m))
                {
                    "user_metadata."
                } else {
                    "metering."
                };
                for (key, value) in props
                    .get("matching_metadata")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let key = key.strip_prefix("metadata.").unwrap_or(key);
                    let key = ["metering.", "user_metadata."]
                        .iter()
                        .find_map(|p| key.strip_prefix(p))
                        .unwrap_or(key);
                    let value = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string());
                    query.push(json!({"field": format!("metadata.{prefix}{key}"), "op": "eq", "value": value}));
                }
                if query.is_empty() {
                    rule.remove("query");
                } else {
                    rule.insert("query".into(), Value::Array(query));
                }
            }
            AlarmKind::Composite => {
                // Aodh's form is `{"<operator>": [rules]}`.
                let given = &props["composite_rule"];
                let operator = given["operator"].as_str().unwrap_or("or");
                return json!({ operator: given["rules"].clone() });
            }
            _ => {}
        }
        Value::Object(rule)
    }
}

/// Meters Ceilometer takes from Nova, whose metadata lives under `user_metadata`.
const NOVA_METERS: &[&str] = &[
    "instance",
    "memory",
    "memory.usage",
    "memory.resident",
    "cpu",
    "cpu_util",
    "vcpus",
    "disk.read.requests",
    "disk.read.requests.rate",
    "disk.write.requests",
    "disk.write.requests.rate",
    "disk.read.bytes",
    "disk.read.bytes.rate",
    "disk.write.bytes",
    "disk.write.bytes.rate",
    "disk.device.read.requests",
    "disk.device.read.requests.rate",
    "disk.device.write.requests",
    "disk.device.write.requests.rate",
    "disk.device.read.bytes",
    "disk.device.read.bytes.rate",
    "disk.device.write.bytes",
    "disk.device.write.bytes.rate",
    "disk.root.size",
    "disk.ephemeral.size",
    "network.incoming.bytes",
    "network.incoming.bytes.rate",
    "network.outgoing.bytes",
    "network.outgoing.bytes.rate",
    "network.incoming.packets",
    "network.incoming.packets.rate",
    "network.outgoing.packets",
    "network.outgoing.packets.rate",
];

/// Action properties, each with the Zaqar queue property Heat folds into it.
const ACTIONS: [(&str, &str); 3] = [
    ("alarm_actions", "alarm_queues"),
    ("ok_actions", "ok_queues"),
    ("insufficient_data_actions", "insufficient_data_queues"),
];

fn common_properties() -> Vec<(&'static str, PropertySchema)> {
    let queues = |state: &str| {
        list(&format!(
            "A list of Zaqar queues to post to when state transitions to {state}."
        ))
        .default(json!([]))
        .update_allowed()
    };
    vec![
        ("description", string("Description for the alarm.").update_allowed()),
        ("enabled", boolean("True if alarm evaluation/actioning is enabled.").default(json!(true)).update_allowed()),
        ("alarm_actions", list("A list of URLs (webhooks) to invoke when state transitions to alarm.").update_allowed()),
        ("ok_actions", list("A list of URLs (webhooks) to invoke when state transitions to ok.").update_allowed()),
        ("insufficient_data_actions", list("A list of URLs (webhooks) to invoke when state transitions to insufficient-data.").update_allowed()),
        ("alarm_queues", queues("alarm")),
        ("ok_queues", queues("ok")),
        ("insufficient_data_queues", queues("insufficient-data")),
        ("repeat_actions", boolean("False to trigger actions when the threshold is reached AND the alarm's state has changed. By default, actions are called each time the threshold is reached.").default(json!(true)).update_allowed()),
        ("severity", allowed(string("Severity of the alarm.").default(json!("low")).update_allowed(), &["low", "moderate", "critical"])),
        ("time_constraints", list("Describe time constraints for the alarm. Only evaluate the alarm if the time at evaluation is within this time constraint. Start point(s) of the constraint are specified with a cron expression, whereas its duration is given in seconds.").default(json!([])).with_items(map("").with_keys(vec![
            ("name", string("Name for the time constraint.").required()),
            ("start", string("Start time for the time constraint. A CRON expression property.").required()),
            ("description", string("Description for the time constraint.")),
            ("duration", integer("Duration for the time constraint.").required().constraint(Constraint::Range { min: Some(0.0), max: None })),
            ("timezone", string("Timezone for the time constraint (eg. 'Asia/Taipei', 'Europe/Amsterdam').")),
        ]))),
    ]
}

pub(super) fn register(registry: &mut Registry, cloud: &Arc<Cloud>) {
    for kind in AlarmKind::ALL {
        let mut properties = kind.rule_properties();
        properties.extend(common_properties());
        let mut schema = type_schema(kind.description(), properties, &[]);
        if kind == AlarmKind::Threshold {
            schema.support_status = "DEPRECATED";
        }
        registry.register(
            kind.type_name(),
            Arc::new(Alarm {
                schema,
                cloud: cloud.clone(),
                kind,
            }),
        );
    }
}

/// True for a native signal URL (`http(s)://.../v1/{project}/stacks/{name}/{id}/resources/{res}/signal`),
/// which only accepts a Keystone token. Pre-signed `alarm_url`s (`/v1/signal/...?Signature=`)
/// carry their own authorization and are left alone.
pub fn is_native_signal_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    if rest.contains('?') || rest.contains('#') {
        return false;
    }
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    // .../v1/{project}/stacks/{name}/{id}/resources/{res}/signal, possibly under a path prefix.
    let n = segments.len();
    n >= 8
        && segments[n - 1] == "signal"
        && segments[n - 3] == "resources"
        && segments[n - 6] == "stacks"
        && segments[n - 8] == "v1"
        && segments[n - 8..].iter().all(|s| !s.is_empty())
}

/// One action as Aodh gets it: native signal URLs as trust actions, everything else unchanged.
fn aodh_action(action: &str) -> String {
    if is_native_signal_url(action) {
        format!("trust+{action}")
    } else {
        action.to_string()
    }
}

/// The alarm body Aodh gets from the properties (without the name).
fn alarm_body(kind: AlarmKind, props: &Properties) -> Value {
    let mut body = Map::new();
    body.insert("type".into(), json!(kind.aodh_type()));
    for key in [
        "description",
        "enabled",
        "repeat_actions",
        "severity",
        "time_constraints",
    ] {
        if let Some(value) = props.get(key).filter(|v| !v.is_null()) {
            body.insert(key.into(), value.clone());
        }
    }
    for (actions, queues) in ACTIONS {
        let urls = props
            .get(actions)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let mut list: Vec<Value> = urls
            .filter_map(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(|a| json!(aodh_action(a)))
            .collect();
        for queue in props
            .get(queues)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(queue) = queue.as_str() {
                let encoded: String = form_urlencoded(queue);
                list.push(json!(format!("trust+zaqar://?queue_name={encoded}")));
            }
        }
        body.insert(actions.into(), Value::Array(list));
    }
    body.insert(format!("{}_rule", kind.aodh_type()), kind.rule(props));
    Value::Object(body)
}

/// `application/x-www-form-urlencoded` encoding of one value (a queue name).
fn form_urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

struct Alarm {
    schema: TypeSchema,
    cloud: Arc<Cloud>,
    kind: AlarmKind,
}

impl Alarm {
    async fn aodh(&self, cx: &ResourceContext) -> Result<ServiceClient, ResourceError> {
        super::session(&self.cloud, cx)
            .await?
            .service(ServiceType::Alarming)
            .await
            .map_err(cloud_error)
    }

    async fn set_enabled(
        &self,
        cx: &ResourceContext,
        enabled: bool,
    ) -> Result<Started, ResourceError> {
        let Some(id) = cx.physical_id.as_deref() else {
            return Ok(Started::default());
        };
        let aodh = self.aodh(cx).await?;
        let mut alarm = aodh
            .get(format!("/alarms/{id}"))
            .send_json()
            .await
            .map_err(cloud_error)?;
        alarm["enabled"] = json!(enabled);
        aodh.put(format!("/alarms/{id}"), alarm)
            .send()
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }
}

#[async_trait]
impl ResourceType for Alarm {
    fn schema(&self) -> &TypeSchema {
        &self.schema
    }

    fn creates_synchronously(&self) -> bool {
        true
    }

    async fn create(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        let aodh = self.aodh(cx).await?;
        let mut body = alarm_body(self.kind, &cx.properties);
        body["name"] = json!(cx.physical_resource_name());
        let created = aodh
            .post("/alarms", body)
            .send_json()
            .await
            .map_err(cloud_error)?;
        Ok(Started {
            physical_id: created["alarm_id"].as_str().map(str::to_string),
            data: BTreeMap::new(),
        })
    }

    async fn update(
        &self,
        cx: &ResourceContext,
        _request: UpdateRequest<'_>,
    ) -> Result<Started, ResourceError> {
        let id = physical_id(cx)?;
        let aodh = self.aodh(cx).await?;
        // Aodh replaces the whole alarm on PUT: start from what it holds (name, project, state).
        let mut alarm = aodh
            .get(format!("/alarms/{id}"))
            .send_json()
            .await
            .map_err(cloud_error)?;
        let changes = alarm_body(self.kind, &cx.properties);
        if let (Some(alarm), Some(changes)) = (alarm.as_object_mut(), changes.as_object()) {
            for (key, value) in changes {
                alarm.insert(key.clone(), value.clone());
            }
            // Read-only fields Aodh refuses on PUT.
            for key in ["state_timestamp", "timestamp", "state_reason"] {
                alarm.remove(key);
            }
        }
        aodh.put(format!("/alarms/{id}"), alarm)
            .send()
            .await
            .map_err(cloud_error)?;
        Ok(Started::default())
    }

    async fn delete(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        if let Some(id) = cx.physical_id.as_deref() {
            let aodh = self.aodh(cx).await?;
            aodh.delete_if_present(format!("/alarms/{id}"))
                .await
                .map_err(cloud_error)?;
        }
        Ok(Started::default())
    }

    async fn suspend(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.set_enabled(cx, false).await
    }

    async fn resume(&self, cx: &ResourceContext) -> Result<Started, ResourceError> {
        self.set_enabled(cx, true).await
    }

    async fn check(&self, cx: &ResourceContext) -> Result<(), ResourceError> {
        let aodh = self.aodh(cx).await?;
        aodh.get(format!("/alarms/{}", physical_id(cx)?))
            .send()
            .await
            .map_err(cloud_error)?;
        Ok(())
    }

    async fn attribute(
        &self,
        cx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ResourceError> {
        super::attribute_of(&self.schema, cx, name, |id| async move {
            let aodh = self.aodh(cx).await?;
            aodh.get(format!("/alarms/{id}"))
                .send_json()
                .await
                .map_err(cloud_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_signal_urls_become_trust_actions() {
        let native = "http://127.0.0.1:8004/v1/0f3a/stacks/as/5e1c-77/resources/scale_up/signal";
        assert_eq!(aodh_action(native), format!("trust+{native}"));
        let https = "https://heat.example.com/orchestration/v1/p/stacks/s/i/resources/r/signal";
        assert!(is_native_signal_url(https));
        // Pre-signed CFN alarm_url, plain webhooks, and already-trust actions stay as given.
        for kept in [
            "http://127.0.0.1:8000/v1/signal/arn%3Aopenstack%3Aheat%3A%3Ap%3Astacks/s/i/resources/r?Timestamp=1&Signature=x",
            "http://127.0.0.1:9999/hook",
            "trust+http://127.0.0.1:8004/v1/p/stacks/s/i/resources/r/signal",
            "http://127.0.0.1:8004/v1/p/stacks/s/i/resources//signal",
        ] {
            assert_eq!(aodh_action(kept), kept);
        }
    }

    #[test]
    fn threshold_rule_folds_matching_metadata_into_query() {
        let props: Properties = serde_json::from_value(json!({
            "meter_name": "cpu_util", "threshold": 50.0, "statistic": "avg",
            "matching_metadata": {"metadata.metering.stack": "s1", "size": 3},
            "alarm_queues": ["my q"], "alarm_actions": ["http://h/x"],
        }))
        .unwrap_or_default();
        let body = alarm_body(AlarmKind::Threshold, &props);
        assert_eq!(body["type"], "threshold");
        let rule = &body["threshold_rule"];
        assert_eq!(rule["meter_name"], "cpu_util");
        assert!(rule.get("matching_metadata").is_none());
        assert_eq!(
            rule["query"],
            json!([
                {"field": "metadata.user_metadata.stack", "op": "eq", "value": "s1"},
                {"field": "metadata.user_metadata.size", "op": "eq", "value": "3"},
            ])
        );
        assert_eq!(
            body["alarm_actions"],
            json!(["http://h/x", "trust+zaqar://?queue_name=my+q"])
        );
    }

    #[test]
    fn composite_rule_is_keyed_by_operator() {
        let props: Properties = serde_json::from_value(json!({
            "composite_rule": {"operator": "and", "rules": [{"a": 1}, {"b": 2}]},
        }))
        .unwrap_or_default();
        let body = alarm_body(AlarmKind::Composite, &props);
        assert_eq!(body["composite_rule"], json!({"and": [{"a": 1}, {"b": 2}]}));
    }
}

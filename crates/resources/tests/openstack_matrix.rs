//! Every OpenStack resource type through the engine against ../shared/openstack-lab: one table
//! of cases (a type's template fragment, a replacing change, an in-place change, the call that
//! deletes it outside Ember, an input the service refuses), each run through the same steps as
//! three stacks at once:
//!
//! - **lifecycle**: create → update with the replacing change (a new physical resource, the old
//!   one gone from the service) → update in place (same resource, the service shows the change)
//!   → stack delete (the resource gone from the service);
//! - **outside**: create → the resource deleted through the service's API → stack delete ends
//!   `DELETE_COMPLETE` (Heat treats a resource already gone as deleted);
//! - **refusal**: the resource, then (`depends_on` it) a resource the service refuses, rollback
//!   enabled → the refused one's reason holds the service's words, the stack ends
//!   `ROLLBACK_COMPLETE` and the created resource is gone from the service.
//!
//! Then two whole-stack rollbacks in a fresh project whose Nova quota admits no server: with
//! rollback on (`ROLLBACK_COMPLETE`, Heat's events) and off (`CREATE_FAILED`, then delete); both
//! leave every service's inventory of the project as it was.
//!
//! ## Audit: type × behaviour → test (before this file / here)
//!
//! `ost` = openstack.rs, `ks` = openstack_keystone.rs, `gl` = openstack_glance.rs,
//! `ao` = openstack_aodh.rs, `sw` = openstack_swift.rs, `mt` = openstack_more_types.rs, `mx` = this file (`<group>_matrix`, case name in brackets). Before
//! this file, "delete of something gone" was mostly a second delete by the same handler, and
//! "replacement" only the type's decision (the tests drive handlers, not the engine); rollback
//! had no lab test at all. `n/a`: the type has no such change (every property updates in place,
//! or none does).
//!
//! | type | create | update in place | replacement | delete | gone outside | service failure | rollback |
//! |---|---|---|---|---|---|---|---|
//! | Neutron Net | ost neutron_types_create_update_replace_delete; mx neutron[net] | ost neutron_types…; mx | mx (tenant_id) | ost; mx | ost (2nd delete); mx | mx (value_specs) | mx; rollback_* |
//! | Neutron Subnet | ost neutron_types…; mx neutron[subnet] | ost; mx | ost (decision); mx (cidr) | ost; mx | ost (2nd delete); mx | ost (cidr clash); mx | mx; rollback_* |
//! | Neutron Port | ost neutron_types…; mx neutron[port] | mx (name) | mx (mac_address) | ost; mx | ost (2nd delete); mx | mx (fixed IP outside) | mx; rollback_* |
//! | Neutron Router | ost neutron_types…; mx neutron[router] | mx (name) | mx (tenant_id) | ost; mx | ost (2nd delete); mx | mx (gateway not external) | mx |
//! | Neutron RouterInterface | ost neutron_types…; mx neutron[router_interface] | n/a | mx (subnet) | ost; mx | ost (2nd delete); mx | mx (subnet attached twice) | mx |
//! | Neutron SecurityGroup | ost neutron_types…; mx neutron[security_group] | ost (rules); mx (description) | n/a | ost; mx | ost (2nd delete); mx | mx (same rule twice) | mx; rollback_* |
//! | Neutron SecurityGroupRule | ost security_group_rule_and_provider_net; mx neutron[security_group_rule] | n/a | ost (decision); mx (port) | ost; mx | ost (2nd delete); mx | ost (twin); mx | mx |
//! | Neutron FloatingIP | ost neutron_types…; mx neutron[floating_ip] | mx (port_id) | mx (value_specs) | ost; mx | ost (2nd delete); mx | mx (not external) | mx |
//! | Neutron FloatingIPAssociation | ost neutron_types…; mx neutron[floating_ip_association] | ost seed_webapp_stack_on_the_lab; mx (port) | n/a | ost; mx | ost (2nd delete); mx | mx (foreign fixed IP) | mx |
//! | Neutron AddressScope | mt neutron_address_scope…; mx neutron[address_scope] | mt; mx (name) | mx (ip_version) | mt; mx | mt (2nd delete); mx | mx (shared, by policy) | mx |
//! | Neutron SubnetPool | mt neutron_address_scope…; mx neutron[subnet_pool] | mt; mx (name) | n/a (what replaces needs admin) | mt; mx | mt (2nd delete); mx | mt; mx (shared, by policy) | mx |
//! | Neutron ProviderNet | ost security_group_rule_and_provider_net; mx neutron[provider_net] | ost (name); mx | n/a | ost; mx | ost (2nd delete); mx | ost (Forbidden, 4094); mx | mx |
//! | Nova Server | ost server_and_nova_types; mx nova[server] | ost (metadata, resize, networks); mx (metadata) | ost (decision); mx (user_data) | ost; mx | ost (2nd delete); mx | ost (resize refused); mx (zone) | mx; rollback_* (quota) |
//! | Nova Flavor | mx nova[flavor] | mx (extra_specs) | mx (ram) | mx | mx | mx (name taken) | mx |
//! | Nova KeyPair | ost server_and_nova_types; mx nova[key_pair] | n/a | mx (name) | ost; mx | ost (2nd delete); mx | mx (bad public key) | mx |
//! | Nova ServerGroup | ost server_and_nova_types; mx nova[server_group] | n/a | mx (policies) | ost; mx | ost (2nd delete); mx | mx (rules on affinity) | mx |
//! | Nova HostAggregate | mt nova_host_aggregate…; mx nova[host_aggregate] | mt; mx (availability_zone) | n/a | mt; mx | mt (2nd delete); mx | mt; mx (name taken) | mx |
//! | Cinder Volume | ost cinder_types_and_attachment; mx cinder[volume] | ost (extend); mx (metadata) | mx (availability_zone) | ost; mx | ost (2nd delete); mx | ost (no backend, shrink); mx (zone) | mx; rollback_* |
//! | Cinder VolumeAttachment | ost cinder_types_and_attachment; mx cinder[volume_attachment] | ost seed_webapp…; mx (volume) | n/a | ost; mx | ost (2nd delete); mx | mx (attached twice) | mx |
//! | Cinder QoSSpecs | mt cinder_qos_specs…; mx cinder[qos_specs] | mt; mx (specs) | mt; mx (name) | mt; mx | mt (2nd delete); mx | mx (name taken) | mx |
//! | Cinder VolumeType | ost cinder_types_and_attachment; mx cinder[volume_type] | mx (description) | n/a | ost; mx | mx | mx (name taken) | mx |
//! | Glance WebImage | ost glance_web_image; mx glance[web_image] | ost; mx | mx (location) | ost; mx | ost (2nd delete); mx | ost (import failed); mx | mx |
//! | Glance Image | gl v1_image_type_maps_is_public…; mx glance[image] | gl; mx | gl (decision); mx | gl; mx | gl (2nd delete); mx | gl (Forbidden); mx | mx |
//! | Keystone Project | ks project_role_user_and_assignment_lifecycle; mx keystone[project] | ks; mx | ks (decision); mx (parent) | ks; mx | ks; mx | ks (Conflict); mx | mx |
//! | Keystone User | ks project_role…, group_role_assignment_and_user_groups; mx keystone[user] | ks; mx | n/a | ks; mx | ks (2nd delete); mx | mx (name taken) | mx |
//! | Keystone Role | ks project_role…; mx keystone[role] | ks; mx | mx (domain) | ks; mx | ks (2nd delete); mx | mx (name taken) | mx |
//! | Keystone UserRoleAssignment | ks project_role…; mx keystone[user_role_assignment] | ks; mx | n/a | ks; mx | ks (user gone); mx (revoked) | n/a: the keystone.* constraints refuse every bad name first | mx (after a refused project) |
//! | Keystone GroupRoleAssignment | ks group_role_assignment…; mx keystone[group_role_assignment] | ks; mx | n/a | ks; mx | ks (group gone); mx (revoked) | n/a (as above) | mx (after a refused project) |
//! | Keystone Region | mt keystone_domain_group_region…; mx keystone[region] | mt; mx (description) | mt; mx (id) | mt; mx | mt (2nd delete); mx | mt; mx (id taken) | mx |
//! | Keystone Service | mt keystone_domain…; mx keystone[service] | mt; mx (description) | n/a | mt; mx | mt (2nd delete); mx | mx (type too long) | mx |
//! | Keystone Group | mt keystone_domain…; mx keystone[group] | mt; mx (description) | n/a (domain in place) | mt; mx | mt (2nd delete); mx | mt; mx (name taken) | mx |
//! | Aodh GnocchiAggregationByResourcesAlarm | ao gnocchi_alarm_lifecycle…; mx aodh[by_resources] | ao; mx | ao (decision); mx (time_constraints) | ao; mx | ao (2nd delete); mx | ao (bad query); mx (bad action) | mx |
//! | Aodh GnocchiResourcesAlarm | mx aodh[resources] | mx | mx | mx | mx | mx | mx |
//! | Aodh GnocchiAggregationByMetricsAlarm | mx aodh[by_metrics] | mx | mx | mx | mx | mx | mx |
//! | Aodh EventAlarm | mx aodh[event] | mx | mx | mx | mx | mx | mx |
//! | Aodh CompositeAlarm | mx aodh[composite] | mx | mx | mx | mx | mx | mx |
//! | Swift Container | sw container_headers_attributes…; mx swift[container] | n/a: every change replaces | sw; mx (name) | sw; mx | sw; mx | mx (referrer in write ACL) | mx |
//! | AWS S3 Bucket | sw s3_bucket_acls…; mx swift[bucket] | n/a: every change replaces | sw; mx (AccessControl) | sw; mx | mx | sw, mx (PublicReadWrite) | mx |
//! | Aodh Alarm (threshold) | n/a: this Aodh refuses the type | n/a | n/a | n/a | n/a | ao aodh_refusals_are_the_resource_reason | n/a |
//!
//! Credentials: the lab's clouds.yaml (`lab-demo`, `lab-admin`), or `OS_*`. Without a lab the
//! tests say so and pass, unless `EMBER_REQUIRE_LAB=1`.

mod common;
mod lab_types;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{cx, lab_service, reason, stack_events, status};
use ember_engine::{Service, StackRequest};
use ember_lab::inventory;
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::identity::{Identity, IdentityKind};
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{Credentials, Error, NameOrId, Scope, ServiceType, Session};
use lab_types::{lab, serve, suffix, Lab};
use serde_json::{json, Value};

/// Physical ids of a stack's resources, by logical name (plus a case's fixture ids).
type Ids = BTreeMap<String, String>;

fn physical<'a>(ids: &'a Ids, name: &str) -> &'a str {
    ids.get(name).map(String::as_str).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Put,
    Delete,
}

/// One REST call to a service, made beside Ember (as an operator or another tool would).
struct Call {
    service: ServiceType,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Value,
}

impl Call {
    fn new(service: ServiceType, method: Method, path: String) -> Call {
        Call {
            service,
            method,
            path,
            query: Vec::new(),
            body: Value::Null,
        }
    }

    fn get(service: ServiceType, path: String) -> Call {
        Call::new(service, Method::Get, path)
    }

    fn delete(service: ServiceType, path: String) -> Call {
        Call::new(service, Method::Delete, path)
    }

    fn put(service: ServiceType, path: String, body: Value) -> Call {
        Call {
            body,
            ..Call::new(service, Method::Put, path)
        }
    }

    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_string()));
        self
    }

    async fn send(&self, session: &Session) -> Result<Value, Error> {
        let client = session.service(self.service).await?;
        let mut request = match self.method {
            Method::Get => client.get(&self.path),
            Method::Put => client.put(&self.path, self.body.clone()),
            Method::Delete => client.delete(&self.path),
        };
        for (key, value) in &self.query {
            request = request.query(key, value.clone());
        }
        request.send_json().await
    }
}

/// Where the service shows a case's resource: a GET and the JSON pointer of the resource in
/// the answer. The resource is gone when the GET answers 404 or nothing (or something
/// `DELETED`) is at the pointer.
struct Probe {
    call: Call,
    at: String,
}

impl Probe {
    fn new(service: ServiceType, path: String, at: &str) -> Probe {
        Probe {
            call: Call::get(service, path),
            at: at.into(),
        }
    }

    async fn look(&self, session: &Session) -> Result<Option<Value>, String> {
        match self.call.send(session).await {
            // Nova shows a deleted server as `DELETED` for a moment, which Heat takes as gone.
            Ok(body) => Ok(body
                .pointer(&self.at)
                .filter(|v| !v.is_null() && v["status"] != "DELETED")
                .cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(format!("probe {}: {e}", self.call.path)),
        }
    }
}

/// What an in-place change shows at the service.
enum Shown {
    Value(Value),
    /// The physical id of the named resource of the stack.
    IdOf(&'static str),
}

struct InPlace {
    /// Properties set over the current ones.
    change: Value,
    /// Where, inside the probed resource, the change shows (a JSON pointer).
    at: String,
    shows: Shown,
    /// Whether the physical id stays. Nova gives a re-attached volume a new attachment id, so
    /// an attachment's id follows its volume (as in Heat).
    same_id: bool,
}

struct Case {
    name: &'static str,
    admin: bool,
    /// What the resource needs, made in the same stack (logical name → resource).
    needs: Value,
    type_name: &'static str,
    props: Value,
    /// Properties set over `props` that need a new physical resource.
    replace: Option<Value>,
    in_place: Option<InPlace>,
    probe: fn(&Ids) -> Probe,
    /// The call that deletes the resource (`r`) outside Ember.
    outside: fn(&Ids) -> Call,
    /// Resources added to `needs` and `r` of which `bad` (made after `r`) is refused by the
    /// service, and the service's words in the reason.
    refused: Option<(Value, &'static str)>,
    /// Ids of things the test made for the case beside the stack.
    fixtures: Ids,
    /// Run the case's stacks one after another. Neutron answers 500 to the port listing of
    /// Nova's quota check when a network of the project is being deleted meanwhile, so a
    /// case that makes servers does not delete networks while it makes one.
    serial: bool,
}

impl Case {
    fn new(
        name: &'static str,
        type_name: &'static str,
        props: Value,
        probe: fn(&Ids) -> Probe,
        outside: fn(&Ids) -> Call,
    ) -> Case {
        Case {
            name,
            admin: false,
            needs: json!({}),
            type_name,
            props,
            replace: None,
            in_place: None,
            probe,
            outside,
            refused: None,
            fixtures: Ids::new(),
            serial: false,
        }
    }

    /// The stack `stack`: `needs`, `r` with `props`, and `extra`; `STACK` in a string stands
    /// for the stack's name (the three stacks of a case need distinct unique names).
    fn template(&self, stack: &str, props: &Value, extra: &Value) -> Value {
        let mut resources = self.needs.clone();
        resources["r"] = json!({"type": self.type_name, "properties": props});
        for (name, resource) in extra.as_object().into_iter().flatten() {
            resources[name] = resource.clone();
        }
        json!({"heat_template_version": "2018-08-31", "resources": named(&resources, stack)})
    }
}

fn named(value: &Value, stack: &str) -> Value {
    match value {
        Value::String(text) => json!(text.replace("STACK", stack)),
        Value::Array(items) => items.iter().map(|v| named(v, stack)).collect(),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| (k.clone(), named(v, stack)))
            .collect(),
        other => other.clone(),
    }
}

/// `base` with the keys of `change` set over it.
fn merged(base: &Value, change: &Value) -> Value {
    let mut out = base.clone();
    for (key, value) in change.as_object().into_iter().flatten() {
        out[key] = value.clone();
    }
    out
}

fn stack_request(name: &str, template: Value, rollback: bool) -> StackRequest {
    StackRequest {
        stack_name: Some(name.into()),
        template: Some(template),
        disable_rollback: Some(!rollback),
        ..StackRequest::default()
    }
}

/// The stack once its action ended (the lab's slowest: a server and volumes under load).
async fn finished(svc: &Service, id: &str) -> Result<Value, String> {
    match tokio::time::timeout(std::time::Duration::from_secs(240), svc.wait(&cx(), id)).await {
        Ok(shown) => shown.map_err(|e| e.to_string()),
        Err(_) => Err(format!("stack {id} still in progress after 240 s")),
    }
}

async fn create_stack(svc: &Service, request: StackRequest) -> Result<(String, Value), String> {
    let created = svc
        .create_stack(&cx(), request)
        .await
        .map_err(|e| format!("create refused: {e}"))?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    Ok((id.clone(), finished(svc, &id).await?))
}

async fn update_stack(
    svc: &Service,
    id: &str,
    name: &str,
    template: Value,
) -> Result<Value, String> {
    svc.update_stack(&cx(), id, stack_request(name, template, false))
        .await
        .map_err(|e| format!("update refused: {e}"))?;
    finished(svc, id).await
}

async fn delete_stack(svc: &Service, id: &str) -> Result<Value, String> {
    svc.delete_stack(&cx(), id)
        .await
        .map_err(|e| format!("delete refused: {e}"))?;
    finished(svc, id).await
}

fn expect_status(stack: &Value, wanted: &str, step: &str) -> Result<(), String> {
    if status(stack) == wanted {
        Ok(())
    } else {
        Err(format!(
            "{step}: {} ({}), not {wanted}",
            status(stack),
            reason(stack)
        ))
    }
}

async fn ids(svc: &Service, id: &str, fixtures: &Ids) -> Ids {
    let mut out = fixtures.clone();
    for resource in svc
        .list_resources(&cx(), id, false)
        .await
        .expect("resources")
    {
        out.insert(
            resource["resource_name"]
                .as_str()
                .unwrap_or_default()
                .into(),
            resource["physical_resource_id"]
                .as_str()
                .unwrap_or_default()
                .into(),
        );
    }
    out
}

/// How many times the stack's events show `resource` starting `action`.
fn starts(events: &[Value], resource: &str, action: &str) -> usize {
    let started = format!("{action}_IN_PROGRESS");
    events
        .iter()
        .filter(|e| e["resource_name"] == resource && e["resource_status"] == started)
        .count()
}

/// Runs `steps` on a new stack and, when they fail midway, deletes the stack so that nothing
/// is left in the lab.
async fn on_stack<F, Fut>(svc: &Service, request: StackRequest, steps: F) -> Result<(), String>
where
    F: FnOnce(String, Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let (id, created) = create_stack(svc, request).await?;
    let outcome = steps(id.clone(), created).await;
    if outcome.is_err() {
        if let Ok(stack) = svc.show_stack(&cx(), &id, false).await {
            if status(&stack) != "DELETE_COMPLETE" {
                let _ = delete_stack(svc, &id).await;
            }
        }
    }
    outcome
}

/// What Neutron, Nova and Cinder still hold under a name the stack gave (Heat names what the
/// template does not name `<stack>-<resource>-<suffix>`): resources a failure or rollback
/// left behind, the stack's own or its refused ones'.
async fn left_behind(session: &Session, stack: &str) -> Result<(), String> {
    let prefix = format!("{stack}-");
    let named = |list: Vec<Value>| -> Vec<String> {
        list.iter()
            // A server Nova shows as DELETED is gone (see `Probe::look`).
            .filter(|v| v["status"] != "DELETED")
            .filter_map(|v| v["name"].as_str())
            .filter(|name| name.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    };
    let fail = |e: Error| e.to_string();
    let network = Network::new(session).await.map_err(fail)?;
    let mut left = Vec::new();
    for kind in [
        NeutronKind::Network,
        NeutronKind::Port,
        NeutronKind::Router,
        NeutronKind::SecurityGroup,
    ] {
        left.extend(named(network.list(kind, &[]).await.map_err(fail)?));
    }
    let compute = Compute::new(session).await.map_err(fail)?;
    left.extend(named(compute.list_servers().await.map_err(fail)?));
    let storage = BlockStorage::new(session).await.map_err(fail)?;
    left.extend(named(storage.list_volumes().await.map_err(fail)?));
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("left behind: {left:?}"))
    }
}

/// Create → replacement → in place → delete.
async fn lifecycle(
    svc: &Service,
    session: &Session,
    case: &Case,
    name: &str,
) -> Result<(), String> {
    let request = stack_request(name, case.template(name, &case.props, &json!({})), false);
    on_stack(svc, request, |id, created| async move {
        expect_status(&created, "CREATE_COMPLETE", "create")?;
        let mut now = ids(svc, &id, &case.fixtures).await;
        if (case.probe)(&now).look(session).await?.is_none() {
            return Err(format!(
                "created, but the service does not show it: {now:?}"
            ));
        }
        let mut props = case.props.clone();
        if let Some(change) = &case.replace {
            props = merged(&props, change);
            let updated =
                update_stack(svc, &id, name, case.template(name, &props, &json!({}))).await?;
            expect_status(&updated, "UPDATE_COMPLETE", "replacement")?;
            let before = now;
            now = ids(svc, &id, &case.fixtures).await;
            if id_of(&now) == id_of(&before) {
                return Err(format!("replacement kept the physical id {}", id_of(&now)));
            }
            if (case.probe)(&before).look(session).await?.is_some() {
                return Err(format!("the replaced {} is still there", id_of(&before)));
            }
            if (case.probe)(&now).look(session).await?.is_none() {
                return Err("the replacement is not there".into());
            }
        }
        if let Some(in_place) = &case.in_place {
            let creates = starts(&stack_events(svc, &id).await, "r", "CREATE");
            props = merged(&props, &in_place.change);
            let updated =
                update_stack(svc, &id, name, case.template(name, &props, &json!({}))).await?;
            expect_status(&updated, "UPDATE_COMPLETE", "update in place")?;
            let events = stack_events(svc, &id).await;
            if starts(&events, "r", "CREATE") != creates || starts(&events, "r", "UPDATE") == 0 {
                return Err("not updated in place".into());
            }
            let before = now;
            now = ids(svc, &id, &case.fixtures).await;
            if in_place.same_id && id_of(&now) != id_of(&before) {
                return Err(format!(
                    "in place, yet {} became {}",
                    id_of(&before),
                    id_of(&now)
                ));
            }
            let shown = (case.probe)(&now).look(session).await?.unwrap_or_default();
            let wanted = match &in_place.shows {
                Shown::Value(value) => value.clone(),
                Shown::IdOf(name) => json!(physical(&now, name)),
            };
            let got = shown.pointer(&in_place.at).cloned().unwrap_or_default();
            if got != wanted {
                return Err(format!("in place: {} is {got}, not {wanted}", in_place.at));
            }
        }
        let deleted = delete_stack(svc, &id).await?;
        expect_status(&deleted, "DELETE_COMPLETE", "delete")?;
        if (case.probe)(&now).look(session).await?.is_some() {
            return Err(format!("{} left behind by the delete", id_of(&now)));
        }
        left_behind(session, name).await
    })
    .await
}

fn id_of(ids: &Ids) -> &str {
    physical(ids, "r")
}

/// Create → deleted through the service → stack delete.
async fn gone_outside(
    svc: &Service,
    session: &Session,
    case: &Case,
    name: &str,
) -> Result<(), String> {
    let request = stack_request(name, case.template(name, &case.props, &json!({})), false);
    on_stack(svc, request, |id, created| async move {
        expect_status(&created, "CREATE_COMPLETE", "create")?;
        let now = ids(svc, &id, &case.fixtures).await;
        (case.outside)(&now)
            .send(session)
            .await
            .map_err(|e| format!("deleting outside Ember: {e}"))?;
        let deleted = delete_stack(svc, &id).await?;
        expect_status(&deleted, "DELETE_COMPLETE", "delete of what is gone")?;
        if (case.probe)(&now).look(session).await?.is_some() {
            return Err(format!("{} still there", id_of(&now)));
        }
        left_behind(session, name).await
    })
    .await
}

/// The resource, then a refused one: the service's words are the reason, and the rollback
/// removes the resource.
async fn refusal(
    svc: &Service,
    session: &Session,
    case: &Case,
    name: &str,
    (extra, says): &(Value, &'static str),
) -> Result<(), String> {
    let mut extra = extra.clone();
    extra["bad"]["depends_on"] = json!("r");
    let request = stack_request(name, case.template(name, &case.props, &extra), true);
    on_stack(svc, request, |id, finished| async move {
        let events = stack_events(svc, &id).await;
        let failure = events
            .iter()
            .find(|e| e["resource_name"] == "bad" && e["resource_status"] == "CREATE_FAILED")
            .ok_or_else(|| {
                // Say what happened instead, so an intermittent failure explains itself.
                let seen: Vec<String> = events
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {} {}",
                            e["resource_name"], e["resource_status"], e["resource_status_reason"]
                        )
                    })
                    .collect();
                format!("bad never failed: {}; events: {seen:#?}", reason(&finished))
            })?;
        let why = failure["resource_status_reason"]
            .as_str()
            .unwrap_or_default();
        if !why.contains(says) || !why.contains(": resources.bad: ") {
            return Err(format!("reason {why:?} lacks {says:?}"));
        }
        let stack_failed = events.iter().any(|e| {
            e["resource_name"] == name.to_string().as_str()
                && e["resource_status"] == "CREATE_FAILED"
                && e["resource_status_reason"] == format!("Resource CREATE failed: {why}").as_str()
        });
        if !stack_failed {
            return Err("no stack CREATE_FAILED event with the resource's reason".into());
        }
        expect_status(&finished, "ROLLBACK_COMPLETE", "rollback")?;
        let created = events
            .iter()
            .find(|e| e["resource_name"] == "r" && e["resource_status"] == "CREATE_COMPLETE")
            .ok_or("r was never created")?;
        let mut made = case.fixtures.clone();
        for event in events
            .iter()
            .filter(|e| e["resource_status"] == "CREATE_COMPLETE")
        {
            made.insert(
                event["resource_name"].as_str().unwrap_or_default().into(),
                event["physical_resource_id"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            );
        }
        if (case.probe)(&made).look(session).await?.is_some() {
            return Err(format!(
                "rollback left {} behind",
                created["physical_resource_id"]
            ));
        }
        let left = svc
            .list_resources(&cx(), &id, false)
            .await
            .map_err(|e| e.to_string())?;
        if !left.is_empty() {
            return Err(format!("resources after the rollback: {left:?}"));
        }
        left_behind(session, name).await?;
        let deleted = delete_stack(svc, &id).await?;
        expect_status(&deleted, "DELETE_COMPLETE", "delete after rollback")
    })
    .await
}

/// The three stacks of one case, at once.
async fn run_case(users: Arc<[Session; 2]>, case: Case) -> Result<(), String> {
    let [demo, admin] = &*users;
    let session = if case.admin { admin } else { demo };
    let svc = lab_service(session);
    let stem = format!("mx-{}-{}", case.name.replace('_', "-"), suffix());
    let refused = async {
        match &case.refused {
            Some(refused) => {
                refusal(&svc, session, &case, &format!("{stem}-refused"), refused).await
            }
            None => Ok(()),
        }
    };
    let whole = format!("{stem}-lifecycle");
    let outside = format!("{stem}-outside");
    let (a, b, c) = if case.serial {
        (
            lifecycle(&svc, session, &case, &whole).await,
            gone_outside(&svc, session, &case, &outside).await,
            refused.await,
        )
    } else {
        tokio::join!(
            lifecycle(&svc, session, &case, &whole),
            gone_outside(&svc, session, &case, &outside),
            refused
        )
    };
    let failures: Vec<String> = [("lifecycle", a), ("outside", b), ("refusal", c)]
        .into_iter()
        .filter_map(|(step, outcome)| outcome.err().map(|e| format!("{step}: {e}")))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("[{}] {}", case.name, failures.join("; ")))
    }
}

/// Runs the cases at once (the lab takes a few stacks in parallel) as `demo` (or `admin` for
/// the admin-only types) and reports every failure.
async fn run_cases(demo: &Session, admin: &Session, cases: Vec<Case>) {
    let users = Arc::new([demo.clone(), admin.clone()]);
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut running = tokio::task::JoinSet::new();
    for case in cases {
        let (users, limit) = (users.clone(), limit.clone());
        running.spawn(async move {
            let _turn = limit.acquire_owned().await.expect("semaphore open");
            run_case(users, case).await
        });
    }
    let mut failures = Vec::new();
    while let Some(outcome) = running.join_next().await {
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => failures.push(failure),
            Err(panic) => failures.push(panic.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn project_id(session: &Session) -> String {
    session
        .token()
        .await
        .expect("token")
        .project_id
        .unwrap_or_default()
}

/// Neutron shows a `kind` at `/<kinds>/<id>` under its key, and deletes it there.
fn neutron_probe(kind: NeutronKind, ids: &Ids) -> Probe {
    let path = format!("{}/{}", kind.path(), id_of(ids));
    Probe::new(ServiceType::Network, path, &format!("/{}", kind.key()))
}

fn neutron_delete(kind: NeutronKind, ids: &Ids) -> Call {
    Call::delete(
        ServiceType::Network,
        format!("{}/{}", kind.path(), id_of(ids)),
    )
}

fn net() -> Value {
    json!({"type": "OS::Neutron::Net"})
}

fn subnet(net: &str, cidr: &str) -> Value {
    json!({"type": "OS::Neutron::Subnet", "properties": {"network": {"get_resource": net}, "cidr": cidr}})
}

fn port_props(net: &str, subnet: &str) -> Value {
    json!({"network": {"get_resource": net}, "fixed_ips": [{"subnet": {"get_resource": subnet}}]})
}

fn port(net: &str, subnet: &str) -> Value {
    json!({"type": "OS::Neutron::Port", "properties": port_props(net, subnet)})
}

fn gateway_router() -> Value {
    json!({"type": "OS::Neutron::Router", "properties": {"external_gateway_info": {"network": "public"}}})
}

fn interface_props(router: &str, subnet: &str) -> Value {
    json!({"router": {"get_resource": router}, "subnet": {"get_resource": subnet}})
}

fn floating_ip() -> Value {
    json!({"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public"}})
}

fn tcp(port: u16) -> Value {
    json!({"protocol": "tcp", "port_range_min": port, "port_range_max": port, "remote_ip_prefix": "0.0.0.0/0"})
}

/// `field` set to `value` in place, which the service shows under the same name.
fn changed(field: &str, value: Value) -> Option<InPlace> {
    Some(InPlace {
        change: json!({ field: value.clone() }),
        at: format!("/{field}"),
        shows: Shown::Value(value),
        same_id: true,
    })
}

/// A rename, which every type with a `name` takes in place.
fn renamed(name: &str) -> Option<InPlace> {
    changed("name", json!(name))
}

/// A resource `bad` of `type_name` with `props`, which the service refuses with `words` in
/// its reason.
fn bad(type_name: &str, props: Value, words: &'static str) -> Option<(Value, &'static str)> {
    Some((
        json!({"bad": {"type": type_name, "properties": props}}),
        words,
    ))
}

/// `<router>:subnet_id=<subnet>`, a RouterInterface's physical id, split.
fn router_and_subnet(ids: &Ids) -> (&str, &str) {
    id_of(ids).split_once(":subnet_id=").unwrap_or_default()
}

fn neutron_cases(s: &str, project: &str) -> Vec<Case> {
    let reachable = json!({"net": net(), "subnet": subnet("net", "10.81.0.0/24"), "router": gateway_router(),
        "ri": {"type": "OS::Neutron::RouterInterface", "properties": interface_props("router", "subnet")},
        "port": port("net", "subnet"),
    });
    let rule = |port: u16| {
        merged(
            &tcp(port),
            &json!({"security_group": {"get_resource": "sg"}}),
        )
    };
    vec![
        Case {
            replace: Some(json!({ "tenant_id": project })),
            in_place: renamed(&format!("mx-net-{s}-2")),
            refused: bad(
                "OS::Neutron::Net",
                json!({"value_specs": {"no_such_field": 1}}),
                "Unrecognized attribute(s) 'no_such_field'",
            ),
            ..Case::new(
                "net",
                "OS::Neutron::Net",
                json!({"name": format!("mx-net-{s}")}),
                |ids| neutron_probe(NeutronKind::Network, ids),
                |ids| neutron_delete(NeutronKind::Network, ids),
            )
        },
        Case {
            needs: json!({"net": net()}),
            replace: Some(json!({"cidr": "10.80.1.0/24"})),
            in_place: renamed("renamed"),
            refused: bad(
                "OS::Neutron::Subnet",
                json!({"network": {"get_resource": "net"},
                    "cidr": "10.80.2.0/24", "allocation_pools": [{"start": "10.99.0.10", "end": "10.99.0.20"}]}),
                "spans beyond the subnet cidr",
            ),
            ..Case::new(
                "subnet",
                "OS::Neutron::Subnet",
                json!({"network": {"get_resource": "net"}, "cidr": "10.80.0.0/24"}),
                |ids| neutron_probe(NeutronKind::Subnet, ids),
                |ids| neutron_delete(NeutronKind::Subnet, ids),
            )
        },
        // Neutron's policy keeps `shared` to admins: a demo user's shared scope or pool is
        // refused by the service.
        Case {
            replace: Some(json!({"ip_version": 6})),
            in_place: renamed("renamed"),
            refused: bad(
                "OS::Neutron::AddressScope",
                json!({"ip_version": 4, "shared": true}),
                "disallowed by policy",
            ),
            ..Case::new(
                "address_scope",
                "OS::Neutron::AddressScope",
                json!({"name": "STACK", "ip_version": 4}),
                |ids| neutron_probe(NeutronKind::AddressScope, ids),
                |ids| neutron_delete(NeutronKind::AddressScope, ids),
            )
        },
        Case {
            in_place: renamed("renamed"),
            refused: bad(
                "OS::Neutron::SubnetPool",
                json!({"prefixes": ["10.231.0.0/16"], "shared": true}),
                "disallowed by policy",
            ),
            ..Case::new(
                "subnet_pool",
                "OS::Neutron::SubnetPool",
                json!({"name": "STACK", "prefixes": ["10.230.0.0/16"], "default_prefixlen": 24}),
                |ids| neutron_probe(NeutronKind::SubnetPool, ids),
                |ids| neutron_delete(NeutronKind::SubnetPool, ids),
            )
        },
        Case {
            needs: json!({"net": net(), "subnet": subnet("net", "10.82.0.0/24")}),
            replace: Some(json!({"mac_address": "fa:16:3e:00:82:01"})),
            in_place: renamed("renamed"),
            refused: bad(
                "OS::Neutron::Port",
                json!({"network": {"get_resource": "net"},
                    "fixed_ips": [{"subnet": {"get_resource": "subnet"}, "ip_address": "10.99.0.5"}]}),
                "10.99.0.5",
            ),
            ..Case::new(
                "port",
                "OS::Neutron::Port",
                port_props("net", "subnet"),
                |ids| neutron_probe(NeutronKind::Port, ids),
                |ids| neutron_delete(NeutronKind::Port, ids),
            )
        },
        Case {
            replace: Some(json!({ "tenant_id": project })),
            in_place: renamed("renamed"),
            refused: Some((
                json!({"inner": net(), "bad": {"type": "OS::Neutron::Router", "properties": {
                    "external_gateway_info": {"network": {"get_resource": "inner"}}}}}),
                "external network",
            )),
            ..Case::new(
                "router",
                "OS::Neutron::Router",
                json!({"external_gateway_info": {"network": "public"}}),
                |ids| neutron_probe(NeutronKind::Router, ids),
                |ids| neutron_delete(NeutronKind::Router, ids),
            )
        },
        Case {
            needs: json!({"net": net(), "subnet": subnet("net", "10.83.0.0/24"),
                "net2": net(), "subnet2": subnet("net2", "10.83.1.0/24"), "router": gateway_router(),
            }),
            replace: Some(json!({"subnet": {"get_resource": "subnet2"}})),
            refused: bad(
                "OS::Neutron::RouterInterface",
                interface_props("router", "subnet"),
                "already has a port on subnet",
            ),
            ..Case::new(
                "router_interface",
                "OS::Neutron::RouterInterface",
                interface_props("router", "subnet"),
                // The router's port on the subnet.
                |ids| {
                    let (router, subnet) = router_and_subnet(ids);
                    Probe {
                        call: Call::get(ServiceType::Network, "/ports".into())
                            .query("device_id", router)
                            .query("fixed_ips", &format!("subnet_id={subnet}")),
                        at: "/ports/0".into(),
                    }
                },
                |ids| {
                    let (router, subnet) = router_and_subnet(ids);
                    Call::put(
                        ServiceType::Network,
                        format!("/routers/{router}/remove_router_interface"),
                        json!({ "subnet_id": subnet }),
                    )
                },
            )
        },
        Case {
            in_place: changed("description", json!("two")),
            refused: bad(
                "OS::Neutron::SecurityGroup",
                json!({"rules": [tcp(22), tcp(22)]}),
                "already exists",
            ),
            ..Case::new(
                "security_group",
                "OS::Neutron::SecurityGroup",
                json!({"name": format!("mx-sg-{s}"), "rules": [tcp(22)]}),
                |ids| neutron_probe(NeutronKind::SecurityGroup, ids),
                |ids| neutron_delete(NeutronKind::SecurityGroup, ids),
            )
        },
        Case {
            needs: json!({"sg": {"type": "OS::Neutron::SecurityGroup"}}),
            replace: Some(rule(2222)),
            refused: bad("OS::Neutron::SecurityGroupRule", rule(22), "already exists"),
            ..Case::new(
                "security_group_rule",
                "OS::Neutron::SecurityGroupRule",
                rule(22),
                |ids| neutron_probe(NeutronKind::SecurityGroupRule, ids),
                |ids| neutron_delete(NeutronKind::SecurityGroupRule, ids),
            )
        },
        Case {
            needs: reachable.clone(),
            replace: Some(json!({"value_specs": {"description": "replaced"}})),
            in_place: Some(InPlace {
                change: json!({"port_id": {"get_resource": "port"}}),
                at: "/port_id".into(),
                shows: Shown::IdOf("port"),
                same_id: true,
            }),
            refused: bad(
                "OS::Neutron::FloatingIP",
                json!({"floating_network": {"get_resource": "net"}}),
                "external network",
            ),
            ..Case::new(
                "floating_ip",
                "OS::Neutron::FloatingIP",
                json!({"floating_network": "public"}),
                |ids| neutron_probe(NeutronKind::FloatingIp, ids),
                |ids| neutron_delete(NeutronKind::FloatingIp, ids),
            )
        },
        Case {
            needs: merged(
                &reachable,
                &json!({"port2": port("net", "subnet"), "fip": floating_ip()}),
            ),
            in_place: Some(InPlace {
                change: json!({"port_id": {"get_resource": "port2"}}),
                at: "".into(),
                shows: Shown::IdOf("port2"),
                same_id: true,
            }),
            refused: Some((
                json!({"fip2": floating_ip(),
                    "bad": {"type": "OS::Neutron::FloatingIPAssociation", "properties": {
                        "floatingip_id": {"get_resource": "fip2"}, "port_id": {"get_resource": "port2"},
                        "fixed_ip_address": "10.99.9.9"}},
                }),
                "10.99.9.9",
            )),
            ..Case::new(
                "floating_ip_association",
                "OS::Neutron::FloatingIPAssociation",
                json!({"floatingip_id": {"get_resource": "fip"}, "port_id": {"get_resource": "port"}}),
                // Associated: the floating IP's port.
                |ids| {
                    let path = format!("/floatingips/{}", physical(ids, "fip"));
                    Probe::new(ServiceType::Network, path, "/floatingip/port_id")
                },
                |ids| {
                    Call::put(
                        ServiceType::Network,
                        format!("/floatingips/{}", physical(ids, "fip")),
                        json!({"floatingip": {"port_id": null}}),
                    )
                },
            )
        },
        Case {
            admin: true,
            in_place: renamed(&format!("mx-pnet-{s}-2")),
            refused: bad(
                "OS::Neutron::ProviderNet",
                json!({"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": "5000"}),
                "4094",
            ),
            ..Case::new(
                "provider_net",
                "OS::Neutron::ProviderNet",
                // Neutron picks the VLAN: the case's stacks make three such networks at once.
                json!({"name": format!("mx-pnet-{s}"), "network_type": "vlan", "physical_network": "physnet1",
                       "shared": false}),
                |ids| neutron_probe(NeutronKind::Network, ids),
                |ids| neutron_delete(NeutronKind::Network, ids),
            )
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neutron_matrix() {
    let Some(lab) = lab().await else { return };
    let cases = neutron_cases(&suffix(), &project_id(&lab.demo).await);
    run_cases(&lab.demo, &lab.admin, cases).await;
}

fn nova(path: String, at: &str) -> Probe {
    Probe::new(ServiceType::Compute, path, at)
}

/// A network of the stack's own for servers (the lab's `private-net` name is not unique).
fn server_network() -> Value {
    json!({"net": net(), "subnet": subnet("net", "10.84.0.0/24")})
}

fn server_props() -> Value {
    json!({"image": "cirros", "flavor": "m1.tiny", "networks": [{"network": {"get_resource": "net"}}],
           "user_data_format": "RAW", "user_data": "#!/bin/sh\necho one\n"})
}

fn nova_cases() -> Vec<Case> {
    vec![
        Case {
            admin: true,
            in_place: changed("availability_zone", json!("mx-zone")),
            refused: bad(
                "OS::Nova::HostAggregate",
                json!({"name": "STACK"}),
                "already exists",
            ),
            ..Case::new(
                "host_aggregate",
                "OS::Nova::HostAggregate",
                json!({"name": "STACK"}),
                |ids| {
                    let path = format!("/os-aggregates/{}", id_of(ids));
                    Probe::new(ServiceType::Compute, path, "/aggregate")
                },
                |ids| {
                    Call::delete(
                        ServiceType::Compute,
                        format!("/os-aggregates/{}", id_of(ids)),
                    )
                },
            )
        },
        Case {
            needs: server_network(),
            replace: Some(json!({"user_data": "#!/bin/sh\necho two\n"})),
            in_place: changed("metadata", json!({"role": "db"})),
            refused: bad(
                "OS::Nova::Server",
                merged(&server_props(), &json!({"availability_zone": "nowhere"})),
                "availability zone",
            ),
            serial: true,
            ..Case::new(
                "server",
                "OS::Nova::Server",
                server_props(),
                |ids| nova(format!("/servers/{}", id_of(ids)), "/server"),
                |ids| Call::delete(ServiceType::Compute, format!("/servers/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            replace: Some(json!({"ram": 128, "name": "STACK-2"})),
            in_place: Some(InPlace {
                change: json!({"extra_specs": {"hw:cpu_policy": "shared"}}),
                at: "/hw:cpu_policy".into(),
                shows: Shown::Value(json!("shared")),
                same_id: true,
            }),
            refused: bad(
                "OS::Nova::Flavor",
                json!({"name": "m1.tiny", "ram": 64, "vcpus": 1}),
                "already exists",
            ),
            ..Case::new(
                "flavor",
                "OS::Nova::Flavor",
                json!({"name": "STACK", "ram": 64, "vcpus": 1}),
                |ids| {
                    nova(
                        format!("/flavors/{}/os-extra_specs", id_of(ids)),
                        "/extra_specs",
                    )
                },
                |ids| Call::delete(ServiceType::Compute, format!("/flavors/{}", id_of(ids))),
            )
        },
        Case {
            replace: Some(json!({"name": "STACK-2"})),
            refused: bad(
                "OS::Nova::KeyPair",
                json!({"name": "STACK-bad", "public_key": "not a key"}),
                "Keypair data is invalid",
            ),
            ..Case::new(
                "key_pair",
                "OS::Nova::KeyPair",
                json!({"name": "STACK"}),
                |ids| nova(format!("/os-keypairs/{}", id_of(ids)), "/keypair"),
                |ids| Call::delete(ServiceType::Compute, format!("/os-keypairs/{}", id_of(ids))),
            )
        },
        Case {
            replace: Some(json!({"policies": ["affinity"]})),
            refused: bad(
                "OS::Nova::ServerGroup",
                json!({"policies": ["affinity"], "rules": {"max_server_per_host": 2}}),
                "anti-affinity",
            ),
            ..Case::new(
                "server_group",
                "OS::Nova::ServerGroup",
                json!({"name": "STACK", "policies": ["anti-affinity"]}),
                |ids| nova(format!("/os-server-groups/{}", id_of(ids)), "/server_group"),
                |ids| {
                    Call::delete(
                        ServiceType::Compute,
                        format!("/os-server-groups/{}", id_of(ids)),
                    )
                },
            )
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nova_matrix() {
    let Some(lab) = lab().await else { return };
    in_own_project(&lab, nova_cases()).await;
}

/// Runs cases that make servers in a project of their own: the Neutron race of [`Case::serial`]
/// is between any network delete and server create of one project.
async fn in_own_project(lab: &Lab, cases: Vec<Case>) {
    let project = FreshProject::new(lab, None).await;
    let (demo, admin) = (project.session.clone(), lab.admin.clone());
    let outcome = tokio::spawn(async move { run_cases(&demo, &admin, cases).await }).await;
    project.remove(lab).await;
    outcome.unwrap();
}

fn volume(size: u32) -> Value {
    json!({"type": "OS::Cinder::Volume", "properties": {"size": size}})
}

fn attachment(volume: &str) -> Value {
    json!({"instance_uuid": {"get_resource": "server"}, "volume_id": {"get_resource": volume}})
}

fn cinder_cases() -> Vec<Case> {
    vec![
        Case {
            admin: true,
            replace: Some(json!({"name": "STACK-2"})),
            in_place: changed("specs", json!({"read_iops_sec": "200"})),
            refused: bad(
                "OS::Cinder::QoSSpecs",
                json!({"name": "STACK", "specs": {}}),
                "already exists",
            ),
            ..Case::new(
                "qos_specs",
                "OS::Cinder::QoSSpecs",
                json!({"name": "STACK", "specs": {"read_iops_sec": "100"}}),
                |ids| {
                    let path = format!("/qos-specs/{}", id_of(ids));
                    Probe::new(ServiceType::BlockStorage, path, "/qos_specs")
                },
                |ids| {
                    Call::delete(
                        ServiceType::BlockStorage,
                        format!("/qos-specs/{}", id_of(ids)),
                    )
                },
            )
        },
        Case {
            replace: Some(json!({"availability_zone": "nova"})),
            in_place: changed("metadata", json!({"stage": "two"})),
            refused: bad(
                "OS::Cinder::Volume",
                json!({"size": 1, "availability_zone": "nowhere"}),
                "nowhere",
            ),
            ..Case::new(
                "volume",
                "OS::Cinder::Volume",
                json!({"size": 1, "name": "STACK"}),
                |ids| {
                    Probe::new(
                        ServiceType::BlockStorage,
                        format!("/volumes/{}", id_of(ids)),
                        "/volume",
                    )
                },
                |ids| {
                    Call::delete(
                        ServiceType::BlockStorage,
                        format!("/volumes/{}", id_of(ids)),
                    )
                },
            )
        },
        Case {
            needs: merged(
                &server_network(),
                &json!({"server": {"type": "OS::Nova::Server", "properties": server_props()},
                        "vol": volume(1), "vol2": volume(1)}),
            ),
            in_place: Some(InPlace {
                change: attachment("vol2"),
                at: "/volumeId".into(),
                shows: Shown::IdOf("vol2"),
                same_id: false,
            }),
            refused: bad("OS::Cinder::VolumeAttachment", attachment("vol"), "vol"),
            serial: true,
            ..Case::new(
                "volume_attachment",
                "OS::Cinder::VolumeAttachment",
                attachment("vol"),
                // The server's attachment of the volume.
                |ids| {
                    let path = format!(
                        "/servers/{}/os-volume_attachments/{}",
                        physical(ids, "server"),
                        id_of(ids)
                    );
                    nova(path, "/volumeAttachment")
                },
                |ids| {
                    let path = format!(
                        "/servers/{}/os-volume_attachments/{}",
                        physical(ids, "server"),
                        id_of(ids)
                    );
                    Call::delete(ServiceType::Compute, path)
                },
            )
        },
        Case {
            admin: true,
            in_place: changed("description", json!("two")),
            refused: bad(
                "OS::Cinder::VolumeType",
                json!({"name": "__DEFAULT__"}),
                "already exists",
            ),
            ..Case::new(
                "volume_type",
                "OS::Cinder::VolumeType",
                json!({"name": "STACK"}),
                |ids| {
                    Probe::new(
                        ServiceType::BlockStorage,
                        format!("/types/{}", id_of(ids)),
                        "/volume_type",
                    )
                },
                |ids| Call::delete(ServiceType::BlockStorage, format!("/types/{}", id_of(ids))),
            )
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cinder_matrix() {
    let Some(lab) = lab().await else { return };
    in_own_project(&lab, cinder_cases()).await;
}

fn image_props(type_name: &str, url: &str) -> Value {
    let mut props = json!({"location": url, "disk_format": "raw", "container_format": "bare"});
    if type_name == "OS::Glance::Image" {
        props["is_public"] = json!(false);
    }
    props
}

fn glance_cases(url: &str) -> Vec<Case> {
    ["OS::Glance::WebImage", "OS::Glance::Image"]
        .into_iter()
        .map(|type_name| Case {
            replace: Some(json!({ "location": format!("{url}?v2") })),
            in_place: changed("os_distro", json!("ubuntu")),
            refused: bad(
                type_name,
                image_props(type_name, "http://127.0.0.1:9/nothing"),
                "import failed",
            ),
            ..Case::new(
                if type_name == "OS::Glance::Image" {
                    "image"
                } else {
                    "web_image"
                },
                type_name,
                image_props(type_name, url),
                |ids| Probe::new(ServiceType::Image, format!("/images/{}", id_of(ids)), ""),
                |ids| Call::delete(ServiceType::Image, format!("/images/{}", id_of(ids))),
            )
        })
        .collect()
}

/// A Swift container (the physical id is its name) as the service shows it.
fn swift_probe(ids: &Ids) -> Probe {
    Probe::new(ServiceType::ObjectStore, format!("/{}", id_of(ids)), "")
}

fn swift_delete(ids: &Ids) -> Call {
    Call::delete(ServiceType::ObjectStore, format!("/{}", id_of(ids)))
}

/// Every change of a container or bucket replaces it (as in Heat); Swift refuses a referrer in
/// a write ACL.
fn swift_cases() -> Vec<Case> {
    const NO_REFERRER: &str = "Referrers not allowed in write ACL";
    vec![
        Case {
            replace: Some(json!({"name": "mx-c2-STACK"})),
            refused: bad(
                "OS::Swift::Container",
                json!({"name": "mx-bad-STACK", "X-Container-Write": ".r:*"}),
                NO_REFERRER,
            ),
            ..Case::new(
                "container",
                "OS::Swift::Container",
                json!({"name": "mx-c-STACK"}),
                swift_probe,
                swift_delete,
            )
        },
        Case {
            replace: Some(json!({"AccessControl": "PublicRead"})),
            refused: bad(
                "AWS::S3::Bucket",
                json!({"AccessControl": "PublicReadWrite"}),
                NO_REFERRER,
            ),
            ..Case::new(
                "bucket",
                "AWS::S3::Bucket",
                json!({"AccessControl": "Private"}),
                swift_probe,
                swift_delete,
            )
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swift_matrix() {
    let Some(lab) = lab().await else { return };
    run_cases(&lab.demo, &lab.admin, swift_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glance_matrix() {
    let Some(lab) = lab().await else { return };
    let url = serve(vec![3u8; 4096]).await;
    run_cases(&lab.demo, &lab.admin, glance_cases(&url)).await;
}

fn keystone(path: String, at: &str) -> Probe {
    Probe::new(ServiceType::Identity, path, at)
}

fn role() -> Value {
    json!({"type": "OS::Keystone::Role"})
}

/// The grants on the stack's project, named.
fn project_grants(ids: &Ids) -> Probe {
    Probe {
        call: Call::get(ServiceType::Identity, "/role_assignments".into())
            .query("scope.project.id", physical(ids, "project")),
        at: "/role_assignments/0".into(),
    }
}

fn keystone_cases(s: &str, group: &str) -> Vec<Case> {
    let grant = |role: &str| json!([{"role": {"get_resource": role}, "project": {"get_resource": "project"}}]);
    let grant_needs =
        json!({"project": {"type": "OS::Keystone::Project"}, "role1": role(), "role2": role()});
    // An assignment's grant moved from role1 to role2 in place.
    let regranted = || {
        Some(InPlace {
            change: json!({"roles": grant("role2")}),
            at: "/role/id".into(),
            shows: Shown::IdOf("role2"),
            same_id: true,
        })
    };
    // The assignment types take no input Keystone refuses (see the table); the rollback after a
    // project Keystone refuses still has to revoke the grant.
    let project_taken = || bad("OS::Keystone::Project", json!({"name": "demo"}), "Conflict");
    vec![
        Case {
            admin: true,
            replace: Some(json!({"parent": "demo", "name": "STACK-2"})),
            in_place: changed("description", json!("two")),
            refused: project_taken(),
            ..Case::new(
                "project",
                "OS::Keystone::Project",
                json!({"name": "STACK", "description": "one"}),
                |ids| keystone(format!("/projects/{}", id_of(ids)), "/project"),
                |ids| Call::delete(ServiceType::Identity, format!("/projects/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            in_place: changed("email", json!("mx@example.com")),
            refused: bad("OS::Keystone::User", json!({"name": "demo"}), "Conflict"),
            ..Case::new(
                "user",
                "OS::Keystone::User",
                json!({"name": "STACK"}),
                |ids| keystone(format!("/users/{}", id_of(ids)), "/user"),
                |ids| Call::delete(ServiceType::Identity, format!("/users/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            replace: Some(json!({"domain": "default", "name": "STACK-2"})),
            in_place: renamed(&format!("mx-role3-{s}")),
            refused: bad("OS::Keystone::Role", json!({"name": "member"}), "Conflict"),
            ..Case::new(
                "role",
                "OS::Keystone::Role",
                json!({"name": "STACK"}),
                |ids| keystone(format!("/roles/{}", id_of(ids)), "/role"),
                |ids| Call::delete(ServiceType::Identity, format!("/roles/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            replace: Some(json!({"id": "STACK-2"})),
            in_place: changed("description", json!("two")),
            refused: bad(
                "OS::Keystone::Region",
                json!({"id": "RegionOne"}),
                "Conflict",
            ),
            ..Case::new(
                "region",
                "OS::Keystone::Region",
                json!({"id": "STACK", "description": "one"}),
                |ids| keystone(format!("/regions/{}", id_of(ids)), "/region"),
                |ids| Call::delete(ServiceType::Identity, format!("/regions/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            in_place: changed("description", json!("two")),
            refused: bad(
                "OS::Keystone::Service",
                json!({"type": "t".repeat(300)}),
                "Invalid input",
            ),
            ..Case::new(
                "service",
                "OS::Keystone::Service",
                json!({"name": "STACK", "type": "mx-STACK", "description": "one"}),
                |ids| keystone(format!("/services/{}", id_of(ids)), "/service"),
                |ids| Call::delete(ServiceType::Identity, format!("/services/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            in_place: changed("description", json!("two")),
            refused: bad("OS::Keystone::Group", json!({"name": "STACK"}), "Conflict"),
            ..Case::new(
                "group",
                "OS::Keystone::Group",
                json!({"name": "STACK", "description": "one"}),
                |ids| keystone(format!("/groups/{}", id_of(ids)), "/group"),
                |ids| Call::delete(ServiceType::Identity, format!("/groups/{}", id_of(ids))),
            )
        },
        Case {
            admin: true,
            needs: merged(
                &grant_needs,
                &json!({"user": {"type": "OS::Keystone::User"}}),
            ),
            in_place: regranted(),
            refused: project_taken(),
            ..Case::new(
                "user_role_assignment",
                "OS::Keystone::UserRoleAssignment",
                json!({"user": {"get_resource": "user"}, "roles": grant("role1")}),
                project_grants,
                // The grant the stack made.
                |ids| {
                    let path = format!(
                        "/projects/{}/users/{}/roles/{}",
                        physical(ids, "project"),
                        physical(ids, "user"),
                        physical(ids, "role1")
                    );
                    Call::delete(ServiceType::Identity, path)
                },
            )
        },
        Case {
            admin: true,
            needs: grant_needs,
            in_place: regranted(),
            fixtures: Ids::from([("group".to_string(), group.to_string())]),
            refused: project_taken(),
            ..Case::new(
                "group_role_assignment",
                "OS::Keystone::GroupRoleAssignment",
                json!({"group": group, "roles": grant("role1")}),
                project_grants,
                |ids| {
                    let path = format!(
                        "/projects/{}/groups/{}/roles/{}",
                        physical(ids, "project"),
                        physical(ids, "group"),
                        physical(ids, "role1")
                    );
                    Call::delete(ServiceType::Identity, path)
                },
            )
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_matrix() {
    let Some(lab) = lab().await else { return };
    let s = suffix();
    let identity = Identity::new(&lab.admin).await.unwrap();
    let group = identity
        .create(
            IdentityKind::Group,
            json!({"name": format!("mx-group-{s}"), "domain_id": "default"}),
        )
        .await
        .unwrap();
    let group = group["id"].as_str().unwrap().to_string();
    let cases = keystone_cases(&s, &group);
    let (demo, admin) = (lab.demo.clone(), lab.admin.clone());
    let outcome = tokio::spawn(async move { run_cases(&demo, &admin, cases).await }).await;
    identity.delete(IdentityKind::Group, &group).await.unwrap();
    outcome.unwrap();
}

fn aodh_cases(s: &str) -> Vec<Case> {
    let resource = uuid::Uuid::new_v4().to_string();
    let metric = uuid::Uuid::new_v4().to_string();
    let threshold_rule = |threshold: u32| {
        json!({"type": "gnocchi_resources_threshold", "metric": "cpu_util", "resource_type": "instance",
               "resource_id": resource, "threshold": threshold, "aggregation_method": "mean",
               "comparison_operator": "gt"})
    };
    let threshold = |rule: Value| {
        merged(
            &json!({"threshold": 50, "aggregation_method": "mean", "granularity": 300}),
            &rule,
        )
    };
    let kinds = [
        (
            "resources",
            "OS::Aodh::GnocchiResourcesAlarm",
            threshold(
                json!({"metric": "cpu_util", "resource_type": "instance", "resource_id": resource}),
            ),
            "/gnocchi_resources_threshold_rule/threshold",
        ),
        (
            "by_metrics",
            "OS::Aodh::GnocchiAggregationByMetricsAlarm",
            threshold(json!({"metrics": [metric]})),
            "/gnocchi_aggregation_by_metrics_threshold_rule/threshold",
        ),
        (
            "by_resources",
            "OS::Aodh::GnocchiAggregationByResourcesAlarm",
            threshold(json!({"metric": "cpu_util", "resource_type": "instance",
                "query": json!({"=": {"server_group": format!("mx-{s}")}}).to_string()})),
            "/gnocchi_aggregation_by_resources_threshold_rule/threshold",
        ),
        (
            "event",
            "OS::Aodh::EventAlarm",
            json!({"event_type": "compute.instance.create"}),
            "",
        ),
        (
            "composite",
            "OS::Aodh::CompositeAlarm",
            json!({"composite_rule": {"operator": "or", "rules": [threshold_rule(50), threshold_rule(90)]}}),
            "",
        ),
    ];
    kinds
        .into_iter()
        .map(|(name, type_name, props, threshold_at)| {
            // Event and composite alarms have no threshold: their description changes instead.
            let in_place = if threshold_at.is_empty() {
                changed("description", json!("two"))
            } else {
                Some(InPlace {
                    change: json!({"threshold": 60}),
                    at: threshold_at.into(),
                    shows: Shown::Value(json!(60.0)),
                    same_id: true,
                })
            };
            Case {
                replace: Some(json!({"time_constraints": [{"name": "night", "start": "0 23 * * *", "duration": 3600}]})),
                in_place,
                refused: bad(type_name, merged(&props, &json!({"alarm_actions": ["nosuch://x"]})), "nosuch"),
                ..Case::new(
                    name,
                    type_name,
                    props,
                    |ids| Probe::new(ServiceType::Alarming, format!("/alarms/{}", id_of(ids)), ""),
                    |ids| Call::delete(ServiceType::Alarming, format!("/alarms/{}", id_of(ids))),
                )
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aodh_matrix() {
    let Some(lab) = lab().await else { return };
    if lab.demo.service(ServiceType::Alarming).await.is_err() {
        assert!(!ember_lab::required(), "no Aodh in the lab");
        return eprintln!("skipped: the lab runs without Aodh (LAB_SERVICES=\"default aodh\")");
    }
    run_cases(&lab.demo, &lab.admin, aodh_cases(&suffix())).await;
}

/// A project of the test's own with a member user, so that its inventory is the test's alone;
/// with `nova_quota` (`{"instances": 0}`: the stack's server fails at Nova, after the resources
/// it needs were made).
struct FreshProject {
    id: String,
    user: String,
    session: Session,
}

impl FreshProject {
    async fn new(lab: &Lab, nova_quota: Option<Value>) -> FreshProject {
        let s = suffix();
        let identity = Identity::new(&lab.admin).await.unwrap();
        let project = identity
            .create(
                IdentityKind::Project,
                json!({"name": format!("mx-rb-{s}"), "domain_id": "default"}),
            )
            .await
            .unwrap();
        let id = project["id"].as_str().unwrap().to_string();
        let password = suffix();
        let user = identity
            .create(
                IdentityKind::User,
                json!({"name": format!("mx-rb-{s}"), "password": password, "domain_id": "default"}),
            )
            .await
            .unwrap();
        let user = user["id"].as_str().unwrap().to_string();
        let member = identity.find(IdentityKind::Role, "member").await.unwrap();
        identity
            .grant(
                &format!("/projects/{id}"),
                &format!("/users/{user}"),
                member["id"].as_str().unwrap(),
            )
            .await
            .unwrap();
        if let Some(quota) = nova_quota {
            let path = format!("/os-quota-sets/{id}");
            let body = json!({ "quota_set": quota });
            Call::put(ServiceType::Compute, path, body)
                .send(&lab.admin)
                .await
                .unwrap();
        }
        let mut config = lab.demo.config().clone();
        config.credentials = Credentials::Password {
            user: NameOrId::Id(user.clone()),
            password,
        };
        config.scope = Scope::Project(NameOrId::Id(id.clone()));
        let session = Session::connect(config).await.unwrap();
        FreshProject { id, user, session }
    }

    /// Removes the project, its user and the default security group Neutron made for it.
    async fn remove(self, lab: &Lab) {
        let groups = Call::get(ServiceType::Network, "/security-groups".into())
            .query("project_id", &self.id)
            .send(&lab.admin)
            .await
            .unwrap();
        for group in groups["security_groups"].as_array().into_iter().flatten() {
            let path = format!(
                "/security-groups/{}",
                group["id"].as_str().unwrap_or_default()
            );
            Call::delete(ServiceType::Network, path)
                .send(&lab.admin)
                .await
                .unwrap();
        }
        let identity = Identity::new(&lab.admin).await.unwrap();
        identity
            .delete(IdentityKind::User, &self.user)
            .await
            .unwrap();
        identity
            .delete(IdentityKind::Project, &self.id)
            .await
            .unwrap();
    }
}

/// Net, subnet, security group, port, volume, then a server on the port (the one Nova refuses).
fn half_created_stack() -> Value {
    json!({"heat_template_version": "2018-08-31", "resources": {
        "net": net(),
        "subnet": subnet("net", "10.85.0.0/24"),
        "sg": {"type": "OS::Neutron::SecurityGroup", "properties": {"rules": [tcp(22)]}},
        "port": {"type": "OS::Neutron::Port", "properties": merged(&port_props("net", "subnet"),
            &json!({"security_groups": [{"get_resource": "sg"}]}))},
        "volume": volume(1),
        "server": {"type": "OS::Nova::Server", "properties": {"image": "cirros", "flavor": "m1.tiny",
            "networks": [{"port": {"get_resource": "port"}}]}},
    }})
}

const QUOTA_REFUSAL: &str = "Quota exceeded for instances";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_a_half_created_stack_leaves_nothing() {
    let Some(lab) = lab().await else { return };
    let project = FreshProject::new(&lab, Some(json!({"instances": 0}))).await;
    let before = inventory(&project.session).await.unwrap();
    let svc = lab_service(&project.session);
    let name = format!("mx-rollback-{}", suffix());
    let (id, stack) = create_stack(&svc, stack_request(&name, half_created_stack(), true))
        .await
        .unwrap();
    let events = stack_events(&svc, &id).await;
    let after = inventory(&project.session).await.unwrap();
    let left = svc.list_resources(&cx(), &id, false).await.unwrap();
    delete_stack(&svc, &id).await.unwrap();
    project.remove(&lab).await;

    assert_eq!(status(&stack), "ROLLBACK_COMPLETE", "{}", reason(&stack));
    assert_eq!(reason(&stack), "Stack ROLLBACK completed successfully");
    assert_eq!(after, before, "every service holds what it held before");
    assert!(left.is_empty(), "{left:?}");
    // Heat's events: the stack's create fails with the server's reason, a rollback starts, every
    // resource that was made is deleted, the rollback completes.
    let failed = events
        .iter()
        .find(|e| e["resource_name"] == "server" && e["resource_status"] == "CREATE_FAILED")
        .expect("the server failed");
    let why = failed["resource_status_reason"].as_str().unwrap();
    assert!(
        why.starts_with("Forbidden: resources.server: ") && why.contains(QUOTA_REFUSAL),
        "{why}"
    );
    let stack_line = |status: &str, reason: String| {
        events.iter().position(|e| {
            e["resource_name"] == name.as_str()
                && e["resource_status"] == status
                && e["resource_status_reason"] == reason.as_str()
        })
    };
    let create_failed = stack_line("CREATE_FAILED", format!("Resource CREATE failed: {why}"))
        .expect("stack CREATE_FAILED");
    let rollback_started = stack_line("ROLLBACK_IN_PROGRESS", "Stack ROLLBACK started".into())
        .expect("rollback started");
    let rollback_done = stack_line(
        "ROLLBACK_COMPLETE",
        "Stack ROLLBACK completed successfully".into(),
    )
    .expect("rollback done");
    assert!(create_failed < rollback_started && rollback_started < rollback_done);
    let seen = common::events(&svc, &id).await;
    for resource in ["net", "subnet", "sg", "port", "volume"] {
        let at = |status: &str| {
            seen.iter()
                .position(|(n, s, _)| n == resource && s == status)
        };
        let created =
            at("CREATE_COMPLETE").unwrap_or_else(|| panic!("{resource} created: {seen:?}"));
        let deleting =
            at("DELETE_IN_PROGRESS").unwrap_or_else(|| panic!("{resource} deleting: {seen:?}"));
        let deleted =
            at("DELETE_COMPLETE").unwrap_or_else(|| panic!("{resource} deleted: {seen:?}"));
        assert!(
            created < create_failed
                && rollback_started < deleting
                && deleting < deleted
                && deleted < rollback_done,
            "{resource}: {seen:?}"
        );
        for at in [deleting, deleted] {
            assert_eq!(events[at]["resource_status_reason"], "state changed");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rollback_the_failed_stack_stays_until_deleted() {
    let Some(lab) = lab().await else { return };
    let project = FreshProject::new(&lab, Some(json!({"instances": 0}))).await;
    let before = inventory(&project.session).await.unwrap();
    let svc = lab_service(&project.session);
    let name = format!("mx-no-rollback-{}", suffix());
    let (id, stack) = create_stack(&svc, stack_request(&name, half_created_stack(), false))
        .await
        .unwrap();
    let kept = svc.list_resources(&cx(), &id, false).await.unwrap();
    let during = inventory(&project.session).await.unwrap();
    let deleted = delete_stack(&svc, &id).await.unwrap();
    let after = inventory(&project.session).await.unwrap();
    project.remove(&lab).await;

    assert_eq!(status(&stack), "CREATE_FAILED", "{}", reason(&stack));
    assert!(
        reason(&stack).starts_with("Resource CREATE failed: Forbidden: resources.server: ")
            && reason(&stack).contains(QUOTA_REFUSAL),
        "{}",
        reason(&stack)
    );
    let state = |name: &str| {
        kept.iter().find(|r| r["resource_name"] == name).map(|r| {
            r["resource_status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    };
    for resource in ["net", "subnet", "sg", "port", "volume"] {
        assert_eq!(
            state(resource).as_deref(),
            Some("CREATE_COMPLETE"),
            "{resource}"
        );
    }
    assert_eq!(state("server").as_deref(), Some("CREATE_FAILED"));
    assert_ne!(
        during, before,
        "the failed stack's resources stay until deleted"
    );
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));
    assert_eq!(after, before, "the delete leaves nothing");
}

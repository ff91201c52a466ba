//! Driving resource types against ../shared/openstack-lab the way the engine drives them (start,
//! then one-look checks at the interval the type asks for), shared by every lab test binary
//! (openstack*.rs, aws_ec2.rs).
//!
//! Credentials: `OS_*` (`. env.sh demo`) or the lab's clouds.yaml (`lab-demo`, `lab-admin`),
//! through ember-lab. Without a lab the tests say so and pass, unless `EMBER_REQUIRE_LAB=1`.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ember_engine::model::Action;
use ember_engine::resource::UpdateRequest;
use ember_engine::schema::validate_properties;
use ember_engine::{Progress, Registry, ResourceContext, ResourceError, ResourceType};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::Session;
use ember_resources::openstack::{register_with, Cloud};
use serde_json::{Map, Value};

/// The types bound to the demo user's and the admin's sessions (AWS aliases included).
pub struct Lab {
    pub demo: Session,
    pub admin: Session,
    pub types: Registry,
    pub admin_types: Registry,
}

fn registry(session: &Session) -> Registry {
    let mut types = Registry::new();
    let cloud = Cloud::from_session(session.clone());
    register_with(&mut types, cloud.clone());
    ember_resources::aws::register_with(&mut types, cloud);
    types
}

pub async fn lab() -> Option<Lab> {
    let (demo, admin) = ember_lab::demo_and_admin(ember_lab::demo_cloud()).await?;
    Some(Lab {
        types: registry(&demo),
        admin_types: registry(&admin),
        demo,
        admin,
    })
}

pub fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// One resource as the engine holds it.
pub struct Res {
    pub ty: Arc<dyn ResourceType>,
    pub cx: ResourceContext,
}

const DEADLINE: Duration = Duration::from_secs(240);

#[derive(Clone, Copy)]
enum Step {
    Create,
    Update,
    Delete,
}

impl Res {
    /// Validated as the engine validates: schema, then the type's own checks.
    pub fn try_new(
        registry: &Registry,
        type_name: &str,
        name: &str,
        props: Value,
    ) -> Result<Res, String> {
        let ty = registry
            .get(type_name)
            .unwrap_or_else(|| panic!("{type_name} registered"))
            .clone();
        let given: Map<String, Value> = props.as_object().cloned().unwrap_or_default();
        let properties = validate_properties(ty.schema(), &given).map_err(|e| e.to_string())?;
        ty.validate(&properties)?;
        let cx = ResourceContext {
            stack_id: "s".into(),
            stack_name: "ostest".into(),
            name: name.into(),
            physical_id: None,
            properties,
            data: BTreeMap::new(),
            action: Action::Create,
            short_id: suffix(),
            cloud: None,
            checks: 0,
            update_policy: Value::Null,
            metadata: Value::Object(Map::new()),
        };
        Ok(Res { ty, cx })
    }

    pub fn new(registry: &Registry, type_name: &str, name: &str, props: Value) -> Res {
        Res::try_new(registry, type_name, name, props).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn id(&self) -> String {
        self.cx.physical_id.clone().unwrap_or_default()
    }

    async fn wait(&mut self, step: Step) -> Result<(), ResourceError> {
        let started = Instant::now();
        self.cx.checks = 0;
        loop {
            let progress = match step {
                Step::Create => self.ty.check_create_complete(&self.cx).await?,
                Step::Update => self.ty.check_update_complete(&self.cx).await?,
                Step::Delete => self.ty.check_delete_complete(&self.cx).await?,
            };
            match progress {
                Progress::Done => return Ok(()),
                Progress::Pending(after) => {
                    assert!(after >= Duration::from_millis(500), "never a tight loop");
                    if started.elapsed() > DEADLINE {
                        return Err(ResourceError::new("Timeout", "test deadline"));
                    }
                    tokio::time::sleep(after).await;
                    self.cx.checks += 1;
                }
            }
        }
    }

    pub async fn create(&mut self) -> Result<(), ResourceError> {
        self.cx.action = Action::Create;
        let started = self.ty.create(&self.cx).await?;
        self.cx.physical_id = started.physical_id.or(self.cx.physical_id.take());
        self.cx.data.extend(started.data);
        if self.ty.creates_synchronously() {
            return Ok(());
        }
        self.wait(Step::Create).await
    }

    /// Update to `props`; `Ok(false)` when the change needs a replacement (by schema or because
    /// the type asks for one).
    pub async fn update(&mut self, props: Value) -> Result<bool, ResourceError> {
        let given: Map<String, Value> = props.as_object().cloned().unwrap_or_default();
        let new = validate_properties(self.ty.schema(), &given).expect("valid properties");
        let old = self.cx.properties.clone();
        let changed: Vec<String> = new
            .keys()
            .chain(old.keys())
            .filter(|k| new.get(*k) != old.get(*k))
            .cloned()
            .collect();
        if self.ty.needs_replace(&changed, &old, &new) {
            return Ok(false);
        }
        self.cx.action = Action::Update;
        self.cx.properties = new;
        let request = UpdateRequest {
            old_properties: &old,
            changed: &changed,
        };
        match self.ty.update(&self.cx, request).await {
            Ok(started) => {
                self.cx.data.extend(started.data);
                if let Some(id) = started.physical_id {
                    self.cx.physical_id = Some(id);
                }
            }
            Err(ResourceError::UpdateReplace) => {
                self.cx.properties = old;
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        self.wait(Step::Update).await?;
        Ok(true)
    }

    pub async fn delete(&mut self) -> Result<(), ResourceError> {
        self.cx.action = Action::Delete;
        let started = self.ty.delete(&self.cx).await?;
        self.cx.data.extend(started.data);
        self.wait(Step::Delete).await
    }

    pub async fn attr(&self, name: &str) -> Value {
        self.ty
            .attribute(&self.cx, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("attribute {name}"))
    }
}

/// Is a cinder-backup service up (`bash scripts/lab up` starts one)?
pub async fn backup_service_up(lab: &Lab) -> bool {
    BlockStorage::new(&lab.admin)
        .await
        .unwrap()
        .client()
        .get("/os-services")
        .query("binary", "cinder-backup")
        .send_json()
        .await
        .unwrap()["services"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["state"] == "up"))
}

/// The user data Nova stored for a server, decoded (shown to the admin, microversion >= 2.3).
pub async fn stored_user_data(admin: &Session, server: &str) -> String {
    use base64::Engine as _;
    let shown = Compute::new(admin)
        .await
        .unwrap()
        .server(server)
        .await
        .unwrap();
    let encoded = shown["OS-EXT-SRV-ATTR:user_data"]
        .as_str()
        .unwrap_or_else(|| panic!("no user data shown for {server}: {shown}"));
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

/// Serves `body` over HTTP on 127.0.0.1 (the lab's Glance may web-download from loopback);
/// returns its URL.
pub async fn serve(body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/image.raw", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    url
}

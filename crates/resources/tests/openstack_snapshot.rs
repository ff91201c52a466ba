//! Stack snapshot and restore of OpenStack resources on ../shared/openstack-lab, as Heat does
//! them: a restore rebuilds a server on its snapshot image (or replaces it under
//! `image_update_policy: REPLACE`), and brings a volume back from its snapshot's Cinder backup
//! (restored in place, or into a new volume when its size changed since); `deletion_policy:
//! Snapshot` keeps a backup of a deleted volume; a volume is made from each source Cinder has,
//! and the `cinder.snapshot` / `cinder.backup` constraints accept only the ids Cinder knows.
//!
//! Server snapshots are Nova's own: `bash scripts/lab up` runs the lab's nova-compute with a
//! driver that uploads snapshot images (`scripts/lab_nova_compute.py`); Nova refusing one is the
//! stack snapshot's reason. Backups need the cinder-backup that `bash scripts/lab up` starts;
//! without one, the tests check that Cinder's refusal is what the stack reports.
//! Without a lab the tests say so and pass, unless `EMBER_REQUIRE_LAB=1`.

mod common;
mod lab_types;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{config, cx, reason, resources, service_on, status};
use ember_engine::store::{MemoryStore, StateStore};
use ember_engine::{EngineConfig, Service, StackRequest};
use ember_openstack::services::block_storage::BlockStorage;
use ember_openstack::services::compute::Compute;
use ember_openstack::services::image::Image;
use ember_openstack::services::network::{Network, NeutronKind};
use ember_openstack::{PollPolicy, Session};
use ember_resources::openstack::constraints::check;
use ember_resources::openstack::Cloud;
use lab_types::{backup_service_up, lab, suffix, Lab, Res};
use serde_json::{json, Value};

/// A service on `store` whose OpenStack types act as the lab's demo user.
fn lab_service(store: Arc<dyn StateStore>, demo: &Session) -> Arc<Service> {
    Arc::new(service_on(
        store,
        EngineConfig {
            clouds: Some(Cloud::from_session(demo.clone())),
            ..config()
        },
    ))
}

/// Waits for the end of the stack's action (servers and backups take a while on the lab).
async fn finished(svc: &Service, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(300), svc.wait(&cx(), id))
        .await
        .expect("action finished in time")
        .expect("stack readable")
}

/// Creates the stack; its id.
async fn create(svc: &Service, name: &str, template: Value) -> String {
    let created = svc
        .create_stack(
            &cx(),
            StackRequest {
                stack_name: Some(name.into()),
                template: Some(template),
                ..StackRequest::default()
            },
        )
        .await
        .expect("create accepted");
    created["id"].as_str().unwrap().to_string()
}

/// Runs `body` on the stack `id`, then deletes the stack whatever happened (also when the body
/// panics) and checks that the delete completed.
async fn with_stack<F, Fut>(svc: &Arc<Service>, id: &str, body: F)
where
    F: FnOnce(Arc<Service>, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(body(svc.clone(), id.to_string())).await;
    svc.delete_stack(&cx(), id).await.expect("delete accepted");
    let gone = finished(svc, id).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
}

async fn physical_ids(svc: &Service, id: &str) -> serde_json::Map<String, Value> {
    resources(svc, id)
        .await
        .into_iter()
        .map(|(name, r)| (name, r["physical_resource_id"].clone()))
        .collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// The id of the lab's own `private-net` (found through its uniquely named subnet: the seed
/// stack makes another network of that name).
async fn lab_private_net(session: &Session) -> String {
    let subnet = Network::new(session)
        .await
        .unwrap()
        .find(NeutronKind::Subnet, "private-subnet")
        .await
        .unwrap();
    text(&subnet["network_id"])
}

/// The images in Glance named after the stack's resources (Nova names a server's snapshot image
/// after the server): `(id, status, disk_format)`, sorted.
async fn stack_images(glance: &Image, stack_name: &str) -> Vec<(String, String, String)> {
    let listed = glance
        .client()
        .get("/images")
        .query("limit", "1000")
        .send_json()
        .await
        .unwrap();
    let mut images: Vec<_> = listed["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|image| text(&image["name"]).starts_with(&format!("{stack_name}-")))
        .map(|image| {
            (
                text(&image["id"]),
                text(&image["status"]),
                text(&image["disk_format"]),
            )
        })
        .collect();
    images.sort();
    images
}

/// Takes a stack snapshot that must complete; the snapshot image of each of `servers`, which
/// Nova uploaded to Glance and which is active there (cirros is a raw image).
async fn snapshot_images(
    svc: &Service,
    glance: &Image,
    id: &str,
    servers: &[&str],
) -> (String, Vec<String>) {
    let snapshot = svc
        .create_snapshot(&cx(), id, Some("s".into()))
        .await
        .unwrap();
    assert_eq!(snapshot["status"], "COMPLETE", "{snapshot}");
    let images = servers
        .iter()
        .map(|server| {
            text(&snapshot["data"]["resources"][*server]["resource_data"]["snapshot_image_id"])
        })
        .collect::<Vec<_>>();
    for image in &images {
        let made = glance.image(image).await.unwrap();
        assert_eq!(
            (made["status"].clone(), made["disk_format"].clone()),
            (json!("active"), json!("raw")),
            "{made}"
        );
    }
    (text(&snapshot["id"]), images)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rebuilds_or_replaces_servers_on_their_snapshot_image() {
    let Some(lab) = lab().await else { return };
    let svc = lab_service(Arc::new(MemoryStore::new()), &lab.demo);
    let network = lab_private_net(&lab.demo).await;
    let server = |policy: &str| {
        json!({"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.tiny", "image_update_policy": policy,
            "networks": [{"network": network}]}})
    };
    let template = json!({"heat_template_version": "2018-08-31", "resources": {
        "rebuilt": server("REBUILD"), "replaced": server("REPLACE")}});
    let name = format!("snaprestore-{}", suffix());
    let id = create(&svc, &name, template).await;
    let glance = Image::new(&lab.demo).await.unwrap();
    let demo = lab.demo.clone();
    let stack_name = name.clone();
    with_stack(&svc, &id, |svc, id| async move {
        let stack = finished(&svc, &id).await;
        assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
        let glance = Image::new(&demo).await.unwrap();
        assert_eq!(stack_images(&glance, &stack_name).await, []);
        let before = physical_ids(&svc, &id).await;
        let servers = ["rebuilt", "replaced"];
        let (snapshot, images) = snapshot_images(&svc, &glance, &id, &servers).await;
        assert_ne!(images[0], images[1]);

        svc.restore_snapshot(&cx(), &id, &snapshot)
            .await
            .expect("restore accepted");
        let stack = finished(&svc, &id).await;
        assert_eq!(status(&stack), "RESTORE_COMPLETE", "{}", reason(&stack));
        let after = physical_ids(&svc, &id).await;
        assert_eq!(after["rebuilt"], before["rebuilt"], "rebuilt in place");
        assert_ne!(after["replaced"], before["replaced"], "a new server");
        let compute = Compute::new(&demo).await.unwrap();
        for (server, image) in servers.iter().zip(&images) {
            let on_nova = compute.server(&text(&after[*server])).await.unwrap();
            assert_eq!(on_nova["image"]["id"], json!(image), "{on_nova}");
            assert_eq!(on_nova["status"], "ACTIVE");
        }
        match compute.server(&text(&before["replaced"])).await {
            Err(e) => assert!(e.is_not_found(), "{e}"),
            Ok(old) => assert_eq!(old["status"], "DELETED", "{old}"),
        }
        // The stored template names the image the stack was restored to.
        let template = svc.get_template(&cx(), &id).await.unwrap();
        assert_eq!(
            template["resources"]["rebuilt"]["properties"]["image"],
            json!(images[0])
        );
        // Heat's handle_delete_snapshot: the snapshot's images go with it.
        svc.delete_snapshot(&cx(), &id, &snapshot)
            .await
            .expect("snapshot deleted");
        assert_eq!(stack_images(&glance, &stack_name).await, []);
        // A snapshot the stack still has when it is deleted: its images go with the stack.
        let (_, images) = snapshot_images(&svc, &glance, &id, &servers).await;
        assert_eq!(stack_images(&glance, &stack_name).await.len(), images.len());
    })
    .await;
    assert_eq!(stack_images(&glance, &name).await, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novas_refusal_to_snapshot_a_server_is_the_snapshots_reason() {
    let Some(lab) = lab().await else { return };
    let svc = lab_service(Arc::new(MemoryStore::new()), &lab.demo);
    let network = lab_private_net(&lab.demo).await;
    let template = json!({"heat_template_version": "2018-08-31", "resources": {
        "server": {"type": "OS::Nova::Server", "properties": {
            "image": "cirros", "flavor": "m1.tiny", "networks": [{"network": network}]}}}});
    let name = format!("snaprefused-{}", suffix());
    let id = create(&svc, &name, template).await;
    let admin = lab.admin.clone();
    let demo = lab.demo.clone();
    with_stack(&svc, &id, |svc, id| async move {
        let stack = finished(&svc, &id).await;
        assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
        // A server Nova holds in ERROR (what the admin's reset-state sets): Nova refuses its image.
        let server = text(&physical_ids(&svc, &id).await["server"]);
        Compute::new(&admin)
            .await
            .unwrap()
            .action(&server, json!({"os-resetState": {"state": "error"}}))
            .await
            .unwrap();
        let snapshot = svc
            .create_snapshot(&cx(), &id, Some("s".into()))
            .await
            .unwrap();
        assert_eq!(snapshot["status"], "FAILED", "{snapshot}");
        let why = text(&snapshot["status_reason"]);
        assert!(
            why.contains("Cannot 'createImage'") && why.contains("vm_state error"),
            "{snapshot}"
        );
        let glance = Image::new(&demo).await.unwrap();
        assert_eq!(stack_images(&glance, &name).await, []);
    })
    .await;
}

/// The backups of a volume.
async fn backups_of(storage: &BlockStorage, volume: &str) -> Vec<Value> {
    storage
        .client()
        .get("/backups/detail")
        .query("volume_id", volume)
        .send_json()
        .await
        .unwrap()["backups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_volumes_back_from_their_snapshot_backups() {
    let Some(lab) = lab().await else { return };
    let backups = backup_service_up(&lab).await;
    let svc = lab_service(Arc::new(MemoryStore::new()), &lab.demo);
    let volumes = |grown_size: u32| {
        json!({"heat_template_version": "2018-08-31", "resources": {
            "kept": {"type": "OS::Cinder::Volume",
                     "properties": {"size": 1, "metadata": {"generation": "snapshot"}}},
            "grown": {"type": "OS::Cinder::Volume", "properties": {"size": grown_size}}}})
    };
    let name = format!("volrestore-{}", suffix());
    let id = create(&svc, &name, volumes(1)).await;
    let demo = lab.demo.clone();
    with_stack(&svc, &id, |svc, id| async move {
        let stack = finished(&svc, &id).await;
        assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
        let before = physical_ids(&svc, &id).await;
        let storage = BlockStorage::new(&demo).await.unwrap();
        let snapshot = svc
            .create_snapshot(&cx(), &id, Some("s".into()))
            .await
            .unwrap();
        if !backups {
            // A cloud without cinder-backup: Cinder's refusal is the snapshot's reason.
            assert_eq!(snapshot["status"], "FAILED", "{snapshot}");
            assert!(
                text(&snapshot["status_reason"]).contains("backup"),
                "{snapshot}"
            );
            return;
        }
        assert_eq!(snapshot["status"], "COMPLETE", "{snapshot}");
        let backup = |volume: &str| {
            text(&snapshot["data"]["resources"][volume]["resource_data"]["backup_id"])
        };
        let (kept_backup, grown_backup) = (backup("kept"), backup("grown"));
        for (volume, backup) in [("kept", &kept_backup), ("grown", &grown_backup)] {
            let made = backups_of(&storage, &text(&before[volume])).await;
            assert!(
                made.iter()
                    .any(|b| b["id"] == json!(backup) && b["status"] == "available"),
                "{made:?}"
            );
        }
        // After the snapshot: the volume's own state changes (its metadata stands for its
        // data, which the lab does not keep), and the stack grows the other one.
        storage
            .client()
            .put(
                format!("/volumes/{}/metadata", text(&before["kept"])),
                json!({"metadata": {"generation": "later"}}),
            )
            .send()
            .await
            .unwrap();
        svc.update_stack(
            &cx(),
            &id,
            StackRequest {
                template: Some(volumes(2)),
                ..StackRequest::default()
            },
        )
        .await
        .expect("update accepted");
        let stack = finished(&svc, &id).await;
        assert_eq!(status(&stack), "UPDATE_COMPLETE", "{}", reason(&stack));

        svc.restore_snapshot(&cx(), &id, &text(&snapshot["id"]))
            .await
            .expect("restore accepted");
        let stack = finished(&svc, &id).await;
        assert_eq!(status(&stack), "RESTORE_COMPLETE", "{}", reason(&stack));
        let after = physical_ids(&svc, &id).await;
        // Restored in place: Cinder put back what the backup holds (the metadata with it).
        assert_eq!(after["kept"], before["kept"]);
        let kept = storage.volume(&text(&after["kept"])).await.unwrap();
        assert_eq!(
            kept["metadata"],
            json!({"generation": "snapshot"}),
            "{kept}"
        );
        assert_eq!(kept["status"], "available");
        // Grown since: a new volume of the snapshot's size, made from its backup.
        assert_ne!(after["grown"], before["grown"]);
        let grown = storage.volume(&text(&after["grown"])).await.unwrap();
        assert_eq!(
            (grown["size"].clone(), grown["status"].clone()),
            (json!(1), json!("available"))
        );
        assert!(storage
            .volume(&text(&before["grown"]))
            .await
            .is_err_and(|e| e.is_not_found()));
        let template = svc.get_template(&cx(), &id).await.unwrap();
        assert_eq!(
            template["resources"]["kept"]["properties"],
            json!({"size": 1, "metadata": {"generation": "snapshot"}, "backup_id": kept_backup})
        );
        // Heat's handle_delete_snapshot: the snapshot's backups go with it.
        svc.delete_snapshot(&cx(), &id, &text(&snapshot["id"]))
            .await
            .expect("snapshot deleted");
        for backup in [kept_backup, grown_backup] {
            match storage
                .client()
                .get(format!("/backups/{backup}"))
                .send_json()
                .await
            {
                Err(e) => assert!(e.is_not_found(), "{e}"),
                Ok(left) => assert_eq!(left["backup"]["status"], "deleting", "{left}"),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_stack_keeps_the_policys_backup_and_removes_its_snapshots() {
    let Some(lab) = lab().await else { return };
    let backups = backup_service_up(&lab).await;
    let svc = lab_service(Arc::new(MemoryStore::new()), &lab.demo);
    let template = json!({"heat_template_version": "2018-08-31", "resources": {
        "data": {"type": "OS::Cinder::Volume", "deletion_policy": "Snapshot",
                 "properties": {"size": 1}}}});
    let id = create(&svc, &format!("voldelete-{}", suffix()), template).await;
    let stack = finished(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let volume = text(&physical_ids(&svc, &id).await["data"]);
    let storage = BlockStorage::new(&lab.demo).await.unwrap();
    let snapshot = svc
        .create_snapshot(&cx(), &id, Some("s".into()))
        .await
        .unwrap();
    let snapshot_backup =
        text(&snapshot["data"]["resources"]["data"]["resource_data"]["backup_id"]);
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let gone = finished(&svc, &id).await;
    if !backups {
        // Without cinder-backup the volume, whose data could not be kept, stays.
        assert_eq!(status(&gone), "DELETE_FAILED");
        assert!(reason(&gone).contains("backup"), "{}", reason(&gone));
        assert_eq!(
            storage.volume(&volume).await.unwrap()["status"],
            "available"
        );
        storage
            .delete_volume(&volume, &PollPolicy::default())
            .await
            .unwrap();
        return;
    }
    assert_eq!(status(&gone), "DELETE_COMPLETE", "{}", reason(&gone));
    assert!(storage
        .volume(&volume)
        .await
        .is_err_and(|e| e.is_not_found()));
    // The stack snapshot's backup went with the stack (Heat's delete_all_snapshots); the one
    // `deletion_policy: Snapshot` made stays.
    let kept: Vec<Value> = backups_of(&storage, &volume)
        .await
        .into_iter()
        .filter(|b| b["status"] != "deleting")
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["status"], "available");
    assert_ne!(text(&kept[0]["id"]), snapshot_backup);
    storage.delete_backup(&text(&kept[0]["id"])).await.unwrap();
}

/// What a test made in Cinder, deleted in reverse order whatever happened to the test.
#[derive(Clone, Default)]
struct Made(Arc<std::sync::Mutex<Vec<(&'static str, String)>>>);

impl Made {
    fn add(&self, collection: &'static str, id: &str) {
        self.0.lock().unwrap().push((collection, id.to_string()));
    }

    async fn delete_all(&self, storage: &BlockStorage) {
        let made = std::mem::take(&mut *self.0.lock().unwrap());
        for (collection, id) in made.into_iter().rev() {
            let path = format!("/{collection}/{id}");
            // A volume is refused while its snapshot goes away: try again for a while.
            for _ in 0..60 {
                match storage.client().delete(&path).send().await {
                    Err(e) if !e.is_not_found() => tokio::time::sleep(Duration::from_secs(1)).await,
                    _ => break,
                }
            }
        }
    }
}

/// Creates `props` as a volume through the type; Cinder's view of it.
async fn volume_from(lab: &Lab, made: &Made, name: &str, props: Value) -> Value {
    let mut volume = Res::new(&lab.types, "OS::Cinder::Volume", name, props);
    let created = volume.create().await;
    if let Some(id) = volume.cx.physical_id.as_deref() {
        made.add("volumes", id);
    }
    created.unwrap();
    let storage = BlockStorage::new(&lab.demo).await.unwrap();
    storage.volume(&volume.id()).await.unwrap()
}

/// Waits until Cinder's `collection` item `id` is available.
async fn available(storage: &BlockStorage, collection: &str, id: &str) -> Value {
    let key = collection.trim_end_matches('s');
    for _ in 0..120 {
        let item = storage
            .client()
            .get(format!("/{collection}/{id}"))
            .send_json()
            .await
            .unwrap()[key]
            .clone();
        match item["status"].as_str() {
            Some("available") => return item,
            Some(status) if status.starts_with("error") => panic!("{item}"),
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    panic!("{collection}/{id} not available in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_made_from_a_snapshot_a_volume_an_image_and_a_backup() {
    let Some(lab) = lab().await else { return };
    let lab = Arc::new(lab);
    let storage = BlockStorage::new(&lab.demo).await.unwrap();
    let made = Made::default();
    let backups = backup_service_up(&lab).await;
    let outcome = tokio::spawn({
        let (lab, made, storage) = (lab.clone(), made.clone(), storage.clone());
        async move {
            let base = volume_from(&lab, &made, "base", json!({"size": 1, "metadata": {"origin": "base"}})).await;
            let base_id = text(&base["id"]);

            let snapshot = storage
                .client()
                .post(
                    "/snapshots",
                    json!({"snapshot": {"volume_id": base_id, "name": format!("base-{}", suffix())}}),
                )
                .send_json()
                .await
                .unwrap()["snapshot"]["id"]
                .clone();
            made.add("snapshots", &text(&snapshot));
            available(&storage, "snapshots", &text(&snapshot)).await;
            // Heat's cinder.snapshot constraint: an id Cinder knows (a name is not looked up).
            assert_eq!(check(&lab.demo, "cinder.snapshot", &text(&snapshot)).await, Ok(true));
            let missing = format!("base-{}", suffix());
            assert_eq!(
                check(&lab.demo, "cinder.snapshot", &missing).await,
                Err(format!("Error validating value '{missing}': The VolumeSnapshot ({missing}) could not be found."))
            );
            // Checked when a stack is validated: refused before anything is made.
            let template = json!({"heat_template_version": "2018-08-31", "resources": {
                "restored": {"type": "OS::Cinder::Volume", "properties": {"snapshot_id": missing}}}});
            let svc = lab_service(Arc::new(MemoryStore::new()), &lab.demo);
            let refused = svc
                .create_stack(
                    &cx(),
                    StackRequest {
                        stack_name: Some(missing.clone()),
                        template: Some(template),
                        ..StackRequest::default()
                    },
                )
                .await
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains("snapshot_id") && refused.contains(&format!("The VolumeSnapshot ({missing}) could not be found.")),
                "{refused}"
            );
            let volume = volume_from(&lab, &made, "from_snapshot", json!({"snapshot_id": snapshot})).await;
            assert_eq!(volume["snapshot_id"], snapshot, "{volume}");
            assert_eq!(volume["size"], 1, "the snapshot's size");

            let volume = volume_from(&lab, &made, "from_volume", json!({"source_volid": base_id})).await;
            assert_eq!(volume["source_volid"], json!(base_id), "{volume}");

            let volume = volume_from(&lab, &made, "from_image", json!({"image": "cirros", "size": 1})).await;
            let cirros = Image::new(&lab.demo).await.unwrap().find("cirros").await.unwrap();
            assert_eq!(volume["volume_image_metadata"]["image_id"], cirros["id"], "{volume}");
            assert_eq!(volume["bootable"], "true");

            if !backups {
                return;
            }
            let backup = storage
                .create_backup(&base_id, &format!("base-{}", suffix()))
                .await
                .unwrap();
            made.add("backups", &backup);
            available(&storage, "backups", &backup).await;
            assert_eq!(check(&lab.demo, "cinder.backup", &backup).await, Ok(true));
            assert_eq!(
                check(&lab.demo, "cinder.backup", &base_id).await,
                Err(format!("Error validating value '{base_id}': The Volume backup ({base_id}) could not be found."))
            );
            // Heat's rule: a backup is the only source (another one named is not sent).
            let volume = volume_from(
                &lab,
                &made,
                "from_backup",
                json!({"backup_id": backup, "source_volid": base_id}),
            )
            .await;
            // Cinder restored the backup into it: the source's metadata, and its own mark.
            assert_eq!(volume["metadata"]["origin"], "base", "{volume}");
            assert_eq!(volume["metadata"]["src_backup_id"], json!(backup), "{volume}");
            assert_eq!(volume["source_volid"], Value::Null, "{volume}");
        }
    })
    .await;
    made.delete_all(&storage).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

//! OS::Swift::Container and AWS::S3::Bucket against the lab's Swift (`scripts/lab_swift`, started
//! by `bash scripts/lab up`): what Swift stores (HEAD of the container and the account),
//! attributes, the refusal and the purge of a non-empty container, a container deleted outside
//! Ember, and replacement through the engine. Skipped, like every lab test, without a lab;
//! with a lab but no `object-store` endpoint they fail (the lab script was not run).

mod common;
mod lab_types;

use common::{create, cx, lab_service, output, reason, request, resources, status, wait};
use ember_engine::{Service, StackRequest};
use ember_openstack::services::swift::ObjectStore;
use lab_types::{lab, suffix, Lab, Res};
use serde_json::{json, Value};

async fn swift(lab: &Lab) -> ObjectStore {
    ObjectStore::new(&lab.demo)
        .await
        .expect("the lab has Swift (bash scripts/lab up runs scripts/lab_swift)")
}

/// A container's headers, `None` once it is gone.
async fn head(
    swift: &ObjectStore,
    container: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    match swift.head_container(container).await {
        Ok(headers) => Some(headers),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("HEAD {container}: {e}"),
    }
}

async fn put(swift: &ObjectStore, container: &str, object: &str, data: &str) {
    swift
        .put_object(container, object, data.as_bytes().to_vec(), "text/plain")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_headers_attributes_and_delete_as_heat() {
    let Some(lab) = lab().await else { return };
    let swift = swift(&lab).await;
    let tag = suffix();
    let name = format!("ember-c-{tag}");
    let account_key = format!("Ember-Test-{tag}");
    let props = json!({
        "name": name,
        "X-Container-Read": ".r:*,.rlistings",
        "X-Container-Write": "demo:demo",
        "X-Container-Meta": {"Web-Index": "index.html", "count": 3},
        "X-Account-Meta": {account_key.clone(): "yes"},
    });
    let mut container = Res::new(&lab.types, "OS::Swift::Container", "c", props.clone());
    container.create().await.unwrap();
    assert_eq!(container.id(), name);

    // What Swift stores: the ACLs and the metadata, and the account's metadata.
    let headers = head(&swift, &name).await.expect("container exists");
    assert_eq!(headers["x-container-read"], ".r:*,.rlistings");
    assert_eq!(headers["x-container-write"], "demo:demo");
    assert_eq!(headers["x-container-meta-web-index"], "index.html");
    assert_eq!(headers["x-container-meta-count"], "3");
    let account = swift.head_account().await.unwrap();
    assert_eq!(
        account[&format!("x-account-meta-{}", account_key.to_lowercase())],
        "yes"
    );

    // Attributes: the URL ones from the storage URL; counts as Swift's header texts.
    let root = swift.account_url().to_string();
    assert_eq!(container.attr("DomainName").await, json!("127.0.0.1"));
    assert_eq!(container.attr("RootURL").await, json!(root));
    assert_eq!(
        container.attr("WebsiteURL").await,
        json!(format!("{root}/{name}"))
    );
    assert_eq!(container.attr("ObjectCount").await, json!("0"));
    put(&swift, &name, "hello.txt", "hello").await;
    assert_eq!(container.attr("ObjectCount").await, json!("1"));
    assert_eq!(container.attr("BytesUsed").await, json!("5"));
    let head_attr = container.attr("HeadContainer").await;
    assert_eq!(head_attr["x-container-object-count"], "1");
    assert_eq!(head_attr["x-container-read"], ".r:*,.rlistings");
    // `show` is the HEAD too (its request id and date differ).
    assert_eq!(
        container.attr("show").await["x-container-meta-web-index"],
        "index.html"
    );
    assert_eq!(
        container.ty.reference_id(&container.cx),
        json!(name),
        "Ref is the container name"
    );
    // The public read ACL works: the object reads without a token.
    let anonymous = reqwest::get(format!("{root}/{name}/hello.txt"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.text().await.unwrap(), "hello");

    // Heat updates nothing in place: every property change replaces the container.
    for (key, value) in [
        ("name", json!(format!("{name}-2"))),
        ("X-Container-Read", json!("demo:demo")),
        ("X-Container-Meta", json!({"Web-Index": "other.html"})),
        ("X-Account-Meta", json!({})),
        ("PurgeOnDelete", json!(true)),
    ] {
        let mut changed = props.clone();
        changed[key] = value;
        assert!(!container.update(changed).await.unwrap(), "{key} replaces");
    }

    // A non-empty container is refused without PurgeOnDelete (as Heat words it) and stays.
    let refused = container.delete().await.unwrap_err().to_string();
    assert_eq!(
        refused,
        format!(
            "ResourceActionNotSupported: Deleting non-empty container ({name}) when PurgeOnDelete is False is not supported for resource."
        )
    );
    assert!(head(&swift, &name).await.is_some());
    swift.delete_object(&name, "hello.txt").await.unwrap();
    container.delete().await.unwrap();
    assert!(head(&swift, &name).await.is_none());
    // Gone already (here: deleted just before): delete succeeds, the counts read null.
    container.delete().await.unwrap();
    assert_eq!(container.attr("ObjectCount").await, Value::Null);

    // Heat leaves the account metadata; the test removes its own.
    swift
        .post_account(&[(format!("X-Remove-Account-Meta-{account_key}"), "x".into())])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_on_delete_removes_the_objects_and_a_container_gone_outside_deletes() {
    let Some(lab) = lab().await else { return };
    let swift = swift(&lab).await;
    let mut purged = Res::new(
        &lab.types,
        "OS::Swift::Container",
        "purged",
        json!({"PurgeOnDelete": true}),
    );
    purged.create().await.unwrap();
    let name = purged.id();
    // No name: Heat's <stack>-<resource>-<short id>.
    assert!(name.starts_with("ostest-purged-"), "{name}");
    for object in ["a", "b/c", "d e"] {
        put(&swift, &name, object, object).await;
    }
    assert_eq!(purged.attr("ObjectCount").await, json!("3"));
    purged.delete().await.unwrap();
    assert!(head(&swift, &name).await.is_none());

    // Deleted outside Ember (objects and all): the resource's delete succeeds.
    let mut gone = Res::new(&lab.types, "OS::Swift::Container", "gone", json!({}));
    gone.create().await.unwrap();
    put(&swift, &gone.id(), "x", "x").await;
    swift.delete_object(&gone.id(), "x").await.unwrap();
    swift.delete_container(&gone.id()).await.unwrap();
    gone.delete().await.unwrap();
    assert!(head(&swift, &gone.id()).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bucket_acls_tags_and_website_as_swift_stores_them() {
    let Some(lab) = lab().await else { return };
    let swift = swift(&lab).await;
    // The demo user in project demo: Heat's `<project>:<user>`.
    let owner = "demo:demo";
    for (access_control, read, write) in [
        (None, owner, owner),
        (Some("Private"), owner, owner),
        (Some("PublicRead"), ".r:*", owner),
        (Some("AuthenticatedRead"), "demo", owner),
        (Some("BucketOwnerRead"), owner, owner),
        (Some("BucketOwnerFullControl"), owner, owner),
    ] {
        let mut props = json!({
            "Tags": [{"Key": "env", "Value": "test"}],
            "WebsiteConfiguration": {"IndexDocument": "index.html", "ErrorDocument": "404.html"},
        });
        if let Some(acl) = access_control {
            props["AccessControl"] = json!(acl);
        }
        let mut bucket = Res::new(&lab.types, "AWS::S3::Bucket", "bucket", props);
        bucket.create().await.unwrap();
        let name = bucket.id();
        assert!(name.starts_with("ostest-bucket-"), "{name}");
        let headers = head(&swift, &name).await.expect("bucket exists");
        assert_eq!(headers["x-container-read"], read, "{access_control:?}");
        assert_eq!(headers["x-container-write"], write, "{access_control:?}");
        assert_eq!(headers["x-container-meta-s3-tag-env"], "test");
        assert_eq!(headers["x-container-meta-web-index"], "index.html");
        assert_eq!(headers["x-container-meta-web-error"], "404.html");
        assert_eq!(bucket.ty.reference_id(&bucket.cx), json!(name));
        assert_eq!(bucket.attr("DomainName").await, json!("127.0.0.1"));
        assert_eq!(
            bucket.attr("WebsiteURL").await,
            json!(format!("{}/{name}", swift.account_url()))
        );
        bucket.delete().await.unwrap();
        assert!(head(&swift, &name).await.is_none());
    }

    // PublicReadWrite is Heat's `.r:*` write ACL, which Swift refuses (referrers may only read).
    let mut public = Res::new(
        &lab.types,
        "AWS::S3::Bucket",
        "public",
        json!({"AccessControl": "PublicReadWrite"}),
    );
    let refused = public.create().await.unwrap_err().to_string();
    assert!(refused.starts_with("BadRequest: "), "{refused}");
    assert!(
        refused.contains("Referrers not allowed in write ACL"),
        "{refused}"
    );

    // A bucket holding an object is refused on delete, as Heat words it; every change replaces.
    let mut bucket = Res::new(&lab.types, "AWS::S3::Bucket", "full", json!({}));
    bucket.create().await.unwrap();
    let name = bucket.id();
    assert!(!bucket
        .update(json!({"AccessControl": "PublicRead"}))
        .await
        .unwrap());
    put(&swift, &name, "o", "data").await;
    let refused = bucket.delete().await.unwrap_err().to_string();
    assert_eq!(
        refused,
        format!("ResourceActionNotSupported: The bucket you tried to delete is not empty ({name}). is not supported for resource.")
    );
    swift.delete_object(&name, "o").await.unwrap();
    bucket.delete().await.unwrap();
    // Gone already: delete succeeds.
    bucket.delete().await.unwrap();
}

async fn out(svc: &Service, id: &str, key: &str) -> Value {
    output(svc, id, key).await["output_value"].clone()
}

const CONTAINER_AND_BUCKET: &str = r#"
heat_template_version: 2015-10-15
parameters:
  container_name: {type: string}
  acl: {type: string, default: Private}
resources:
  container:
    type: OS::Swift::Container
    properties:
      name: {get_param: container_name}
      X-Container-Meta: {purpose: ember-test}
  bucket:
    type: AWS::S3::Bucket
    properties:
      AccessControl: {get_param: acl}
outputs:
  container: {value: {get_resource: container}}
  container_url: {value: {get_attr: [container, WebsiteURL]}}
  bucket: {value: {get_resource: bucket}}
  bucket_url: {value: {get_attr: [bucket, WebsiteURL]}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_replaces_a_renamed_container_and_a_bucket_with_a_new_acl() {
    let Some(lab) = lab().await else { return };
    let swift = swift(&lab).await;
    let svc = lab_service(&lab.demo);
    let tag = suffix();
    let first = format!("ember-stack-{tag}");
    let mut req = request(&format!("swift-{tag}"), CONTAINER_AND_BUCKET);
    req.parameters = common::params(json!({"container_name": first}));
    let stack = create(&svc, req).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    assert_eq!(out(&svc, &id, "container").await, json!(first));
    assert_eq!(
        out(&svc, &id, "container_url").await,
        json!(format!("{}/{first}", swift.account_url()))
    );
    let bucket = out(&svc, &id, "bucket").await.as_str().unwrap().to_string();
    assert_eq!(
        out(&svc, &id, "bucket_url").await,
        json!(format!("{}/{bucket}", swift.account_url()))
    );
    assert_eq!(
        head(&swift, &first).await.unwrap()["x-container-meta-purpose"],
        "ember-test"
    );

    // A new name and a new ACL: both replaced, the old containers deleted.
    let second = format!("{first}-renamed");
    let update = StackRequest {
        template: Some(Value::String(CONTAINER_AND_BUCKET.into())),
        parameters: common::params(json!({"container_name": second, "acl": "PublicRead"})),
        ..Default::default()
    };
    svc.update_stack(&cx(), &id, update)
        .await
        .expect("update accepted");
    let updated = wait(&svc, &id).await;
    assert_eq!(status(&updated), "UPDATE_COMPLETE", "{}", reason(&updated));
    assert_eq!(out(&svc, &id, "container").await, json!(second));
    let new_bucket = out(&svc, &id, "bucket").await.as_str().unwrap().to_string();
    assert_ne!(new_bucket, bucket);
    assert!(head(&swift, &first).await.is_none());
    assert!(head(&swift, &bucket).await.is_none());
    assert_eq!(
        head(&swift, &new_bucket).await.unwrap()["x-container-read"],
        ".r:*"
    );
    let listed = resources(&svc, &id).await;
    assert_eq!(listed["container"]["physical_resource_id"], json!(second));

    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    let deleted = wait(&svc, &id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));
    assert!(head(&swift, &second).await.is_none());
    assert!(head(&swift, &new_bucket).await.is_none());
}

const SWIFT_SIGNAL: &str = r#"
heat_template_version: 2015-10-15
parameters:
  count: {type: number, default: 2}
  timeout: {type: number, default: 60}
resources:
  handle:
    type: OS::Heat::SwiftSignalHandle
  signal:
    type: OS::Heat::SwiftSignal
    properties:
      handle: {get_resource: handle}
      count: {get_param: count}
      timeout: {get_param: timeout}
outputs:
  data: {value: {get_attr: [signal, data]}}
"#;

/// The handle's attributes once it exists (the signal is still waiting).
async fn handle_attributes(svc: &Service, id: &str) -> Value {
    let wanted = [
        "endpoint".to_string(),
        "curl_cli".to_string(),
        "token".to_string(),
    ];
    for _ in 0..300 {
        // Until the engine has stored the stack's resources, there is no handle to show.
        let shown = svc.show_resource(&cx(), id, "handle", &wanted).await;
        if let Some(shown) = shown
            .ok()
            .filter(|s| s["resource_status"] == "CREATE_COMPLETE")
        {
            return shown["attributes"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the handle was not created");
}

/// PUT `body` to the temp URL, without a token.
async fn signal(url: &str, body: &str) {
    let response = reqwest::Client::new()
        .put(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
}

async fn delete_stack(svc: &Service, swift: &ObjectStore, id: &str) {
    svc.delete_stack(&cx(), id).await.expect("delete accepted");
    let deleted = wait(svc, id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));
    // The handle removed every signal and the stack's container.
    assert!(head(swift, id).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swift_signal_waits_for_puts_to_the_handles_temp_url() {
    let Some(lab) = lab().await else { return };
    let swift = swift(&lab).await;
    let svc = lab_service(&lab.demo);
    let tag = suffix();
    let id = common::start_create(&svc, request(&format!("swsig-{tag}"), SWIFT_SIGNAL)).await;
    let handle = handle_attributes(&svc, &id).await;
    let url = handle["endpoint"].as_str().unwrap().to_string();
    // A PUT temp URL of the object named after the handle, in the container named after the
    // stack, signed with the account's key.
    assert!(
        url.starts_with(&format!("{}/{id}/swsig-{tag}-handle-", swift.account_url())),
        "{url}"
    );
    assert!(url.contains("?temp_url_sig=") && url.ends_with("&temp_url_expires=2147483587"));
    assert_eq!(handle["curl_cli"], json!(format!("curl -i -X PUT '{url}'")));
    assert_eq!(handle["token"], json!(""));
    // The container keeps every PUT as a version.
    assert_eq!(head(&swift, &id).await.unwrap()["x-versions-location"], id);

    signal(&url, r#"{"status": "SUCCESS", "data": "first", "id": "1"}"#).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let waiting = svc.show_stack(&cx(), &id, false).await.unwrap();
    assert_eq!(status(&waiting), "CREATE_IN_PROGRESS", "one of two signals");
    signal(&url, r#"{"data": "second"}"#).await;
    let stack = wait(&svc, &id).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    assert_eq!(
        output(&svc, &id, "data").await["output_value"],
        json!(r#"{"1": "first", "2": "second"}"#)
    );
    delete_stack(&svc, &swift, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swift_signal_failure_timeout_and_a_foreign_handle_fail_as_heat() {
    let Some(lab) = lab().await else { return };
    let swift = swift(&lab).await;
    let svc = lab_service(&lab.demo);
    let tag = suffix();

    // A FAILURE signal fails the wait with its reason.
    let id = common::start_create(&svc, request(&format!("swfail-{tag}"), SWIFT_SIGNAL)).await;
    let url = handle_attributes(&svc, &id).await["endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    signal(&url, r#"{"status": "FAILURE", "reason": "it broke"}"#).await;
    let failed = wait(&svc, &id).await;
    assert_eq!(status(&failed), "CREATE_FAILED");
    assert_eq!(
        reason(&failed),
        "Resource CREATE failed: SwiftSignalFailure: resources.signal: it broke"
    );
    delete_stack(&svc, &swift, &id).await;

    // No signal within the timeout.
    let mut req = request(&format!("swtime-{tag}"), SWIFT_SIGNAL);
    req.parameters = common::params(json!({"count": 1, "timeout": 1}));
    let stack = create(&svc, req).await;
    let id = stack["id"].as_str().unwrap().to_string();
    assert_eq!(
        reason(&stack),
        "Resource CREATE failed: SwiftSignalTimeout: resources.signal: 0 of 1 received"
    );
    delete_stack(&svc, &swift, &id).await;

    // A handle URL of another container (stack) is refused.
    let foreign = format!(
        r#"
heat_template_version: 2015-10-15
resources:
  signal:
    type: OS::Heat::SwiftSignal
    properties:
      handle: "{}/other-stack/h?temp_url_sig=x&temp_url_expires=1"
      timeout: 10
"#,
        swift.account_url()
    );
    let stack = create(&svc, request(&format!("swforeign-{tag}"), &foreign)).await;
    let id = stack["id"].as_str().unwrap().to_string();
    let path = swift
        .account_url()
        .split("8080")
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(
        reason(&stack),
        format!("Resource CREATE failed: ValueError: resources.signal: \"{path}/other-stack/h\" is not a valid SwiftSignalHandle.  The container name is invalid")
    );
    svc.delete_stack(&cx(), &id).await.expect("delete accepted");
    assert_eq!(status(&wait(&svc, &id).await), "DELETE_COMPLETE");
}

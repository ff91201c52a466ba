//! AWS::IAM::User and AccessKey against the lab's Keystone: the stack runs with the admin's
//! session (a stack user is created in the stack owner's project, which needs the right to
//! create users, as in Heat without a stack user domain).

mod common;
mod lab_types;

use common::{create, cx, lab_service, reason, request, resources, status, wait};
use ember_engine::Service;
use ember_openstack::services::identity::{Identity, IdentityKind};
use lab_types::{lab, suffix};
use serde_json::{json, Value};

const USER_AND_KEY: &str = r#"
heat_template_version: 2015-10-15
resources:
  user:
    type: AWS::IAM::User
    properties:
      LoginProfile: {Password: "s3cret-Pass"}
  key:
    type: AWS::IAM::AccessKey
    properties:
      UserName: {get_resource: user}
outputs:
  secret: {value: {get_attr: [key, SecretAccessKey]}}
  user_name: {value: {get_attr: [key, UserName]}}
"#;

/// `resource name → physical id` of the stack's resources.
async fn physical_ids(svc: &Service, id: &str) -> (String, String) {
    let listed = resources(svc, id).await;
    let of = |name: &str| {
        listed[name]["physical_resource_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (of("user"), of("key"))
}

async fn output(svc: &Service, id: &str, key: &str) -> Value {
    common::output(svc, id, key).await["output_value"].clone()
}

/// The user's EC2 credential `access`, straight from Keystone (404 is `None`).
async fn ec2_credential(keystone: &Identity, user: &str, access: &str) -> Option<Value> {
    match keystone
        .client()
        .get(format!("/users/{user}/credentials/OS-EC2/{access}"))
        .send_json()
        .await
    {
        Ok(found) => Some(found["credential"].clone()),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("{e}"),
    }
}

async fn delete(svc: &Service, id: &str) -> Value {
    svc.delete_stack(&cx(), id).await.expect("delete accepted");
    wait(svc, id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_access_key_are_a_keystone_user_and_its_ec2_credential() {
    let Some(lab) = lab().await else { return };
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let project = lab.admin.token().await.unwrap().project_id.unwrap();
    let svc = lab_service(&lab.admin);
    let name = format!("iam-{}", suffix());

    let stack = create(&svc, request(&name, USER_AND_KEY)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let (user_id, access) = physical_ids(&svc, &id).await;

    // Keystone holds the user, named as Heat names it, in the stack owner's project with the
    // stack user role; the key's UserName is the user's Ref (its name).
    let user = keystone.find(IdentityKind::User, &user_id).await.unwrap();
    let user_name = user["name"].as_str().unwrap().to_string();
    assert!(user_name.starts_with(&format!("{name}-user-")), "{user}");
    assert_eq!(user["default_project_id"], json!(project));
    assert_eq!(output(&svc, &id, "user_name").await, json!(user_name));
    let roles = keystone
        .client()
        .get(format!("/projects/{project}/users/{user_id}/roles"))
        .send_json()
        .await
        .unwrap();
    assert_eq!(roles["roles"][0]["name"], "heat_stack_user", "{roles}");

    // The access key is the user's EC2 credential on that project, its secret the attribute.
    let credential = ec2_credential(&keystone, &user_id, &access)
        .await
        .expect("credential exists");
    assert_eq!(credential["tenant_id"], json!(project));
    assert_eq!(output(&svc, &id, "secret").await, credential["secret"]);

    // Delete removes both.
    let deleted = delete(&svc, &id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));
    let gone = keystone
        .find(IdentityKind::User, &user_id)
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    // The credential lookup under the deleted user is a 404 as well.
    assert!(ec2_credential(&keystone, &user_id, &access).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deleted_outside_ember_and_an_unknown_user_name() {
    let Some(lab) = lab().await else { return };
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let svc = lab_service(&lab.admin);
    let tag = suffix();

    // The user (and with it its credential) deleted behind Ember's back: the stack deletes.
    let stack = create(&svc, request(&format!("iam-gone-{tag}"), USER_AND_KEY)).await;
    assert_eq!(status(&stack), "CREATE_COMPLETE", "{}", reason(&stack));
    let id = stack["id"].as_str().unwrap().to_string();
    let (user_id, _) = physical_ids(&svc, &id).await;
    keystone.delete(IdentityKind::User, &user_id).await.unwrap();
    let deleted = delete(&svc, &id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));

    // A key for a user the stack does not have: Heat's refusal, and nothing is created.
    let template = format!(
        r#"
heat_template_version: 2015-10-15
resources:
  key:
    type: AWS::IAM::AccessKey
    properties:
      UserName: nobody-{tag}
"#
    );
    let stack = create(&svc, request(&format!("iam-nouser-{tag}"), &template)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert_eq!(
        reason(&stack),
        format!(
            "Resource CREATE failed: NotFound: resources.key: could not find user nobody-{tag}"
        )
    );
    let id = stack["id"].as_str().unwrap().to_string();
    let deleted = delete(&svc, &id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));

    // A policy named in Policies must be an access policy of the stack: Heat's refusal, before
    // Keystone is asked for a user.
    let template = r#"
heat_template_version: 2015-10-15
resources:
  other:
    type: OS::Heat::None
  user:
    type: AWS::IAM::User
    properties:
      Policies: [other]
"#;
    let name = format!("iam-policy-{tag}");
    let stack = create(&svc, request(&name, template)).await;
    assert_eq!(status(&stack), "CREATE_FAILED");
    assert_eq!(
        reason(&stack),
        "Resource CREATE failed: InvalidTemplateAttribute: resources.user: The Referenced Attribute (user Policies) is incorrect."
    );
    let users = keystone
        .client()
        .get("/users")
        .query("name__startswith", format!("{name}-"))
        .send_json()
        .await
        .unwrap();
    assert_eq!(users["users"], json!([]));
    let id = stack["id"].as_str().unwrap().to_string();
    let deleted = delete(&svc, &id).await;
    assert_eq!(status(&deleted), "DELETE_COMPLETE", "{}", reason(&deleted));
}

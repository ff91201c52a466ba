//! OS::Keystone::{Project, User, Role, UserRoleAssignment} against the lab's Keystone (admin).

mod lab_types;

use ember_openstack::services::identity::{Identity, IdentityKind};
use lab_types::{lab, suffix, Res};
use serde_json::{json, Value};

/// The role names `actor` (`users/<id>` or `groups/<id>`) holds on `project`, straight from
/// Keystone.
async fn roles_of(keystone: &Identity, project: &str, actor: &str) -> Vec<String> {
    let listed = keystone
        .client()
        .get(format!("/projects/{project}/{actor}/roles"))
        .send_json()
        .await
        .unwrap();
    let mut names: Vec<String> = listed["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_role_user_and_assignment_lifecycle() {
    let Some(lab) = lab().await else { return };
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let tag = suffix();

    // Project: create, update in place, a parent change is a replacement.
    let mut project = Res::new(
        &lab.admin_types,
        "OS::Keystone::Project",
        "proj",
        json!({"name": format!("ks-{tag}"), "description": "first"}),
    );
    project.create().await.unwrap();
    assert_eq!(project.attr("name").await, format!("ks-{tag}"));
    assert_eq!(project.attr("domain_id").await, "default");
    assert_eq!(project.attr("enabled").await, true);
    assert!(project
        .update(json!({"name": format!("ks-{tag}"), "description": "second", "tags": ["a"]}))
        .await
        .unwrap());
    let shown = keystone
        .find(IdentityKind::Project, &project.id())
        .await
        .unwrap();
    assert_eq!(shown["description"], "second");
    assert_eq!(shown["tags"], json!(["a"]));
    assert!(!project
        .update(json!({"name": format!("ks-{tag}"), "description": "second", "tags": ["a"], "parent": "demo"}))
        .await
        .unwrap());

    // A second project with the same name: Keystone's refusal is the resource's reason.
    let mut twin = Res::new(
        &lab.admin_types,
        "OS::Keystone::Project",
        "twin",
        json!({"name": format!("ks-{tag}")}),
    );
    let error = twin.create().await.unwrap_err().to_string();
    assert!(error.starts_with("Conflict: "), "{error}");

    // The user's project is checked against Keystone before anything is created.
    let orphan = Res::new(
        &lab.admin_types,
        "OS::Keystone::User",
        "orphan",
        json!({"default_project": "no-such-project"}),
    );
    assert_eq!(
        orphan.ty.validate_with_cloud(None, &orphan.cx.properties).await,
        Err(("default_project".to_string(), "Error validating value 'no-such-project': The Project (no-such-project) could not be found.".to_string()))
    );

    // Role: create and rename in place.
    let mut role = Res::new(
        &lab.admin_types,
        "OS::Keystone::Role",
        "role",
        json!({"name": format!("ksr-{tag}")}),
    );
    role.create().await.unwrap();
    assert!(role
        .update(json!({"name": format!("ksr2-{tag}")}))
        .await
        .unwrap());
    assert_eq!(
        keystone.find(IdentityKind::Role, &role.id()).await.unwrap()["name"],
        format!("ksr2-{tag}")
    );

    // User with a role on the project; the grants follow the `roles` property.
    let mut user = Res::new(
        &lab.admin_types,
        "OS::Keystone::User",
        "user",
        json!({"name": format!("ksu-{tag}"), "password": "s3cret", "default_project": project.id(),
               "roles": [{"role": "member", "project": project.id()}]}),
    );
    user.create().await.unwrap();
    assert_eq!(
        user.attr("default_project_id").await,
        Value::String(project.id())
    );
    assert_eq!(
        roles_of(&keystone, &project.id(), &format!("users/{}", user.id())).await,
        ["member"]
    );
    assert!(user
        .update(json!({"name": format!("ksu-{tag}"), "password": "s3cret", "default_project": project.id(), "email": "u@example.com",
                       "roles": [{"role": "reader", "project": project.id()}, {"role": format!("ksr2-{tag}"), "project": project.id()}]}))
        .await
        .unwrap());
    let mut expected = vec!["reader".to_string(), format!("ksr2-{tag}")];
    expected.sort();
    assert_eq!(
        roles_of(&keystone, &project.id(), &format!("users/{}", user.id())).await,
        expected
    );
    assert_eq!(user.attr("show").await["email"], "u@example.com");

    // UserRoleAssignment grants on top, and revokes only its own grants on delete.
    let mut assignment = Res::new(
        &lab.admin_types,
        "OS::Keystone::UserRoleAssignment",
        "assign",
        json!({"user": format!("ksu-{tag}"), "roles": [{"role": "member", "project": format!("ks-{tag}")}]}),
    );
    assignment.create().await.unwrap();
    expected.push("member".into());
    expected.sort();
    assert_eq!(
        roles_of(&keystone, &project.id(), &format!("users/{}", user.id())).await,
        expected
    );
    assert!(assignment
        .update(json!({"user": format!("ksu-{tag}"), "roles": [{"role": "manager", "project": format!("ks-{tag}")}]}))
        .await
        .unwrap());
    expected.retain(|r| r != "member");
    expected.push("manager".into());
    expected.sort();
    assert_eq!(
        roles_of(&keystone, &project.id(), &format!("users/{}", user.id())).await,
        expected
    );
    assignment.delete().await.unwrap();
    expected.retain(|r| r != "manager");
    assert_eq!(
        roles_of(&keystone, &project.id(), &format!("users/{}", user.id())).await,
        expected
    );

    // Delete, and delete again of what is already gone (outside Ember or by the first delete).
    user.delete().await.unwrap();
    assert!(keystone
        .find(IdentityKind::User, &user.id())
        .await
        .unwrap_err()
        .is_not_found());
    user.delete().await.unwrap();
    assignment.delete().await.unwrap(); // its user is gone: nothing left to revoke
    role.delete().await.unwrap();
    role.delete().await.unwrap();
    keystone
        .delete(IdentityKind::Project, &project.id())
        .await
        .unwrap();
    project.delete().await.unwrap();
    assert!(keystone
        .find(IdentityKind::Project, &project.id())
        .await
        .unwrap_err()
        .is_not_found());
}

#[test]
fn role_entries_name_exactly_one_target_as_heat_requires() {
    let registry = ember_resources::registry();
    for (roles, message) in [
        (
            json!([{"role": "member", "project": "p", "domain": "d"}]),
            "Cannot define the following properties at the same time: project, domain",
        ),
        (
            json!([{"role": "member"}]),
            "Either project or domain must be specified for role member",
        ),
    ] {
        for (type_name, actor) in [
            ("OS::Keystone::User", None),
            ("OS::Keystone::UserRoleAssignment", Some(("user", "u"))),
        ] {
            let mut props = json!({ "roles": roles });
            if let Some((key, value)) = actor {
                props[key] = json!(value);
            }
            let error = Res::try_new(&registry, type_name, "r", props).err();
            assert_eq!(error.as_deref(), Some(message), "{type_name}");
        }
    }
    // `user` is required on an assignment, as in Heat.
    let error = Res::try_new(
        &registry,
        "OS::Keystone::UserRoleAssignment",
        "r",
        json!({}),
    )
    .err();
    assert!(error.is_some_and(|e| e.ends_with("Property user not assigned")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_role_assignment_and_user_groups() {
    let Some(lab) = lab().await else { return };
    let keystone = Identity::new(&lab.admin).await.unwrap();
    let tag = suffix();
    let group = keystone
        .create(
            IdentityKind::Group,
            json!({"name": format!("ksg-{tag}"), "domain_id": "default"}),
        )
        .await
        .unwrap();
    let group_id = group["id"].as_str().unwrap().to_string();
    let demo = keystone.find(IdentityKind::Project, "demo").await.unwrap();
    let demo_id = demo["id"].as_str().unwrap().to_string();
    let group_actor = format!("groups/{group_id}");
    let mut assignment = Res::new(
        &lab.admin_types,
        "OS::Keystone::GroupRoleAssignment",
        "gra",
        json!({"group": format!("ksg-{tag}"), "roles": [{"role": "reader", "project": "demo"}]}),
    );
    assignment.create().await.unwrap();
    assert_eq!(
        roles_of(&keystone, &demo_id, &group_actor).await,
        ["reader"]
    );
    assert!(assignment
        .update(json!({"group": format!("ksg-{tag}"), "roles": [{"role": "reader", "project": "demo"}, {"role": "member", "project": "demo"}]}))
        .await
        .unwrap());
    assert_eq!(
        roles_of(&keystone, &demo_id, &group_actor).await,
        ["member", "reader"]
    );

    // A user's `groups` follow the property.
    let mut user = Res::new(
        &lab.admin_types,
        "OS::Keystone::User",
        "member",
        json!({"groups": [format!("ksg-{tag}")]}),
    );
    user.create().await.unwrap();
    let members = keystone
        .client()
        .get(format!("/groups/{group_id}/users"))
        .send_json()
        .await
        .unwrap();
    assert!(members["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == Value::String(user.id())));
    assert!(user.update(json!({"groups": []})).await.unwrap());
    let members = keystone
        .client()
        .get(format!("/groups/{group_id}/users"))
        .send_json()
        .await
        .unwrap();
    assert!(members["users"].as_array().unwrap().is_empty());

    assignment.delete().await.unwrap();
    assert!(roles_of(&keystone, &demo_id, &group_actor).await.is_empty());
    user.delete().await.unwrap();
    keystone
        .delete(IdentityKind::Group, &group_id)
        .await
        .unwrap();
    assignment.delete().await.unwrap(); // the group is gone: nothing to revoke
}

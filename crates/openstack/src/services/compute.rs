//! Nova: servers (create, wait, resize, rebuild, delete), flavors, key pairs, server groups and
//! volume attachments.

use serde_json::{json, Value};

use super::{ignore_not_found, Collection};
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::retry::{poll, Poll, PollPolicy};
use crate::session::{ServiceClient, Session};

/// Nova's API for one session.
#[derive(Clone)]
pub struct Compute {
    client: ServiceClient,
}

/// The message Nova recorded for a server in ERROR (`fault.message`, with `fault.details` when
/// the message alone says nothing).
pub fn fault_message(server: &Value) -> String {
    let fault = &server["fault"];
    match fault["message"].as_str() {
        Some(message) if !message.is_empty() => message.to_string(),
        _ => "Unknown".to_string(),
    }
}

impl Compute {
    pub async fn new(session: &Session) -> Result<Compute, Error> {
        Ok(Compute {
            client: session.service(ServiceType::Compute).await?,
        })
    }

    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    /// A flavor by id or name (flavor ids are free text, so the id is always tried first).
    pub async fn find_flavor(&self, name_or_id: &str) -> Result<Value, Error> {
        Collection {
            client: &self.client,
            kind: "Flavor",
            path: "/flavors",
            list_path: "/flavors/detail?is_public=None",
            one_key: "flavor",
            many_key: "flavors",
            filters_by_name: false,
        }
        .find(name_or_id, false)
        .await
    }

    pub async fn find_keypair(&self, name: &str) -> Result<Value, Error> {
        match self
            .client
            .get(format!("/os-keypairs/{name}"))
            .send_json()
            .await
        {
            Ok(found) => Ok(found["keypair"].clone()),
            Err(e) if e.is_not_found() => Err(Error::NotFound {
                kind: "Key",
                name: name.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// `POST /servers` with `server` as the `server` object; returns the new server's id.
    /// Not retried: a lost answer could otherwise boot two servers.
    pub async fn create_server(&self, server: Value) -> Result<String, Error> {
        let created = self
            .client
            .post("/servers", json!({ "server": server }))
            .send_json()
            .await?;
        created["server"]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Decode {
                service: ServiceType::Compute,
                detail: "server create answer has no id".into(),
            })
    }

    pub async fn server(&self, id: &str) -> Result<Value, Error> {
        Ok(self
            .client
            .get(format!("/servers/{id}"))
            .send_json()
            .await?["server"]
            .clone())
    }

    /// One look at a server being built or changed: ready at ACTIVE, failed at ERROR with
    /// Nova's fault message.
    pub async fn check_active(&self, id: &str) -> Result<Poll<Value>, Error> {
        server_step(id, self.server(id).await?, &["ACTIVE"])
    }

    /// Wait until the server is ACTIVE; ERROR ends the wait with Nova's fault message.
    pub async fn wait_active(&self, id: &str, policy: &PollPolicy) -> Result<Value, Error> {
        poll(policy, "Server", id, || self.check_active(id)).await
    }

    /// Delete the server and wait until Nova no longer knows it; a server already gone counts
    /// as deleted.
    pub async fn delete_server(&self, id: &str, policy: &PollPolicy) -> Result<(), Error> {
        self.start_delete_server(id).await?;
        poll(policy, "Server", id, || self.check_server_gone(id)).await
    }

    /// Ask Nova to delete the server; `false` when it was already gone.
    pub async fn start_delete_server(&self, id: &str) -> Result<bool, Error> {
        Ok(ignore_not_found(self.client.delete(format!("/servers/{id}")).send().await)?.is_some())
    }

    /// One look at a server being deleted: ready once Nova no longer shows it. A server in
    /// ERROR keeps that status while Nova deletes it (task `deleting`), as Heat waits for.
    pub async fn check_server_gone(&self, id: &str) -> Result<Poll<()>, Error> {
        match ignore_not_found(self.server(id).await)? {
            None => Ok(Poll::Ready(())),
            Some(server) if server["OS-EXT-STS:task_state"] == "deleting" => {
                Ok(Poll::Pending(status_of(&server)))
            }
            Some(server)
                if matches!(server["status"].as_str(), Some("DELETED" | "SOFT_DELETED")) =>
            {
                Ok(Poll::Ready(()))
            }
            Some(server) if server["status"] == "ERROR" => Err(Error::Failed {
                kind: "Server",
                id: id.to_string(),
                status: "ERROR".into(),
                message: fault_message(&server),
            }),
            Some(server) => Ok(Poll::Pending(status_of(&server))),
        }
    }

    /// A server action (`{"reboot": {...}}`, ...); returns Nova's request id for the action.
    pub async fn action(&self, id: &str, action: Value) -> Result<Option<String>, Error> {
        let response = self
            .client
            .post(format!("/servers/{id}/action"), action)
            .send()
            .await?;
        Ok(response.request_id().map(str::to_string))
    }

    /// Resize to the flavor `flavor` (its show answer) and confirm it, waiting at most
    /// `policy.deadline`. Nova may refuse the resize after accepting the call (no valid host,
    /// ...): that ends the wait with the reason Nova recorded, never a hang.
    pub async fn resize(
        &self,
        id: &str,
        flavor: &Value,
        policy: &PollPolicy,
    ) -> Result<Value, Error> {
        let request_id = self.start_resize(id, flavor).await?;
        let flavor_name = flavor["name"].as_str().unwrap_or_default();
        poll(policy, "Server", id, || {
            self.check_resize(id, request_id.as_deref(), flavor_name)
        })
        .await
    }

    /// Ask for the resize; returns Nova's request id, which [`Compute::check_resize`] needs.
    pub async fn start_resize(&self, id: &str, flavor: &Value) -> Result<Option<String>, Error> {
        let flavor_id = flavor["id"].as_str().ok_or_else(|| Error::Decode {
            service: ServiceType::Compute,
            detail: "flavor has no id".into(),
        })?;
        self.action(id, json!({"resize": {"flavorRef": flavor_id}}))
            .await
    }

    /// One look at a resize in progress (stateless, so any engine process can continue it):
    /// confirms it once Nova waits for that, is ready when the server is ACTIVE on the new
    /// flavor, and fails on ERROR or a refused request with Nova's message.
    pub async fn check_resize(
        &self,
        id: &str,
        request_id: Option<&str>,
        flavor_name: &str,
    ) -> Result<Poll<Value>, Error> {
        let server = self.server(id).await?;
        let status = status_of(&server);
        match status.as_str() {
            "VERIFY_RESIZE" => {
                // The status stays VERIFY_RESIZE while a confirmation runs, so a later look
                // may confirm again: Nova then refuses (migration no longer waiting), which
                // means the first confirmation is under way.
                match self.action(id, json!({"confirmResize": null})).await {
                    Ok(_) => {}
                    Err(e) if matches!(e.status(), Some(400 | 404 | 409)) => {}
                    Err(e) => return Err(e),
                }
                Ok(Poll::Pending(status))
            }
            "ERROR" => Err(Error::Failed {
                kind: "Server",
                id: id.to_string(),
                status,
                message: fault_message(&server),
            }),
            "ACTIVE" | "SHUTOFF" if server["OS-EXT-STS:task_state"].is_null() => {
                if server["flavor"]["original_name"].as_str() == Some(flavor_name) {
                    return Ok(Poll::Ready(server));
                }
                // Still on the old flavor: either not begun yet, or refused.
                match self.failed_action(id, request_id).await? {
                    Some(message) => Err(Error::Failed {
                        kind: "Server",
                        id: id.to_string(),
                        status: "resize refused".into(),
                        message,
                    }),
                    None => Ok(Poll::Pending(status)),
                }
            }
            _ => Ok(Poll::Pending(status)),
        }
    }

    /// Rebuild the server from `image_id` (plus other rebuild fields) and wait for ACTIVE.
    pub async fn rebuild(
        &self,
        id: &str,
        mut rebuild: Value,
        image_id: &str,
        policy: &PollPolicy,
    ) -> Result<Value, Error> {
        if !rebuild.is_object() {
            rebuild = json!({});
        }
        rebuild["imageRef"] = json!(image_id);
        self.action(id, json!({ "rebuild": rebuild })).await?;
        poll(policy, "Server", id, || self.check_rebuild(id, image_id)).await
    }

    /// One look at a rebuild: the status turns REBUILD only once the compute host takes the
    /// request, so ready means ACTIVE on the new image with no task left.
    pub async fn check_rebuild(&self, id: &str, image_id: &str) -> Result<Poll<Value>, Error> {
        Ok(match self.check_active(id).await? {
            Poll::Ready(server)
                if server["image"]["id"].as_str() == Some(image_id)
                    && server["OS-EXT-STS:task_state"].is_null() =>
            {
                Poll::Ready(server)
            }
            Poll::Ready(server) => Poll::Pending(status_of(&server)),
            pending => pending,
        })
    }

    /// The failure message of the instance action `request_id`, if one of its events failed.
    async fn failed_action(
        &self,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let Some(action) = self.instance_action(id, request_id).await? else {
            return Ok(None);
        };
        let failed = action["events"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|event| {
                event["result"]
                    .as_str()
                    .is_some_and(|r| r.eq_ignore_ascii_case("error"))
            });
        Ok(failed.map(|event| {
            event["details"]
                .as_str()
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                // Event details are shown to admins only (Nova policy); others get the step.
                .unwrap_or_else(|| {
                    format!(
                        "Nova refused the request: {} failed",
                        event["event"].as_str().unwrap_or("resize")
                    )
                })
        }))
    }

    async fn instance_action(
        &self,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Option<Value>, Error> {
        let Some(request_id) = request_id else {
            return Ok(None);
        };
        let found = ignore_not_found(
            self.client
                .get(format!("/servers/{id}/os-instance-actions/{request_id}"))
                .send_json()
                .await,
        )?;
        Ok(found.map(|v| v["instanceAction"].clone()))
    }

    /// Attach a volume; returns the attachment (its id is the volume id).
    pub async fn attach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
        device: Option<&str>,
    ) -> Result<Value, Error> {
        let mut attachment = json!({ "volumeId": volume_id });
        if let Some(device) = device {
            attachment["device"] = json!(device);
        }
        let attached = self
            .client
            .post(
                format!("/servers/{server_id}/os-volume_attachments"),
                json!({ "volumeAttachment": attachment }),
            )
            .send_json()
            .await?;
        Ok(attached["volumeAttachment"].clone())
    }

    /// Detach; an attachment or server already gone counts as detached.
    pub async fn detach_volume(&self, server_id: &str, volume_id: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!(
                    "/servers/{server_id}/os-volume_attachments/{volume_id}"
                ))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// The server's network interfaces (`interfaceAttachments`: `port_id`, `net_id`,
    /// `fixed_ips`, `port_state`).
    pub async fn interfaces(&self, server_id: &str) -> Result<Vec<Value>, Error> {
        Ok(self
            .client
            .get(format!("/servers/{server_id}/os-interface"))
            .send_json()
            .await?["interfaceAttachments"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Attach an interface (`{"port_id": ..}` or `{"net_id": .., "fixed_ips": [..]}`); returns
    /// the attachment. Not retried: a repeated attach would add a second interface.
    pub async fn attach_interface(
        &self,
        server_id: &str,
        interface: Value,
    ) -> Result<Value, Error> {
        let attached = self
            .client
            .post(
                format!("/servers/{server_id}/os-interface"),
                json!({ "interfaceAttachment": interface }),
            )
            .send_json()
            .await?;
        Ok(attached["interfaceAttachment"].clone())
    }

    /// Ask Nova to detach the interface of `port_id` (done asynchronously: the port leaves
    /// [`Compute::interfaces`] when it is); an interface already gone counts as detached.
    pub async fn detach_interface(&self, server_id: &str, port_id: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("/servers/{server_id}/os-interface/{port_id}"))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Start an image of the server named `name` (`createImage`); returns the image id, which
    /// Glance shows `active` once the upload is done. Not retried (two images otherwise).
    pub async fn create_image(&self, server_id: &str, name: &str) -> Result<String, Error> {
        let answer = self
            .client
            .post(
                format!("/servers/{server_id}/action"),
                json!({"createImage": {"name": name}}),
            )
            .send_json()
            .await?;
        answer["image_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Decode {
                service: ServiceType::Compute,
                detail: "createImage answer has no image_id".into(),
            })
    }

    /// The URL of a remote console (`protocol` vnc/spice/rdp/serial/mks, `kind` novnc, xvpvnc,
    /// spice-html5, rdp-html5, serial, webmks).
    pub async fn console_url(
        &self,
        server_id: &str,
        protocol: &str,
        kind: &str,
    ) -> Result<String, Error> {
        let answer = self
            .client
            .post(
                format!("/servers/{server_id}/remote-consoles"),
                json!({"remote_console": {"protocol": protocol, "type": kind}}),
            )
            .send_json()
            .await?;
        Ok(answer["remote_console"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Create a key pair; with no public key Nova generates one and returns its private key.
    pub async fn create_keypair(&self, keypair: Value) -> Result<Value, Error> {
        Ok(self
            .client
            .post("/os-keypairs", json!({ "keypair": keypair }))
            .send_json()
            .await?["keypair"]
            .clone())
    }

    pub async fn delete_keypair(&self, name: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("/os-keypairs/{name}"))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Create a flavor (admin); extra specs are set in a second call, as the API requires.
    pub async fn create_flavor(
        &self,
        flavor: Value,
        extra_specs: Option<Value>,
    ) -> Result<Value, Error> {
        let created = self
            .client
            .post("/flavors", json!({ "flavor": flavor }))
            .send_json()
            .await?["flavor"]
            .clone();
        if let (Some(specs), Some(id)) = (extra_specs, created["id"].as_str()) {
            self.client
                .post(
                    format!("/flavors/{id}/os-extra_specs"),
                    json!({ "extra_specs": specs }),
                )
                .idempotent(true)
                .send()
                .await?;
        }
        Ok(created)
    }

    /// A flavor action (`addTenantAccess`, `removeTenantAccess`).
    pub async fn flavor_action(&self, id: &str, action: Value) -> Result<(), Error> {
        self.client
            .post(format!("/flavors/{id}/action"), action)
            .send()
            .await?;
        Ok(())
    }

    pub async fn delete_flavor(&self, id: &str) -> Result<(), Error> {
        ignore_not_found(self.client.delete(format!("/flavors/{id}")).send().await)?;
        Ok(())
    }

    pub async fn create_server_group(&self, group: Value) -> Result<Value, Error> {
        Ok(self
            .client
            .post("/os-server-groups", json!({ "server_group": group }))
            .send_json()
            .await?["server_group"]
            .clone())
    }

    pub async fn delete_server_group(&self, id: &str) -> Result<(), Error> {
        ignore_not_found(
            self.client
                .delete(format!("/os-server-groups/{id}"))
                .send()
                .await,
        )?;
        Ok(())
    }

    /// Every server of the project (for before/after comparisons).
    pub async fn list_servers(&self) -> Result<Vec<Value>, Error> {
        Ok(self.client.get("/servers").send_json().await?["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

fn status_of(server: &Value) -> String {
    server["status"].as_str().unwrap_or("UNKNOWN").to_string()
}

/// One check of a server waiting for one of `wanted`.
fn server_step(id: &str, server: Value, wanted: &[&str]) -> Result<Poll<Value>, Error> {
    let status = status_of(&server);
    if wanted.contains(&status.as_str()) {
        return Ok(Poll::Ready(server));
    }
    match status.as_str() {
        "ERROR" | "DELETED" | "SOFT_DELETED" => Err(Error::Failed {
            kind: "Server",
            id: id.to_string(),
            status,
            message: fault_message(&server),
        }),
        _ => Ok(Poll::Pending(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_status_gives_the_fault_message() {
        let error = server_step(
            "s1",
            json!({"status": "ERROR", "fault": {"code": 500, "message": "No valid host was found. "}}),
            &["ACTIVE"],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Server s1 went to status ERROR: No valid host was found. "
        );
        assert!(matches!(
            server_step("s1", json!({"status": "BUILD"}), &["ACTIVE"]).unwrap(),
            Poll::Pending(s) if s == "BUILD"
        ));
        assert_eq!(fault_message(&json!({"status": "ERROR"})), "Unknown");
    }
}

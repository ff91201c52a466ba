//! Cinder: volumes (create, wait, extend, delete), volume types, QoS specs, and the user
//! messages that explain why a volume went to `error`.

use serde_json::{json, Value};

use super::{ignore_not_found, Collection};
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::retry::{poll, Poll, PollPolicy};
use crate::session::{ServiceClient, Session};

/// Cinder's API for one session.
#[derive(Clone)]
pub struct BlockStorage {
    client: ServiceClient,
}

impl BlockStorage {
    pub async fn new(session: &Session) -> Result<BlockStorage, Error> {
        Ok(BlockStorage {
            client: session.service(ServiceType::BlockStorage).await?,
        })
    }

    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    /// `POST /volumes`; returns the new volume. Not retried.
    pub async fn create_volume(&self, volume: Value) -> Result<Value, Error> {
        Ok(self
            .client
            .post("/volumes", json!({ "volume": volume }))
            .send_json()
            .await?["volume"]
            .clone())
    }

    pub async fn volume(&self, id: &str) -> Result<Value, Error> {
        Ok(self
            .client
            .get(format!("/volumes/{id}"))
            .send_json()
            .await?["volume"]
            .clone())
    }

    pub async fn find_volume(&self, name_or_id: &str) -> Result<Value, Error> {
        Collection {
            client: &self.client,
            kind: "Volume",
            path: "/volumes",
            list_path: "/volumes/detail",
            one_key: "volume",
            many_key: "volumes",
            filters_by_name: true,
        }
        .find(name_or_id, true)
        .await
    }

    /// Wait until the volume has one of the `wanted` statuses; an `error*` status ends the wait
    /// with the reason Cinder recorded as a user message.
    pub async fn wait_status(
        &self,
        id: &str,
        wanted: &[&str],
        policy: &PollPolicy,
    ) -> Result<Value, Error> {
        poll(policy, "Volume", id, || self.check_status(id, wanted)).await
    }

    /// One look at a volume: ready at one of `wanted`, failed at `error*` with Cinder's reason.
    pub async fn check_status(&self, id: &str, wanted: &[&str]) -> Result<Poll<Value>, Error> {
        let volume = self.volume(id).await?;
        let status = volume["status"].as_str().unwrap_or("unknown").to_string();
        if wanted.contains(&status.as_str()) {
            return Ok(Poll::Ready(volume));
        }
        if status.starts_with("error") {
            return Err(Error::Failed {
                kind: "Volume",
                id: id.to_string(),
                message: self.failure_reason(id, &status).await,
                status,
            });
        }
        Ok(Poll::Pending(status))
    }

    /// The newest user message about the volume (e.g. "schedule allocate volume:Could not find
    /// any available weighted backend."), else a generic sentence with the status.
    async fn failure_reason(&self, id: &str, status: &str) -> String {
        let messages = self
            .client
            .get("/messages")
            .query("resource_uuid", id)
            .query("sort", "created_at:desc")
            .send_json()
            .await;
        let newest = messages.ok().and_then(|m| {
            m["messages"]
                .as_array()
                .and_then(|list| list.first())
                .and_then(|msg| msg["user_message"].as_str())
                .map(str::to_string)
        });
        newest.unwrap_or_else(|| format!("Volume went to status {status}"))
    }

    /// Grow the volume to `new_size` GiB and wait until it is usable again.
    pub async fn extend(
        &self,
        id: &str,
        new_size: u64,
        policy: &PollPolicy,
    ) -> Result<Value, Error> {
        let volume = self.volume(id).await?;
        let back_to = volume["status"].as_str().unwrap_or("available").to_string();
        self.client
            .post(
                format!("/volumes/{id}/action"),
                json!({"os-extend": {"new_size": new_size}}),
            )
            .send()
            .await?;
        poll(policy, "Volume", id, || async {
            let volume = self.volume(id).await?;
            let status = volume["status"].as_str().unwrap_or("unknown").to_string();
            if status.starts_with("error") {
                return Err(Error::Failed {
                    kind: "Volume",
                    id: id.to_string(),
                    message: self.failure_reason(id, &status).await,
                    status,
                });
            }
            if status == back_to && volume["size"].as_u64() == Some(new_size) {
                return Ok(Poll::Ready(volume));
            }
            Ok(Poll::Pending(status))
        })
        .await
    }

    /// Delete and wait until Cinder no longer lists it; already gone counts as deleted.
    pub async fn delete_volume(&self, id: &str, policy: &PollPolicy) -> Result<(), Error> {
        self.start_delete_volume(id).await?;
        poll(policy, "Volume", id, || self.check_volume_gone(id)).await
    }

    /// Ask Cinder to delete the volume; `false` when it was already gone.
    pub async fn start_delete_volume(&self, id: &str) -> Result<bool, Error> {
        Ok(ignore_not_found(self.client.delete(format!("/volumes/{id}")).send().await)?.is_some())
    }

    /// One look at a volume being deleted: ready once Cinder no longer shows it.
    pub async fn check_volume_gone(&self, id: &str) -> Result<Poll<()>, Error> {
        match ignore_not_found(self.volume(id).await)? {
            None => Ok(Poll::Ready(())),
            Some(volume) => {
                let status = volume["status"].as_str().unwrap_or("unknown").to_string();
                if status == "error_deleting" {
                    return Err(Error::Failed {
                        kind: "Volume",
                        id: id.to_string(),
                        message: self.failure_reason(id, &status).await,
                        status,
                    });
                }
                Ok(Poll::Pending(status))
            }
        }
    }

    /// Start a backup of the volume (`force`: also while attached); returns its id.
    pub async fn create_backup(&self, volume_id: &str, name: &str) -> Result<String, Error> {
        let created = self
            .client
            .post(
                "/backups",
                json!({"backup": {"volume_id": volume_id, "name": name, "force": true}}),
            )
            .send_json()
            .await?;
        created["backup"]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Decode {
                service: ServiceType::BlockStorage,
                detail: "backup create answer has no id".into(),
            })
    }

    /// One look at a backup being made: ready at `available`, failed at `error` with Cinder's
    /// `fail_reason`.
    pub async fn check_backup(&self, id: &str) -> Result<Poll<Value>, Error> {
        let backup = self
            .client
            .get(format!("/backups/{id}"))
            .send_json()
            .await?["backup"]
            .clone();
        let status = backup["status"].as_str().unwrap_or("unknown").to_string();
        match status.as_str() {
            "available" => Ok(Poll::Ready(backup)),
            "error" => Err(Error::Failed {
                kind: "Backup",
                id: id.to_string(),
                message: backup["fail_reason"]
                    .as_str()
                    .unwrap_or("Backup went to status error")
                    .to_string(),
                status,
            }),
            _ => Ok(Poll::Pending(status)),
        }
    }

    /// Delete a backup; already gone counts as deleted.
    pub async fn delete_backup(&self, id: &str) -> Result<(), Error> {
        ignore_not_found(self.client.delete(format!("/backups/{id}")).send().await)?;
        Ok(())
    }

    pub async fn list_volumes(&self) -> Result<Vec<Value>, Error> {
        Ok(self.client.get("/volumes").send_json().await?["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    pub async fn find_volume_type(&self, name_or_id: &str) -> Result<Value, Error> {
        Collection {
            client: &self.client,
            kind: "VolumeType",
            path: "/types",
            list_path: "/types?is_public=None",
            one_key: "volume_type",
            many_key: "volume_types",
            filters_by_name: false,
        }
        .find(name_or_id, false)
        .await
    }

    /// QoS specs (admin) by name or id, for `cinder.qos_specs` and `OS::Cinder::QoSAssociation`.
    pub async fn find_qos_specs(&self, name_or_id: &str) -> Result<Value, Error> {
        Collection {
            client: &self.client,
            kind: "QoSSpecs",
            path: "/qos-specs",
            list_path: "/qos-specs",
            one_key: "qos_specs",
            many_key: "qos_specs",
            filters_by_name: false,
        }
        .find(name_or_id, true)
        .await
    }

    /// Create a volume type (admin) with its extra specs.
    pub async fn create_volume_type(&self, volume_type: Value) -> Result<Value, Error> {
        Ok(self
            .client
            .post("/types", json!({ "volume_type": volume_type }))
            .send_json()
            .await?["volume_type"]
            .clone())
    }

    pub async fn delete_volume_type(&self, id: &str) -> Result<(), Error> {
        ignore_not_found(self.client.delete(format!("/types/{id}")).send().await)?;
        Ok(())
    }
}

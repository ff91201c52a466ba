//! Glance v2: images by name or id, create, upload, web-download import, delete.

use serde_json::{json, Value};

use super::{ignore_not_found, looks_like_uuid};
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::retry::{poll, Poll, PollPolicy};
use crate::session::{ServiceClient, Session};

/// Glance's API for one session.
#[derive(Clone)]
pub struct Image {
    client: ServiceClient,
}

impl Image {
    pub async fn new(session: &Session) -> Result<Image, Error> {
        Ok(Image {
            client: session.service(ServiceType::Image).await?,
        })
    }

    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    pub async fn image(&self, id: &str) -> Result<Value, Error> {
        // Glance v2 answers with the image object itself, not wrapped.
        self.client.get(format!("/images/{id}")).send_json().await
    }

    /// An image by id or name (`glance.image` constraint, `image` properties).
    pub async fn find(&self, name_or_id: &str) -> Result<Value, Error> {
        if looks_like_uuid(name_or_id) {
            match self.image(name_or_id).await {
                Ok(image) => return Ok(image),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let listed = self
            .client
            .get("/images")
            .query("name", name_or_id)
            .send_json()
            .await?;
        let images = listed["images"].as_array().cloned().unwrap_or_default();
        match images.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::NotFound {
                kind: "Image",
                name: name_or_id.to_string(),
            }),
            _ => Err(Error::Ambiguous {
                kind: "Image",
                name: name_or_id.to_string(),
            }),
        }
    }

    /// Create the image record (status `queued`).
    pub async fn create(&self, image: Value) -> Result<Value, Error> {
        self.client.post("/images", image).send_json().await
    }

    /// Upload the image data (bounded by the caller) and wait until the image is active.
    pub async fn upload(
        &self,
        id: &str,
        data: Vec<u8>,
        policy: &PollPolicy,
    ) -> Result<Value, Error> {
        self.client
            .request(reqwest::Method::PUT, format!("/images/{id}/file"))
            .raw(data, "application/octet-stream")
            .idempotent(false)
            .send()
            .await?;
        self.wait_active(id, policy).await
    }

    /// Ask Glance to fetch the data from `url` (interoperable import, `web-download`), as
    /// OS::Glance::WebImage does, and wait until the image is active.
    pub async fn import_from_url(
        &self,
        id: &str,
        url: &str,
        policy: &PollPolicy,
    ) -> Result<Value, Error> {
        self.start_import_from_url(id, url).await?;
        self.wait_active(id, policy).await
    }

    /// Wait for `active`; `killed`, `deleted` or a failed import end the wait with the reason.
    pub async fn wait_active(&self, id: &str, policy: &PollPolicy) -> Result<Value, Error> {
        poll(policy, "Image", id, || self.check_active(id)).await
    }

    /// One look at an image being uploaded or imported.
    pub async fn check_active(&self, id: &str) -> Result<Poll<Value>, Error> {
        let image = self.image(id).await?;
        let status = image["status"].as_str().unwrap_or("unknown").to_string();
        let failed_import = image["os_glance_failed_import"]
            .as_str()
            .filter(|stores| !stores.is_empty())
            .map(str::to_string);
        match (status.as_str(), failed_import) {
            ("active", _) => Ok(Poll::Ready(image)),
            ("killed" | "deleted" | "deactivated", _) => Err(Error::Failed {
                kind: "Image",
                id: id.to_string(),
                message: format!("Image went to status {status}"),
                status,
            }),
            (_, Some(stores)) => Err(Error::Failed {
                kind: "Image",
                id: id.to_string(),
                message: format!("import failed for store(s) {stores}"),
                status,
            }),
            _ => Ok(Poll::Pending(status)),
        }
    }

    /// Start a `web-download` import of `url` into the image (see [`Image::import_from_url`]).
    pub async fn start_import_from_url(&self, id: &str, url: &str) -> Result<(), Error> {
        self.client
            .post(
                format!("/images/{id}/import"),
                json!({"method": {"name": "web-download", "uri": url}}),
            )
            .send()
            .await?;
        Ok(())
    }

    /// Delete; already gone counts as deleted.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        ignore_not_found(self.client.delete(format!("/images/{id}")).send().await)?;
        Ok(())
    }
}

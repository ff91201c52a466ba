//! Swift (object-store): containers with their headers, object listings and deletes, the
//! account's metadata. The endpoint is the account's storage URL
//! (`http://host:8080/v1/AUTH_<project>`); container and object names are percent-encoded as
//! path segments of it. Temp URLs are signed with the account's `Temp-URL-Key` (HMAC-SHA256,
//! which Swift's tempurl accepts by default), made on first use as Heat does.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use rand::Rng;
use reqwest::Method;
use sha2::Sha256;

use super::ignore_not_found;
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::session::{Request, ServiceClient, Session};

/// Headers as Swift answers them: lower-case names, text values.
pub type Headers = BTreeMap<String, String>;

/// The account metadata holding the temp URL signing key.
const TEMP_URL_KEY: &str = "x-account-meta-temp-url-key";

/// Swift's API for one session, on its account.
#[derive(Clone)]
pub struct ObjectStore {
    client: ServiceClient,
}

impl ObjectStore {
    pub async fn new(session: &Session) -> Result<ObjectStore, Error> {
        Ok(ObjectStore {
            client: session.service(ServiceType::ObjectStore).await?,
        })
    }

    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    /// The account's storage URL (the catalog endpoint), which container URLs extend.
    pub fn account_url(&self) -> &str {
        self.client.endpoint()
    }

    /// The URL of `segments` under the account, each percent-encoded as one path segment.
    pub fn url(&self, segments: &[&str]) -> Result<String, Error> {
        let mut url = reqwest::Url::parse(self.account_url()).map_err(|e| Error::Decode {
            service: ServiceType::ObjectStore,
            detail: format!("storage URL {}: {e}", self.account_url()),
        })?;
        url.path_segments_mut()
            .map_err(|()| Error::Decode {
                service: ServiceType::ObjectStore,
                detail: format!("storage URL {} cannot have a path", self.account_url()),
            })?
            .extend(segments);
        Ok(url.into())
    }

    fn request(
        &self,
        method: Method,
        segments: &[&str],
        headers: &[(String, String)],
    ) -> Result<Request, Error> {
        let mut request = self.client.request(method, self.url(segments)?);
        for (name, value) in headers {
            request = request.header(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// Create the container, or set these headers on the existing one (Swift's PUT does both).
    pub async fn put_container(
        &self,
        container: &str,
        headers: &[(String, String)],
    ) -> Result<(), Error> {
        self.request(Method::PUT, &[container], headers)?
            .send()
            .await?;
        Ok(())
    }

    /// Set (or, with an empty value, remove) metadata headers of the container.
    pub async fn post_container(
        &self,
        container: &str,
        headers: &[(String, String)],
    ) -> Result<(), Error> {
        self.request(Method::POST, &[container], headers)?
            .idempotent(true)
            .send()
            .await?;
        Ok(())
    }

    /// Set metadata headers of the account (`X-Account-Meta-*`).
    pub async fn post_account(&self, headers: &[(String, String)]) -> Result<(), Error> {
        self.request(Method::POST, &[], headers)?
            .idempotent(true)
            .send()
            .await?;
        Ok(())
    }

    /// The account's headers.
    pub async fn head_account(&self) -> Result<Headers, Error> {
        let response = self.request(Method::HEAD, &[], &[])?.send().await?;
        Ok(header_map(&response.headers))
    }

    /// The container's headers (ACLs, `x-container-meta-*`, object count, bytes used).
    pub async fn head_container(&self, container: &str) -> Result<Headers, Error> {
        let response = self
            .request(Method::HEAD, &[container], &[])?
            .send()
            .await?;
        Ok(header_map(&response.headers))
    }

    /// The names of the container's objects (the first page, up to Swift's listing limit:
    /// 10,000); `None` when the container does not exist.
    pub async fn object_names(&self, container: &str) -> Result<Option<Vec<String>>, Error> {
        let listed = ignore_not_found(
            self.request(Method::GET, &[container], &[])?
                .query("format", "json")
                .send_json()
                .await,
        )?;
        Ok(listed.map(|listing| {
            listing
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|object| object["name"].as_str().map(str::to_string))
                .collect()
        }))
    }

    /// Store an object.
    pub async fn put_object(
        &self,
        container: &str,
        object: &str,
        data: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), Error> {
        self.request(Method::PUT, &[container, object], &[])?
            .raw(data, content_type)
            .send()
            .await?;
        Ok(())
    }

    /// An object's content.
    pub async fn get_object(&self, container: &str, object: &str) -> Result<Vec<u8>, Error> {
        Ok(self
            .request(Method::GET, &[container, object], &[])?
            .send()
            .await?
            .body)
    }

    /// A temp URL letting anyone without a token use `method` on the object until `expires`
    /// (Unix seconds). The account's `Temp-URL-Key` is made first when it has none.
    pub async fn temp_url(
        &self,
        container: &str,
        object: &str,
        method: &str,
        expires: u64,
    ) -> Result<String, Error> {
        let key = match self.head_account().await?.remove(TEMP_URL_KEY) {
            Some(key) => key,
            None => {
                let key: String = (0..16)
                    .map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>()))
                    .collect();
                self.post_account(&[(TEMP_URL_KEY.to_string(), key)])
                    .await?;
                // Read back: a concurrent first use may have set another key.
                self.head_account()
                    .await?
                    .remove(TEMP_URL_KEY)
                    .ok_or_else(|| Error::Decode {
                        service: ServiceType::ObjectStore,
                        detail: "the account keeps no Temp-URL-Key".into(),
                    })?
            }
        };
        let url = self.url(&[container, object])?;
        let account_path = reqwest::Url::parse(self.account_url())
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        // Swift signs the decoded request path.
        let path = format!("{account_path}/{container}/{object}");
        Ok(format!(
            "{url}?temp_url_sig={}&temp_url_expires={expires}",
            temp_url_signature(&key, method, expires, &path)?
        ))
    }

    /// Delete an object; already gone counts as deleted. True when there was one (in a
    /// versioned container the previous version then takes its place).
    pub async fn delete_object(&self, container: &str, object: &str) -> Result<bool, Error> {
        let deleted = ignore_not_found(
            self.request(Method::DELETE, &[container, object], &[])?
                .send()
                .await,
        )?;
        Ok(deleted.is_some())
    }

    /// Delete the container; already gone counts as deleted. A container that still holds
    /// objects is refused by Swift with 409, which is answered at once (not retried: it only
    /// changes once the objects are deleted).
    pub async fn delete_container(&self, container: &str) -> Result<(), Error> {
        ignore_not_found(
            self.request(Method::DELETE, &[container], &[])?
                .idempotent(false)
                .send()
                .await,
        )?;
        Ok(())
    }
}

fn header_map(headers: &reqwest::header::HeaderMap) -> Headers {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect()
}

/// Swift tempurl's signature: HMAC-SHA256 of `method\nexpires\npath`, hex.
fn temp_url_signature(key: &str, method: &str, expires: u64, path: &str) -> Result<String, Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|e| Error::Decode {
        service: ServiceType::ObjectStore,
        detail: format!("Temp-URL-Key: {e}"),
    })?;
    mac.update(format!("{method}\n{expires}\n{path}").as_bytes());
    Ok(mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_url_signature_is_swifts() {
        // As Python's hmac.new(key, body, hashlib.sha256).hexdigest() gives it.
        assert_eq!(
            temp_url_signature(
                "mykey",
                "GET",
                1323479485,
                "/v1/AUTH_account/container/object"
            )
            .unwrap(),
            "05cb4ea08a08f2fdaef35d0f344975370077835c23bdc9342099ecbf03bc0378"
        );
    }
}

//! The calls resource types make, one module per service. Bodies are JSON values: resource
//! properties map almost one to one onto API fields, so typed request builders would add a copy
//! of each API's schema and nothing else.

pub mod block_storage;
pub mod compute;
pub mod identity;
pub mod image;
pub mod network;
pub mod swift;

use serde_json::Value;

use crate::error::Error;
use crate::session::ServiceClient;

/// True for the two spellings of a UUID OpenStack uses (with and without hyphens): such a value
/// is looked up as an id first.
pub fn looks_like_uuid(text: &str) -> bool {
    let hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    match text.len() {
        32 => hex(text),
        36 => {
            let parts: Vec<&str> = text.split('-').collect();
            parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p))
        }
        _ => false,
    }
}

/// A collection of one kind of thing in one service, for lookups by name or id.
pub(crate) struct Collection<'a> {
    pub client: &'a ServiceClient,
    /// Shown in errors: "The Flavor (m9) could not be found."
    pub kind: &'static str,
    /// `/flavors`: `GET {path}/{id}` shows one.
    pub path: &'a str,
    /// The list call: `/flavors/detail`.
    pub list_path: &'a str,
    /// Key of one object in a show answer (`flavor`) and of the list in a list answer (`flavors`).
    pub one_key: &'a str,
    pub many_key: &'a str,
    /// Whether the service filters lists by `?name=` (Nova flavors do not).
    pub filters_by_name: bool,
}

impl Collection<'_> {
    /// The object whose id or name is `name_or_id`. Ids are tried first when the value could be
    /// one (any value for services whose ids are free text, like Nova flavors).
    pub async fn find(&self, name_or_id: &str, ids_are_uuids: bool) -> Result<Value, Error> {
        if !ids_are_uuids || looks_like_uuid(name_or_id) {
            match self
                .client
                .get(format!("{}/{}", self.path, name_or_id))
                .send_json()
                .await
            {
                Ok(found) => return Ok(found[self.one_key].clone()),
                Err(e) if e.is_not_found() || e.status() == Some(400) => {}
                Err(e) => return Err(e),
            }
        }
        let mut request = self.client.get(self.list_path);
        if self.filters_by_name {
            request = request.query("name", name_or_id);
        }
        let listed = request.send_json().await?;
        let mut matches = listed[self.many_key]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| item["name"].as_str() == Some(name_or_id));
        match (matches.next(), matches.next()) {
            (Some(found), None) => Ok(found.clone()),
            (Some(_), Some(_)) => Err(Error::Ambiguous {
                kind: self.kind,
                name: name_or_id.to_string(),
            }),
            (None, _) => Err(Error::NotFound {
                kind: self.kind,
                name: name_or_id.to_string(),
            }),
        }
    }
}

/// Treat "already gone" as done: deleting something deleted outside Ember succeeds.
pub fn ignore_not_found<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shapes() {
        assert!(looks_like_uuid("0b69e70e-03b5-464f-b20a-5a9f83412ef6"));
        assert!(looks_like_uuid("0b69e70e03b5464fb20a5a9f83412ef6"));
        assert!(!looks_like_uuid("m1.small"));
        assert!(!looks_like_uuid("0b69e70e-03b5-464f-b20a-5a9f83412eZ6"));
        assert!(!looks_like_uuid("0b69e70e03b5-464f-b20a-5a9f-83412ef6"));
    }
}

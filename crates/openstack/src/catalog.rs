//! The Keystone service catalog and endpoint selection by service type, region and interface.

use serde::Deserialize;

use crate::error::Error;

/// The services Ember talks to. Each knows the catalog types it may be registered under and the
/// version suffix its endpoint needs when the catalog lists the unversioned root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceType {
    Identity,
    Compute,
    Network,
    BlockStorage,
    Image,
    Placement,
    Orchestration,
    /// Heat's CloudFormation-compatible API, where `cfn-hup` reads metadata.
    CloudFormation,
    Metric,
    Alarming,
    /// Swift.
    ObjectStore,
}

impl ServiceType {
    pub const ALL: [ServiceType; 11] = [
        ServiceType::Identity,
        ServiceType::Compute,
        ServiceType::Network,
        ServiceType::BlockStorage,
        ServiceType::Image,
        ServiceType::Placement,
        ServiceType::Orchestration,
        ServiceType::CloudFormation,
        ServiceType::Metric,
        ServiceType::Alarming,
        ServiceType::ObjectStore,
    ];

    /// Catalog `type` values, preferred first (Cinder is registered as `block-storage` and, on
    /// older clouds, only as `volumev3`).
    pub fn catalog_types(self) -> &'static [&'static str] {
        match self {
            ServiceType::Identity => &["identity"],
            ServiceType::Compute => &["compute"],
            ServiceType::Network => &["network"],
            ServiceType::BlockStorage => &["block-storage", "volumev3"],
            ServiceType::Image => &["image"],
            ServiceType::Placement => &["placement"],
            ServiceType::Orchestration => &["orchestration"],
            ServiceType::CloudFormation => &["cloudformation"],
            ServiceType::Metric => &["metric"],
            ServiceType::Alarming => &["alarming"],
            ServiceType::ObjectStore => &["object-store"],
        }
    }

    /// The API version path segment the endpoint must end in, for services whose catalog entry
    /// is commonly the unversioned root (`http://neutron:9696`).
    fn version_suffix(self) -> Option<&'static str> {
        match self {
            ServiceType::Identity => Some("/v3"),
            ServiceType::Network => Some("/v2.0"),
            ServiceType::Image => Some("/v2"),
            ServiceType::Metric => Some("/v1"),
            ServiceType::Alarming => Some("/v2"),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        self.catalog_types()[0]
    }
}

impl std::fmt::Display for ServiceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of an endpoint's URLs to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn parse(text: &str) -> Result<Interface, Error> {
        match text.trim_end_matches("URL") {
            "public" => Ok(Interface::Public),
            "internal" => Ok(Interface::Internal),
            "admin" => Ok(Interface::Admin),
            other => Err(Error::Config(format!(
                "interface must be public, internal or admin, not {other:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct CatalogEntry {
    #[serde(rename = "type")]
    service_type: String,
    #[serde(default)]
    endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Clone, Deserialize)]
struct CatalogEndpoint {
    interface: String,
    #[serde(default)]
    region_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    url: String,
}

/// The catalog of a token, as Keystone v3 returns it.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Catalog {
    pub(crate) fn from_token_body(catalog: &serde_json::Value) -> Result<Catalog, Error> {
        let entries = serde_json::from_value(catalog.clone()).map_err(|e| Error::Decode {
            service: ServiceType::Identity,
            detail: format!("token catalog: {e}"),
        })?;
        Ok(Catalog { entries })
    }

    /// The endpoint URL (no trailing slash, with the API version segment) of `service`.
    /// `region` `None` accepts any region, as the OpenStack clients do when none is configured.
    pub fn endpoint(
        &self,
        service: ServiceType,
        region: Option<&str>,
        interface: Interface,
    ) -> Result<String, Error> {
        let found = service.catalog_types().iter().find_map(|wanted| {
            self.entries
                .iter()
                .filter(|entry| entry.service_type == *wanted)
                .flat_map(|entry| entry.endpoints.iter())
                .find(|endpoint| {
                    endpoint.interface == interface.as_str()
                        && region.is_none_or(|r| {
                            endpoint.region_id.as_deref() == Some(r)
                                || endpoint.region.as_deref() == Some(r)
                        })
                })
        });
        let endpoint = found.ok_or_else(|| Error::NoEndpoint {
            service,
            region: region.unwrap_or("(any)").to_string(),
            interface: interface.as_str().to_string(),
        })?;
        Ok(versioned(&endpoint.url, service.version_suffix()))
    }

    /// Every catalog type present (for diagnostics).
    pub fn service_types(&self) -> Vec<&str> {
        self.entries
            .iter()
            .map(|e| e.service_type.as_str())
            .collect()
    }
}

fn versioned(url: &str, suffix: Option<&str>) -> String {
    let url = url.trim_end_matches('/');
    match suffix {
        Some(suffix) if !url.ends_with(suffix) && !url.contains(&format!("{suffix}/")) => {
            format!("{url}{suffix}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::from_token_body(&json!([
            {"type": "network", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://n1:9696"},
                {"interface": "internal", "region_id": "RegionOne", "url": "http://n1-int:9696/"},
                {"interface": "public", "region_id": "RegionTwo", "url": "http://n2:9696/v2.0"}]},
            {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://c:8776/v3/p1"}]},
            {"type": "compute", "endpoints": [
                {"interface": "public", "region": "RegionOne", "url": "http://nova:8774/v2.1"}]}
        ]))
        .unwrap()
    }

    #[test]
    fn selects_by_region_and_interface_and_adds_version() {
        let c = catalog();
        let public = Interface::Public;
        assert_eq!(
            c.endpoint(ServiceType::Network, Some("RegionOne"), public)
                .unwrap(),
            "http://n1:9696/v2.0"
        );
        assert_eq!(
            c.endpoint(ServiceType::Network, Some("RegionOne"), Interface::Internal)
                .unwrap(),
            "http://n1-int:9696/v2.0"
        );
        assert_eq!(
            c.endpoint(ServiceType::Network, Some("RegionTwo"), public)
                .unwrap(),
            "http://n2:9696/v2.0"
        );
        assert_eq!(
            c.endpoint(ServiceType::BlockStorage, None, public).unwrap(),
            "http://c:8776/v3/p1"
        );
        assert_eq!(
            c.endpoint(ServiceType::Compute, Some("RegionOne"), public)
                .unwrap(),
            "http://nova:8774/v2.1"
        );
    }

    #[test]
    fn missing_endpoint_names_service_region_interface() {
        let error = catalog()
            .endpoint(ServiceType::Image, Some("RegionOne"), Interface::Public)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "no public endpoint for service image in region RegionOne"
        );
        assert!(catalog()
            .endpoint(ServiceType::Compute, Some("RegionTwo"), Interface::Public)
            .is_err());
    }

    #[test]
    fn interface_names_accept_the_url_suffix_form() {
        assert_eq!(
            Interface::parse("internalURL").unwrap(),
            Interface::Internal
        );
        assert!(Interface::parse("private").is_err());
    }
}

//! OS::Glance::Image (Heat's hidden v1-era type, `is_public` for `visibility`) against the lab's
//! Glance, through the same code as OS::Glance::WebImage (tested in openstack.rs).

mod lab_types;

use ember_openstack::services::image::Image;
use lab_types::{lab, serve, Res};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_image_type_maps_is_public_and_shares_the_web_image_path() {
    let Some(lab) = lab().await else { return };
    let glance = Image::new(&lab.demo).await.unwrap();
    let url = serve(vec![7u8; 4096]).await;
    let props = |name: &str, location: &str| {
        json!({"name": name, "location": location, "disk_format": "raw", "container_format": "bare",
               "is_public": false, "min_ram": 64, "tags": ["t1"]})
    };
    let mut image = Res::new(&lab.types, "OS::Glance::Image", "img", props("v1img", &url));
    image.create().await.unwrap();
    let shown = glance.image(&image.id()).await.unwrap();
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["visibility"], "private");
    assert_eq!(shown["size"], 4096);
    assert_eq!(shown["min_ram"], 64);
    // Name in place; a new location is a new image.
    assert!(image.update(props("v1img-renamed", &url)).await.unwrap());
    assert_eq!(
        glance.image(&image.id()).await.unwrap()["name"],
        "v1img-renamed"
    );
    assert!(!image
        .update(props("v1img-renamed", &format!("{url}?v2")))
        .await
        .unwrap());
    // Publishing needs admin in Glance's default policy: the refusal is the update's reason.
    let mut public = props("v1img-renamed", &url);
    public["is_public"] = json!(true);
    let error = image.update(public).await.unwrap_err().to_string();
    assert!(error.starts_with("Forbidden: "), "{error}");
    image.delete().await.unwrap();
    assert!(glance.image(&image.id()).await.unwrap_err().is_not_found());
    image.delete().await.unwrap();
}

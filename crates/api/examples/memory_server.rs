//! A development server: the API over the engine on an in-memory store (nothing persists), for
//! running tests/compat and bench/load.sh against the API layer alone. `ember serve` is the
//! real entry point.
//!
//!     cargo run -p ember-api --example memory_server -- 127.0.0.1:18004

use std::sync::Arc;

use ember_api::{serve, ApiState, ServerConfig};
use ember_engine::service::Service;
use ember_engine::store::MemoryStore;
use ember_engine::{EngineConfig, TemplateCompiler};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ServerConfig::load(None)?;
    if let Some(bind) = std::env::args().nth(1) {
        config.bind = bind.parse()?;
    }
    let service = Service::new(
        Arc::new(MemoryStore::new()),
        ember_resources::registry(),
        Arc::new(TemplateCompiler::default()),
        EngineConfig::default(),
    );
    service.start().await?;
    serve(ApiState::new(config, Arc::new(service))?).await?;
    Ok(())
}

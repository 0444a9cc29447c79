//! Import and export (§11): `.env` files and JSON documents in, JSON and `.env` out.

use std::collections::HashMap;

use secret_core::model::AccessGrant;

mod export;
mod import;
mod write;

pub use export::MAX_EXPORT_SECRETS;
pub use import::MAX_IMPORT_ITEMS;

/// Grants indexed by the secret they are on.
fn grants_by_secret(grants: Vec<AccessGrant>) -> HashMap<String, Vec<AccessGrant>> {
    let mut by_secret: HashMap<String, Vec<AccessGrant>> = HashMap::new();
    for g in grants {
        by_secret
            .entry(g.secret_id.to_string())
            .or_default()
            .push(g);
    }
    by_secret
}

//! Import and export (§11): `.env` files and JSON documents in, JSON and `.env` out.

mod export;
mod import;
mod write;

pub use export::MAX_EXPORT_SECRETS;
pub use import::MAX_IMPORT_ITEMS;

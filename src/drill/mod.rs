//! The drill language: serde model, loading with source spans, semantic
//! validation, diagnostics, and template rendering.

pub mod diagnostic;
pub mod load;
pub mod model;
pub mod render;
pub mod span;
pub mod validate;

pub use diagnostic::Diagnostic;
pub use load::{discover, load_file, load_str, LoadedDrill};
pub use model::Drill;

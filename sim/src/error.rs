//! [`ScenarioError`]: what is wrong with a scenario.

/// A scenario error: the message names the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

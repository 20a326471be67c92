//! [`ScenarioError`]: what is wrong with a scenario, and the field check that makes one.

/// A scenario error: the message names the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

/// `Ok` when `ok`, else the error naming field `{table}{field}` (`table`: the dotted path of
/// its table with a trailing dot, such as `"workload."`, or `""` at the top) and `what` is
/// wrong with it.
pub(crate) fn check_in(
    table: &str,
    ok: bool,
    field: &str,
    what: &str,
) -> Result<(), ScenarioError> {
    if ok {
        Ok(())
    } else {
        Err(ScenarioError(format!("field `{table}{field}`: {what}")))
    }
}

//! What can go wrong while reading a metric's columns.

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A column a metric reads is missing or has an unusable type.
    #[error("column `{column}`: {message}")]
    Column { column: String, message: String },
}

impl MetricsError {
    pub(crate) fn column(column: &str, message: impl std::fmt::Display) -> MetricsError {
        MetricsError::Column { column: column.to_owned(), message: message.to_string() }
    }
}

//! The one error type of this crate.

/// Everything that can go wrong in the database layer.
///
/// Callers usually only branch on [`SchemaError::Conflict`], [`SchemaError::InUse`],
/// [`SchemaError::NotFound`] and the two invalid-input variants (they map to "409", "404" and
/// "400"/"422" in an API); the other variants are operational failures to log and report.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The database driver failed: connection lost, SQL error, decoding error,
    /// constraint violation other than the ones mapped to [`SchemaError::Conflict`].
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Running the embedded migrations failed (for example the database holds a
    /// migration this binary does not know, or a migration's checksum changed).
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// The row already exists, e.g. a user with that username.
    #[error("conflict: {0}")]
    Conflict(String),

    /// The row the operation needs does not exist, e.g. setting the
    /// credentials of an unknown user.
    #[error("not found: {0}")]
    NotFound(String),

    /// The database URL is neither `sqlite:...` nor `postgres://...` /
    /// `postgresql://...`.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// A value handed in breaks the schema's rules before it reaches the
    /// database: an empty username, a mobile number that is not E.164, an HA1
    /// that is not lowercase hex of the right length (which also catches a
    /// plain password passed by mistake).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// One named field of the input breaks the rules: a hunt group strategy that does not
    /// exist, a number that is not E.164, a member that is not a user. `field` is the name the
    /// field has in the JSON of the admin API (`"target_ref"`, `"members[2].username"`), so an
    /// API can point at it without translating.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field's name, as in the admin API's JSON.
        field: String,
        /// What is wrong with it, for a person.
        message: String,
    },

    /// The row cannot be deleted because other configuration still points at it, e.g. a
    /// hunt group that a public number routes to. Maps to "409" like [`SchemaError::Conflict`];
    /// the message lists what still refers to it.
    #[error("still in use: {0}")]
    InUse(String),
}

impl SchemaError {
    /// Shorthand for [`SchemaError::Invalid`].
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> SchemaError {
        SchemaError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// True if this is a unique or primary-key violation reported by the
    /// database (on either backend).
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}

-- People's own logins to the API and the pages (issue 15): roles, local passwords with optional TOTP,
-- sessions (short-lived access tokens and refresh tokens, stored only as SHA-256 hashes), and the audit
-- log. Same text for SQLite and PostgreSQL. The SIP digest credentials stay separate (credentials).

-- A user may hold several roles: 'admin', 'receptionist', 'staff'.
CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT   NOT NULL CHECK (role IN ('admin', 'receptionist', 'staff')),
    PRIMARY KEY (user_id, role)
);

-- A local login: an argon2id PHC string. The TOTP secret (base32) is NULL until the user enrols; it only
-- counts once confirmed. totp_last_step is the last time step accepted, so a code works only once.
CREATE TABLE logins (
    user_id             BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash       TEXT   NOT NULL,
    password_changed_at BIGINT NOT NULL,
    totp_secret         TEXT,
    totp_confirmed      BIGINT NOT NULL DEFAULT 0,
    totp_last_step      BIGINT
);

-- scope 'full', or 'totp_enrolment' for a session that may only enrol a required second factor.
CREATE TABLE sessions (
    access_hash        TEXT   PRIMARY KEY,
    refresh_hash       TEXT   NOT NULL UNIQUE,
    user_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope              TEXT   NOT NULL,
    method             TEXT   NOT NULL,
    source             TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    access_expires_at  BIGINT NOT NULL,
    refresh_expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every change made by an admin or a receptionist, and every login attempt. actor is a username, or
-- 'admin-token' for the integration token; not a foreign key, so the log outlives removed users.
CREATE TABLE audit_log (
    at_ms   BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    target  TEXT   NOT NULL,
    outcome BIGINT NOT NULL,
    source  TEXT   NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms);

-- Per-user SRTP policy for SDES media on TLS legs (SQLite dialect): 'preferred' uses SRTP when the
-- phone offers or accepts it, 'required' refuses plain RTP and plain signalling, 'off' never uses it.
-- Keep in step with ../postgres/0007_user_srtp.sql.
ALTER TABLE user_call_settings ADD COLUMN srtp TEXT NOT NULL DEFAULT 'preferred'
    CHECK (srtp IN ('off', 'preferred', 'required'));

-- How many times a caller waiting in a queue was told their place (and expected wait), for queue
-- statistics and to show a caller was kept informed (PostgreSQL dialect).
-- Keep in step with ../sqlite/0006_queue_announcements.sql.
ALTER TABLE cdrs ADD COLUMN queue_announcements BIGINT CHECK (queue_announcements >= 0);

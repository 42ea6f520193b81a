-- Priority numbers, opening hours per queue, and each queue call's outcome in its record (SQLite dialect).
-- Keep in step with ../postgres/0004_queue_records.sql.

-- A caller who dialled this number joins queues with this priority (0 normal, up to 9; higher first).
ALTER TABLE public_numbers ADD COLUMN priority BIGINT NOT NULL DEFAULT 0
    CHECK (priority BETWEEN 0 AND 9);

-- A queue may follow a schedule like a public number does; outside its hours callers go to the closed
-- target, or (both NULL) hear 'closed' and are hung up. Menus carry theirs in their configuration JSON.
ALTER TABLE queues ADD COLUMN schedule_id INTEGER REFERENCES schedules (id);
ALTER TABLE queues ADD COLUMN closed_kind TEXT
    CHECK (closed_kind IN ('user', 'hunt_group', 'queue', 'menu', 'message'));
ALTER TABLE queues ADD COLUMN closed_ref TEXT
    CHECK ((closed_kind IS NULL AND closed_ref IS NULL)
           OR (closed_kind IS NOT NULL AND closed_ref IS NOT NULL));
CREATE INDEX queues_schedule_id ON queues (schedule_id);
CREATE INDEX queues_closed ON queues (closed_kind, closed_ref);

-- How a call's stay in its queue ended, for historical queue statistics: answered by an agent, the
-- caller hung up while waiting, sent on (full, waited too long, nobody logged in), or booked a callback.
ALTER TABLE cdrs ADD COLUMN queue_outcome TEXT
    CHECK (queue_outcome IN ('answered', 'abandoned', 'overflow', 'callback'));
CREATE INDEX cdrs_queue ON cdrs (queue_id, started_at_ms);

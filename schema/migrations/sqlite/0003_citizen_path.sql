-- The citizen's path: ACD queues, voice menus, uploaded prompts and opening hours, SQLite dialect.
-- Keep in step with ../postgres/0003_citizen_path.sql: the same tables, columns and constraints, only the
-- dialect differs. As in 0002: TEXT and 64-bit integers (booleans 0/1, JSON as TEXT), plus one BLOB for
-- prompt audio. The CHECKs are a backstop behind the Db methods' validation.

-- ACD queues. Settings are plain columns (seconds, counts) rather than one JSON document so that psql,
-- reports and a later schema change can see and migrate each one.
CREATE TABLE queues (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    name                      TEXT    NOT NULL UNIQUE,
    strategy                  TEXT    NOT NULL DEFAULT 'longest_idle'
                              CHECK (strategy IN ('ring_all', 'linear', 'round_robin', 'longest_idle',
                                                  'fewest_calls', 'random')),
    ring_timeout_secs         BIGINT  NOT NULL DEFAULT 20 CHECK (ring_timeout_secs > 0),
    wrap_up_secs              BIGINT  NOT NULL DEFAULT 10 CHECK (wrap_up_secs >= 0),
    -- NULL: no limit.
    max_callers               BIGINT  CHECK (max_callers IS NULL OR max_callers > 0),
    max_wait_secs             BIGINT  CHECK (max_wait_secs IS NULL OR max_wait_secs > 0),
    -- Where callers leave to (full, waited too long, nobody logged in); both NULL: a message, then
    -- hang up. Checked by the Db methods like public-number targets.
    overflow_kind             TEXT
                              CHECK (overflow_kind IN ('user', 'hunt_group', 'queue', 'menu', 'message')),
    overflow_ref              TEXT,
    tier_wait_secs            BIGINT  CHECK (tier_wait_secs IS NULL OR tier_wait_secs > 0),
    auto_pause_after          BIGINT  CHECK (auto_pause_after IS NULL OR auto_pause_after > 0),
    -- NULL: no position announcements.
    announce_every_secs       BIGINT  DEFAULT 60
                              CHECK (announce_every_secs IS NULL OR announce_every_secs > 0),
    first_announce_after_secs BIGINT  NOT NULL DEFAULT 30 CHECK (first_announce_after_secs >= 0),
    service_level_secs        BIGINT  NOT NULL DEFAULT 20 CHECK (service_level_secs > 0),
    join_empty                BIGINT  NOT NULL DEFAULT 1 CHECK (join_empty IN (0, 1)),
    leave_empty               BIGINT  NOT NULL DEFAULT 0 CHECK (leave_empty IN (0, 1)),
    -- NULL: callers are never offered a callback.
    callback_after_secs       BIGINT  CHECK (callback_after_secs IS NULL OR callback_after_secs > 0),
    hold_music                TEXT    NOT NULL DEFAULT 'moh' CHECK (hold_music IN ('moh', 'ringback')),
    -- NULL: no greeting before the hold music.
    greeting_prompt           TEXT    DEFAULT 'queue_greeting',
    created_at                BIGINT  NOT NULL,
    CHECK ((overflow_kind IS NULL AND overflow_ref IS NULL)
           OR (overflow_kind IS NOT NULL AND overflow_ref IS NOT NULL))
);

-- Agents of a queue. Like hunt_group_members, keyed by user id: memberships go with the user.
CREATE TABLE queue_members (
    queue_id INTEGER NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Lower penalties are offered first (tiers).
    penalty  BIGINT  NOT NULL DEFAULT 0 CHECK (penalty >= 0),
    -- 0-based member order (linear and round robin ring in this order; ties elsewhere).
    position BIGINT  NOT NULL CHECK (position >= 0),
    PRIMARY KEY (queue_id, user_id),
    UNIQUE (queue_id, position)
);
CREATE INDEX queue_members_user_id ON queue_members (user_id);

-- Voice menus: the routing crate's MenuConfig JSON, validated by parsing it before it is stored. Its
-- "id" and "name" are kept equal to the columns.
CREATE TABLE menus (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    config_json TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Uploaded prompts (WAV files, at most 5 MB). One replaces the built-in prompt of the same name; deleting
-- it brings the built-in one back.
CREATE TABLE prompts (
    name        TEXT   NOT NULL PRIMARY KEY
                CHECK (length(name) BETWEEN 1 AND 40 AND name NOT GLOB '*[^a-z0-9_]*'),
    wav         BLOB   NOT NULL CHECK (length(wav) BETWEEN 1 AND 5242880),
    uploaded_at BIGINT NOT NULL
);

-- Opening hours: the routing crate's schedule JSON, and the receptionist's emergency override (NULL: none).
CREATE TABLE schedules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    json          TEXT    NOT NULL,
    override_json TEXT,
    created_at    BIGINT  NOT NULL
);

-- A public number may follow a schedule; outside its hours calls go to the closed target, or (both NULL)
-- hear 'closed' and are hung up. The foreign key has no cascade: Db::delete_schedule refuses while a
-- number uses the schedule.
ALTER TABLE public_numbers ADD COLUMN schedule_id INTEGER REFERENCES schedules (id);
ALTER TABLE public_numbers ADD COLUMN closed_kind TEXT
    CHECK (closed_kind IN ('user', 'hunt_group', 'queue', 'menu', 'message'));
ALTER TABLE public_numbers ADD COLUMN closed_ref TEXT
    CHECK ((closed_kind IS NULL AND closed_ref IS NULL)
           OR (closed_kind IS NOT NULL AND closed_ref IS NOT NULL));
CREATE INDEX public_numbers_schedule_id ON public_numbers (schedule_id);
CREATE INDEX public_numbers_closed ON public_numbers (closed_kind, closed_ref);

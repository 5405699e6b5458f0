-- Idempotent: CREATE ... IF NOT EXISTS only. Changes to existing tables go in migrations in db.py.
CREATE TABLE IF NOT EXISTS discourses (
    id INTEGER PRIMARY KEY,
    slug TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY,
    slug TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL,
    lecturer TEXT NOT NULL DEFAULT '',
    recorded_on TEXT,
    language TEXT NOT NULL DEFAULT 'he',
    duration REAL,
    discourse_id INTEGER REFERENCES discourses(id),
    audio_path TEXT,
    stream_path TEXT,
    outdir TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    published INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- ---- lecturers: accounts, login throttling, background jobs, edit history ----
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT UNIQUE NOT NULL COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'lecturer' CHECK (role IN ('lecturer', 'admin')),
    display_name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);

CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    recording_id INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'process',
    state TEXT NOT NULL DEFAULT 'queued',
    percent REAL NOT NULL DEFAULT 0,
    eta REAL,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    worker_host TEXT,
    heartbeat REAL,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_recording ON jobs (recording_id, id);

CREATE TABLE IF NOT EXISTS pins (
    recording_id INTEGER NOT NULL,
    passage_id TEXT NOT NULL,
    start REAL,
    PRIMARY KEY (recording_id, passage_id)
);

CREATE TABLE IF NOT EXISTS edits (
    id INTEGER PRIMARY KEY,
    recording_id INTEGER NOT NULL,
    user_id INTEGER,
    action TEXT NOT NULL,
    passage_id TEXT,
    detail TEXT NOT NULL DEFAULT '',
    snapshot BLOB,
    undone INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS edits_recording ON edits (recording_id, id);
CREATE TABLE IF NOT EXISTS workers (
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (pid, host)
);
-- ---- end of the lecturer tables ----

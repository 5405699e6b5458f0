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

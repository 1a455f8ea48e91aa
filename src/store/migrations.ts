/**
 * The results store's schema, as an ordered list of migrations. The database's `user_version`
 * is the number of migrations applied; opening a store runs the missing ones in one transaction
 * each, so an old store is brought up to date and a store written by a newer playtally is
 * refused rather than misread. Never edit a migration that has shipped: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: charts, quality, KPIs and runs.
  `
  -- One row per chart date written (country and user charts of the window ending on date).
  CREATE TABLE chart_dates (
    date TEXT PRIMARY KEY,            -- YYYY-MM-DD
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    countries INTEGER NOT NULL,
    users INTEGER NOT NULL,
    user_charts_kept INTEGER NOT NULL, -- 0 once the date's user charts were pruned
    source TEXT NOT NULL,              -- size and mtime of the files loaded: a sync reloads on change
    loaded_at TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE country_charts (
    date TEXT NOT NULL,
    country TEXT NOT NULL,
    rank INTEGER NOT NULL,            -- 1-based
    sng_id INTEGER NOT NULL,
    plays INTEGER NOT NULL,
    PRIMARY KEY (date, country, rank)
  ) WITHOUT ROWID;
  -- Movement asks whether a song was ever in a country's chart before a date.
  CREATE INDEX country_charts_song ON country_charts (country, sng_id, date);

  -- A user's chart is kept as its chart-file text (sng_id:plays,...): millions of users a day
  -- make one row per song too large; the API splits it.
  CREATE TABLE user_charts (
    date TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    chart TEXT NOT NULL,
    PRIMARY KEY (date, user_id)
  ) WITHOUT ROWID;

  -- The quality report written with each chart date (JSON as in quality_YYYYMMDD.json).
  CREATE TABLE chart_quality (
    date TEXT PRIMARY KEY,
    report TEXT NOT NULL
  ) WITHOUT ROWID;

  -- Per listen-log day: rows and rejects by reason, from the newest report that covers the day.
  CREATE TABLE log_days (
    date TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    rows INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    rejected_by_reason TEXT NOT NULL, -- JSON object reason -> count
    source_date TEXT NOT NULL         -- the chart date whose report these figures came from
  ) WITHOUT ROWID;

  -- Genre KPIs per UTC day; hour is -1 for a day's figures, 0..23 with hour granularity.
  CREATE TABLE genre_kpis (
    date TEXT NOT NULL,
    hour INTEGER NOT NULL,
    genre TEXT NOT NULL,
    listen_count INTEGER NOT NULL,
    unique_listeners INTEGER NOT NULL,
    total_listening_ms INTEGER NOT NULL,
    avg_listening_ms_per_listener TEXT NOT NULL, -- exact decimal text, as in the CSV
    top3_tracks TEXT NOT NULL,                   -- JSON [{track, plays}]
    PRIMARY KEY (date, hour, genre)
  ) WITHOUT ROWID;
  CREATE INDEX genre_kpis_genre ON genre_kpis (genre, date);

  CREATE TABLE top_genres (
    date TEXT NOT NULL,
    hour INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    genre TEXT NOT NULL,
    listen_count INTEGER NOT NULL,
    PRIMARY KEY (date, hour, rank)
  ) WITHOUT ROWID;

  CREATE TABLE kpi_days (
    date TEXT PRIMARY KEY,
    granularity TEXT NOT NULL,
    quality TEXT NOT NULL,           -- JSON as in kpi_quality_YYYYMMDD.json
    source TEXT NOT NULL,
    loaded_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- Runs of run, backfill and watch (JSON as in <state>/runs.jsonl).
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    record TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX runs_finished ON runs (finished_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

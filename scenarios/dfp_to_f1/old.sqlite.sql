-- The legacy store in SQLite: no date type, so DATETIMEs are the legacy text
-- ('YYYY-MM-DD HH:MM:SS', zero dates as '0000-00-00 00:00:00'); ENUMs are text, the SET
-- 'a,b' text, JSON text, the POINT WKT text.
CREATE TABLE advertisers (
  id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, time_zone TEXT NOT NULL,
  currency TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE orders (
  id INTEGER NOT NULL PRIMARY KEY, advertiser_id INTEGER NOT NULL, name TEXT NOT NULL,
  status_code INTEGER NOT NULL, start_date TEXT NOT NULL, end_date TEXT,
  budget_micros INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE line_items (
  id INTEGER NOT NULL PRIMARY KEY, order_id INTEGER NOT NULL, advertiser_id INTEGER NOT NULL,
  name TEXT NOT NULL, status_code INTEGER NOT NULL, line_type TEXT NOT NULL,
  start_time TEXT NOT NULL, end_time TEXT, budget_micros INTEGER NOT NULL,
  cost_per_unit_micros INTEGER NOT NULL, units_bought INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
  settings TEXT NOT NULL, targeting TEXT NOT NULL, geo TEXT, flags INTEGER NOT NULL
);
CREATE TABLE creatives (
  id INTEGER NOT NULL PRIMARY KEY, advertiser_id INTEGER NOT NULL, name TEXT NOT NULL,
  width INTEGER NOT NULL, height INTEGER NOT NULL, created_at TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, asset BLOB NOT NULL
);
-- @after-load
CREATE INDEX orders_advertiser ON orders (advertiser_id, id);
CREATE INDEX line_items_hierarchy ON line_items (advertiser_id, order_id, id);
CREATE INDEX creatives_advertiser ON creatives (advertiser_id, id);

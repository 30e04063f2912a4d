-- The new store in SQLite: timestamps as text with their UTC offset, money as text with six
-- decimals (SQLite would otherwise turn NUMERIC into binary floats), booleans as 0/1, arrays
-- as 'a,b' text, JSON as text, points as '(x,y)' text.
CREATE TABLE advertiser (
  advertiser_id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, time_zone TEXT NOT NULL,
  currency_code TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL,
  archived INTEGER NOT NULL
);
CREATE TABLE campaign (
  advertiser_id INTEGER NOT NULL, campaign_id INTEGER NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT, budget TEXT NOT NULL,
  archived INTEGER NOT NULL
);
CREATE TABLE line_item (
  advertiser_id INTEGER NOT NULL, campaign_id INTEGER NOT NULL, line_item_id INTEGER NOT NULL,
  name TEXT NOT NULL, state TEXT NOT NULL, line_type TEXT NOT NULL, start_time TEXT NOT NULL,
  end_time TEXT, budget TEXT NOT NULL, cost_per_unit TEXT NOT NULL,
  units_bought INTEGER NOT NULL, archived INTEGER NOT NULL, updated_at TEXT NOT NULL,
  settings TEXT NOT NULL, targeting TEXT NOT NULL, geo TEXT, flags INTEGER NOT NULL
);
CREATE TABLE creative (
  advertiser_id INTEGER NOT NULL, creative_id INTEGER NOT NULL, name TEXT NOT NULL,
  size TEXT NOT NULL, created_at TEXT NOT NULL, archived INTEGER NOT NULL, asset BLOB NOT NULL
);
-- @after-load
CREATE UNIQUE INDEX campaign_key ON campaign (advertiser_id, campaign_id);
CREATE INDEX line_item_key ON line_item (advertiser_id, campaign_id, line_item_id);
CREATE INDEX line_item_by_id ON line_item (line_item_id);
CREATE UNIQUE INDEX creative_key ON creative (advertiser_id, creative_id);

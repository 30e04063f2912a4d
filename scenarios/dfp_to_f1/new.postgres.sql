-- The new, F1-like store (PostgreSQL dialect): hierarchical keys advertiser -> campaign ->
-- line item, money as NUMERIC(18,6), timestamps in UTC, states as text.
CREATE TABLE advertiser (
  advertiser_id BIGINT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  currency_code TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  archived BOOLEAN NOT NULL
);
CREATE TABLE campaign (
  advertiser_id BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  start_time TIMESTAMPTZ NOT NULL,
  end_time TIMESTAMPTZ NULL,
  budget NUMERIC(18,6) NOT NULL,
  archived BOOLEAN NOT NULL
);
-- Uniqueness is not enforced in the replica verify reads, which is how the duplicated
-- defect can exist: the key (advertiser_id, campaign_id, line_item_id) is only indexed.
CREATE TABLE line_item (
  advertiser_id BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  line_item_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  line_type TEXT NOT NULL,
  start_time TIMESTAMPTZ NOT NULL,
  end_time TIMESTAMPTZ NULL,
  budget NUMERIC(18,6) NOT NULL,
  cost_per_unit NUMERIC(18,6) NOT NULL,
  units_bought BIGINT NOT NULL,
  archived BOOLEAN NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  settings JSONB NOT NULL,
  targeting TEXT[] NOT NULL,
  geo POINT NULL,
  flags SMALLINT NOT NULL
);
CREATE TABLE creative (
  advertiser_id BIGINT NOT NULL,
  creative_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  size TEXT NOT NULL,                      -- 'WIDTHxHEIGHT'
  created_at TIMESTAMPTZ NOT NULL,
  archived BOOLEAN NOT NULL,
  asset BYTEA NOT NULL
);
-- @after-load
ALTER TABLE campaign ADD PRIMARY KEY (advertiser_id, campaign_id);
CREATE INDEX line_item_key ON line_item (advertiser_id, campaign_id, line_item_id);
-- The global index by id (as F1 keeps for child rows looked up without their parents).
CREATE INDEX line_item_by_id ON line_item (line_item_id);
ALTER TABLE creative ADD PRIMARY KEY (advertiser_id, creative_id);

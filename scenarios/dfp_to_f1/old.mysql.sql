-- The legacy ad-management store (MySQL dialect): local-time DATETIMEs, money in micros,
-- TINYINT status codes, ENUMs, nullable end dates, zero dates, soft deletes; JSON settings,
-- SET targeting flags, a POINT geo target, BIT flags and BLOB creative assets.
CREATE TABLE advertisers (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  time_zone VARCHAR(64) NOT NULL,
  currency CHAR(3) NOT NULL,
  status ENUM('ACTIVE','INACTIVE','BLOCKED') NOT NULL,
  created_at DATETIME NOT NULL,            -- in the advertiser's own time_zone
  deleted TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE orders (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  advertiser_id INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  status_code TINYINT NOT NULL,            -- 0 DRAFT .. 5 ARCHIVED
  start_date DATETIME NOT NULL,            -- network zone America/New_York
  end_date DATETIME NULL,
  budget_micros BIGINT NOT NULL,
  deleted TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE line_items (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  order_id INT UNSIGNED NOT NULL,
  advertiser_id INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  status_code TINYINT NOT NULL,            -- 0 DRAFT .. 5 CANCELED
  line_type ENUM('STANDARD','SPONSORSHIP','PRICE_PRIORITY','HOUSE') NOT NULL,
  start_time DATETIME NOT NULL,            -- network zone America/New_York
  end_time DATETIME NULL,                  -- NULL = open-ended
  budget_micros BIGINT NOT NULL,
  cost_per_unit_micros BIGINT NOT NULL,
  units_bought BIGINT NOT NULL,
  deleted TINYINT(1) NOT NULL DEFAULT 0,
  updated_at DATETIME NOT NULL,            -- UTC
  settings JSON NOT NULL,                  -- frequency cap, pacing, priority
  targeting SET('mobile','desktop','tablet','ctv') NOT NULL,
  geo POINT NULL,                          -- the geo target (longitude latitude)
  flags BIT(8) NOT NULL                    -- feature flags
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE creatives (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  advertiser_id INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  width SMALLINT UNSIGNED NOT NULL,
  height SMALLINT UNSIGNED NOT NULL,
  created_at DATETIME NOT NULL,            -- network zone America/New_York
  deleted TINYINT(1) NOT NULL DEFAULT 0,
  asset BLOB NOT NULL                      -- the creative's bytes
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- @after-load
CREATE INDEX orders_advertiser ON orders (advertiser_id, id);
CREATE INDEX line_items_hierarchy ON line_items (advertiser_id, order_id, id);
CREATE INDEX creatives_advertiser ON creatives (advertiser_id, id);

-- 004_alerts.sql: the evidence stage's alerts (issue 14), one row per alert, written by the
-- PostgreSQL output of production mode next to the `themis-alerts` topic.
--
-- An alert is raised once, updated while its source's activity goes on, and closed when its
-- detector's window has passed (bolts/evidence/alert.ts); its id is fixed at raise. The writer
-- upserts by alert_id and never lets an older state overwrite a newer one: a row changes only to a
-- state at least as late (last_seen, then attempts, then raised < updated < closed), so a replayed
-- record of an earlier state leaves the row as it was.
--
-- Times are event times, the flows' own (epoch seconds as timestamptz, as scored_flow.start_time).
-- target_ips, target_ports and flow_ids are the record's capped lists (evidence.maxListed, the
-- first seen); attempts counts them all.

CREATE TABLE alert (
  alert_id     text PRIMARY KEY,
  alert_type   text NOT NULL,
  status       text NOT NULL CHECK (status IN ('raised', 'updated', 'closed')),
  source_ip    inet NOT NULL,
  first_seen   timestamptz NOT NULL,
  last_seen    timestamptz NOT NULL CHECK (last_seen >= first_seen),
  target_ips   inet[] NOT NULL,
  target_ports integer[] NOT NULL,
  attempts     bigint NOT NULL CHECK (attempts >= 1),
  flow_ids     bigint[] NOT NULL,
  score        integer NOT NULL,
  ins_ts       timestamptz NOT NULL DEFAULT now(),
  upd_ts       timestamptz NOT NULL DEFAULT now()
);

-- What an analyst asks first: the worst recent alerts, and everything about one source.
CREATE INDEX alert_last_seen_idx ON alert (last_seen DESC);
CREATE INDEX alert_source_ip_idx ON alert (source_ip);

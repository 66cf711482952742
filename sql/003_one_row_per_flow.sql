-- 003_one_row_per_flow.sql: every flow id is in at most one scored_flow row, as its id or as its
-- pair_flow_id, and a table enforces it (issue 13).
--
-- Before: a crash could split a conversation at a commit boundary, so that flow 6 kept an unpaired
-- row of its own while also being the pair_flow_id of row 5's conversation; the writer replaced an
-- unpaired row only by a conversation of the same id. Now:
-- * scored_flow_member names, for each flow id, the one row that holds it (flow_id is the primary
--   key, so no flow is in two rows, whatever order or concurrency the writes come in). A
--   conversation row has two members, a lone flow's row one. Deleting a row (a purge of old
--   flows) deletes its members.
-- * The writer keeps a conversation record over the unpaired rows of either of its flows
--   (replacing them, tags included, in the same statement) and adds nothing for a record whose
--   flows are already held: a replay, or a late lone record of a flow already in a conversation.
-- * themis_scored_flow_conflict() is what the writer's statement calls when a concurrent write
--   changed the rows it had read: it raises serialization_failure (40001), which fails the batch
--   for replay, and the replay sees the committed rows.
--
-- Repair of rows written before: an unpaired row of a flow that a conversation row also holds is
-- deleted (the conversation is kept); of rows that share a flow otherwise (two conversations, e.g.
-- written in both directions), the first inserted is kept.

DELETE FROM scored_flow lone
WHERE lone.pair_flow_id IS NULL
  AND EXISTS (SELECT 1 FROM scored_flow conv WHERE conv.pair_flow_id = lone.id);

DELETE FROM scored_flow later
WHERE EXISTS (
  SELECT 1 FROM scored_flow earlier
  WHERE (earlier.ins_ts, earlier.id) < (later.ins_ts, later.id)
    AND (earlier.id IN (later.id, later.pair_flow_id) OR earlier.pair_flow_id IN (later.id, later.pair_flow_id)));

-- row_id is not a foreign key: its check, a query per inserted member, made the writer's batch
-- two to three times slower. The statement trigger below deletes a deleted row's members instead,
-- once per DELETE statement.
CREATE TABLE scored_flow_member (
  flow_id bigint PRIMARY KEY,
  row_id  bigint NOT NULL
);

CREATE INDEX scored_flow_member_row_id_idx ON scored_flow_member (row_id);

CREATE FUNCTION themis_scored_flow_forget_members() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- A member the same statement moved to another row (a conversation replacing the partner's lone
  -- row) no longer names the deleted row and stays.
  DELETE FROM scored_flow_member m USING gone WHERE m.row_id = gone.id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER scored_flow_forget_members AFTER DELETE ON scored_flow
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION themis_scored_flow_forget_members();

INSERT INTO scored_flow_member (flow_id, row_id)
SELECT id, id FROM scored_flow
UNION ALL
SELECT pair_flow_id, id FROM scored_flow WHERE pair_flow_id IS NOT NULL;

CREATE FUNCTION themis_scored_flow_conflict() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'a concurrent write changed the scored_flow rows of this batch''s flows; write the batch again'
    USING ERRCODE = 'serialization_failure';
END;
$$;

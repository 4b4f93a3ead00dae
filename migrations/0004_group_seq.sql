-- A creation sequence for groups: a stable cursor for listing every group.
ALTER TABLE groups ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE groups SET seq = (SELECT count(*) FROM groups g2 WHERE g2.group_id <= groups.group_id);
CREATE INDEX groups_by_seq ON groups(seq);
CREATE INDEX groups_by_type_seq ON groups(type, seq);
INSERT INTO meta(key, value) VALUES ('group_seq', (SELECT coalesce(max(seq), 0) FROM groups));

-- The event log is read back in id order only (a stream catching up scans a
-- bounded window of ids), so events need no per-group index: each event is
-- one append.
DROP INDEX events_by_group;
-- Listing groups by type goes by creation sequence (groups_by_type_seq).
DROP INDEX groups_by_type;
-- Recipients keyed by event first: an event's rows are appended together, a
-- window of ids is one range, and pruning removes a prefix.
CREATE TABLE event_recipients_by_id (
    event_id INTEGER NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (event_id, user_id)
) WITHOUT ROWID;
INSERT INTO event_recipients_by_id(event_id, user_id)
    SELECT event_id, user_id FROM event_recipients;
DROP TABLE event_recipients;
ALTER TABLE event_recipients_by_id RENAME TO event_recipients;

-- Ended memberships keyed by the event that ended them: each one is an
-- append, pruning removes a prefix, and a stream catching up reads the ones
-- ended since it last looked as one range.
CREATE TABLE membership_history_by_end_event (
    to_event   INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    from_event INTEGER NOT NULL,
    PRIMARY KEY (to_event, user_id, group_id)
) WITHOUT ROWID;
INSERT OR REPLACE INTO membership_history_by_end_event(to_event, user_id, group_id, from_event)
    SELECT to_event, user_id, group_id, from_event FROM membership_history;
DROP TABLE membership_history;
ALTER TABLE membership_history_by_end_event RENAME TO membership_history;

-- groupdeck schema, version 1.
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    nick        TEXT NOT NULL DEFAULT '',
    face_url    TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE groups (
    group_id       TEXT PRIMARY KEY,
    type           TEXT NOT NULL,
    name           TEXT NOT NULL,
    introduction   TEXT NOT NULL DEFAULT '',
    notification   TEXT NOT NULL DEFAULT '',
    face_url       TEXT NOT NULL DEFAULT '',
    owner          TEXT,
    add_option     TEXT NOT NULL,
    invite_option  TEXT,
    max_members    INTEGER,
    member_count   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    info_seq       INTEGER NOT NULL DEFAULT 1,
    last_info_time INTEGER NOT NULL,
    mute_all       INTEGER NOT NULL DEFAULT 0,
    activated      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX groups_by_type ON groups(type, group_id);

-- Current members. from_event: the first event id the member is entitled to.
CREATE TABLE members (
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    join_time  INTEGER NOT NULL,
    from_event INTEGER NOT NULL,
    name_card  TEXT NOT NULL DEFAULT '',
    mute_until INTEGER NOT NULL DEFAULT 0,
    msg_flag   TEXT NOT NULL DEFAULT 'AcceptAndNotify',
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members(user_id, group_id);
CREATE INDEX members_by_role ON members(group_id, role);

-- Past memberships, closed intervals of event ids, so a resumed stream knows
-- which events a user was entitled to when they happened.
CREATE TABLE membership_history (
    user_id    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    from_event INTEGER NOT NULL,
    to_event   INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id, from_event)
) WITHOUT ROWID;
CREATE INDEX membership_history_by_end ON membership_history(to_event);

CREATE TABLE join_requests (
    id         INTEGER PRIMARY KEY,
    group_id   TEXT NOT NULL,
    applicant  TEXT NOT NULL,
    inviter    TEXT,
    message    TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    status     TEXT NOT NULL,
    handled_by TEXT,
    handled_at INTEGER,
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX join_requests_by_group ON join_requests(group_id, status, applicant);
CREATE INDEX join_requests_by_applicant ON join_requests(applicant, id);

-- The event log. audience_only = 1: only the users in event_recipients get it;
-- otherwise every member of the group at the time.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    group_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    targets       TEXT NOT NULL,
    detail        TEXT NOT NULL,
    audience_only INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_group ON events(group_id, id);

CREATE TABLE event_recipients (
    user_id  TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, event_id)
) WITHOUT ROWID;
CREATE INDEX event_recipients_by_event ON event_recipients(event_id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('pruned_through', 0);

//! Mapping between SQLite rows and the store's row types, and the read
//! queries the service and the event stream use. Plain functions over a
//! connection, so they run on any reader (or inside the writer's transaction).

use super::{GroupRow, MemberRow, RequestRow, RequestStatus};
use crate::model::{AddOption, Event, EventKind, GroupType, InviteOption, Role};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::{BTreeMap, HashSet};

fn bad_column(idx: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        Type::Text,
        format!("unexpected {what} {value:?} in the database").into(),
    )
}

fn u64_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    Ok(u64::try_from(v).unwrap_or(0))
}

fn opt_u64_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    Ok(v.map(|v| u64::try_from(v).unwrap_or(0)))
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn app_data_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<BTreeMap<String, String>> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|_| bad_column(idx, "custom fields", &text))
}

/// Custom fields as stored: a JSON object.
pub(crate) fn app_data_text(data: &BTreeMap<String, String>) -> String {
    serde_json::to_string(data).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn role_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Role> {
    let s: String = row.get(idx)?;
    Role::parse(&s).ok_or_else(|| bad_column(idx, "role", &s))
}

/// The group columns as a literal, so that statements on the writer's hot
/// path are `concat!`ed constants rather than strings formatted per call.
macro_rules! group_columns {
    () => {
        "group_id, type, name, introduction, notification, face_url, owner, \
         add_option, invite_option, max_members, member_count, created_at, info_seq, last_info_time, \
         mute_all, activated, app_data"
    };
}
pub(crate) use group_columns;

pub const GROUP_COLUMNS: &str = group_columns!();

/// Maps a row selected with [`GROUP_COLUMNS`] (at offset 0).
pub fn group_from_row(row: &Row<'_>) -> rusqlite::Result<GroupRow> {
    let type_s: String = row.get(1)?;
    let add_s: String = row.get(7)?;
    let invite_s: Option<String> = row.get(8)?;
    let invite_option = match invite_s {
        None => None,
        Some(s) => {
            Some(InviteOption::parse_any(&s).ok_or_else(|| bad_column(8, "invite option", &s))?)
        }
    };
    Ok(GroupRow {
        group_id: row.get(0)?,
        group_type: GroupType::parse_any(&type_s)
            .ok_or_else(|| bad_column(1, "group type", &type_s))?,
        name: row.get(2)?,
        introduction: row.get(3)?,
        notification: row.get(4)?,
        face_url: row.get(5)?,
        owner: row.get(6)?,
        add_option: AddOption::parse_any(&add_s)
            .ok_or_else(|| bad_column(7, "join option", &add_s))?,
        invite_option,
        max_members: opt_u64_col(row, 9)?,
        member_count: u64_col(row, 10)?,
        created_at: u64_col(row, 11)?,
        info_seq: u64_col(row, 12)?,
        last_info_time: u64_col(row, 13)?,
        mute_all: row.get(14)?,
        activated: row.get(15)?,
        app_data: app_data_col(row, 16)?,
    })
}

pub const MEMBER_COLUMNS: &str =
    "user_id, role, join_time, name_card, mute_until, msg_flag, app_data";

pub fn member_from_row(row: &Row<'_>) -> rusqlite::Result<MemberRow> {
    member_at(row, 0)
}

/// Maps [`MEMBER_COLUMNS`] selected from column `at` on.
fn member_at(row: &Row<'_>, at: usize) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        user_id: row.get(at)?,
        role: role_col(row, at + 1)?,
        join_time: u64_col(row, at + 2)?,
        name_card: row.get(at + 3)?,
        mute_until: u64_col(row, at + 4)?,
        msg_flag: row.get(at + 5)?,
        app_data: app_data_col(row, at + 6)?,
    })
}

/// `cols` with each name qualified by a table alias (`g.name, g.type, ...`).
fn qualified(cols: &str, alias: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The request columns as a literal (see `group_columns`).
macro_rules! request_columns {
    () => {
        "id, group_id, applicant, inviter, message, created_at, status, handled_by, handled_at, reason"
    };
}
pub(crate) use request_columns;

pub const REQUEST_COLUMNS: &str = request_columns!();

pub fn request_from_row(row: &Row<'_>) -> rusqlite::Result<RequestRow> {
    let status_s: String = row.get(6)?;
    Ok(RequestRow {
        id: u64_col(row, 0)?,
        group_id: row.get(1)?,
        applicant: row.get(2)?,
        inviter: row.get(3)?,
        message: row.get(4)?,
        created_at: u64_col(row, 5)?,
        status: RequestStatus::parse(&status_s)
            .ok_or_else(|| bad_column(6, "request status", &status_s))?,
        handled_by: row.get(7)?,
        handled_at: opt_u64_col(row, 8)?,
        reason: row.get(9)?,
    })
}

const EVENT_COLUMNS: &str = "e.id, e.time, e.group_id, e.kind, e.actor, e.targets, e.detail";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let kind_s: String = row.get(3)?;
    let targets_s: String = row.get(5)?;
    let detail_s: String = row.get(6)?;
    Ok(Event {
        id: u64_col(row, 0)?,
        time: u64_col(row, 1)?,
        group_id: row.get(2)?,
        kind: EventKind::parse(&kind_s).ok_or_else(|| bad_column(3, "event kind", &kind_s))?,
        actor: row.get(4)?,
        targets: serde_json::from_str(&targets_s)
            .map_err(|_| bad_column(5, "targets", &targets_s))?,
        detail: serde_json::from_str(&detail_s).map_err(|_| bad_column(6, "detail", &detail_s))?,
    })
}

pub fn group(conn: &Connection, group_id: &str) -> rusqlite::Result<Option<GroupRow>> {
    const SQL: &str = concat!(
        "SELECT ",
        group_columns!(),
        " FROM groups WHERE group_id = ?1"
    );
    conn.prepare_cached(SQL)?
        .query_row([group_id], group_from_row)
        .optional()
}

pub fn role(conn: &Connection, group_id: &str, user: &str) -> rusqlite::Result<Option<Role>> {
    conn.prepare_cached("SELECT role FROM members WHERE group_id = ?1 AND user_id = ?2")?
        .query_row([group_id, user], |r| role_col(r, 0))
        .optional()
}

pub fn user_exists(conn: &Connection, user: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE user_id = ?1")?
        .query_row([user], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Groups the user belongs to (AVChatRoom excluded), keyset-paged by group ID.
pub fn joined_groups(
    conn: &Connection,
    user: &str,
    after: &str,
    limit: u32,
    include_av: bool,
) -> rusqlite::Result<Vec<(GroupRow, Role)>> {
    let cols = qualified(GROUP_COLUMNS, "g");
    let sql = format!(
        "SELECT {cols}, m.role FROM members m JOIN groups g ON g.group_id = m.group_id \
         WHERE m.user_id = ?1 AND m.group_id > ?2 AND (?4 OR g.type <> 'AVChatRoom') \
         ORDER BY m.group_id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![user, after, limit, include_av], |r| {
        Ok((group_from_row(r)?, role_col(r, 17)?))
    })?;
    rows.collect()
}

/// Every group, keyset-paged by group ID, optionally of one type.
pub fn all_groups(
    conn: &Connection,
    after: &str,
    limit: u32,
    group_type: Option<GroupType>,
) -> rusqlite::Result<Vec<GroupRow>> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM groups WHERE group_id > ?1 AND (?3 IS NULL OR type = ?3) \
         ORDER BY group_id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![after, limit, group_type.map(|t| t.as_str())],
        group_from_row,
    )?;
    rows.collect()
}

pub fn count_groups(conn: &Connection, group_type: Option<GroupType>) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM groups WHERE ?1 IS NULL OR type = ?1")?
        .query_row([group_type.map(|t| t.as_str())], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Members of a group, keyset-paged by user ID.
pub fn members(
    conn: &Connection,
    group_id: &str,
    after: &str,
    limit: u32,
) -> rusqlite::Result<Vec<MemberRow>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE group_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![group_id, after, limit], member_from_row)?;
    rows.collect()
}

pub fn member(
    conn: &Connection,
    group_id: &str,
    user: &str,
) -> rusqlite::Result<Option<MemberRow>> {
    conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE group_id = ?1 AND user_id = ?2"
    ))?
    .query_row([group_id, user], member_from_row)
    .optional()
}

/// Members of a group by offset (the `/v4` paging), in user ID order,
/// optionally only those holding one of `roles` (a bit set: 1 Owner, 2 Admin, 4 Member).
pub fn members_by_offset(
    conn: &Connection,
    group_id: &str,
    roles: u8,
    offset: u64,
    limit: u32,
) -> rusqlite::Result<Vec<MemberRow>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE group_id = ?1 \
         AND ((?4 & 1 AND role = 'Owner') OR (?4 & 2 AND role = 'Admin') OR (?4 & 4 AND role = 'Member')) \
         ORDER BY user_id LIMIT ?3 OFFSET ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![group_id, to_i64(offset), limit, roles],
        member_from_row,
    )?;
    rows.collect()
}

/// Members of a group after a user ID (keyset paging), optionally filtered by role as above.
pub fn members_after(
    conn: &Connection,
    group_id: &str,
    roles: u8,
    after: &str,
    limit: u32,
) -> rusqlite::Result<Vec<MemberRow>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE group_id = ?1 AND user_id > ?2 \
         AND ((?4 & 1 AND role = 'Owner') OR (?4 & 2 AND role = 'Admin') OR (?4 & 4 AND role = 'Member')) \
         ORDER BY user_id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![group_id, after, limit, roles], member_from_row)?;
    rows.collect()
}

/// Every group a user belongs to, with the user's member row, in group ID order.
pub fn memberships(conn: &Connection, user: &str) -> rusqlite::Result<Vec<(GroupRow, MemberRow)>> {
    let gcols = qualified(GROUP_COLUMNS, "g");
    let mcols = qualified(MEMBER_COLUMNS, "m");
    let sql = format!(
        "SELECT {gcols}, {mcols} FROM members m JOIN groups g ON g.group_id = m.group_id \
         WHERE m.user_id = ?1 ORDER BY m.group_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([user], |r| Ok((group_from_row(r)?, member_at(r, 17)?)))?;
    rows.collect()
}

/// Group IDs with their creation sequence, after a sequence number, in creation order.
pub fn group_ids_after(
    conn: &Connection,
    after_seq: u64,
    limit: u32,
    group_type: Option<GroupType>,
) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT group_id, seq FROM groups WHERE seq > ?1 AND (?3 IS NULL OR type = ?3) ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![to_i64(after_seq), limit, group_type.map(|t| t.as_str())],
        |r| Ok((r.get::<_, String>(0)?, u64_col(r, 1)?)),
    )?;
    rows.collect()
}

/// Pending join requests of a group created after `cutoff_ms` (older ones have expired).
pub fn pending_count(conn: &Connection, group_id: &str, cutoff_ms: u64) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM join_requests WHERE group_id = ?1 AND status = 'pending' AND created_at >= ?2",
        )?
        .query_row(params![group_id, to_i64(cutoff_ms)], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A join request with the name and type of its group.
#[derive(Debug, Clone)]
pub struct RequestListing {
    pub request: RequestRow,
    pub group_name: String,
    pub group_type: Option<GroupType>,
}

/// Join requests the user may decide (owner/admin of the group; every one for
/// app admins) and the user's own, keyset-paged by id. Pending requests
/// created before `cutoff_ms` have expired: they list (and filter) as ended.
/// A request belongs to the group of its ID that existed when it was made: a
/// group created later under a disbanded group's ID does not inherit them.
pub fn requests_for(
    conn: &Connection,
    user: &str,
    app_admin: bool,
    status: Option<RequestStatus>,
    cutoff_ms: u64,
    after: u64,
    limit: u32,
) -> rusqlite::Result<Vec<RequestListing>> {
    let cols = qualified(REQUEST_COLUMNS, "r");
    const STATUS: &str = "(?2 IS NULL \
         OR (?2 = 'pending' AND r.status = 'pending' AND r.created_at >= ?6) \
         OR (?2 = 'ended' AND (r.status = 'ended' OR (r.status = 'pending' AND r.created_at < ?6))) \
         OR (?2 NOT IN ('pending', 'ended') AND r.status = ?2))";
    const SAME_GROUP: &str = "g.group_id = r.group_id AND r.created_at >= g.created_at * 1000";
    let sql = if app_admin {
        format!(
            "SELECT {cols}, coalesce(g.name, ''), g.type FROM join_requests r \
             LEFT JOIN groups g ON {SAME_GROUP} \
             WHERE r.id > ?1 AND ?3 = ?3 AND ?4 = ?4 AND {STATUS} ORDER BY r.id LIMIT ?5"
        )
    } else {
        format!(
            "WITH picked(id) AS ( \
                SELECT id FROM join_requests WHERE applicant = ?4 AND id > ?1 \
                UNION \
                SELECT r.id FROM members m JOIN groups g ON g.group_id = m.group_id \
                  JOIN join_requests r ON r.group_id = m.group_id AND r.id > ?1 \
                    AND r.created_at >= g.created_at * 1000 \
                  WHERE m.user_id = ?4 AND m.role IN ('Owner', 'Admin') AND ?3 = ?3) \
             SELECT {cols}, coalesce(g.name, ''), g.type FROM picked p \
             JOIN join_requests r ON r.id = p.id \
             LEFT JOIN groups g ON {SAME_GROUP} \
             WHERE {STATUS} ORDER BY r.id LIMIT ?5"
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            to_i64(after),
            status.map(|s| s.as_str()),
            app_admin,
            user,
            limit,
            to_i64(cutoff_ms)
        ],
        |r| {
            let t: Option<String> = r.get(11)?;
            let mut request = request_from_row(r)?;
            if request.status == RequestStatus::Pending && request.created_at < cutoff_ms {
                request.status = RequestStatus::Ended;
            }
            Ok(RequestListing {
                request,
                group_name: r.get(10)?,
                group_type: t.as_deref().and_then(GroupType::parse_any),
            })
        },
    )?;
    rows.collect()
}

pub fn request(conn: &Connection, id: u64) -> rusqlite::Result<Option<RequestRow>> {
    const SQL: &str = concat!(
        "SELECT ",
        request_columns!(),
        " FROM join_requests WHERE id = ?1"
    );
    conn.prepare_cached(SQL)?
        .query_row([to_i64(id)], request_from_row)
        .optional()
}

/// The newest event id and the id up to which the log was pruned.
pub fn log_bounds(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let pruned: i64 = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'pruned_through'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let head: Option<i64> = conn
        .prepare_cached("SELECT max(id) FROM events")?
        .query_row([], |r| r.get(0))?;
    let pruned = u64::try_from(pruned).unwrap_or(0);
    Ok((
        head.map(|h| u64::try_from(h).unwrap_or(0))
            .unwrap_or(pruned)
            .max(pruned),
        pruned,
    ))
}

/// The memberships a user has ended, as read so far by a stream catching
/// up: every one that ended after the stream's starting point and at or
/// before `read_through`.
#[derive(Debug, Clone, Default)]
pub struct PastMemberships {
    read_through: u64,
    /// (group, first entitled event, last entitled event).
    intervals: Vec<(String, u64, u64)>,
}

impl PastMemberships {
    /// For a stream catching up from event `after`.
    pub fn since(after: u64) -> PastMemberships {
        PastMemberships {
            read_through: after,
            intervals: Vec::new(),
        }
    }

    /// Reads the memberships ended since the last read. They are keyed by
    /// the event that ended them, and a commit only ever ends memberships
    /// at ids above every committed one, so this is one range each time.
    fn refresh(&mut self, conn: &Connection, user: &str) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "SELECT group_id, from_event, to_event FROM membership_history \
             WHERE to_event > ?1 AND user_id = ?2 ORDER BY to_event",
        )?;
        let rows = stmt.query_map(params![to_i64(self.read_through), user], |r| {
            Ok((r.get::<_, String>(0)?, u64_col(r, 1)?, u64_col(r, 2)?))
        })?;
        for row in rows {
            self.intervals.push(row?);
        }
        let through: Option<i64> = conn
            .prepare_cached("SELECT max(to_event) FROM membership_history")?
            .query_row([], |r| r.get(0))?;
        let through = through.and_then(|t| u64::try_from(t).ok()).unwrap_or(0);
        self.read_through = self.read_through.max(through);
        Ok(())
    }
}

/// Events in `(after, upto]` the user was entitled to when they happened
/// (every event when `user` is `None`), oldest first, at most `limit`.
/// `past` carries the user's ended memberships from one window to the next.
pub fn entitled_events(
    conn: &Connection,
    user: Option<&str>,
    past: &mut PastMemberships,
    after: u64,
    upto: u64,
    limit: u32,
) -> rusqlite::Result<Vec<Event>> {
    let Some(user) = user else {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.id > ?1 AND e.id <= ?2 ORDER BY e.id LIMIT ?3"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![to_i64(after), to_i64(upto), limit], event_from_row)?;
        return rows.collect();
    };
    past.refresh(conn, user)?;
    // Windows only move forward: an interval over before this one never counts again.
    past.intervals.retain(|(_, _, to)| *to > after);
    let ended = serde_json::to_string(&past.intervals)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    // One pass over the window in id order (every event is an append, with
    // no per-group index to keep): a group event counts while the user was
    // a member (now or in an ended interval), a targeted one when the user
    // is among its recipients.
    let sql = format!(
        "WITH iv(group_id, f, t) AS MATERIALIZED (\
            SELECT group_id, from_event, ?2 FROM members WHERE user_id = ?3 \
            UNION ALL \
            SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?5)) \
         SELECT {EVENT_COLUMNS} FROM events e \
         WHERE e.id > ?1 AND e.id <= ?2 AND CASE e.audience_only \
           WHEN 0 THEN EXISTS (SELECT 1 FROM iv \
             WHERE iv.group_id = e.group_id AND e.id >= iv.f AND e.id <= iv.t) \
           ELSE EXISTS (SELECT 1 FROM event_recipients r \
             WHERE r.event_id = e.id AND r.user_id = ?3) \
           END \
         ORDER BY e.id LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![to_i64(after), to_i64(upto), user, limit, ended],
        event_from_row,
    )?;
    rows.collect()
}

/// The groups the user was a member of right after event `at`.
pub fn memberships_at(conn: &Connection, user: &str, at: u64) -> rusqlite::Result<HashSet<String>> {
    let at = to_i64(at);
    let mut stmt = conn.prepare_cached(
        "SELECT group_id FROM members WHERE user_id = ?1 AND from_event <= ?2 \
         UNION SELECT group_id FROM membership_history \
           WHERE to_event > ?2 AND user_id = ?1 AND from_event <= ?2",
    )?;
    let rows = stmt.query_map(params![user, at], |r| r.get::<_, String>(0))?;
    rows.collect()
}

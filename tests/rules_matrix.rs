//! The roles and permissions matrix of spec §3 (group-rules.md), as data.
//!
//! One table, [`MATRIX`], holds a row per (group type, operation) with the
//! expected outcome for each actor: owner, admin, ordinary member, non-member
//! and app admin. It is checked twice:
//!
//! 1. against the pure rules in `groupdeck::model::rules` (fast, no I/O);
//! 2. through the real `/api/v1` HTTP API, each case on a fresh group, checking
//!    the HTTP status, the Tencent `error.code`, the visible effect of every
//!    success, and that every refusal left the group exactly as it was.
//!
//! The additional rules of §3, the group-ID rules of §1.5, the field limits of
//! §7, the capacity codes (10014, 10037) and the join-request lifecycle of §4
//! follow as smaller tables and scenarios.
//!
//! Where the server disagrees with the spec these tests keep asserting the
//! spec; every mismatch is collected and reported together.

mod common;

use common::{ADMIN, TestServer};
use groupdeck::model::limits::{
    self, Limits, MAX_FACE_URL_BYTES, MAX_GROUP_ID_BYTES, MAX_INTRODUCTION_BYTES,
    MAX_MESSAGE_BYTES, MAX_NAME_BYTES, MAX_NOTIFICATION_BYTES,
};
use groupdeck::model::rules::{self, GroupFacts, InviteOutcome, JoinOutcome, ModifyScope};
use groupdeck::model::{Actor, AddOption, GroupError, GroupType, Role};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Instant;

use GroupType::{AVChatRoom, Community, Meeting, Public, Work};

// ---------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------

/// The operations of the matrix. Targets are fixed so every row means one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Apply to join, under the type's default join option.
    Apply,
    /// Invite the outsider `x`, under the type's default invite option.
    Invite,
    /// Quit the group.
    Quit,
    /// Kick the ordinary member `m2`.
    KickMember,
    /// Kick the admin `a2` (only types that have admins).
    KickAdmin,
    /// Disband the group.
    Disband,
    /// Edit the group name.
    EditName,
    /// Change the join (apply) option.
    SetJoinOption,
    /// Change `max_members`.
    SetMaxMembers,
    /// Grant admin to the ordinary member `m2`.
    GrantAdmin,
    /// Transfer ownership to the ordinary member `m2`.
    TransferOwner,
    /// Accept a pending join request from `x` (group switched to `Auth` first).
    DecideRequest,
}

const OPS: [Op; 12] = [
    Op::Apply,
    Op::Invite,
    Op::Quit,
    Op::KickMember,
    Op::KickAdmin,
    Op::Disband,
    Op::EditName,
    Op::SetJoinOption,
    Op::SetMaxMembers,
    Op::GrantAdmin,
    Op::TransferOwner,
    Op::DecideRequest,
];

/// The acting identity; the column order of [`MATRIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Admin,
    Member,
    NonMember,
    AppAdmin,
}

const WHO: [Who; 5] = [
    Who::Owner,
    Who::Admin,
    Who::Member,
    Who::NonMember,
    Who::AppAdmin,
];

impl Who {
    /// The user ID acting in the API layer.
    fn user(self) -> &'static str {
        match self {
            Who::Owner => "o",
            Who::Admin => "a",
            Who::Member => "m",
            Who::NonMember => "n",
            Who::AppAdmin => ADMIN,
        }
    }

    /// The actor and its role as the model sees them. An app admin is not a
    /// group role: it acts from outside the group (role `None`).
    fn model(self) -> (Actor, Option<Role>) {
        match self {
            Who::Owner => (Actor::user("o"), Some(Role::Owner)),
            Who::Admin => (Actor::user("a"), Some(Role::Admin)),
            Who::Member => (Actor::user("m"), Some(Role::Member)),
            Who::NonMember => (Actor::user("n"), None),
            Who::AppAdmin => (Actor::app_admin(ADMIN), None),
        }
    }
}

/// An expected outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exp {
    /// Allowed.
    Ok,
    /// Applied and joined at once.
    Joined,
    /// Applied; a join request now waits for approval.
    Pending,
    /// Invitee added at once.
    Added,
    /// Refused with this Tencent error code.
    Err(u32),
    /// Not applicable: the type has no admin role, so there is no admin actor.
    Na,
}

const OK: Exp = Exp::Ok;
const JOINED: Exp = Exp::Joined;
const PENDING: Exp = Exp::Pending;
const ADDED: Exp = Exp::Added;
const NA: Exp = Exp::Na;
/// Invalid parameter.
const E10004: Exp = Exp::Err(10004);
/// Permission denied.
const E10007: Exp = Exp::Err(10007);
/// The owner may not quit this type.
const E10009: Exp = Exp::Err(10009);
/// Already a member.
const E10013: Exp = Exp::Err(10013);

/// Spec §3, one row per (type, operation).
/// Columns: owner, admin, member, non-member, app admin.
#[rustfmt::skip]
const MATRIX: &[(GroupType, Op, [Exp; 5])] = &[
    //                               owner    admin    member   non-mem  app admin
    // Apply to join, default join option: Work Forbid, Public Auth, others Any.
    (Work,       Op::Apply,         [E10013, NA,      E10013,  E10007,  E10007]),
    (Public,     Op::Apply,         [E10013, E10013,  E10013,  PENDING, PENDING]),
    (Meeting,    Op::Apply,         [E10013, E10013,  E10013,  JOINED,  JOINED]),
    (Community,  Op::Apply,         [E10013, E10013,  E10013,  JOINED,  JOINED]),
    (AVChatRoom, Op::Apply,         [E10013, NA,      E10013,  JOINED,  JOINED]),
    // Invite, default invite option: Work Any, Public/Meeting/Community Forbid; AVChatRoom never.
    (Work,       Op::Invite,        [ADDED,  NA,      ADDED,   E10007,  ADDED]),
    (Public,     Op::Invite,        [E10007, E10007,  E10007,  E10007,  ADDED]),
    (Meeting,    Op::Invite,        [E10007, E10007,  E10007,  E10007,  ADDED]),
    (Community,  Op::Invite,        [E10007, E10007,  E10007,  E10007,  ADDED]),
    (AVChatRoom, Op::Invite,        [E10007, NA,      E10007,  E10007,  E10007]),
    // Quit: the owner may quit only a Work group.
    (Work,       Op::Quit,          [OK,     NA,      OK,      E10007,  E10007]),
    (Public,     Op::Quit,          [E10009, OK,      OK,      E10007,  E10007]),
    (Meeting,    Op::Quit,          [E10009, OK,      OK,      E10007,  E10007]),
    (Community,  Op::Quit,          [E10009, OK,      OK,      E10007,  E10007]),
    (AVChatRoom, Op::Quit,          [E10009, NA,      OK,      E10007,  E10007]),
    // Kick an ordinary member: Work owner only; O and A elsewhere; AVChatRoom nobody.
    (Work,       Op::KickMember,    [OK,     NA,      E10007,  E10007,  OK]),
    (Public,     Op::KickMember,    [OK,     OK,      E10007,  E10007,  OK]),
    (Meeting,    Op::KickMember,    [OK,     OK,      E10007,  E10007,  OK]),
    (Community,  Op::KickMember,    [OK,     OK,      E10007,  E10007,  OK]),
    (AVChatRoom, Op::KickMember,    [E10007, NA,      E10007,  E10007,  E10007]),
    // Kick an admin: an admin may kick ordinary members only.
    (Public,     Op::KickAdmin,     [OK,     E10007,  E10007,  E10007,  OK]),
    (Meeting,    Op::KickAdmin,     [OK,     E10007,  E10007,  E10007,  OK]),
    (Community,  Op::KickAdmin,     [OK,     E10007,  E10007,  E10007,  OK]),
    // Disband: Work only by the app admin; other types by the owner or the app admin.
    (Work,       Op::Disband,       [E10007, NA,      E10007,  E10007,  OK]),
    (Public,     Op::Disband,       [OK,     E10007,  E10007,  E10007,  OK]),
    (Meeting,    Op::Disband,       [OK,     E10007,  E10007,  E10007,  OK]),
    (Community,  Op::Disband,       [OK,     E10007,  E10007,  E10007,  OK]),
    (AVChatRoom, Op::Disband,       [OK,     NA,      E10007,  E10007,  OK]),
    // Edit the name: Work any member; AVChatRoom owner only; others O, A.
    (Work,       Op::EditName,      [OK,     NA,      OK,      E10007,  OK]),
    (Public,     Op::EditName,      [OK,     OK,      E10007,  E10007,  OK]),
    (Meeting,    Op::EditName,      [OK,     OK,      E10007,  E10007,  OK]),
    (Community,  Op::EditName,      [OK,     OK,      E10007,  E10007,  OK]),
    (AVChatRoom, Op::EditName,      [OK,     NA,      E10007,  E10007,  OK]),
    // Change the join option: same rights as profile edits.
    (Work,       Op::SetJoinOption, [OK,     NA,      OK,      E10007,  OK]),
    (Public,     Op::SetJoinOption, [OK,     OK,      E10007,  E10007,  OK]),
    (Meeting,    Op::SetJoinOption, [OK,     OK,      E10007,  E10007,  OK]),
    (Community,  Op::SetJoinOption, [OK,     OK,      E10007,  E10007,  OK]),
    (AVChatRoom, Op::SetJoinOption, [OK,     NA,      E10007,  E10007,  OK]),
    // Change max members: app admin only (REST only); AVChatRoom has no cap ("not applicable").
    (Work,       Op::SetMaxMembers, [E10007, NA,      E10007,  E10007,  OK]),
    (Public,     Op::SetMaxMembers, [E10007, E10007,  E10007,  E10007,  OK]),
    (Meeting,    Op::SetMaxMembers, [E10007, E10007,  E10007,  E10007,  OK]),
    (Community,  Op::SetMaxMembers, [E10007, E10007,  E10007,  E10007,  OK]),
    (AVChatRoom, Op::SetMaxMembers, [E10007, NA,      E10007,  E10007,  E10004]),
    // Grant admin: Work and AVChatRoom have no admins (10007 for everyone); others owner only.
    (Work,       Op::GrantAdmin,    [E10007, NA,      E10007,  E10007,  E10007]),
    (Public,     Op::GrantAdmin,    [OK,     E10007,  E10007,  E10007,  OK]),
    (Meeting,    Op::GrantAdmin,    [OK,     E10007,  E10007,  E10007,  OK]),
    (Community,  Op::GrantAdmin,    [OK,     E10007,  E10007,  E10007,  OK]),
    (AVChatRoom, Op::GrantAdmin,    [E10007, NA,      E10007,  E10007,  E10007]),
    // Transfer ownership: owner; AVChatRoom nobody.
    (Work,       Op::TransferOwner, [OK,     NA,      E10007,  E10007,  OK]),
    (Public,     Op::TransferOwner, [OK,     E10007,  E10007,  E10007,  OK]),
    (Meeting,    Op::TransferOwner, [OK,     E10007,  E10007,  E10007,  OK]),
    (Community,  Op::TransferOwner, [OK,     E10007,  E10007,  E10007,  OK]),
    (AVChatRoom, Op::TransferOwner, [E10007, NA,      E10007,  E10007,  E10007]),
    // Decide a join request (group switched to Auth): owner, admin, app admin.
    (Work,       Op::DecideRequest, [OK,     NA,      E10007,  E10007,  OK]),
    (Public,     Op::DecideRequest, [OK,     OK,      E10007,  E10007,  OK]),
    (Meeting,    Op::DecideRequest, [OK,     OK,      E10007,  E10007,  OK]),
    (Community,  Op::DecideRequest, [OK,     OK,      E10007,  E10007,  OK]),
    (AVChatRoom, Op::DecideRequest, [OK,     NA,      E10007,  E10007,  OK]),
];

/// Every applicable (type, op, actor, expected) case of the matrix.
fn cases() -> Vec<(GroupType, Op, Who, Exp)> {
    MATRIX
        .iter()
        .flat_map(|&(t, op, row)| {
            WHO.iter()
                .zip(row)
                .filter(|(_, e)| *e != NA)
                .map(move |(&who, e)| (t, op, who, e))
        })
        .collect()
}

#[test]
fn matrix_is_complete() {
    for t in GroupType::ALL {
        for op in OPS {
            let rows: Vec<_> = MATRIX.iter().filter(|r| r.0 == t && r.1 == op).collect();
            let expected_rows = usize::from(op != Op::KickAdmin || t.has_admins());
            assert_eq!(rows.len(), expected_rows, "rows for {t} {op:?}");
            for (_, _, row) in rows {
                assert_eq!(row[1] == NA, !t.has_admins(), "admin column of {t} {op:?}");
                assert!(
                    row.iter().enumerate().all(|(i, e)| i == 1 || *e != NA),
                    "only the admin column may be n/a: {t} {op:?}"
                );
            }
        }
    }
    assert_eq!(MATRIX.len(), 58);
    assert_eq!(cases().len(), 268);
}

// ---------------------------------------------------------------------------
// Layer 1: the pure model
// ---------------------------------------------------------------------------

fn code<T>(r: Result<T, GroupError>) -> Option<u32> {
    r.err().map(|e| e.code())
}

/// The group of a matrix case as the model sees it: defaults of its type, the
/// fixture's members (o, a, a2, m, m2 where admins exist; o, m, m2 otherwise).
fn facts(t: GroupType, op: Op) -> GroupFacts {
    GroupFacts {
        group_id: format!("matrix-{t}"),
        group_type: t,
        owner: Some("o".into()),
        add_option: if op == Op::DecideRequest {
            AddOption::Auth
        } else {
            t.default_add_option()
        },
        invite_option: t.default_invite_option(),
        max_members: Limits::default().default_cap(t),
        member_count: if t.has_admins() { 5 } else { 3 },
    }
}

fn model_outcome(t: GroupType, op: Op, who: Who) -> Exp {
    let g = facts(t, op);
    let (actor, role) = who.model();
    let modify = |scope: ModifyScope| rules::check_modify(&g, &actor, role, scope).map(|_| OK);
    let result: Result<Exp, GroupError> = match op {
        Op::Apply => rules::check_join(&g, &actor, role).map(|o| match o {
            JoinOutcome::Joined => JOINED,
            JoinOutcome::Pending => PENDING,
        }),
        Op::Invite => rules::check_invite(&g, &actor, role).map(|o| match o {
            InviteOutcome::Added => ADDED,
            InviteOutcome::Pending => PENDING,
        }),
        Op::Quit => rules::check_quit(&g, &actor, role).map(|_| OK),
        Op::KickMember => rules::check_kick(&g, &actor, role, "m2", Some(Role::Member)).map(|_| OK),
        Op::KickAdmin => rules::check_kick(&g, &actor, role, "a2", Some(Role::Admin)).map(|_| OK),
        Op::Disband => rules::check_disband(&g, &actor, role).map(|_| OK),
        Op::EditName => modify(ModifyScope {
            profile: true,
            ..Default::default()
        }),
        Op::SetJoinOption => modify(ModifyScope {
            add_option: true,
            ..Default::default()
        }),
        Op::SetMaxMembers => modify(ModifyScope {
            max_members: true,
            ..Default::default()
        })
        .and_then(|_| {
            Limits::default()
                .check_max_members(t, 100, g.member_count)
                .map(|_| OK)
        }),
        Op::GrantAdmin => {
            rules::check_set_role(&g, &actor, role, "m2", Some(Role::Member), Role::Admin)
                .map(|_| OK)
        }
        Op::TransferOwner => {
            rules::check_transfer(&g, &actor, role, "m2", Some(Role::Member)).map(|_| OK)
        }
        Op::DecideRequest => rules::check_handle_request(&g, &actor, role).map(|_| OK),
    };
    result.unwrap_or_else(|e| Exp::Err(e.code()))
}

#[test]
fn model_matrix() {
    let all = cases();
    let failures: Vec<String> = all
        .iter()
        .filter_map(|&(t, op, who, want)| {
            let got = model_outcome(t, op, who);
            (got != want).then(|| format!("{t} {op:?} by {who:?}: expected {want:?}, got {got:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} model cases disagree with spec §3:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// Rows of (description, expected code or `None` for success, actual code).
macro_rules! rows {
    ($($what:expr => $want:expr, $got:expr;)*) => {
        vec![$((String::from($what), $want, $got)),*]
    };
}

/// The additional rules of §3 and the limits of §1.5, §6 and §7, in the model.
#[test]
fn model_additional_rules() {
    let admin = Actor::user("a");
    let owner = Actor::user("o");
    let app = Actor::app_admin(ADMIN);
    let (a, o, m) = (Some(Role::Admin), Some(Role::Owner), Some(Role::Member));
    let mut all: Vec<(String, Option<u32>, Option<u32>)> = Vec::new();

    for t in [Public, Meeting, Community] {
        let g = &facts(t, Op::KickMember);
        let set_role = |actor: &Actor, role, target, target_role, new_role| {
            code(rules::check_set_role(
                g,
                actor,
                role,
                target,
                target_role,
                new_role,
            ))
        };
        all.extend(rows! {
            // An admin may never act on the owner or on another admin.
            format!("{t}: admin kicks the owner")      => Some(10007), code(rules::check_kick(g, &admin, a, "o", o));
            format!("{t}: admin kicks another admin")  => Some(10007), code(rules::check_kick(g, &admin, a, "a2", a));
            format!("{t}: admin demotes another admin") => Some(10007), set_role(&admin, a, "a2", a, Role::Member);
            format!("{t}: admin demotes the owner")    => Some(10007), set_role(&admin, a, "o", o, Role::Member);
            format!("{t}: admin kicks a member")       => None,        code(rules::check_kick(g, &admin, a, "m2", m));
            format!("{t}: owner revokes an admin")     => None,        set_role(&owner, o, "a2", a, Role::Member);
            // Nobody can be given Owner by set role; only transfer changes the owner.
            format!("{t}: owner sets role Owner")      => Some(10004), set_role(&owner, o, "m2", m, Role::Owner);
            format!("{t}: app admin sets role Owner")  => Some(10004), set_role(&app, None, "m2", m, Role::Owner);
        });
    }

    // A non-member may read the profile of every type but Work.
    for t in GroupType::ALL {
        let g = &facts(t, Op::EditName);
        all.extend(rows! {
            format!("{t}: non-member reads the profile") => (t == Work).then_some(10007), code(rules::check_view(g, &Actor::user("n"), None));
            format!("{t}: member reads the profile")     => None, code(rules::check_view(g, &Actor::user("m"), m));
            format!("{t}: app admin reads the profile")  => None, code(rules::check_view(g, &app, None));
        });
    }

    // A full group (10014) and a user at the group cap (10037).
    for t in [Meeting, Community] {
        let full = GroupFacts {
            max_members: Some(2),
            member_count: 2,
            ..facts(t, Op::Apply)
        };
        let room = GroupFacts {
            member_count: 1,
            ..full.clone()
        };
        all.extend(rows! {
            format!("{t}: a third applies to a group of max 2") => Some(10014), code(rules::check_join(&full, &Actor::user("n"), None));
            format!("{t}: one more at 2/2")                     => Some(10014), code(rules::check_capacity(&full, 1));
            format!("{t}: one more at 1/2")                     => None,        code(rules::check_capacity(&room, 1));
        });
    }
    let id = |s: &str, t: GroupType| code(limits::validate_custom_group_id(s, t));
    let name = |s: &str| code(limits::validate_name(s));
    let len = |f: &str, n: usize, max: usize| code(limits::check_len(f, &"x".repeat(n), max));
    all.extend(rows! {
        "AVChatRoom: no member cap"  => None,        code(rules::check_capacity(&facts(AVChatRoom, Op::Apply), 1_000_000));
        "user at 2 of 2 groups"      => Some(10037), code(rules::check_user_limit("u", 2, 2));
        "user at 1 of 2 groups"      => None,        code(rules::check_user_limit("u", 1, 2));

        // Group IDs (§1.5): 10015.
        "reserved @TGS# prefix (Public)"      => Some(10015), id("@TGS#mine", Public);
        "reserved @TGS# prefix (Work)"        => Some(10015), id("@TGS#1ABCDEFGH", Work);
        "Community custom ID without @TGS#_"  => Some(10015), id("my-community", Community);
        "Community custom ID with @TGS#_"     => None,        id("@TGS#_my-community", Community);
        "custom ID of 49 bytes"               => Some(10015), id(&"g".repeat(49), Meeting);
        "custom ID of 48 bytes"               => None,        id(&"g".repeat(48), Meeting);
        "custom ID with a tab"                => Some(10015), id("tab\there", Public);
        "custom ID with a newline"            => Some(10015), id("new\nline", Public);
        "custom ID with DEL"                  => Some(10015), id("del\u{7f}", Public);
        "custom ID with CJK"                  => Some(10015), id("群组", Public);
        "custom ID with a space"              => None,        id("team one", Public);
        "empty custom ID"                     => Some(10015), id("", Public);

        // Field byte limits (§7): 10004. One CJK character is 3 bytes.
        "name 30 bytes"                    => None,        name(&"n".repeat(30));
        "name 31 bytes"                    => Some(10004), name(&"n".repeat(31));
        "name 10 CJK (30 bytes)"           => None,        name(&"名".repeat(10));
        "name 11 CJK (33 bytes)"           => Some(10004), name(&"名".repeat(11));
        "name 1 ASCII + 10 CJK (31 bytes)" => Some(10004), name(&format!("a{}", "名".repeat(10)));
        "empty name"                       => Some(10004), name("");
        "introduction 240"                 => None,        len("introduction", 240, MAX_INTRODUCTION_BYTES);
        "introduction 241"                 => Some(10004), len("introduction", 241, MAX_INTRODUCTION_BYTES);
        "notification 300"                 => None,        len("notification", 300, MAX_NOTIFICATION_BYTES);
        "notification 301"                 => Some(10004), len("notification", 301, MAX_NOTIFICATION_BYTES);
        "face_url 100"                     => None,        len("face_url", 100, MAX_FACE_URL_BYTES);
        "face_url 101"                     => Some(10004), len("face_url", 101, MAX_FACE_URL_BYTES);
        "message 300"                      => None,        len("message", 300, MAX_MESSAGE_BYTES);
        "message 301"                      => Some(10004), len("message", 301, MAX_MESSAGE_BYTES);
    });

    let failures: Vec<String> = all
        .iter()
        .filter(|(_, want, got)| want != got)
        .map(|(what, want, got)| format!("{what}: expected {want:?}, got {got:?}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows disagree with the spec:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );

    // The limits themselves are the spec's numbers (§7).
    assert_eq!(
        (
            MAX_NAME_BYTES,
            MAX_INTRODUCTION_BYTES,
            MAX_NOTIFICATION_BYTES,
            MAX_FACE_URL_BYTES,
            MAX_MESSAGE_BYTES,
            MAX_GROUP_ID_BYTES
        ),
        (30, 240, 300, 100, 300, 48)
    );
}

// ---------------------------------------------------------------------------
// Layer 2: the HTTP API
// ---------------------------------------------------------------------------

/// The HTTP status that goes with a Tencent code on `/api/v1` (design.md: 400 bad
/// input, 403 not allowed, 404 no such group, 409 conflict).
fn status_for(code: u32) -> u16 {
    match code {
        10004 | 10015 | 10038 => 400,
        10007 | 10009 => 403,
        10010 => 404,
        10013 | 10014 | 10021 | 10024 | 10025 | 10037 => 409,
        _ => 0,
    }
}

/// Collects mismatches so one run reports every disagreement.
#[derive(Default)]
struct Report {
    checks: usize,
    failures: Vec<String>,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            self.failures.push(what());
        }
    }

    /// The reply is the refusal `code` with its HTTP status.
    fn refused(&mut self, what: &str, reply: &(u16, Value), code: u32) {
        let got = reply.1["error"]["code"].as_u64();
        self.check(
            reply.0 == status_for(code) && got == Some(u64::from(code)),
            || {
                format!(
                    "{what}: expected HTTP {} / {code}, got HTTP {} / {:?}: {}",
                    status_for(code),
                    reply.0,
                    got,
                    reply.1
                )
            },
        );
    }

    /// The reply is a success.
    fn succeeded(&mut self, what: &str, reply: &(u16, Value), status: u16) {
        self.check(reply.0 == status, || {
            format!(
                "{what}: expected HTTP {status}, got HTTP {}: {}",
                reply.0, reply.1
            )
        });
    }

    fn finish(self, name: &str) {
        assert!(
            self.failures.is_empty(),
            "{name}: {} of {} checks disagree with the spec:\n{}",
            self.failures.len(),
            self.checks,
            self.failures.join("\n")
        );
    }
}

/// Starts a test server. The harness builds a reqwest client with
/// `rustls-no-provider`, so a crypto provider must be installed first.
async fn start_with(cfg: Option<fn(&mut groupdeck::server::ServerConfig)>) -> TestServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = common::config_for(&dir);
    if let Some(adjust) = cfg {
        adjust(&mut config);
    }
    TestServer::start_with(dir, config).await
}

async fn start() -> TestServer {
    start_with(None).await
}

fn gpath(gid: &str) -> String {
    format!("/api/v1/groups/{}", TestServer::enc(gid))
}

/// What the app admin sees of a group: its info and its member list. Equal
/// snapshots before and after a refusal mean nothing changed.
async fn snapshot(s: &TestServer, gid: &str) -> Value {
    let p = gpath(gid);
    let (st, info) = s.get(ADMIN, &p).await;
    let (mst, members) = s.get(ADMIN, &format!("{p}/members?limit=500")).await;
    json!({"status": st, "info": info, "members_status": mst, "members": members["items"]})
}

fn count(snap: &Value) -> i64 {
    snap["info"]["member_count"].as_i64().unwrap_or(-1)
}

fn role_of(snap: &Value, user: &str) -> Option<String> {
    snap["members"]
        .as_array()?
        .iter()
        .find(|m| m["user_id"] == user)
        .and_then(|m| m["role"].as_str().map(String::from))
}

async fn pending_ids(s: &TestServer, user: &str) -> Vec<u64> {
    let (st, body) = s
        .get(user, "/api/v1/pendency?status=pending&limit=500")
        .await;
    assert_eq!(st, 200, "pendency listing: {body}");
    body["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_u64()).collect())
        .unwrap_or_default()
}

/// A fresh group of type `t` owned by `o`, with ordinary members `m`, `m2`
/// and, where the type has admins, admins `a` (named at creation) and `a2`
/// (granted by the owner). AVChatRoom members join by themselves.
async fn fixture(s: &TestServer, t: GroupType) -> String {
    let members = match t {
        AVChatRoom => json!([]),
        Work => json!([{"user_id": "m"}, {"user_id": "m2"}]),
        _ => json!([
            {"user_id": "a", "role": "Admin"},
            {"user_id": "a2"},
            {"user_id": "m"},
            {"user_id": "m2", "role": "Member"},
        ]),
    };
    let gid = s
        .create(
            "o",
            json!({"name": "matrix", "type": t.as_str(), "members": members}),
        )
        .await;
    let p = gpath(&gid);
    if t == AVChatRoom {
        for u in ["m", "m2"] {
            let (st, body) = s.post(u, &format!("{p}/join"), json!({})).await;
            assert_eq!(
                (st, body["status"].as_str()),
                (200, Some("joined")),
                "{u} joins {gid}: {body}"
            );
        }
    }
    if t.has_admins() {
        let (st, body) = s
            .call(
                "o",
                Method::PUT,
                &format!("{p}/members/a2/role"),
                Some(json!({"role": "Admin"})),
            )
            .await;
        assert_eq!(st, 200, "owner grants a2 admin in {gid}: {body}");
    }
    gid
}

fn new_join_option(t: GroupType) -> &'static str {
    if t.default_add_option() == AddOption::Any {
        "Auth"
    } else {
        "Any"
    }
}

/// Runs one matrix case on a fresh group and records every mismatch.
async fn api_case(s: &TestServer, r: &mut Report, t: GroupType, op: Op, who: Who, want: Exp) {
    let case = format!("{t} {op:?} by {who:?}");
    let gid = fixture(s, t).await;
    let p = gpath(&gid);
    let user = who.user();

    let mut request_id = 0;
    if op == Op::DecideRequest {
        let (st, body) = s
            .call(
                ADMIN,
                Method::PATCH,
                &p,
                Some(json!({"add_option": "Auth"})),
            )
            .await;
        assert_eq!(st, 200, "{case}: switch to Auth: {body}");
        let (st, body) = s
            .post("x", &format!("{p}/join"), json!({"message": "let me in"}))
            .await;
        assert_eq!(
            (st, body["status"].as_str()),
            (200, Some("pending")),
            "{case}: x applies: {body}"
        );
        request_id = body["request_id"].as_u64().expect("request_id");
    }

    let before = snapshot(s, &gid).await;
    assert_eq!(before["status"], 200, "{case}: fixture: {before}");

    let reply = match op {
        Op::Apply => {
            s.post(user, &format!("{p}/join"), json!({"message": "hello"}))
                .await
        }
        Op::Invite => {
            s.post(user, &format!("{p}/invite"), json!({"user_ids": ["x"]}))
                .await
        }
        Op::Quit => s.call(user, Method::POST, &format!("{p}/quit"), None).await,
        Op::KickMember => {
            s.call(user, Method::DELETE, &format!("{p}/members/m2"), None)
                .await
        }
        Op::KickAdmin => {
            s.call(user, Method::DELETE, &format!("{p}/members/a2"), None)
                .await
        }
        Op::Disband => s.call(user, Method::DELETE, &p, None).await,
        Op::EditName => {
            s.call(user, Method::PATCH, &p, Some(json!({"name": "renamed"})))
                .await
        }
        Op::SetJoinOption => {
            s.call(
                user,
                Method::PATCH,
                &p,
                Some(json!({"add_option": new_join_option(t)})),
            )
            .await
        }
        Op::SetMaxMembers => {
            s.call(user, Method::PATCH, &p, Some(json!({"max_members": 100})))
                .await
        }
        Op::GrantAdmin => {
            s.call(
                user,
                Method::PUT,
                &format!("{p}/members/m2/role"),
                Some(json!({"role": "Admin"})),
            )
            .await
        }
        Op::TransferOwner => {
            s.post(user, &format!("{p}/owner"), json!({"user_id": "m2"}))
                .await
        }
        Op::DecideRequest => {
            s.post(
                user,
                &format!("/api/v1/pendency/{request_id}"),
                json!({"decision": "accept"}),
            )
            .await
        }
    };

    if let Exp::Err(code) = want {
        r.refused(&case, &reply, code);
        let after = snapshot(s, &gid).await;
        r.check(after == before, || {
            format!("{case}: refused, yet the group changed:\n  before {before}\n  after  {after}")
        });
        return;
    }

    r.succeeded(&case, &reply, 200);
    if reply.0 != 200 {
        return;
    }
    let body = &reply.1;
    let after = snapshot(s, &gid).await;
    let (n0, n1) = (count(&before), count(&after));
    let what = |x: &str| format!("{case}: {x}; before {before}, after {after}, reply {body}");
    match (op, want) {
        (Op::Apply, JOINED) => {
            r.check(body["status"] == "joined", || what("status is not joined"));
            r.check(
                n1 == n0 + 1 && role_of(&after, user).as_deref() == Some("Member"),
                || what("applicant is not a new member"),
            );
        }
        (Op::Apply, PENDING) => {
            r.check(
                body["status"] == "pending" && body["request_id"].is_u64(),
                || what("status is not pending"),
            );
            r.check(n1 == n0 && role_of(&after, user).is_none(), || {
                what("a pending applicant became a member")
            });
            r.check(
                after["info"]["pending_requests"].as_u64()
                    == before["info"]["pending_requests"].as_u64().map(|n| n + 1),
                || what("no new pending request"),
            );
        }
        (Op::Invite, ADDED) => {
            r.check(body["results"][0]["result"] == "added", || {
                what("x is not added")
            });
            r.check(
                n1 == n0 + 1 && role_of(&after, "x").as_deref() == Some("Member"),
                || what("x is not a member"),
            );
        }
        (Op::Quit, OK) => {
            r.check(n1 == n0 - 1 && role_of(&after, user).is_none(), || {
                what("still a member")
            });
            if who == Who::Owner {
                r.check(after["info"]["owner"].is_null(), || {
                    what("the group still has an owner")
                });
            }
        }
        (Op::KickMember | Op::KickAdmin, OK) => {
            let target = if op == Op::KickMember { "m2" } else { "a2" };
            r.check(n1 == n0 - 1 && role_of(&after, target).is_none(), || {
                what("target still a member")
            });
        }
        (Op::Disband, OK) => {
            r.check(
                after["status"] == 404 && after["info"]["error"]["code"] == 10010,
                || what("the group still exists"),
            );
        }
        (Op::EditName, OK) => {
            r.check(after["info"]["name"] == "renamed", || {
                what("name unchanged")
            });
        }
        (Op::SetJoinOption, OK) => {
            r.check(after["info"]["add_option"] == new_join_option(t), || {
                what("join option unchanged")
            });
        }
        (Op::SetMaxMembers, OK) => {
            r.check(after["info"]["max_members"] == 100, || {
                what("max_members unchanged")
            });
        }
        (Op::GrantAdmin, OK) => {
            r.check(role_of(&after, "m2").as_deref() == Some("Admin"), || {
                what("m2 is not admin")
            });
        }
        (Op::TransferOwner, OK) => {
            r.check(
                after["info"]["owner"] == "m2"
                    && role_of(&after, "m2").as_deref() == Some("Owner")
                    && role_of(&after, "o").as_deref() == Some("Member"),
                || what("ownership did not move to m2 with o as ordinary member"),
            );
        }
        (Op::DecideRequest, OK) => {
            r.check(
                n1 == n0 + 1 && role_of(&after, "x").as_deref() == Some("Member"),
                || what("x is not a member"),
            );
            r.check(after["info"]["pending_requests"] == 0, || {
                what("the request is still pending")
            });
        }
        _ => r.check(false, || what("unexpected combination in the table")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_matrix() {
    let s = start().await;
    s.register(&["o", "a", "a2", "m", "m2", "n", "x", ADMIN])
        .await;
    let started = Instant::now();
    let mut r = Report::default();
    let all = cases();
    for &(t, op, who, want) in &all {
        api_case(&s, &mut r, t, op, who, want).await;
    }
    eprintln!(
        "api_matrix: {} cases, {} checks in {:.1?}",
        all.len(),
        r.checks,
        started.elapsed()
    );
    r.finish("api_matrix");
}

/// Additional rules of §3 through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_additional_rules() {
    let s = start().await;
    s.register(&["o", "a", "a2", "m", "m2", "n", "x", ADMIN])
        .await;
    let mut r = Report::default();

    for t in [Public, Meeting, Community] {
        let gid = fixture(&s, t).await;
        let p = gpath(&gid);
        let before = snapshot(&s, &gid).await;
        // An admin may never act on the owner or on another admin.
        let attempts = [
            (
                "admin kicks the owner",
                s.call("a", Method::DELETE, &format!("{p}/members/o"), None)
                    .await,
            ),
            (
                "admin kicks another admin",
                s.call("a", Method::DELETE, &format!("{p}/members/a2"), None)
                    .await,
            ),
            (
                "admin demotes another admin",
                s.call(
                    "a",
                    Method::PUT,
                    &format!("{p}/members/a2/role"),
                    Some(json!({"role": "Member"})),
                )
                .await,
            ),
            (
                "admin demotes the owner",
                s.call(
                    "a",
                    Method::PUT,
                    &format!("{p}/members/o/role"),
                    Some(json!({"role": "Member"})),
                )
                .await,
            ),
        ];
        for (what, reply) in &attempts {
            r.refused(&format!("{t}: {what}"), reply, 10007);
        }
        // Nobody can be given Owner by set role (only transfer changes the owner).
        for actor in ["o", ADMIN] {
            let reply = s
                .call(
                    actor,
                    Method::PUT,
                    &format!("{p}/members/m2/role"),
                    Some(json!({"role": "Owner"})),
                )
                .await;
            r.refused(
                &format!("{t}: {actor} sets m2's role to Owner"),
                &reply,
                10004,
            );
        }
        // The new owner must already be a member.
        let reply = s
            .post("o", &format!("{p}/owner"), json!({"user_id": "n"}))
            .await;
        r.check(reply.0 >= 400, || {
            format!("{t}: transfer to non-member n succeeded: {}", reply.1)
        });
        let after = snapshot(&s, &gid).await;
        r.check(after == before, || {
            format!("{t}: refused admin actions changed the group:\n  {before}\n  {after}")
        });
        // The owner may revoke an admin (contrast with the refusals above).
        let reply = s
            .call(
                "o",
                Method::PUT,
                &format!("{p}/members/a2/role"),
                Some(json!({"role": "Member"})),
            )
            .await;
        r.succeeded(&format!("{t}: owner revokes a2"), &reply, 200);
        let after = snapshot(&s, &gid).await;
        r.check(role_of(&after, "a2").as_deref() == Some("Member"), || {
            format!("{t}: a2 still admin: {after}")
        });
    }

    // Creation: no initial Owner; Work rejects Admin; AVChatRoom takes no members.
    let (_, mine_before) = s.get("o", "/api/v1/groups?limit=500").await;
    for t in [Work, Public, Meeting, Community] {
        let reply = s
            .post("o", "/api/v1/groups", json!({"name": "bad", "type": t.as_str(), "members": [{"user_id": "m", "role": "Owner"}]}))
            .await;
        r.refused(
            &format!("{t}: create with an initial Owner member"),
            &reply,
            10004,
        );
    }
    let reply = s
        .post(
            "o",
            "/api/v1/groups",
            json!({"name": "bad", "type": "Work", "members": [{"user_id": "m", "role": "Admin"}]}),
        )
        .await;
    r.refused("Work: create with an initial Admin member", &reply, 10004);
    for members in [
        json!([{"user_id": "m"}]),
        json!([{"user_id": "m", "role": "Admin"}]),
    ] {
        let reply = s
            .post(
                "o",
                "/api/v1/groups",
                json!({"name": "bad", "type": "AVChatRoom", "members": members}),
            )
            .await;
        r.refused(
            &format!("AVChatRoom: create with members {members}"),
            &reply,
            10007,
        );
    }
    let (_, mine_after) = s.get("o", "/api/v1/groups?limit=500").await;
    r.check(mine_before["items"] == mine_after["items"], || {
        "refused creations left groups behind".into()
    });

    // Reading the profile: a non-member may, except for Work groups.
    for t in GroupType::ALL {
        let gid = fixture(&s, t).await;
        let p = gpath(&gid);
        let reply = s.get("n", &p).await;
        if t == Work {
            r.refused("Work: non-member reads the profile", &reply, 10007);
        } else {
            r.succeeded(&format!("{t}: non-member reads the profile"), &reply, 200);
            r.check(
                reply.1["my_role"].is_null() && reply.1["group_id"] == gid.as_str(),
                || format!("{t}: non-member profile: {}", reply.1),
            );
        }
        let reply = s.get(ADMIN, &p).await;
        r.succeeded(&format!("{t}: app admin reads the profile"), &reply, 200);
        let reply = s.get("m", &p).await;
        r.succeeded(&format!("{t}: member reads the profile"), &reply, 200);
        r.check(reply.1["my_role"] == "Member", || {
            format!("{t}: member's my_role: {}", reply.1)
        });
    }

    // A Work owner may quit, leaving the group without an owner; the app admin can name a new one.
    let gid = fixture(&s, Work).await;
    let p = gpath(&gid);
    r.succeeded(
        "Work: owner quits",
        &s.call("o", Method::POST, &format!("{p}/quit"), None).await,
        200,
    );
    let snap = snapshot(&s, &gid).await;
    r.check(
        snap["info"]["owner"].is_null() && role_of(&snap, "o").is_none(),
        || format!("Work after owner quit: {snap}"),
    );
    r.succeeded(
        "Work: app admin gives the ownerless group to m",
        &s.post(ADMIN, &format!("{p}/owner"), json!({"user_id": "m"}))
            .await,
        200,
    );
    let snap = snapshot(&s, &gid).await;
    r.check(
        snap["info"]["owner"] == "m" && role_of(&snap, "m").as_deref() == Some("Owner"),
        || format!("Work after app admin transfer: {snap}"),
    );

    // Unknown and disbanded groups answer 10010 to everything.
    let gone = fixture(&s, Public).await;
    r.succeeded(
        "Public: owner disbands",
        &s.call("o", Method::DELETE, &gpath(&gone), None).await,
        200,
    );
    for (label, gid, actor) in [
        ("unknown", "no-such-group".to_string(), "o"),
        ("unknown, app admin", "@TGS#2NOSUCHGR".to_string(), ADMIN),
        ("disbanded", gone.clone(), "o"),
        ("disbanded, app admin", gone.clone(), ADMIN),
        ("disbanded, former member", gone.clone(), "m"),
    ] {
        let p = gpath(&gid);
        let attempts = [
            ("read", s.get(actor, &p).await),
            ("members", s.get(actor, &format!("{p}/members")).await),
            (
                "edit",
                s.call(actor, Method::PATCH, &p, Some(json!({"name": "x"})))
                    .await,
            ),
            ("disband", s.call(actor, Method::DELETE, &p, None).await),
            ("join", s.post(actor, &format!("{p}/join"), json!({})).await),
            (
                "quit",
                s.call(actor, Method::POST, &format!("{p}/quit"), None)
                    .await,
            ),
            (
                "invite",
                s.post(actor, &format!("{p}/invite"), json!({"user_ids": ["x"]}))
                    .await,
            ),
            (
                "kick",
                s.call(actor, Method::DELETE, &format!("{p}/members/m2"), None)
                    .await,
            ),
            (
                "set role",
                s.call(
                    actor,
                    Method::PUT,
                    &format!("{p}/members/m2/role"),
                    Some(json!({"role": "Admin"})),
                )
                .await,
            ),
            (
                "transfer",
                s.post(actor, &format!("{p}/owner"), json!({"user_id": "m2"}))
                    .await,
            ),
        ];
        for (op, reply) in &attempts {
            r.refused(&format!("{label} group {gid}: {op}"), reply, 10010);
        }
    }
    // A disbanded group is gone from its members' lists.
    let (_, list) = s.get("m", "/api/v1/groups?limit=500").await;
    r.check(
        !list["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|g| g["group_id"] == gone.as_str())),
        || format!("disbanded {gone} still listed for m"),
    );

    r.finish("api_additional_rules");
}

/// 10014: a group at its `max_members` takes nobody else, whichever way they come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_group_full() {
    let s = start().await;
    s.register(&["o", "m", "n", "x", ADMIN]).await;
    let mut r = Report::default();

    for t in [Meeting, Community] {
        let gid = s
            .create(
                "o",
                json!({"name": "tiny", "type": t.as_str(), "max_members": 2}),
            )
            .await;
        let p = gpath(&gid);
        r.succeeded(
            &format!("{t}: second member joins"),
            &s.post("m", &format!("{p}/join"), json!({})).await,
            200,
        );
        let before = snapshot(&s, &gid).await;
        r.refused(
            &format!("{t}: third member joins a group of max 2"),
            &s.post("n", &format!("{p}/join"), json!({})).await,
            10014,
        );
        let after = snapshot(&s, &gid).await;
        r.check(count(&after) == 2 && after == before, || {
            format!("{t}: full group changed: {before} -> {after}")
        });
    }

    // Public (Auth): approving a request into a full group.
    let gid = s
        .create("o", json!({"name": "tiny", "type": "Public", "max_members": 2, "members": [{"user_id": "m"}]}))
        .await;
    let p = gpath(&gid);
    let (st, body) = s.post("n", &format!("{p}/join"), json!({})).await;
    r.check(st == 200 && body["status"] == "pending", || {
        format!("Public: apply to full Auth group: {st} {body}")
    });
    if let Some(rid) = body["request_id"].as_u64() {
        let before = snapshot(&s, &gid).await;
        let reply = s
            .post(
                "o",
                &format!("/api/v1/pendency/{rid}"),
                json!({"decision": "accept"}),
            )
            .await;
        r.refused(
            "Public: owner accepts a request into a full group",
            &reply,
            10014,
        );
        let after = snapshot(&s, &gid).await;
        r.check(after == before, || {
            format!("Public: full group changed: {before} -> {after}")
        });
    }

    // Work: invitations past the cap fail per invitee.
    let gid = s
        .create("o", json!({"name": "tiny", "type": "Work", "max_members": 2, "members": [{"user_id": "m"}]}))
        .await;
    let p = gpath(&gid);
    for inviter in ["o", ADMIN] {
        let reply = s
            .post(inviter, &format!("{p}/invite"), json!({"user_ids": ["x"]}))
            .await;
        r.check(
            reply.0 == 200
                && reply.1["results"][0]["result"] == "failed"
                && reply.1["results"][0]["code"] == 10014,
            || {
                format!(
                    "Work: {inviter} invites past the cap: {} {}",
                    reply.0, reply.1
                )
            },
        );
    }
    let snap = snapshot(&s, &gid).await;
    r.check(count(&snap) == 2 && role_of(&snap, "x").is_none(), || {
        format!("Work full group: {snap}")
    });

    // Creation with more initial members than max_members.
    let reply = s
        .post("o", "/api/v1/groups", json!({"name": "tiny", "type": "Meeting", "max_members": 2, "members": [{"user_id": "m"}, {"user_id": "n"}]}))
        .await;
    r.refused(
        "Meeting: create 3 members with max_members 2",
        &reply,
        10014,
    );

    r.finish("api_group_full");
}

/// 10037: a user holding `user_group_limit` groups can create or enter no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_user_group_limit() {
    let s = start_with(Some(|cfg| cfg.limits.user_group_limit = 2)).await;
    s.register(&["u", "w", "y", ADMIN]).await;
    let mut r = Report::default();

    let create = |owner: &'static str, t: GroupType, members: Value| {
        let s = &s;
        async move {
            s.post(
                owner,
                "/api/v1/groups",
                json!({"name": "cap", "type": t.as_str(), "members": members}),
            )
            .await
        }
    };
    let first = create("u", Public, json!([])).await;
    let second = create("u", Public, json!([])).await;
    r.succeeded("u creates group 1", &first, 201);
    r.succeeded("u creates group 2", &second, 201);
    r.refused(
        "u creates group 3 at a cap of 2",
        &create("u", Work, json!([])).await,
        10037,
    );

    let meeting = create("w", Meeting, json!([])).await;
    r.succeeded("w creates a Meeting", &meeting, 201);
    let meeting = meeting.1["group_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mp = gpath(&meeting);
    let before = snapshot(&s, &meeting).await;
    r.refused(
        "u at the cap joins a Meeting",
        &s.post("u", &format!("{mp}/join"), json!({})).await,
        10037,
    );
    let after = snapshot(&s, &meeting).await;
    r.check(after == before, || {
        format!("refused join changed the group: {before} -> {after}")
    });

    let work = create("w", Work, json!([])).await;
    r.succeeded("w creates a Work group", &work, 201);
    let work = work.1["group_id"].as_str().unwrap_or_default().to_string();
    let reply = s
        .post(
            "w",
            &format!("{}/invite", gpath(&work)),
            json!({"user_ids": ["u"]}),
        )
        .await;
    r.check(
        reply.0 == 200
            && reply.1["results"][0]["result"] == "failed"
            && reply.1["results"][0]["code"] == 10037,
        || format!("w invites u at the cap: {} {}", reply.0, reply.1),
    );
    r.refused(
        "y creates a Work group with u at the cap",
        &create("y", Work, json!([{"user_id": "u"}])).await,
        10037,
    );

    // Leaving a group frees room.
    let g2 = second.1["group_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    r.succeeded(
        "u disbands group 2",
        &s.call("u", Method::DELETE, &gpath(&g2), None).await,
        200,
    );
    let reply = s.post("u", &format!("{mp}/join"), json!({})).await;
    r.check(reply.0 == 200 && reply.1["status"] == "joined", || {
        format!("u joins after freeing room: {} {}", reply.0, reply.1)
    });

    r.finish("api_user_group_limit");
}

/// §1.5 group-ID rules: 10015, 10021, 10025.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_group_id_rules() {
    let s = start().await;
    s.register(&["o", "p", ADMIN]).await;
    let mut r = Report::default();
    let create = |owner: &'static str, t: GroupType, id: String| {
        let s = &s;
        async move {
            s.post(
                owner,
                "/api/v1/groups",
                json!({"group_id": id, "name": "ids", "type": t.as_str()}),
            )
            .await
        }
    };

    #[rustfmt::skip]
    let rows: Vec<(&str, GroupType, String, Option<u32>)> = vec![
        ("reserved @TGS# prefix",              Public,    "@TGS#mine".into(),          Some(10015)),
        ("reserved @TGS# prefix, Work",         Work,      "@TGS#1ABCDEFGH".into(),     Some(10015)),
        ("reserved @TGS# prefix, AVChatRoom",   AVChatRoom, "@TGS#aLIVE0001".into(),    Some(10015)),
        ("Community without @TGS#_",            Community, "my-community".into(),       Some(10015)),
        ("Community with bare @TGS#",           Community, "@TGS#community".into(),     Some(10015)),
        ("Community with @TGS#_",               Community, "@TGS#_my-community".into(), None),
        ("49 bytes",                            Meeting,   "g".repeat(49),              Some(10015)),
        ("48 bytes",                            Meeting,   "g".repeat(48),              None),
        ("tab",                                 Public,    "tab\there".into(),          Some(10015)),
        ("newline",                             Public,    "new\nline".into(),          Some(10015)),
        ("DEL",                                 Public,    "del\u{7f}".into(),          Some(10015)),
        ("CJK",                                 Public,    "群组".into(),               Some(10015)),
        ("printable with space and #",          Public,    "team one #1".into(),        None),
    ];
    for (what, t, id, want) in rows {
        let reply = create("o", t, id.clone()).await;
        let what = format!("{t} custom ID {what} ({id:?})");
        match want {
            Some(code) => r.refused(&what, &reply, code),
            None => {
                r.succeeded(&what, &reply, 201);
                r.check(reply.1["group_id"] == id.as_str(), || {
                    format!("{what}: assigned {}", reply.1)
                });
            }
        }
    }

    // Reuse: another owner's ID -> 10021; your own -> 10025; nothing changes.
    r.succeeded(
        "o creates team-x",
        &create("o", Public, "team-x".into()).await,
        201,
    );
    let before = snapshot(&s, "team-x").await;
    r.refused(
        "p creates team-x (o's)",
        &create("p", Public, "team-x".into()).await,
        10021,
    );
    r.refused(
        "p creates team-x as Work (o's)",
        &create("p", Work, "team-x".into()).await,
        10021,
    );
    r.refused(
        "o creates team-x again",
        &create("o", Public, "team-x".into()).await,
        10025,
    );
    let after = snapshot(&s, "team-x").await;
    r.check(after == before && after["info"]["owner"] == "o", || {
        format!("team-x changed: {before} -> {after}")
    });

    // A disbanded ID may be reused (spec §1.5 choice).
    r.succeeded(
        "o creates reuse-me",
        &create("o", Meeting, "reuse-me".into()).await,
        201,
    );
    r.succeeded(
        "o disbands reuse-me",
        &s.call("o", Method::DELETE, &gpath("reuse-me"), None).await,
        200,
    );
    r.succeeded(
        "p reuses reuse-me",
        &create("p", Meeting, "reuse-me".into()).await,
        201,
    );

    r.finish("api_group_id_rules");
}

/// §7 field limits through the API: 10004 at creation, on edit and on apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_field_limits() {
    let s = start().await;
    s.register(&["o", "n", ADMIN]).await;
    let mut r = Report::default();
    let cjk10 = "名".repeat(10);
    let cjk11 = "名".repeat(11);
    let mixed31 = format!("a{cjk10}");

    #[rustfmt::skip]
    let fields: Vec<(&str, &str, String, bool)> = vec![
        // (label, field, value, fits)
        ("name 30 bytes",                "name",         "n".repeat(30),   true),
        ("name 31 bytes",                "name",         "n".repeat(31),   false),
        ("name 10 CJK = 30 bytes",       "name",         cjk10.clone(),    true),
        ("name 11 CJK = 33 bytes",       "name",         cjk11,            false),
        ("name 1 ASCII + 10 CJK = 31",   "name",         mixed31,          false),
        ("empty name",                   "name",         String::new(),    false),
        ("introduction 240 bytes",       "introduction", "i".repeat(240),  true),
        ("introduction 241 bytes",       "introduction", "i".repeat(241),  false),
        ("introduction 80 CJK = 240",    "introduction", "介".repeat(80),  true),
        ("introduction 81 CJK = 243",    "introduction", "介".repeat(81),  false),
        ("notification 300 bytes",       "notification", "t".repeat(300),  true),
        ("notification 301 bytes",       "notification", "t".repeat(301),  false),
        ("face_url 100 bytes",           "face_url",     format!("https://x/{}", "f".repeat(90)), true),
        ("face_url 101 bytes",           "face_url",     format!("https://x/{}", "f".repeat(91)), false),
    ];
    for (label, field, value, fits) in &fields {
        let mut body = json!({"name": "limits", "type": "Public"});
        body[*field] = json!(value);
        let reply = s.post("o", "/api/v1/groups", body).await;
        if *fits {
            r.succeeded(&format!("create with {label}"), &reply, 201);
        } else {
            r.refused(&format!("create with {label}"), &reply, 10004);
        }
    }

    let gid = s
        .create("o", json!({"name": "limits", "type": "Public"}))
        .await;
    let p = gpath(&gid);
    for (label, field, value, fits) in &fields {
        let before = snapshot(&s, &gid).await;
        let mut patch = json!({});
        patch[*field] = json!(value);
        let reply = s.call("o", Method::PATCH, &p, Some(patch)).await;
        if *fits {
            r.succeeded(&format!("edit {label}"), &reply, 200);
            let after = snapshot(&s, &gid).await;
            r.check(after["info"][*field] == value.as_str(), || {
                format!("edit {label}: not stored: {after}")
            });
        } else {
            r.refused(&format!("edit {label}"), &reply, 10004);
            let after = snapshot(&s, &gid).await;
            r.check(after == before, || {
                format!("edit {label}: refused edit changed the group")
            });
        }
    }

    // Join-request message: at most 300 bytes (spec choice).
    let before = snapshot(&s, &gid).await;
    let reply = s
        .post(
            "n",
            &format!("{p}/join"),
            json!({"message": "m".repeat(301)}),
        )
        .await;
    r.refused("apply with a 301-byte message", &reply, 10004);
    let reply = s
        .post(
            "n",
            &format!("{p}/join"),
            json!({"message": "消".repeat(101)}),
        )
        .await;
    r.refused("apply with a 101-CJK (303-byte) message", &reply, 10004);
    let after = snapshot(&s, &gid).await;
    r.check(after == before, || {
        "refused applications left a request".into()
    });
    let reply = s
        .post(
            "n",
            &format!("{p}/join"),
            json!({"message": "m".repeat(300)}),
        )
        .await;
    r.check(reply.0 == 200 && reply.1["status"] == "pending", || {
        format!("apply with a 300-byte message: {} {}", reply.0, reply.1)
    });

    // Approval reason: at most 300 bytes (spec choice).
    if let Some(rid) = reply.1["request_id"].as_u64() {
        let reply = s
            .post(
                "o",
                &format!("/api/v1/pendency/{rid}"),
                json!({"decision": "refuse", "reason": "r".repeat(301)}),
            )
            .await;
        r.refused("refuse with a 301-byte reason", &reply, 10004);
        r.check(pending_ids(&s, "o").await.contains(&rid), || {
            "a refused decision consumed the request".into()
        });
    }

    r.finish("api_field_limits");
}

/// §4 join-request lifecycle: decided once (10024), ends when the applicant
/// joins another way or the group is disbanded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_join_request_lifecycle() {
    let s = start().await;
    s.register(&["o", "a", "a2", "m", "m2", "n", "n2", "n3", "n4", "x", ADMIN])
        .await;
    let mut r = Report::default();
    let decide = |user: &'static str, rid: u64, decision: &'static str| {
        let s = &s;
        async move {
            s.post(
                user,
                &format!("/api/v1/pendency/{rid}"),
                json!({"decision": decision}),
            )
            .await
        }
    };
    let apply = |user: &'static str, gid: String| {
        let s = &s;
        async move {
            let (st, body) = s
                .post(
                    user,
                    &format!("{}/join", gpath(&gid)),
                    json!({"message": "please"}),
                )
                .await;
            assert_eq!(
                (st, body["status"].as_str()),
                (200, Some("pending")),
                "{user} applies to {gid}: {body}"
            );
            body["request_id"].as_u64().expect("request_id")
        }
    };

    let gid = fixture(&s, Public).await;

    // First decision wins (accept first).
    let rid = apply("n", gid.clone()).await;
    r.check(pending_ids(&s, "a").await.contains(&rid), || {
        "admin a does not see n's request".into()
    });
    r.succeeded("owner accepts n", &decide("o", rid, "accept").await, 200);
    let before = snapshot(&s, &gid).await;
    r.refused(
        "admin refuses n after the owner accepted",
        &decide("a", rid, "refuse").await,
        10024,
    );
    r.refused(
        "admin accepts n again",
        &decide("a2", rid, "accept").await,
        10024,
    );
    r.refused(
        "app admin accepts n again",
        &decide(ADMIN, rid, "accept").await,
        10024,
    );
    let after = snapshot(&s, &gid).await;
    r.check(
        after == before && role_of(&after, "n").as_deref() == Some("Member"),
        || format!("second decisions changed the group: {before} -> {after}"),
    );
    let (_, all) = s.get("a", "/api/v1/pendency?status=all&limit=500").await;
    let listed = all["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == rid).cloned());
    r.check(
        listed.as_ref().is_some_and(|i| {
            i["status"] == "accepted" && i["handled_by"] == "o" && i["can_decide"] == false
        }),
        || format!("admin's view of the decided request: {listed:?}"),
    );
    r.check(!pending_ids(&s, "o").await.contains(&rid), || {
        "a decided request is still pending".into()
    });

    // First decision wins (refuse first).
    let rid = apply("n2", gid.clone()).await;
    r.succeeded("admin refuses n2", &decide("a", rid, "refuse").await, 200);
    let before = snapshot(&s, &gid).await;
    r.refused(
        "owner accepts n2 after the admin refused",
        &decide("o", rid, "accept").await,
        10024,
    );
    let after = snapshot(&s, &gid).await;
    r.check(after == before && role_of(&after, "n2").is_none(), || {
        "n2 got in after a refusal".into()
    });

    // Ends when the applicant joins another way: invited by the app admin.
    let rid = apply("n3", gid.clone()).await;
    let reply = s
        .post(
            ADMIN,
            &format!("{}/invite", gpath(&gid)),
            json!({"user_ids": ["n3"]}),
        )
        .await;
    r.check(
        reply.0 == 200 && reply.1["results"][0]["result"] == "added",
        || format!("app admin invites n3: {}", reply.1),
    );
    for viewer in ["o", "a", "n3", ADMIN] {
        r.check(!pending_ids(&s, viewer).await.contains(&rid), || {
            format!("n3's request still pending for {viewer} after n3 was invited in")
        });
    }
    let before = snapshot(&s, &gid).await;
    let reply = decide("o", rid, "accept").await;
    r.check(
        reply.0 >= 400 && matches!(reply.1["error"]["code"].as_u64(), Some(10024 | 10013)),
        || format!("deciding n3's ended request: {} {}", reply.0, reply.1),
    );
    let after = snapshot(&s, &gid).await;
    r.check(after == before, || {
        "deciding an ended request changed the group".into()
    });

    // Ends when the applicant joins another way: the group opens up and they join.
    let rid = apply("n4", gid.clone()).await;
    r.succeeded(
        "owner opens the group",
        &s.call(
            "o",
            Method::PATCH,
            &gpath(&gid),
            Some(json!({"add_option": "Any"})),
        )
        .await,
        200,
    );
    let reply = s
        .post("n4", &format!("{}/join", gpath(&gid)), json!({}))
        .await;
    r.check(reply.0 == 200 && reply.1["status"] == "joined", || {
        format!("n4 joins the open group: {}", reply.1)
    });
    r.check(!pending_ids(&s, "o").await.contains(&rid), || {
        "n4's request still pending after n4 joined".into()
    });
    let reply = decide("a", rid, "refuse").await;
    r.check(
        reply.0 >= 400 && matches!(reply.1["error"]["code"].as_u64(), Some(10024 | 10013)),
        || format!("refusing n4's ended request: {} {}", reply.0, reply.1),
    );
    let snap = snapshot(&s, &gid).await;
    r.check(role_of(&snap, "n4").as_deref() == Some("Member"), || {
        "n4 lost membership to a late refusal".into()
    });

    // Ends when the group is disbanded.
    let gid2 = fixture(&s, Public).await;
    let rid = apply("x", gid2.clone()).await;
    r.succeeded(
        "owner disbands",
        &s.call("o", Method::DELETE, &gpath(&gid2), None).await,
        200,
    );
    for viewer in ["o", "a", "x", ADMIN] {
        r.check(!pending_ids(&s, viewer).await.contains(&rid), || {
            format!("request {rid} still pending for {viewer} after the group was disbanded")
        });
    }
    for decider in ["o", ADMIN] {
        let reply = decide(decider, rid, "accept").await;
        r.check(
            reply.0 >= 400 && matches!(reply.1["error"]["code"].as_u64(), Some(10010 | 10024)),
            || {
                format!(
                    "{decider} decides a request of a disbanded group: {} {}",
                    reply.0, reply.1
                )
            },
        );
    }
    let reply = s.get(ADMIN, &gpath(&gid2)).await;
    r.refused("disbanded group after a late decision", &reply, 10010);

    r.finish("api_join_request_lifecycle");
}

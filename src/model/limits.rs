//! Field limits and identifier rules (spec §1.3, §1.5, §7): what a valid user
//! ID, group ID, name or message looks like, and the configurable caps.

use super::error::GroupError;
use super::types::GroupType;
use rand::Rng;

pub const MAX_USER_ID_BYTES: usize = 32;
pub const MAX_GROUP_ID_BYTES: usize = 48;
pub const MAX_NAME_BYTES: usize = 30;
pub const MAX_INTRODUCTION_BYTES: usize = 240;
pub const MAX_NOTIFICATION_BYTES: usize = 300;
pub const MAX_FACE_URL_BYTES: usize = 100;
pub const MAX_NAME_CARD_BYTES: usize = 50;
pub const MAX_MESSAGE_BYTES: usize = 300;
pub const MAX_REASON_BYTES: usize = 300;
pub const MAX_INITIAL_MEMBERS: usize = 100;
pub const MAX_INVITE_BATCH: usize = 300;
pub const SERVER_ID_PREFIX: &str = "@TGS#";
pub const COMMUNITY_ID_PREFIX: &str = "@TGS#_";

/// Member caps and per-user limits; configuration, with the spec's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Default `max_members` per type; `None` = unlimited (AVChatRoom).
    pub default_caps: [(GroupType, Option<u64>); 5],
    /// The edition ceiling a group's `max_members` may not exceed (10038).
    pub ceilings: [(GroupType, Option<u64>); 5],
    /// Groups a user may create or join (AVChatRoom excluded), 10037.
    pub user_group_limit: u64,
    /// Pending join requests older than this many seconds have expired.
    pub request_retention_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_caps: [
                (GroupType::Work, Some(200)),
                (GroupType::Public, Some(2_000)),
                (GroupType::Meeting, Some(6_000)),
                (GroupType::AVChatRoom, None),
                (GroupType::Community, Some(100_000)),
            ],
            ceilings: [
                (GroupType::Work, Some(6_000)),
                (GroupType::Public, Some(6_000)),
                (GroupType::Meeting, Some(6_000)),
                (GroupType::AVChatRoom, None),
                (GroupType::Community, Some(100_000)),
            ],
            user_group_limit: 1_000,
            request_retention_secs: 30 * 24 * 3600,
        }
    }
}

impl Limits {
    pub fn default_cap(&self, t: GroupType) -> Option<u64> {
        self.default_caps
            .iter()
            .find(|(ty, _)| *ty == t)
            .and_then(|(_, c)| *c)
    }

    pub fn ceiling(&self, t: GroupType) -> Option<u64> {
        self.ceilings
            .iter()
            .find(|(ty, _)| *ty == t)
            .and_then(|(_, c)| *c)
    }

    /// Validates a requested `max_members` for a group of type `t` holding `count` members.
    pub fn check_max_members(
        &self,
        t: GroupType,
        requested: u64,
        count: u64,
    ) -> Result<(), GroupError> {
        if t == GroupType::AVChatRoom {
            return Err(GroupError::invalid(
                "max_members does not apply to AVChatRoom groups (they are unlimited)",
            ));
        }
        if requested == 0 {
            return Err(GroupError::invalid("max_members must be at least 1"));
        }
        if let Some(ceiling) = self.ceiling(t) {
            if requested > ceiling {
                return Err(GroupError::OverCeiling(format!(
                    "max_members {requested} is over the ceiling of {ceiling} for {t} groups"
                )));
            }
        }
        if requested < count {
            return Err(GroupError::invalid(format!(
                "max_members {requested} is below the current member count {count}; remove members first"
            )));
        }
        Ok(())
    }
}

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// A user ID: printable ASCII, 1–32 bytes.
pub fn validate_user_id(id: &str) -> Result<(), GroupError> {
    if id.is_empty()
        || id.len() > MAX_USER_ID_BYTES
        || !printable_ascii(id)
        || id == "."
        || id == ".."
    {
        return Err(GroupError::invalid(format!(
            "invalid user ID {:?}: use 1–{MAX_USER_ID_BYTES} printable ASCII characters",
            truncate_for_message(id)
        )));
    }
    Ok(())
}

/// A user ID named when looking someone up: printable ASCII, 1–32 bytes.
pub fn validate_user_id_lookup(id: &str) -> Result<(), GroupError> {
    if id.is_empty() || id.len() > MAX_USER_ID_BYTES || !printable_ascii(id) {
        return Err(GroupError::invalid(format!(
            "invalid user ID {:?}: use 1–{MAX_USER_ID_BYTES} printable ASCII characters",
            truncate_for_message(id)
        )));
    }
    Ok(())
}

/// A group ID named by a caller when looking a group up (any length-valid ID).
pub fn validate_group_id_lookup(id: &str) -> Result<(), GroupError> {
    if id.is_empty()
        || id.len() > MAX_GROUP_ID_BYTES + COMMUNITY_ID_PREFIX.len() + 16
        || !printable_ascii(id)
    {
        return Err(GroupError::InvalidGroupId(format!(
            "{:?} is not a group ID (printable ASCII, at most {MAX_GROUP_ID_BYTES} bytes)",
            truncate_for_message(id)
        )));
    }
    Ok(())
}

/// A custom group ID chosen at creation (spec §1.5).
pub fn validate_custom_group_id(id: &str, t: GroupType) -> Result<(), GroupError> {
    if id.is_empty() {
        return Err(GroupError::InvalidGroupId("the group ID is empty".into()));
    }
    if id.len() > MAX_GROUP_ID_BYTES {
        return Err(GroupError::InvalidGroupId(format!(
            "{:?} is {} bytes; at most {MAX_GROUP_ID_BYTES}",
            truncate_for_message(id),
            id.len()
        )));
    }
    if !printable_ascii(id) {
        return Err(GroupError::InvalidGroupId(format!(
            "{:?} contains characters outside printable ASCII",
            truncate_for_message(id)
        )));
    }
    if id == "." || id == ".." {
        return Err(GroupError::InvalidGroupId(format!(
            "{id:?} cannot name a group: URLs cannot address it"
        )));
    }
    if t == GroupType::Community {
        if !id.starts_with(COMMUNITY_ID_PREFIX) {
            return Err(GroupError::InvalidGroupId(format!(
                "a custom Community group ID must start with {COMMUNITY_ID_PREFIX:?}"
            )));
        }
    } else if id.starts_with(SERVER_ID_PREFIX) {
        return Err(GroupError::InvalidGroupId(format!(
            "the prefix {SERVER_ID_PREFIX:?} is reserved for server-assigned IDs"
        )));
    }
    Ok(())
}

/// A new server-assigned ID: `@TGS#` + type letter + 8 random uppercase alphanumerics
/// (Community: `@TGS#_@TGS#c` + 10 characters, the documented shape).
pub fn generate_group_id(t: GroupType) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut tail = |n: usize| -> String {
        (0..n)
            .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
            .collect()
    };
    if t == GroupType::Community {
        format!("{COMMUNITY_ID_PREFIX}{SERVER_ID_PREFIX}c{}", tail(10))
    } else {
        format!("{SERVER_ID_PREFIX}{}{}", t.id_letter(), tail(8))
    }
}

/// Custom fields of a group (`AppDefinedData`): keys per group, value bytes.
pub const GROUP_FIELDS: (usize, usize) = (20, 512);
/// Custom fields of a member (`AppMemberDefinedData`).
pub const MEMBER_FIELDS: (usize, usize) = (5, 64);

/// Applies custom-field updates (an empty value deletes the key) within the
/// limits `(keys, value bytes)`; returns whether anything changed. Keys are
/// 1–15 bytes of `[A-Za-z0-9_]`.
pub fn merge_custom_fields(
    current: &mut std::collections::BTreeMap<String, String>,
    updates: &[(String, String)],
    (max_keys, max_value): (usize, usize),
) -> Result<bool, GroupError> {
    let mut next = current.clone();
    for (key, value) in updates {
        let key_ok = !key.is_empty()
            && key.len() < 16
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !key_ok {
            return Err(GroupError::invalid(format!(
                "custom field key {:?} must be 1–15 characters of A-Z, a-z, 0-9 and _",
                truncate_for_message(key)
            )));
        }
        check_len(&format!("custom field {key}"), value, max_value)?;
        if value.is_empty() {
            next.remove(key);
        } else {
            next.insert(key.clone(), value.clone());
        }
    }
    if next.len() > max_keys {
        return Err(GroupError::invalid(format!(
            "at most {max_keys} custom fields are allowed, this would make {}",
            next.len()
        )));
    }
    let changed = next != *current;
    *current = next;
    Ok(changed)
}

/// Checks a text field against its byte limit.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), GroupError> {
    if value.len() > max {
        return Err(GroupError::invalid(format!(
            "{field} is {} bytes; at most {max} bytes are allowed (a CJK character takes 3)",
            value.len()
        )));
    }
    Ok(())
}

/// A group name: required, non-empty, at most 30 bytes.
pub fn validate_name(name: &str) -> Result<(), GroupError> {
    if name.trim().is_empty() {
        return Err(GroupError::invalid("name must not be empty"));
    }
    check_len("name", name, MAX_NAME_BYTES)
}

fn truncate_for_message(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert!(validate_user_id("alice").is_ok());
        assert!(validate_user_id("").is_err());
        assert!(validate_user_id(&"a".repeat(33)).is_err());
        assert!(validate_user_id(&"a".repeat(32)).is_ok());
        assert!(validate_user_id("bad\nid").is_err());
        assert!(validate_user_id("名字").is_err());
    }

    #[test]
    fn custom_ids() {
        let code = |r: Result<(), GroupError>| r.err().map(|e| e.code());
        assert_eq!(
            code(validate_custom_group_id("team-1", GroupType::Public)),
            None
        );
        assert_eq!(
            code(validate_custom_group_id("@TGS#x", GroupType::Public)),
            Some(10015)
        );
        assert_eq!(
            code(validate_custom_group_id("team", GroupType::Community)),
            Some(10015)
        );
        assert_eq!(
            code(validate_custom_group_id("@TGS#_team", GroupType::Community)),
            None
        );
        assert_eq!(
            code(validate_custom_group_id(&"x".repeat(49), GroupType::Work)),
            Some(10015)
        );
        assert_eq!(
            code(validate_custom_group_id(&"x".repeat(48), GroupType::Work)),
            None
        );
        assert_eq!(
            code(validate_custom_group_id("tab\there", GroupType::Work)),
            Some(10015)
        );
    }

    #[test]
    fn generated_ids_are_valid_lookups() {
        for t in GroupType::ALL {
            let id = generate_group_id(t);
            assert!(validate_group_id_lookup(&id).is_ok(), "{id}");
            if t == GroupType::Community {
                assert!(id.starts_with(COMMUNITY_ID_PREFIX));
            } else {
                assert!(id.starts_with(SERVER_ID_PREFIX));
                assert_eq!(id.len(), 14);
            }
        }
    }

    #[test]
    fn max_members() {
        let l = Limits::default();
        assert_eq!(
            l.check_max_members(GroupType::Public, 7000, 1)
                .map_err(|e| e.code()),
            Err(10038)
        );
        assert_eq!(
            l.check_max_members(GroupType::Public, 5, 6)
                .map_err(|e| e.code()),
            Err(10004)
        );
        assert!(l.check_max_members(GroupType::Public, 6000, 6).is_ok());
        assert!(l.check_max_members(GroupType::AVChatRoom, 10, 1).is_err());
    }

    #[test]
    fn byte_limits_count_utf8() {
        assert!(validate_name(&"名".repeat(10)).is_ok());
        assert!(validate_name(&"名".repeat(11)).is_err());
        assert!(validate_name("   ").is_err());
    }
}

//! What the console benches share: fixed identities and times, key
//! presses, finding a call among `update`'s commands, and member rows.
#![allow(dead_code)]

use groupdeck::model::Role;
use groupdeck::server::api::MemberInfo;
use groupdeck::tui::msg::Call;
use groupdeck::tui::{Cmd, Msg};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The benches' clock (Unix ms) and identities.
pub const NOW: u64 = 1_760_000_000_000;
pub const ME: &str = "mod-0001";
pub const BIG: &str = "@TGS#2BIGROOM";

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The id of the call among `cmds` that `pick` chooses.
pub fn call_id(cmds: &[Cmd], pick: impl Fn(&Call) -> bool) -> u64 {
    cmds.iter()
        .find_map(|c| match c {
            Cmd::Call { id, call } if pick(call) => Some(*id),
            _ => None,
        })
        .expect("update asked for the call")
}

/// Member `i` of a big group: `ME` owns it, every 997th is an admin, and the
/// name cards vary in width and script.
pub fn member(i: usize) -> MemberInfo {
    MemberInfo {
        user_id: if i == 0 {
            ME.to_string()
        } else {
            format!("user-{i:06}")
        },
        role: match i {
            0 => Role::Owner,
            _ if i % 997 == 0 => Role::Admin,
            _ => Role::Member,
        },
        join_time: NOW / 1000 - i as u64,
        name_card: match i % 5 {
            0 => String::new(),
            1 => format!("Member {i}"),
            2 => "张伟 (reading)".to_string(),
            3 => "night shift\nops".to_string(),
            _ => "a rather long name card that will be cut".to_string(),
        },
        mute_until: 0,
    }
}

//! The Members pane: the selected group's members with role badges, paged
//! from the server as the cursor nears the end of what is loaded.

use super::text::{fit, one_line, thousands};
use super::{filter_note, list_row, pane_block, placeholder};
use crate::model::Role;
use crate::tui::state::{Load, Pane, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

fn badge(role: Role) -> &'static str {
    match role {
        Role::Owner => "★ owner",
        Role::Admin => "◆ admin",
        Role::Member => "  member",
    }
}

pub fn draw(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let m = &state.members;
    let list = &m.list;
    let group = m.group_id.as_deref().and_then(|id| state.group(id));
    let title = match group {
        Some(g) => format!("Members · {}", one_line(&g.name)),
        None => "Members".to_string(),
    };
    let total = group
        .map(|g| g.member_count)
        .unwrap_or(list.items.len() as u64);
    let mut right = match filter_note(
        state,
        Pane::Members,
        &list.filter,
        list.len(),
        list.items.len(),
    ) {
        Some(n) => n,
        None if m.group_id.is_some() => {
            if (list.items.len() as u64) < total && m.next_cursor.is_some() {
                format!(
                    " {} of {} ",
                    thousands(list.items.len() as u64),
                    thousands(total)
                )
            } else {
                format!(" {} ", thousands(total))
            }
        }
        None => String::new(),
    };
    if m.loading_more {
        right = format!("{}{} ", right, super::status::spinner(state));
    }
    let block = pane_block(
        state,
        Pane::Members,
        title,
        (!right.is_empty()).then(|| Line::styled(right, t.dim())),
        area.width,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let badge_w = 8;
    let card_w = if width >= 40 { 12 } else { 0 };
    let joined_w = if width >= 60 { 6 } else { 0 };
    let user_w =
        width.saturating_sub(badge_w + card_w + 2 + if joined_w > 0 { joined_w + 1 } else { 0 });
    let mut header = format!("{} {}", fit("MEMBER", user_w), fit("ROLE", badge_w));
    if card_w > 0 {
        header.push(' ');
        header.push_str(&fit("NAME CARD", card_w));
    }
    if joined_w > 0 {
        header.push(' ');
        header.push_str(&super::text::fit_right("JOINED", joined_w));
    }
    let header = Line::styled(header, t.header());
    if m.group_id.is_none() {
        placeholder(
            frame,
            state,
            inner,
            header,
            &Load::Idle,
            "select a group to see its members",
        );
        return;
    }
    if list.is_empty() {
        let empty = if list.items.is_empty() {
            "no members to show"
        } else {
            "nothing loaded matches the filter (Esc clears it)"
        };
        placeholder(frame, state, inner, header, &list.load, empty);
        return;
    }
    let focused = state.focus == Pane::Members && state.popup.is_none();
    let mut lines = vec![header];
    let rows = inner.height.saturating_sub(1) as usize;
    for (row, member) in list.window(rows) {
        let me = member.user_id == state.settings.user;
        let name = if me {
            format!("{} (you)", member.user_id)
        } else {
            member.user_id.clone()
        };
        let mut spans = vec![
            Span::raw(fit(&one_line(&name), user_w)),
            Span::raw(" "),
            Span::styled(fit(badge(member.role), badge_w), t.role(Some(member.role))),
        ];
        if card_w > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                fit(&one_line(&member.name_card), card_w),
                t.dim(),
            ));
        }
        if joined_w > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                super::text::fit_right(
                    &super::text::age(state.now_ms, member.join_time.saturating_mul(1000)),
                    joined_w,
                ),
                t.dim(),
            ));
        }
        lines.push(list_row(spans, row == list.cursor, focused, state));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

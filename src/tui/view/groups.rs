//! The Groups pane: joined groups (every group for an app admin) with type,
//! my role, member count and pending join requests.

use super::text::{fit, fit_right, thousands};
use super::{filter_note, list_row, pane_block, placeholder};
use crate::model::{GroupType, Role};
use crate::tui::state::{Pane, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn type_label(t: GroupType, wide: bool) -> &'static str {
    match (t, wide) {
        (GroupType::AVChatRoom, false) => "AVChat",
        (GroupType::Community, false) => "Commun",
        (GroupType::Meeting, false) => "Meetng",
        (t, _) => t.as_str(),
    }
}

pub fn role_label(r: Option<Role>) -> &'static str {
    match r {
        Some(Role::Owner) => "owner",
        Some(Role::Admin) => "admin",
        Some(Role::Member) => "member",
        None => "-",
    }
}

pub fn draw(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let list = &state.groups;
    let title = format!("Groups ({})", list.items.len());
    let right = filter_note(
        state,
        Pane::Groups,
        &list.filter,
        list.len(),
        list.items.len(),
    )
    .map(|n| Line::styled(n, t.accent()));
    let block = pane_block(state, Pane::Groups, title, right, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let wide = width >= 56;
    let type_w = if wide { 10 } else { 6 };
    let role_w = 6;
    let count_w = 7;
    let pend_w = 4;
    // Wider panes also show the join option, then the group ID.
    let join_w = if wide { 6 } else { 0 };
    let id_w = if width >= 96 { 18 } else { 0 };
    let extra = [join_w, id_w]
        .iter()
        .filter(|w| **w > 0)
        .map(|w| w + 1)
        .sum::<usize>();
    let name_w = width.saturating_sub(type_w + role_w + count_w + pend_w + 4 + extra);
    let mut head = fit("NAME", name_w);
    if id_w > 0 {
        head.push(' ');
        head.push_str(&fit("ID", id_w));
    }
    head.push_str(&format!(" {} {}", fit("TYPE", type_w), fit("ROLE", role_w)));
    if join_w > 0 {
        head.push(' ');
        head.push_str(&fit("JOIN", join_w));
    }
    head.push_str(&format!(
        " {} {}",
        fit_right("MEMBERS", count_w),
        fit_right("REQ", pend_w)
    ));
    let header = Line::styled(head, t.header());
    let rows = inner.height.saturating_sub(1) as usize;
    if list.is_empty() {
        let empty = if list.items.is_empty() {
            let c = state
                .settings
                .keymap
                .first(crate::tui::keymap::Action::Create)
                .unwrap_or_default();
            let j = state
                .settings
                .keymap
                .first(crate::tui::keymap::Action::Join)
                .unwrap_or_default();
            if state.settings.read_only {
                "no groups".to_string()
            } else {
                format!("no groups yet: {c} creates one, {j} joins one")
            }
        } else {
            "nothing matches the filter (Esc clears it)".to_string()
        };
        placeholder(frame, state, inner, header, &list.load, &empty);
        return;
    }
    let focused = state.focus == Pane::Groups && state.popup.is_none();
    let mut lines = vec![header];
    for (row, g) in list.window(rows) {
        let selected = row == list.cursor;
        let pending = match g.pending_requests {
            Some(n) if n > 0 => n.to_string(),
            _ => String::new(),
        };
        let mut spans = vec![Span::raw(fit(&super::text::one_line(&g.name), name_w))];
        if id_w > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(fit(&g.group_id, id_w), t.dim()));
        }
        spans.extend([
            Span::raw(" "),
            Span::styled(
                fit(type_label(g.group_type, wide), type_w),
                t.group_type(g.group_type),
            ),
            Span::raw(" "),
            Span::styled(fit(role_label(g.my_role), role_w), t.role(g.my_role)),
        ]);
        if join_w > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::raw(fit(g.add_option.as_str(), join_w)));
        }
        spans.extend([
            Span::raw(" "),
            Span::raw(fit_right(&thousands(g.member_count), count_w)),
            Span::raw(" "),
            Span::styled(fit_right(&pending, pend_w), t.warn()),
        ]);
        lines.push(list_row(spans, selected, focused, state));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

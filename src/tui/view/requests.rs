//! The Requests pane: the join requests this user may decide, across every
//! group, with applicant, group, message and age; marked rows are decided
//! together.

use super::text::{age, fit, fit_right, one_line};
use super::{filter_note, list_row, pane_block, placeholder};
use crate::tui::state::{Pane, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let r = &state.requests;
    let list = &r.list;
    let more = if r.next_cursor.is_some() { "+" } else { "" };
    let title = format!("Requests ({}{more})", list.items.len());
    let right = match filter_note(
        state,
        Pane::Requests,
        &list.filter,
        list.len(),
        list.items.len(),
    ) {
        Some(n) => Some(Line::styled(n, t.accent())),
        None if !r.marked.is_empty() => Some(Line::styled(
            format!(" {} marked ", r.marked.len()),
            t.warn(),
        )),
        None => None,
    };
    let block = pane_block(state, Pane::Requests, title, right, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let mark_w = 1;
    let user_w = (width / 4).clamp(6, 16);
    let group_w = (width / 4).clamp(6, 18);
    let age_w = 4;
    let msg_w = width.saturating_sub(mark_w + user_w + group_w + age_w + 4);
    let header = Line::styled(
        format!(
            "{} {} {} {} {}",
            fit("", mark_w),
            fit("APPLICANT", user_w),
            fit("GROUP", group_w),
            fit("MESSAGE", msg_w),
            fit_right("AGE", age_w)
        ),
        t.header(),
    );
    if list.is_empty() {
        let empty = if list.items.is_empty() {
            "no join requests waiting for you"
        } else {
            "nothing matches the filter (Esc clears it)"
        };
        placeholder(frame, state, inner, header, &list.load, empty);
        return;
    }
    let focused = state.focus == Pane::Requests && state.popup.is_none();
    let mut lines = vec![header];
    let rows = inner.height.saturating_sub(1) as usize;
    for (row, req) in list.window(rows) {
        let marked = r.marked.contains(&req.id);
        let who = match (&req.inviter, req.kind.as_str()) {
            (Some(inv), "invite") => format!("{} (by {inv})", req.applicant),
            _ => req.applicant.clone(),
        };
        let message = if req.message.is_empty() {
            String::new()
        } else {
            format!("“{}”", one_line(&req.message))
        };
        let spans = vec![
            Span::styled(if marked { "✓" } else { " " }, t.warn()),
            Span::raw(" "),
            Span::styled(fit(&one_line(&who), user_w), t.text()),
            Span::raw(" "),
            Span::styled(fit(&one_line(&req.group_name), group_w), t.accent()),
            Span::raw(" "),
            Span::raw(fit(&message, msg_w)),
            Span::raw(" "),
            Span::styled(
                fit_right(&age(state.now_ms, req.created_at), age_w),
                t.dim(),
            ),
        ];
        lines.push(list_row(spans, row == list.cursor, focused, state));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

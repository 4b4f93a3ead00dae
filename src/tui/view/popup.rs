//! Popups drawn over the panes: help (generated from the live keymap),
//! message history, y/n confirmations, forms and the join option picker.

use super::text::{clock, one_line, truncate};
use crate::tui::keymap::{Action, Scope};
use crate::tui::state::{FieldValue, Form, OPTION_CHOICES, Popup, State};
use crate::tui::update::available;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

pub fn draw(frame: &mut Frame, state: &State, area: Rect) {
    let Some(popup) = &state.popup else {
        return;
    };
    match popup {
        Popup::Help { scroll } => help(frame, state, area, *scroll),
        Popup::Messages { scroll } => messages(frame, state, area, *scroll),
        Popup::Confirm { question, yes, .. } => confirm(frame, state, area, question, *yes),
        Popup::ConfirmExit { yes } => {
            let n = state.changes_in_flight();
            let q = format!(
                "{n} change{} still in flight; leave anyway? Their results will not be shown.",
                if n == 1 { " is" } else { "s are" }
            );
            confirm(frame, state, area, &q, *yes)
        }
        Popup::Form(form) => draw_form(frame, state, area, form),
        Popup::OptionPicker {
            group_name, index, ..
        } => picker(frame, state, area, group_name, *index),
    }
}

/// Clears a popup's area. A wide character just left of it would spill
/// its second column over the popup's border, so it goes too.
fn clear(frame: &mut Frame, rect: Rect) {
    if rect.x > 0 {
        let buf = frame.buffer_mut();
        for y in rect.top()..rect.bottom() {
            if let Some(cell) = buf.cell_mut((rect.x - 1, y))
                && cell.symbol().width() > 1
            {
                cell.set_symbol(" ");
            }
        }
    }
    frame.render_widget(Clear, rect);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width
        .min(area.width.saturating_sub(2))
        .max(10.min(area.width));
    let h = height
        .min(area.height.saturating_sub(2))
        .max(3.min(area.height));
    Rect::new(
        area.x + (area.width.saturating_sub(w)) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    )
}

fn frame_block<'a>(state: &State, title: String) -> Block<'a> {
    let t = &state.settings.theme;
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.accent())
        .title(Span::styled(format!(" {title} "), t.title(true)))
}

/// The help table: every action and its keys, by where it applies.
pub fn help_lines(state: &State) -> Vec<Line<'static>> {
    let t = &state.settings.theme;
    let km = &state.settings.keymap;
    let sections = [
        (Scope::Everywhere, "Everywhere"),
        (Scope::Lists, "Lists"),
        (Scope::Groups, "Groups (and Members: the group shown)"),
        (Scope::Members, "Members"),
        (Scope::Requests, "Requests"),
    ];
    let key_w = Action::ALL
        .iter()
        .map(|a| km.label(*a).width())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut lines = Vec::new();
    for (scope, title) in sections {
        let actions: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|a| a.scope() == scope && available(state, *a))
            .collect();
        if actions.is_empty() {
            continue;
        }
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(title.to_string(), t.header()));
        for a in actions {
            let keys = km.label(a);
            let pad = " ".repeat(key_w.saturating_sub(keys.width()));
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(keys, t.key()),
                Span::raw(pad),
                Span::raw("  "),
                Span::raw(a.description()),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Command line (:)".to_string(), t.header()));
    for (_, usage, action) in crate::tui::command::COMMANDS {
        if action.is_none_or(|a| available(state, a)) {
            lines.push(Line::from(vec![Span::raw("  :"), Span::raw(usage)]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Esc closes popups, clears a filter or dismisses an error.".to_string(),
        t.dim(),
    ));
    lines.push(Line::styled(
        "Times in the Events pane are UTC.".to_string(),
        t.dim(),
    ));
    lines
}

fn help(frame: &mut Frame, state: &State, area: Rect, scroll: usize) {
    let lines = help_lines(state);
    let rect = centered(area, 72, lines.len() as u16 + 2);
    clear(frame, rect);
    let inner_h = rect.height.saturating_sub(2) as usize;
    let max = lines.len().saturating_sub(inner_h);
    let title = if state.settings.read_only {
        "Keys (read-only) · Esc closes".to_string()
    } else {
        "Keys · Esc closes · j/k scroll".to_string()
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(frame_block(state, title))
            .scroll((scroll.min(max) as u16, 0)),
        rect,
    );
}

fn messages(frame: &mut Frame, state: &State, area: Rect, scroll: usize) {
    let t = &state.settings.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    clear(frame, rect);
    let width = rect.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = state
        .notes
        .iter()
        .rev()
        .map(|n| {
            Line::from(vec![
                Span::styled(clock(n.at_ms), t.dim()),
                Span::raw(" "),
                Span::styled(
                    truncate(&one_line(&n.text), width.saturating_sub(9)),
                    t.level(n.level),
                ),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("no messages yet", t.dim()));
    }
    let inner_h = rect.height.saturating_sub(2) as usize;
    let max = lines.len().saturating_sub(inner_h);
    frame.render_widget(
        Paragraph::new(lines)
            .block(frame_block(
                state,
                "Messages, newest first · Esc closes".into(),
            ))
            .scroll((scroll.min(max) as u16, 0)),
        rect,
    );
}

fn confirm(frame: &mut Frame, state: &State, area: Rect, question: &str, yes: bool) {
    let t = &state.settings.theme;
    let width = (question.width() as u16 + 6).clamp(30, 70);
    let text_w = width.saturating_sub(4) as usize;
    let text_lines = question.width().div_ceil(text_w.max(1)) as u16;
    let rect = centered(area, width, text_lines + 5);
    clear(frame, rect);
    let pick = |on: bool| {
        if on { t.selected(true) } else { t.dim() }
    };
    let lines = vec![
        Line::raw(question.to_string()),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" [y] Yes ", pick(yes)),
            Span::raw("   "),
            Span::styled(" [N] No ", pick(!yes)),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            frame_block(state, "Confirm".into()).padding(ratatui::widgets::Padding::horizontal(1)),
        ),
        rect,
    );
}

fn draw_form(frame: &mut Frame, state: &State, area: Rect, form: &Form) {
    let t = &state.settings.theme;
    let label_w = form
        .fields
        .iter()
        .map(|f| f.label.width())
        .max()
        .unwrap_or(4) as u16;
    let width = 64u16.max(form.title.width() as u16 + 4);
    let height = form.fields.len() as u16 * 2 + 4;
    let rect = centered(area, width, height);
    clear(frame, rect);
    let block = frame_block(
        state,
        truncate(&form.title, rect.width.saturating_sub(4) as usize),
    );
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let input_x = inner.x + label_w + 3;
    let input_w = inner.width.saturating_sub(label_w + 4) as usize;
    let mut y = inner.y;
    let mut cursor: Option<Position> = None;
    for (i, field) in form.fields.iter().enumerate() {
        if y >= inner.bottom() {
            break;
        }
        let focused = i == form.focus;
        let marker = if focused { "›" } else { " " };
        let label = Line::from(vec![
            Span::styled(marker, t.key()),
            Span::raw(" "),
            Span::styled(field.label, if focused { t.key() } else { t.text() }),
        ]);
        frame.render_widget(Paragraph::new(label), Rect::new(inner.x, y, label_w + 2, 1));
        let value_area = Rect::new(input_x, y, input_w as u16, 1);
        match &field.value {
            FieldValue::Text(input) => {
                let scroll = input.visual_scroll(input_w.saturating_sub(1));
                let shown: String = input.value().chars().skip(scroll).collect();
                let style = if focused {
                    t.text().add_modifier(ratatui::style::Modifier::UNDERLINED)
                } else {
                    t.text()
                };
                let text = super::text::fit(&shown, input_w);
                frame.render_widget(Paragraph::new(Span::styled(text, style)), value_area);
                if focused {
                    let x = input_x + input.visual_cursor().saturating_sub(scroll) as u16;
                    cursor = Some(Position::new(
                        x.min(value_area.right().saturating_sub(1)),
                        y,
                    ));
                }
            }
            FieldValue::Choice { options, index } => {
                let mut spans = Vec::new();
                for (j, o) in options.iter().enumerate() {
                    let style = if j == *index {
                        t.selected(focused)
                    } else {
                        t.dim()
                    };
                    spans.push(Span::styled(format!(" {o} "), style));
                }
                frame.render_widget(Paragraph::new(Line::from(spans)), value_area);
            }
        }
        if focused && !field.hint.is_empty() && y + 1 < inner.bottom() {
            frame.render_widget(
                Paragraph::new(Span::styled(truncate(field.hint, input_w), t.dim())),
                Rect::new(input_x, y + 1, input_w as u16, 1),
            );
        }
        y += 2;
    }
    let footer = match &form.error {
        Some(e) => Line::styled(e.clone(), t.level(crate::tui::state::Level::Error)),
        None => Line::styled("Enter submits · Tab next field · Esc cancels", t.dim()),
    };
    if inner.height > 0 {
        frame.render_widget(
            Paragraph::new(footer),
            Rect::new(inner.x, inner.bottom() - 1, inner.width, 1),
        );
    }
    if let Some(c) = cursor {
        frame.set_cursor_position(c);
    }
}

fn picker(frame: &mut Frame, state: &State, area: Rect, group: &str, index: usize) {
    let t = &state.settings.theme;
    let rect = centered(area, 56, 7);
    clear(frame, rect);
    let explain = |o: &str| match o {
        "Any" => "anyone may join at once",
        "Auth" => "an owner or admin approves each request",
        _ => "nobody may ask to join",
    };
    let lines: Vec<Line> = OPTION_CHOICES
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let style = if i == index {
                t.selected(true)
            } else {
                t.text()
            };
            Line::from(vec![
                Span::styled(format!(" {o:<7}"), style),
                Span::styled(format!(" {}", explain(o)), t.dim()),
            ])
        })
        .collect();
    let title = format!(
        "Join option of {} · Enter sets, Esc cancels",
        one_line(group)
    );
    frame.render_widget(
        Paragraph::new(lines).block(frame_block(state, truncate(&title, 52))),
        rect,
    );
}

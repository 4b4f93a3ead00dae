//! Text cut and padded by display width, so CJK (two columns a character)
//! and emoji line up in columns. Widths are taken per grapheme, as ratatui
//! draws them: "🛠️" (a symbol and U+FE0F) is one two-column cluster.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// `s` cut to at most `width` columns, with `…` where something was cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        // Control characters never reach the screen.
        let (g, w) = if g.chars().any(char::is_control) {
            (" ", 1)
        } else {
            (g, g.width())
        };
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push_str(g);
    }
    out.push('…');
    out
}

/// `s` cut or padded with spaces to exactly `width` columns.
pub fn fit(s: &str, width: usize) -> String {
    let mut out = truncate(s, width);
    let w = out.width();
    if w < width {
        out.extend(std::iter::repeat_n(' ', width - w));
    }
    out
}

/// `s` right-aligned in `width` columns (cut when longer).
pub fn fit_right(s: &str, width: usize) -> String {
    let cut = truncate(s, width);
    let w = cut.width();
    let mut out = String::with_capacity(width);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out.push_str(&cut);
    out
}

/// Control characters (newlines in a message, escape sequences) as spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An age: `12s`, `5m`, `3h`, `2d`.
pub fn age(now_ms: u64, then_ms: u64) -> String {
    let s = now_ms.saturating_sub(then_ms) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `HH:MM:SS` (UTC) of a Unix-milliseconds time.
pub fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_by_display_width() {
        assert_eq!(truncate("读书会 club", 6), "读书…");
        assert_eq!(fit("读书会", 7), "读书会 ");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("🎉party", 4).width(), 4);
        assert_eq!(fit_right("42", 5), "   42");
        assert_eq!(fit("x", 0), "");
        // A double-width character never straddles the edge.
        assert_eq!(fit("a读书", 3), "a… ");
        // An emoji with its presentation selector is one two-column cluster.
        assert_eq!(fit("Hack 🛠️", 8), "Hack 🛠️ ");
        assert_eq!(fit("Hack 🛠️ week", 7), "Hack … ");
        assert_eq!(truncate("🛠️🛠️🛠️", 5), "🛠️🛠️…");
    }

    #[test]
    fn formats_numbers_and_times() {
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(age(90_000, 0), "1m");
        assert_eq!(age(5_000, 0), "5s");
        assert_eq!(clock(3_723_000), "01:02:03");
        assert_eq!(one_line("a\nb\x1b[31m"), "a b [31m");
    }
}

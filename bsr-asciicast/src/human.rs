//! Text for people: recording-controlled strings (file names, verifier messages, exec commands,
//! env values) escaped before they reach a terminal, so they cannot forge lines or send escape
//! sequences (issue 14, item 7).

/// Escapes control characters (C0, DEL, C1) and bidirectional overrides as `\n`, `\t`, `\r`,
/// `\e` or `\u{…}`, and a backslash as `\\`; everything else is kept.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that reorder the text around them on screen (Trojan-Source style).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(
            escape("x\nFAKE: \u{1b}[31mred\u{7}\u{9b}\u{202e}\\ é"),
            "x\\nFAKE: \\e[31mred\\u{7}\\u{9b}\\u{202e}\\\\ é"
        );
        assert_eq!(escape("plain/path.bsr"), "plain/path.bsr");
    }
}

//! Reading the emulator's screen (logical lines, rows), window-size clamping, and the
//! operation classes the observer looks for.

use super::{MAX_COLS, MAX_ROWS};
use avt::parser::{DecMode, Function};
use avt::{Line, Terminal};

/// Clamps a requested window size to what is modelled; the flag says whether it was clamped.
pub fn clamp_size(cols: u32, rows: u32) -> (usize, usize, bool) {
    let c = (cols as usize).clamp(1, MAX_COLS);
    let r = (rows as usize).clamp(1, MAX_ROWS);
    (c, r, c != cols as usize || r != rows as usize)
}

/// The text of a logical line (soft-wrapped rows joined) around `row` of the active screen,
/// trailing blanks removed, and the number of characters before `col` on `row`.
pub fn logical_line(term: &Terminal, row: usize, col: usize) -> (String, usize) {
    let screen = term.screen();
    let lines: Vec<&Line> = screen.visible_lines().collect();
    if row >= lines.len() {
        return (String::new(), 0);
    }
    let mut start = row;
    while start > 0 && lines[start - 1].is_wrapped() {
        start -= 1;
    }
    let mut end = row;
    while end + 1 < lines.len() && lines[end].is_wrapped() {
        end += 1;
    }
    let mut text = String::new();
    let mut before = 0;
    for (i, line) in lines[start..=end].iter().enumerate() {
        if start + i == row {
            // Wide characters occupy two cells but are one character.
            before = text.chars().count()
                + line.cells()[..col.min(line.len())]
                    .iter()
                    .filter(|c| c.width() != 0)
                    .count();
        }
        text.extend(line.chars());
    }
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    (text, before)
}

/// The rows of the active screen, trailing blanks removed, trailing blank rows dropped.
pub fn screen_rows(term: &Terminal) -> Vec<String> {
    let mut rows: Vec<String> = term
        .screen()
        .visible_lines()
        .map(|l| l.text().trim_end().to_string())
        .collect();
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    rows
}

pub(super) fn has_alt_mode(modes: &avt::parser::DecModes) -> bool {
    modes.as_slice().iter().any(|m| {
        matches!(
            m,
            DecMode::AltScreenBuffer | DecMode::SaveCursorAltScreenBuffer
        )
    })
}

/// Whether an operation changes the text on the screen (cursor moves and modes do not).
pub(super) fn changes_text(f: &Function) -> bool {
    matches!(
        f,
        Function::Print(_)
            | Function::Rep(_)
            | Function::Decaln
            | Function::Ed(_)
            | Function::El(_)
            | Function::Ech(_)
            | Function::Dch(_)
            | Function::Ich(_)
            | Function::Il(_)
            | Function::Dl(_)
            | Function::Su(_)
            | Function::Sd(_)
            | Function::Ri
    )
}

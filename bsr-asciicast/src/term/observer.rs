//! The [`Observer`] hooks avt calls around each operation: row times on the normal screen,
//! and the switches to and from the alternate screen.

use super::lines::Lines;
use super::screen::has_alt_mode;
use super::{AltEnd, TextItem};
use avt::parser::{EdScope, Function};
use avt::{Line, Observation, Observer, Operation, ScreenKind};

impl Observer for Lines {
    type Output = Vec<TextItem>;

    // Called around every operation (every printed character): the common cases are inlined,
    // the rest is out of line.
    #[inline]
    fn before(&mut self, cx: &mut Observation<'_>, op: &Operation) {
        // The common case first: more text on the row last printed on.
        if let Operation::Function(Function::Print(_)) = op {
            let c = cx.terminal().cursor();
            if c.row == self.open_row && c.col + 1 < self.open_cols {
                return;
            }
        }
        self.before_slow(cx, op);
    }

    #[inline]
    fn after(&mut self, cx: &mut Observation<'_>, op: &Operation) {
        if self.remap.is_none()
            && !matches!(
                op,
                Operation::Function(Function::Decset(_) | Function::Decrst(_) | Function::Ris)
            )
        {
            return;
        }
        self.after_slow(cx, op);
    }

    fn evicted(&mut self, cx: &mut Observation<'_>, line: &Line) {
        let t = match self.pre_ended.pop_front() {
            Some(t) => t,
            None => {
                let t = self.ended.pop_front().flatten();
                self.ended.push_back(None);
                t
            }
        }
        .unwrap_or(self.now);
        if !self.waiting.is_empty() {
            self.check_waiting(cx.terminal());
        }
        self.push_row(line, t);
    }

    fn end(&mut self, _: &mut Observation<'_>) -> Self::Output {
        std::mem::take(&mut self.out)
    }
}

impl Lines {
    /// [`Observer::before`] past its fast path.
    #[inline(never)]
    fn before_slow(&mut self, cx: &mut Observation<'_>, op: &Operation) {
        self.open_row = usize::MAX;
        let f = match op {
            Operation::Resize { rows, .. } => {
                // Reflow moves rows (on the primary screen even while the alternate is
                // active): follow the ended rows with anchors.
                self.remap_before(cx);
                if *rows != self.rows {
                    self.rows = *rows;
                    self.margins = false; // avt resets the margins when the height changes
                }
                return;
            }
            Operation::Function(f) => f,
        };
        if self.kind == ScreenKind::Primary {
            self.before_primary(cx, f);
        } else {
            self.before_alt(cx.terminal(), f);
        }
    }

    /// [`Observer::after`] past its fast path.
    #[inline(never)]
    fn after_slow(&mut self, cx: &mut Observation<'_>, op: &Operation) {
        if self.remap.is_some() {
            self.remap_after(cx.terminal());
        }
        // Only these switch screens.
        if !matches!(
            op,
            Operation::Function(Function::Decset(_) | Function::Decrst(_) | Function::Ris)
        ) {
            return;
        }
        let kind = cx.terminal().active_screen_kind();
        if kind == self.kind {
            return;
        }
        self.kind = kind;
        match kind {
            ScreenKind::Alternate => self.enter_alt(cx),
            ScreenKind::Primary => self.close_alt(None, AltEnd::Exit),
        }
    }

    /// Before an operation on the normal screen: rows a newline ends get their time, rows an
    /// operation changes lose it, operations that move rows are followed.
    fn before_primary(&mut self, cx: &mut Observation<'_>, f: &Function) {
        let term = cx.terminal();
        let cursor = term.cursor();
        let cols = term.size().0;
        match f {
            Function::Print(_) | Function::Rep(_) => {
                // A pending wrap puts the character on the next row.
                let wraps = cursor.col + 1 >= cols;
                if wraps && self.margins {
                    self.remap_before(cx);
                }
                self.reopen(if cursor.col >= cols {
                    cursor.row + 1
                } else {
                    cursor.row
                });
                if !wraps {
                    // Until another operation: nothing to do for prints on this row.
                    self.open_row = cursor.row;
                    self.open_cols = cols;
                }
            }
            Function::Lf | Function::Nel => {
                if self.capture {
                    self.capture_now(term);
                }
                if let Some(e) = self.ended.get_mut(cursor.row)
                    && e.is_none()
                {
                    *e = Some(self.now);
                }
                if self.margins {
                    // The scroll region may scroll without the screen's top row leaving.
                    self.remap_before(cx);
                }
            }
            Function::El(_) | Function::Ech(_) | Function::Dch(_) | Function::Ich(_) => {
                self.reopen(cursor.row);
            }
            Function::Ed(scope) => match scope {
                EdScope::Below => (cursor.row..self.rows).for_each(|r| self.reopen(r)),
                EdScope::Above => (0..=cursor.row).for_each(|r| self.reopen(r)),
                // ED2 moves the occupied rows out (evicted in order): their times hold.
                EdScope::All | EdScope::SavedLines => {}
            },
            Function::Ri
            | Function::Il(_)
            | Function::Dl(_)
            | Function::Su(_)
            | Function::Sd(_) => self.remap_before(cx),
            Function::Decaln => self.forget_rows(),
            Function::Decstr => self.margins = false,
            Function::Decstbm(top, bottom) => {
                let rows = self.rows;
                let t = (*top as usize).max(1) - 1;
                let b = if *bottom == 0 { rows } else { *bottom as usize } - 1;
                if t < b && b < rows {
                    self.margins = !(t == 0 && b == rows - 1);
                }
            }
            Function::Decset(m) if has_alt_mode(m) => {
                if self.capture {
                    self.capture_now(term);
                }
                self.entry_cursor = Some((cursor.col, cursor.row));
            }
            Function::Ris => {
                self.flush_screen(term);
                self.margins = false;
            }
            _ => {}
        }
    }
}

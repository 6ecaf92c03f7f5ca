//! Full-screen programs (the alternate screen): their state while on screen, the frames
//! caught from it, and the blocks they become, placed after the line they follow.

use super::lines::Lines;
use super::screen::{changes_text, has_alt_mode, screen_rows};
use super::{AltBlock, AltEnd, MAX_WAITING_BLOCKS, SNAPSHOT_GAP_NANOS, TextItem};
use avt::parser::{EdScope, Function};
use avt::{Anchor, Observation, Position, ScreenKind, Terminal};
use bsr_core::Timestamp;

/// A full-screen program on screen now.
pub(super) struct AltState {
    pub(super) start: Timestamp,
    /// The primary-screen line the block follows (`None`: before everything on screen).
    pub(super) anchor: Option<Anchor>,
    /// A frame caught just before a clear.
    pub(super) frame: Option<Vec<String>>,
    /// Characters printed since the last snapshot.
    pub(super) dirty: bool,
    pub(super) snap_time: Option<Timestamp>,
    /// The frame caught just before leaving.
    pub(super) exit_frame: Option<Vec<String>>,
    /// While newlines on the bottom row have scrolled the screen and nothing has changed its
    /// text since: the frame from before the first of them (`None` inside when rate-limited).
    /// vim ends that way, which would push its first row out of the last frame.
    pub(super) scroll_frame: Option<Option<Vec<String>>>,
    pub(super) scroll_snap_time: Option<Timestamp>,
}

impl Lines {
    /// A finished program's block: out now (after the current line), or waiting for the line
    /// it follows to leave the screen.
    pub(super) fn queue_block(&mut self, anchor: Option<Anchor>, block: AltBlock) {
        if self.immediate_blocks || anchor.is_none() {
            if self.pending.is_empty() && self.pending_chars == 0 {
                self.out.push(TextItem::AltScreen(block));
            } else {
                self.release.push(block);
            }
            return;
        }
        if self.waiting.len() >= MAX_WAITING_BLOCKS
            && let Some((_, b)) = self.waiting.pop_front()
        {
            self.release.push(b);
        }
        self.waiting.push_back((anchor, block));
    }

    /// After an eviction: blocks whose line has gone are released after the current line.
    pub(super) fn check_waiting(&mut self, term: &Terminal) {
        while let Some((anchor, _)) = self.waiting.front() {
            let gone = anchor.as_ref().is_none_or(|a| term.resolve(a).is_none());
            if !gone {
                break;
            }
            if let Some((_, b)) = self.waiting.pop_front() {
                self.release.push(b);
            }
        }
    }

    /// The frame on screen: its rows without the blank rows above and below.
    pub(super) fn snapshot(term: &Terminal) -> Option<Vec<String>> {
        let mut rows = screen_rows(term);
        let lead = rows.iter().take_while(|r| r.is_empty()).count();
        rows.drain(..lead);
        (!rows.is_empty()).then_some(rows)
    }

    /// Ends the full-screen program on screen, if any.
    pub(super) fn close_alt(&mut self, term: Option<&Terminal>, how: AltEnd) {
        let Some(st) = self.alt.take() else { return };
        let frame = st
            .exit_frame
            .or_else(|| term.and_then(Self::snapshot))
            .or(st.frame);
        let block = AltBlock {
            start: st.start,
            end: self.now,
            ended: how,
            blank: frame.is_none(),
            frame: frame.unwrap_or_default(),
        };
        self.queue_block(st.anchor, block);
    }

    /// Before an operation on the alternate screen: frames caught before a clear, before the
    /// program leaves, before newlines scroll the screen; a hard reset ends the program.
    pub(super) fn before_alt(&mut self, term: &Terminal, f: &Function) {
        if let Some(a) = &mut self.alt
            && changes_text(f)
        {
            a.scroll_frame = None;
        }
        match f {
            Function::Lf | Function::Nel if term.cursor().row + 1 == term.size().1 => {
                let now = self.now;
                if let Some(a) = &mut self.alt
                    && a.scroll_frame.is_none()
                {
                    let due = a
                        .scroll_snap_time
                        .is_none_or(|s| now.as_nanos() - s.as_nanos() >= SNAPSHOT_GAP_NANOS);
                    a.scroll_frame = Some(if due {
                        a.scroll_snap_time = Some(now);
                        Self::snapshot(term)
                    } else {
                        None
                    });
                }
            }
            Function::Print(_) | Function::Rep(_) | Function::Decaln => {
                if let Some(a) = &mut self.alt {
                    a.dirty = true;
                }
            }
            Function::Ed(EdScope::All | EdScope::Below) => {
                let now = self.now;
                if let Some(a) = &mut self.alt
                    && a.dirty
                    && a.snap_time
                        .is_none_or(|s| now.as_nanos() - s.as_nanos() >= SNAPSHOT_GAP_NANOS)
                {
                    if let Some(fr) = Self::snapshot(term) {
                        a.frame = Some(fr);
                    }
                    a.snap_time = Some(now);
                    a.dirty = false;
                }
            }
            Function::Decrst(m) if has_alt_mode(m) => {
                if let Some(a) = &mut self.alt {
                    a.exit_frame = match a.scroll_frame.take() {
                        Some(Some(before_scroll)) => Some(before_scroll),
                        _ => Self::snapshot(term),
                    };
                }
            }
            Function::Ris => {
                if let Some(a) = &mut self.alt {
                    a.exit_frame = Self::snapshot(term);
                }
                self.close_alt(None, AltEnd::Reset);
                self.kind = ScreenKind::Primary;
                self.flush_screen(term);
                self.margins = false;
            }
            _ => {}
        }
    }

    /// After the switch to the alternate screen: a program starts, anchored after the
    /// cursor's line.
    pub(super) fn enter_alt(&mut self, cx: &mut Observation<'_>) {
        let (col, row) = self.entry_cursor.take().unwrap_or((0, 0));
        // The block follows the cursor's line; a cursor at the start of a line has
        // just left the line above (the command that started the program).
        let anchor_row = if col == 0 {
            row.checked_sub(1)
        } else {
            Some(row)
        };
        let anchor = anchor_row.and_then(|r| {
            cx.anchor_at(Position {
                screen: ScreenKind::Primary,
                col: 0,
                row: r as isize,
            })
        });
        self.alt = Some(AltState {
            start: self.now,
            anchor,
            frame: None,
            dirty: false,
            snap_time: None,
            exit_frame: None,
            scroll_frame: None,
            scroll_snap_time: None,
        });
    }
}

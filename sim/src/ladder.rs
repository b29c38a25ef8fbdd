//! The ladder diagram: a run drawn as text, in the style of RFC 3665's figures.
//!
//! The format is documented on [`Sim::ladder`](crate::Sim::ladder).

use std::fmt::Write;

use crate::label::start_line_label;
use crate::{NodeId, Packet, TraceEvent, TraceKind};

/// Narrowest distance between two columns.
const MIN_GAP: usize = 10;

/// What one line of the diagram shows.
struct Row {
    time: String,
    from: NodeId,
    to: Option<NodeId>,
    label: String,
    /// Drawn as far as the `x`.
    dropped: bool,
    note: String,
}

/// Draw the diagram of `trace` between nodes called `names` (indexed by [`NodeId`]), with
/// `packets` indexed by packet id.
pub(crate) fn render(names: &[&str], trace: &[TraceEvent], packets: &[Packet]) -> String {
    let rows: Vec<Row> = trace.iter().filter_map(|e| row(e, packets)).collect();

    let time_width = rows.iter().map(|r| r.time.len()).max().unwrap_or(0);
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let label_width = rows
        .iter()
        .filter(|r| r.to.is_some())
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    let gap = (label_width + 10).max(name_width + 2).max(MIN_GAP);
    let first = time_width + 4 + name_width / 2 + 1;
    let cols: Vec<usize> = (0..names.len()).map(|i| first + i * gap).collect();
    let width = cols.last().map_or(first, |&c| c + 1);

    let mut out = String::new();
    let mut header = vec![' '; width + name_width];
    for (name, &col) in names.iter().zip(&cols) {
        let start = col - name.chars().count() / 2;
        for (i, ch) in name.chars().enumerate() {
            header[start + i] = ch;
        }
    }
    push_line(&mut out, &header.iter().collect::<String>());
    let rail = rail(width, &cols);
    push_line(&mut out, &rail.iter().collect::<String>());

    for row in &rows {
        let mut line = rail.clone();
        let time = format!("{:>w$}", row.time, w = time_width);
        for (i, ch) in time.chars().enumerate() {
            line[2 + i] = ch;
        }
        if let Some(to) = row.to {
            if to != row.from {
                arrow(
                    &mut line,
                    cols[row.from.0],
                    cols[to.0],
                    &row.label,
                    row.dropped,
                );
            }
        }
        let mut text: String = line.iter().collect();
        if !row.note.is_empty() {
            text.push_str("  ");
            text.push_str(&row.note);
        }
        push_line(&mut out, &text);
    }
    out
}

/// The line of a trace event, if it draws one.
fn row(e: &TraceEvent, packets: &[Packet]) -> Option<Row> {
    let packet = packets.get(e.packet.0)?;
    let label = start_line_label(&packet.bytes);
    let (dropped, note) = match e.kind {
        TraceKind::Delivered { duplicate } => (false, if duplicate { "dup" } else { "" }.into()),
        TraceKind::Dropped(reason) => (true, reason.to_string()),
        TraceKind::Sent | TraceKind::Duplicated | TraceKind::Held => return None,
    };
    let note = match e.to {
        None => format!("{label} to {} {note}", packet.dst),
        Some(to) if to == e.from => format!("{label} to itself {note}").trim_end().to_owned(),
        Some(_) => note,
    };
    Some(Row {
        time: e.time.to_string(),
        from: e.from,
        to: e.to,
        label,
        dropped,
        note,
    })
}

/// A line with only the nodes' vertical bars.
fn rail(width: usize, cols: &[usize]) -> Vec<char> {
    let mut line = vec![' '; width];
    for &c in cols {
        line[c] = '|';
    }
    line
}

/// Draw an arrow from column `a` to column `b` labelled `label`.
fn arrow(line: &mut [char], a: usize, b: usize, label: &str, dropped: bool) {
    let (lo, hi) = (a.min(b), a.max(b));
    for ch in &mut line[lo + 1..hi] {
        *ch = '-';
    }
    if b > a {
        line[hi - 1] = '>';
    } else {
        line[lo + 1] = '<';
    }
    if dropped {
        // Stop short of the receiver: "--x  |" or "|  x--".
        if b > a {
            line[hi - 3] = 'x';
            line[hi - 2] = ' ';
            line[hi - 1] = ' ';
        } else {
            line[lo + 1] = ' ';
            line[lo + 2] = ' ';
            line[lo + 3] = 'x';
        }
    }
    // Centred; the gap leaves at least three characters each side, clear of the `x`.
    let text: Vec<char> = format!(" {label} ").chars().collect();
    let start = lo + 1 + (hi - lo - 1).saturating_sub(text.len()) / 2;
    for (i, ch) in text.into_iter().enumerate() {
        line[start + i] = ch;
    }
}

fn push_line(out: &mut String, line: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{}", line.trim_end());
}

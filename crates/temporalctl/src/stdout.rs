//! What the verbs print for the reader. A reader that goes away early (`temporalctl plan
//! | head`) closes the pipe: `println!` would then panic, so these writes end quietly
//! instead, and the command itself carries on (an `up` finishes its work).

use std::borrow::Cow;
use std::io::Write;

/// Text from elsewhere (container logs, AWS messages, names) made safe for a terminal:
/// control characters other than newline and tab, and the Unicode controls that reorder
/// text (bidirectional overrides and isolates), are printed as visible escapes in JSON's
/// own form (`\u001b`), so `--output json` stays valid JSON. A log line can then not move
/// the cursor, retitle the window, hide text or rewrite what was printed before it.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            // Every such character is in the Basic Multilingual Plane: four hex digits.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Everything the verbs print goes through [`printable`].
pub fn write(args: std::fmt::Arguments<'_>) {
    write_raw(&printable(&args.to_string()));
}

/// Our own terminal control (the watch view's clear-screen), unfiltered.
pub fn write_raw(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => eprintln!("warning: cannot write to stdout: {e}"),
        Ok(()) => {}
    }
}

/// `print!` that survives a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    () => { $crate::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_reordering_controls_are_shown_not_obeyed() {
        let hostile = "ok\x1b]0;owned\x07\x1b[2J\r\u{202E}txt.exe\u{2066}\x08\x00done";
        let shown = printable(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(!shown.contains('\u{202E}') && !shown.contains('\u{2066}'), "{shown:?}");
        assert_eq!(shown, r"ok\u001b]0;owned\u0007\u001b[2J\u000d\u202etxt.exe\u2066\u0008\u0000done");
        // JSON output stays JSON: serde_json leaves DEL, C1 and bidi controls as they are,
        // and what replaces them is JSON's own escape, read back as the same text.
        let doc = serde_json::json!({ "event": "x\u{7f}\u{9b}31m\u{202e}y" }).to_string();
        let back: serde_json::Value = serde_json::from_str(&printable(&doc)).unwrap();
        assert_eq!(back["event"], "x\u{7f}\u{9b}31m\u{202e}y");
        // Lines, tabs and any other text pass as they are, without a copy.
        assert!(matches!(printable("a\tb\nc — é 日本"), Cow::Borrowed("a\tb\nc — é 日本")));
    }
}

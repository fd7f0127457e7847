//! What the verbs print for the reader. A reader that goes away early (`temporalctl plan
//! | head`) closes the pipe: `println!` would then panic, so these writes end quietly
//! instead, and the command itself carries on (an `up` finishes its work).

use std::io::Write;

pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.flush()) {
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

//! `bsr-asciicast convert --follow`: the cast of a recording that is still being written,
//! written as it grows (see `docs/FOLLOW.md`).

use anyhow::Context;
use bsr_asciicast::convert::follow::{
    FollowConverted, FollowEnd, FollowSelection, LIVE_WARNING, convert_follow,
};
use bsr_asciicast::convert::{ConvertContext, ConvertOptions, Format};
use bsr_asciicast::error::ConvertError;
use bsr_asciicast::human::escape;
use bsr_core::read::follow::{FollowOptions, Follower, WRITER_GONE, Watch};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The follow options of `convert`.
#[derive(clap::Args, Debug)]
pub struct FollowArgs {
    /// Follow a recording that is still being written: the cast is written as the channel's
    /// output becomes durable (stdout by default, flushed per event), until the channel is done
    /// or the writer is gone. Live content is not verified; the cast says so. Without --channel,
    /// follows the first shell or exec channel.
    #[arg(long, conflicts_with_all = ["messages", "requests", "input", "resize", "markers", "all", "strict", "report"])]
    pub follow: bool,
    /// With --follow: seconds without any change in the recording folder, while it is
    /// unfinished, after which the writer is taken to be gone (exit 6).
    #[arg(long, requires = "follow", default_value_t = 600.0)]
    pub writer_timeout: f64,
    /// With --follow: poll the folder instead of using inotify (e.g. on NFS).
    #[arg(long, requires = "follow")]
    pub poll: bool,
}

/// Runs `convert --follow`; returns the exit code (0 channel done, 3 not a terminal channel,
/// 6 writer gone with the recording unfinished).
pub fn run(
    a: &FollowArgs,
    recording: &Path,
    (connection, channel): (Option<String>, Option<String>),
    (output, max_output, quiet, v3): (Option<&Path>, u64, bool, bool),
) -> anyhow::Result<i32> {
    if !(a.writer_timeout.is_finite() && a.writer_timeout > 0.0) {
        anyhow::bail!("--writer-timeout must be a positive number of seconds");
    }
    let opts = FollowOptions {
        watch: if a.poll { Watch::Poll } else { Watch::Auto },
        writer_timeout: Duration::from_secs_f64(a.writer_timeout.min(1e9)),
        ..FollowOptions::default()
    };
    let mut follower = Follower::open(recording, opts)
        .with_context(|| format!("following {}", recording.display()))?;
    let sel = FollowSelection {
        connection,
        channel,
    };
    let conv = ConvertOptions {
        format: if v3 { Format::V3 } else { Format::V2 },
        ..ConvertOptions::default()
    };
    let mut ctx = ConvertContext::default();
    ctx.max_output_bytes = max_output;
    // The cast is written straight to its file (a reader may play it while it grows).
    let r = match output {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            convert_follow(&mut follower, &sel, &conv, &ctx, f)
        }
        None => convert_follow(&mut follower, &sel, &conv, &ctx, std::io::stdout().lock()),
    };
    let done = match r {
        Ok(d) => d,
        Err(e @ (ConvertError::NotInteractive(_) | ConvertError::Selection(_))) => {
            let code = if e.to_string().contains(WRITER_GONE) {
                6
            } else {
                3
            };
            super::print_error(&e.into());
            return Ok(code);
        }
        Err(e) => return Err(e.into()),
    };
    summary(&done, quiet);
    Ok(match done.end {
        FollowEnd::ChannelDone => 0,
        FollowEnd::WriterGone { .. } => 6,
    })
}

fn summary(d: &FollowConverted, quiet: bool) {
    let mut err = std::io::stderr().lock();
    if let FollowEnd::WriterGone { open } = &d.end {
        let _ = writeln!(
            err,
            "bsr-asciicast: {WRITER_GONE}; the cast ends where the durable data ended; still open: {}",
            escape(&open.join(", "))
        );
    }
    if !quiet {
        let _ = writeln!(
            err,
            "{}: {} channel followed live, {} events\n  {LIVE_WARNING}",
            escape(&d.channel),
            d.session_program,
            d.events
        );
    }
}

//! `versus explain`: the lesson list, or one lesson shown on the terminal —
//! wrapped to its width, figures highlighted, and with `--step` a pause
//! (Enter) between parts. The lessons themselves are [`bench::explain`].

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use bench::explain::{self, Catalog, Lang, Line, Pace, Part, Presenter};
use bench::{output, width};

use crate::exit::{emit, error_text, usage_error};

/// Examples of `versus explain`.
pub(crate) const EXPLAIN_EXAMPLES: &str = "\
Examples:
  versus explain                          the lessons, one line each
  versus explain two-stacks               whose kernel answers uname: host, container, VM
  versus explain two-stacks --linux       …and a real Linux guest's banner (make linux-guest)
  versus explain no-translation --step    pause between parts (Enter), for a lecture
  versus explain two-stacks --lang ko     in Korean (the default follows LC_ALL/LC_MESSAGES/LANG)";

/// The language flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LangArg {
    /// English.
    En,
    /// Korean.
    Ko,
}

impl From<LangArg> for Lang {
    fn from(lang: LangArg) -> Lang {
        match lang {
            LangArg::En => Lang::En,
            LangArg::Ko => Lang::Ko,
        }
    }
}

/// `versus explain`'s arguments.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The lesson to give; without it, the list of lessons.
    pub topic: Option<String>,
    /// The language (default: from LC_ALL, LC_MESSAGES or LANG; ko_KR… is
    /// Korean, anything else English).
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
    /// Pause between the parts of the lesson until Enter is pressed (only
    /// when standard input is a terminal).
    #[arg(long)]
    pub step: bool,
    /// Fewer, shorter measurement rounds: a quick check rather than a
    /// lecture's steady figures.
    #[arg(long)]
    pub short: bool,
    /// two-stacks only: also boot the minimal Linux kernel (`make
    /// linux-guest`) and show its own banner, image size and time to "Run
    /// /init" (tens of seconds on a software KVM backend, so not by default)
    #[arg(long)]
    pub linux: bool,
    /// two-stacks only: the Linux kernel to boot (implies --linux)
    #[arg(long, value_name = "PATH")]
    pub linux_kernel: Option<std::path::PathBuf>,
}

/// The lesson on stdout.
struct Terminal {
    width: usize,
    /// Bold figures: only on a terminal, so that pipes and files get plain
    /// text.
    bold: bool,
    /// Pause after each part (`--step` on a terminal).
    pause: Option<String>,
    /// The first write error; the lesson stops being shown after it.
    failed: Option<anyhow::Error>,
}

/// The indent of a part's lines under its heading.
const INDENT: &str = "  ";
/// The mark before a measured figure.
const FIGURE_MARK: &str = "  ▸ ";
/// The mark before a command to type.
const COMMAND_MARK: &str = "  $ ";

impl Terminal {
    fn write(&mut self, text: &str) {
        if self.failed.is_none()
            && let Err(error) = emit(text)
        {
            self.failed = Some(error);
        }
    }

    fn wait_for_enter(&mut self) {
        let Some(prompt) = self.pause.clone() else {
            return;
        };
        self.write(&format!("{prompt}\n"));
        // Wait in `poll`, not in `read`: the stop handler restarts system
        // calls, so a blocked read would keep Ctrl-C waiting for Enter.
        if !stdin_ready_unless_interrupted() {
            self.pause = None;
            return;
        }
        let mut line = String::new();
        // End of input or a read error ends the pauses, not the lesson.
        if matches!(std::io::stdin().lock().read_line(&mut line), Ok(0) | Err(_)) {
            self.pause = None;
        }
    }
}

/// How long one wait for the Enter key lasts before the stop flag is
/// looked at again.
const PAUSE_POLL_MS: libc::c_int = 50;

/// Waits until stdin has input (true) or Ctrl-C/SIGTERM came (false).
fn stdin_ready_unless_interrupted() -> bool {
    loop {
        if bench::interrupt::requested() {
            return false;
        }
        let mut pollfd = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pollfd` is one valid, writable pollfd for the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, PAUSE_POLL_MS) };
        if ready > 0 {
            return true;
        }
        if ready < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // stdin cannot be waited on: no more pauses.
            return false;
        }
    }
}

impl Presenter for Terminal {
    fn title(&mut self, topic: &str, title: &str) {
        let text = width::paragraph_to(&format!("{topic}: {title}"), "", "", self.width);
        let rule = "═".repeat(
            text.lines()
                .map(width::columns)
                .max()
                .unwrap_or(0)
                .min(self.width),
        );
        self.write(&format!("{text}{rule}\n"));
    }

    fn part(&mut self, part: &Part) {
        let mut text = format!("\n{}\n", part.heading);
        for line in &part.lines {
            match line {
                Line::Prose(prose) => {
                    text.push_str(&width::paragraph_to(prose, INDENT, INDENT, self.width));
                }
                Line::Figure(figure) => {
                    let wrapped = width::paragraph_to(figure, FIGURE_MARK, "    ", self.width);
                    if self.bold {
                        for line in wrapped.lines() {
                            text.push_str(&format!("\x1b[1m{line}\x1b[0m\n"));
                        }
                    } else {
                        text.push_str(&wrapped);
                    }
                }
                Line::Command(command) => {
                    text.push_str(&width::paragraph_to(
                        command,
                        COMMAND_MARK,
                        "    ",
                        self.width,
                    ));
                }
            }
        }
        self.write(&text);
        self.wait_for_enter();
    }

    fn progress(&mut self, text: &str) {
        self.write(&width::paragraph_to(text, "\n", "", self.width));
    }
}

/// `versus explain [TOPIC] [--lang en|ko] [--step] [--short]`.
pub(crate) fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let lang = args.lang.map_or_else(Lang::from_env, Lang::from);
    let catalog = Catalog::load(lang).context("versus was built with a broken lesson catalog")?;
    let width = width::output_width();
    let Some(name) = &args.topic else {
        let mut text = width::paragraph_to(&catalog.plain("list.title")?, "", "", width);
        let lessons = explain::list(&catalog)?;
        let name_width = lessons
            .iter()
            .map(|(topic, _)| topic.len())
            .max()
            .unwrap_or(0);
        for (topic, summary) in lessons {
            let first = format!("  {topic:<name_width$}  ");
            let rest = " ".repeat(width::columns(&first));
            text.push_str(&width::paragraph_to(&summary, &first, &rest, width));
        }
        emit(&text)?;
        return Ok(ExitCode::SUCCESS);
    };
    let topic = match explain::topic(name) {
        Ok(topic) => topic,
        Err(error) => return usage_error(&error_text(&error.into())),
    };
    let linux_kernel = match (&args.linux_kernel, args.linux) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(std::path::PathBuf::from(
            hypervisor::linux::MINIMAL_KERNEL_PATH,
        )),
        (None, false) => None,
    };
    if linux_kernel.is_some() && topic != explain::lessons::TWO_STACKS {
        return usage_error(&format!(
            "--linux and --linux-kernel belong to the two-stacks lesson, not to {topic}: run `versus explain two-stacks --linux`"
        ));
    }
    let interactive = std::io::stdin().is_terminal();
    if args.step && !interactive {
        output::stderr_line(
            "versus: note: --step pauses only when standard input is a terminal; going on without pauses",
        );
    }
    let mut terminal = Terminal {
        width,
        bold: std::io::stdout().is_terminal(),
        pause: (args.step && interactive)
            .then(|| catalog.plain("step.prompt"))
            .transpose()?,
        failed: None,
    };
    let pace = if args.short {
        Pace::Short
    } else {
        Pace::Lecture
    };
    let given = explain::give(
        topic,
        &catalog,
        pace,
        linux_kernel.as_deref(),
        &mut terminal,
    );
    // Ctrl-C (or SIGTERM) stopped the run under way, which cleaned up after
    // itself: end as an interrupted command does, not with the run's error.
    if let Some(status) = bench::interrupt::exit_status() {
        output::stderr_line(&format!("versus: the lesson {topic} was interrupted"));
        return Ok(ExitCode::from(status));
    }
    given.with_context(|| format!("the lesson {topic} stopped"))?;
    if let Some(error) = terminal.failed {
        return Err(error);
    }
    Ok(ExitCode::SUCCESS)
}

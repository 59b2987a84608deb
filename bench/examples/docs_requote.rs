//! The last step of `make docs-figures`: re-quotes the docs pages' excerpts
//! (each fenced block after a `<!-- figures: FILE -->` anchor) from the
//! files the run just wrote to docs/figures/, so that the pages and the run
//! agree without copying lines by hand. See `bench::explain::requote`.
//!
//! ```sh
//! cargo run --example docs_requote -- docs/figures docs/en/popular-notes.md docs/ko/popular-notes.md
//! ```
//!
//! A page is rewritten only when it changes, through a temporary file
//! renamed over it; on an error (a quoted figure the run no longer prints)
//! no page is touched and the message names the page, line and label.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bench::explain::requote::requote;

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(figures), pages) = (args.next(), args.collect::<Vec<_>>()) else {
        bail!("usage: docs_requote FIGURES_DIR PAGE.md…");
    };
    if pages.is_empty() {
        bail!("usage: docs_requote FIGURES_DIR PAGE.md… (no page given)");
    }
    // Every page is re-quoted before any is written: one bad quote leaves
    // all pages as they were.
    let mut rewritten = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page)
            .with_context(|| format!("cannot read {}", page.display()))?;
        let new = requote(&text, |name| read_figures(&figures, name))
            .with_context(|| format!("{}: cannot re-quote", page.display()))?;
        if new != text {
            rewritten.push((page, new));
        }
    }
    for (page, new) in &rewritten {
        let temporary = page.with_extension("md.requote");
        std::fs::write(&temporary, new)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, page).with_context(|| {
            // Leave nothing behind on the way out.
            let _ = std::fs::remove_file(&temporary);
            format!("cannot replace {}", page.display())
        })?;
        println!("re-quoted {}", page.display());
    }
    Ok(())
}

/// The figures file `name` (as an anchor gives it) under `figures`.
fn read_figures(figures: &Path, name: &str) -> Result<String, String> {
    if Path::new(name)
        .components()
        .any(|part| !matches!(part, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "{name:?} must be a path inside {}",
            figures.display()
        ));
    }
    std::fs::read_to_string(figures.join(name)).map_err(|error| error.to_string())
}

//! `runner completions` and `runner man`: shell completions and manual
//! pages generated from the command-line definitions.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CliError};

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "runner", &mut script);
    // A closed pipe (`| head`) is not an error of the command.
    let _ = std::io::stdout().write_all(&script);
    Ok(())
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> CliError {
    move |source| CliError::Io { context, source }
}

/// The page of `runner` on standard output, or into `dir` one page per
/// command (`runner.1`, `runner-run.1`, ...).
pub fn man(dir: Option<&Path>) -> Result<(), CliError> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        return clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).map_err(io("writing the manual page".into()));
    };
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut pages = vec![("runner".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        pages.push((format!("runner-{}", sub.get_name()), sub.clone().bin_name(format!("runner {}", sub.get_name()))));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page).title(name.clone()).render(&mut out).map_err(io(format!("rendering {name}")))?;
        std::fs::write(&path, out).map_err(io(format!("writing {}", path.display())))?;
        // A closed pipe (`| head`) is not an error of the command.
        let _ = writeln!(std::io::stdout(), "{}", path.display());
    }
    Ok(())
}

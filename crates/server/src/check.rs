//! `ivory check FILE...`: validates configuration and scenario files and lists every problem.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

pub fn main(files: &[std::path::PathBuf]) -> ExitCode {
    if files.is_empty() {
        eprintln!("ivory check: name at least one .toml or .json file");
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for file in files {
        match check_file(file) {
            Ok(summary) => println!("{}: ok{summary}", file.display()),
            Err(problems) => {
                failed = true;
                for problem in problems {
                    println!("{}: {problem}", file.display());
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn check_file(file: &Path) -> Result<String, Vec<String>> {
    let is_toml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        let config = config::load(file).map_err(|e| vec![e.to_string()])?;
        // The numbers' scenarios are compiled too, as `serve` would.
        return crate::routes::load(&config)
            .map(|routes| format!(" ({} number(s))", routes.routes.len()))
            .map_err(|e| e.to_string().lines().map(str::to_string).collect());
    }
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("cannot read: {e}")])?;
    match ivory_scenario::compile(&text) {
        Ok(program) => {
            let warnings = program.warnings();
            Ok(if warnings.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} warning(s))\n{}",
                    warnings.len(),
                    warnings
                        .iter()
                        .map(|w| format!("  warning: {w}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })
        }
        Err(errors) => Err(errors.to_string().lines().map(str::to_string).collect()),
    }
}

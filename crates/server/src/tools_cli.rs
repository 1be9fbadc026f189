//! `ivory simulate` and `ivory graph`: the scenario language without a phone.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use ivory_scenario::{GraphFormat, ScriptedHttp, SimulationOptions};

/// `ivory simulate SCENARIO --input '1 # wait:6s' [--http URL=STATUS:BODY ...] [--var NAME=VALUE ...]`.
pub fn simulate(
    scenario: &Path,
    input: &str,
    http_specs: &[String],
    variables: &[String],
    open_schedules: BTreeMap<String, bool>,
) -> ExitCode {
    let program = match load(scenario) {
        Ok(program) => program,
        Err(code) => return code,
    };
    let inputs = match ivory_scenario::parse_simulation_input(input) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("ivory simulate: --input: {error}");
            return ExitCode::from(2);
        }
    };
    let mut http = ScriptedHttp::new();
    for spec in http_specs {
        let spec = match spec.strip_prefix('@') {
            Some(file) => match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(error) => {
                    eprintln!("ivory simulate: --http @{file}: {error}");
                    return ExitCode::from(2);
                }
            },
            None => spec.clone(),
        };
        for line in spec.lines().filter(|l| !l.trim().is_empty()) {
            if let Err(error) = http.insert_spec(line.trim()) {
                eprintln!("ivory simulate: --http {line:?}: {error}");
                return ExitCode::from(2);
            }
        }
    }
    let mut initial = BTreeMap::from([
        ("from".to_string(), "simulator".to_string()),
        ("to".to_string(), "1000".to_string()),
        ("callId".to_string(), "simulated-call".to_string()),
        ("direction".to_string(), "INBOUND".to_string()),
    ]);
    for assignment in variables {
        let Some((name, value)) = assignment.split_once('=') else {
            eprintln!("ivory simulate: --var {assignment:?} is not NAME=VALUE");
            return ExitCode::from(2);
        };
        initial.insert(name.to_string(), value.to_string());
    }
    let mut options = SimulationOptions::new(std::time::Instant::now());
    // isOpen('name') needs a wall clock; the schedules' answers come from --open/--closed.
    options.unix_time_ms_at_start = u64::try_from(unix_now_ms()).ok();
    options.open_schedules = open_schedules;
    let report = ivory_scenario::simulate(program, &inputs, &http, initial, &options);
    for line in &report.trace {
        println!("{line}");
    }
    println!("--- variables");
    for (name, value) in &report.variables {
        println!("{name}={value}");
    }
    if !report.notes.is_empty() {
        println!("--- notes");
        for note in &report.notes {
            println!("{note}");
        }
    }
    println!(
        "--- ended {} after {:.3} s ({})",
        if report.ended_normally {
            "normally"
        } else {
            "abnormally"
        },
        report.duration.as_secs_f64(),
        report
            .finish_reason
            .map(|reason| format!("{reason:?}"))
            .unwrap_or_else(|| "still running".into())
    );
    if report.ended_normally {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `ivory graph SCENARIO [--format dot|mermaid]`.
pub fn graph(scenario: &Path, format: &str) -> ExitCode {
    let format = match format.to_ascii_lowercase().as_str() {
        "dot" => GraphFormat::Dot,
        "mermaid" => GraphFormat::Mermaid,
        other => {
            eprintln!("ivory graph: unknown format {other:?} (dot or mermaid)");
            return ExitCode::from(2);
        }
    };
    match load(scenario) {
        Ok(program) => {
            print!("{}", ivory_scenario::graph(&program, format));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn load(scenario: &Path) -> Result<Arc<ivory_scenario::Program>, ExitCode> {
    let text = std::fs::read_to_string(scenario).map_err(|error| {
        eprintln!("ivory: cannot read {}: {error}", scenario.display());
        ExitCode::from(2)
    })?;
    ivory_scenario::compile(&text)
        .map(Arc::new)
        .map_err(|errors| {
            for line in errors.to_string().lines() {
                eprintln!("{}: {line}", scenario.display());
            }
            ExitCode::from(2)
        })
}

fn unix_now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

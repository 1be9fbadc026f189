//! `ivory`: the SIP/RTP media server with a built-in IVR runtime.
//!
//! Commands: `serve` (the server), `check` (validate config and scenario files), `dtmf` (the digits
//! the in-band detector hears in a WAV file), `simulate` (run a scenario in virtual time) and `graph`
//! (a scenario as a DOT or Mermaid flow graph).
#![forbid(unsafe_code)]

mod api;
mod campaign;
mod campaign_placer;
mod check;
mod config;
mod config_asr;
mod config_telephony;
mod http;
mod routes;
mod serve;
mod speech_setup;
mod storage;
mod tools_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ivory",
    version,
    about = "SIP/RTP media server with a built-in IVR runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: CommandLine,
}

#[derive(Debug, Subcommand)]
enum CommandLine {
    /// Run the server (embedded defaults when no --config is given).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate configuration (.toml) and scenario (.json) files; lists every problem.
    Check { files: Vec<PathBuf> },
    /// Print the DTMF digits the in-band detector hears in an audio file (WAV or MP3).
    Dtmf { file: PathBuf },
    /// Say whether an answering machine or a person answered in a recording of a call's answer
    /// (WAV or MP3): prints `machine` or `human`, the reason and when it was decided.
    Amd { file: PathBuf },
    /// Run a scenario without a phone, in virtual time; print the trace and the final variables.
    Simulate {
        scenario: PathBuf,
        /// Keys (0-9 * # A-D), wait:6s, speech:"text", dial:BUSY, machine:yes, hangup.
        #[arg(long, default_value = "")]
        input: String,
        /// A scripted HTTP answer URL=STATUS:BODY (repeatable), or @FILE with one per line.
        #[arg(long)]
        http: Vec<String>,
        /// An initial variable NAME=VALUE (repeatable), e.g. a launch parameter.
        #[arg(long = "var")]
        variables: Vec<String>,
        /// A schedule that `isOpen('NAME')` finds open (repeatable).
        #[arg(long = "open")]
        open: Vec<String>,
        /// A schedule that `isOpen('NAME')` finds closed (repeatable).
        #[arg(long = "closed")]
        closed: Vec<String>,
    },
    /// Print a scenario as a flow graph.
    Graph {
        scenario: PathBuf,
        #[arg(long, default_value = "dot")]
        format: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        CommandLine::Serve { config } => serve::main(config),
        CommandLine::Check { files } => check::main(&files),
        CommandLine::Dtmf { file } => dtmf(&file),
        CommandLine::Amd { file } => amd(&file),
        CommandLine::Simulate {
            scenario,
            input,
            http,
            variables,
            open,
            closed,
        } => {
            let schedules = open
                .into_iter()
                .map(|name| (name, true))
                .chain(closed.into_iter().map(|name| (name, false)))
                .collect();
            tools_cli::simulate(&scenario, &input, &http, &variables, schedules)
        }
        CommandLine::Graph { scenario, format } => tools_cli::graph(&scenario, &format),
    }
}

fn dtmf(file: &std::path::Path) -> ExitCode {
    match ivory_dsp::decode::decode_file(file) {
        Ok(samples) => {
            let digits = ivory_dsp::detect_digits(&samples);
            if !digits.is_empty() {
                println!("{digits}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ivory dtmf: {}: {error}", file.display());
            ExitCode::FAILURE
        }
    }
}

fn amd(file: &std::path::Path) -> ExitCode {
    let samples = match ivory_dsp::decode::decode_file(file) {
        Ok(samples) => samples,
        Err(error) => {
            eprintln!("ivory amd: {}: {error}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let mut detector = ivory_dsp::AnsweringMachineDetector::new(ivory_dsp::AmdConfig::default());
    let mut verdict = None;
    let mut greeting_end = None;
    for frame in samples.chunks(ivory_dsp::FRAME_SAMPLES) {
        detector.push_samples(frame);
        verdict = verdict.or_else(|| detector.poll_verdict());
        greeting_end = greeting_end.or_else(|| detector.poll_greeting_end());
    }
    // Pad with silence so a file that ends mid-analysis still gets a verdict.
    let silence = [0i16; ivory_dsp::FRAME_SAMPLES];
    for _ in 0..(6 * 50) {
        if verdict.is_some() {
            break;
        }
        detector.push_samples(&silence);
        verdict = detector.poll_verdict();
    }
    match verdict {
        Some(verdict) => {
            let kind = if verdict.machine { "machine" } else { "human" };
            let at_ms = verdict.decided_at_sample / 8;
            let greeting = greeting_end
                .map(|end| format!(" greeting-end={}ms", end.at_sample / 8))
                .unwrap_or_default();
            println!(
                "{kind} reason={:?} decided={at_ms}ms{greeting}",
                verdict.reason
            );
            ExitCode::SUCCESS
        }
        None => {
            println!("undecided");
            ExitCode::SUCCESS
        }
    }
}

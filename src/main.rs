//! The `canaryd` binary: parses the command line, loads the configuration, sets up tracing and
//! calls the library. Exit status of `judge`: 0 pass, 2 marginal, 3 fail, 1 no judgment.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

use canaryd::config::Settings;
use canaryd::judge::{judge, text::render_text};
use canaryd::source::RecordedData;
use canaryd::template::{check_files, load_template};

/// Automated canary analysis: compares canary metrics with the baseline's and says pass,
/// marginal or fail, with the reasons.
#[derive(Parser)]
#[command(name = "canaryd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Judge a canary: recorded data with --data, or live data from the template's source.
    Judge(JudgeArgs),
    /// Work with analysis templates.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
}

#[derive(Subcommand)]
enum TemplateCommand {
    /// Validate templates; print every problem with file, line and column.
    Check {
        /// Template files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Text,
}

#[derive(clap::Args)]
struct JudgeArgs {
    /// The analysis template (YAML).
    #[arg(long)]
    template: PathBuf,
    /// Recorded data (JSON, CONTRACT §3).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Configuration file (TOML or YAML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format; JSON when stdout is not a terminal, text otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; a usage error is exit 1 (2 means "marginal").
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Judge(args) => run_judge(args),
        Command::Template {
            command: TemplateCommand::Check { files },
        } => {
            canaryd::telemetry::init("warn", "text");
            let problems = check_files(&files);
            let mut out = std::io::stdout().lock();
            for p in &problems {
                writeln!(out, "{p}")?;
            }
            if problems.is_empty() {
                for f in &files {
                    writeln!(out, "{}: ok", f.display())?;
                }
                Ok(0)
            } else {
                writeln!(
                    out,
                    "{} problem(s) in {} file(s)",
                    problems.len(),
                    files.len()
                )?;
                Ok(1)
            }
        }
    }
}

fn run_judge(args: JudgeArgs) -> anyhow::Result<u8> {
    let settings = Settings::load(args.config.as_deref())?;
    canaryd::telemetry::init(&settings.log.level, &settings.log.format);
    let template = load_template(&args.template)?;
    let Some(data_path) = &args.data else {
        bail!("--data FILE is required: give recorded data to judge");
    };
    let data = RecordedData::load(data_path)?;
    let unknown: Vec<&String> = data
        .metrics
        .keys()
        .filter(|k| !template.metrics.iter().any(|m| &m.name == *k))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = template.metrics.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "{}: metric(s) {} not in template '{}' (its metrics: {})",
            data_path.display(),
            unknown
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", "),
            template.name,
            known.join(", ")
        );
    }
    let observations: BTreeMap<_, _> = data.observations();
    let report = judge(&template, &observations);
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Text
    } else {
        Format::Json
    });
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing the report")?;
            writeln!(out)?;
        }
        Format::Text => write!(out, "{}", render_text(&report))?,
    }
    Ok(report.verdict.exit_code() as u8)
}

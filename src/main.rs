//! The `canaryd` binary: parses the command line, loads the configuration, sets up tracing and
//! calls the library. Exit status of `judge`: 0 pass, 2 marginal, 3 fail, 1 no judgment.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

use canaryd::config::Settings;
use canaryd::html::JudgmentMeta;
use canaryd::judge::{judge, text::render_text, Report};
use canaryd::service::live::{fetch_live, LiveRequest};
use canaryd::source::{parse_time, Observation, RecordedData, Window};
use canaryd::template::{check_files, load_template, Template};

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
    /// Run the service: REST API, gates for Flagger and Argo Rollouts, history in the store.
    Serve {
        /// Configuration file (TOML or YAML); without one: 127.0.0.1:8080 and ./canaryd.db.
        #[arg(long)]
        config: Option<PathBuf>,
    },
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
    /// Translate a Kayenta canary config (JSON) into a template: the YAML on stdout, one
    /// warning on stderr for every field that does not map exactly.
    ImportKayenta {
        /// The Kayenta canary config (JSON).
        file: PathBuf,
        /// The template's source (default: the metrics' Kayenta backend, e.g. prometheus).
        #[arg(long)]
        source: Option<String>,
        /// The template's name (default: the config's name, made a valid name).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Text,
    /// The report page, self-contained HTML with SVG charts.
    Html,
}

#[derive(clap::Args)]
struct JudgeArgs {
    /// The analysis template (YAML).
    #[arg(long)]
    template: PathBuf,
    /// Recorded data (JSON, CONTRACT §3): judge offline.
    #[arg(long, conflicts_with_all = ["baseline", "canary", "start", "end", "step_seconds", "arg"])]
    data: Option<PathBuf>,
    /// Live: the baseline scope (the value of `${scope}` in the baseline's queries).
    #[arg(long)]
    baseline: Option<String>,
    /// Live: the canary scope.
    #[arg(long)]
    canary: Option<String>,
    /// Live: start of the window, RFC 3339 or Unix seconds.
    #[arg(long)]
    start: Option<String>,
    /// Live: end of the window, RFC 3339 or Unix seconds.
    #[arg(long)]
    end: Option<String>,
    /// Live: step between points (default: the template's `step_seconds`).
    #[arg(long)]
    step_seconds: Option<u64>,
    /// Live: a template argument, `NAME=VALUE` (repeatable).
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    arg: Vec<String>,
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
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each said once: many errors already quote their cause.
fn error_chain(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Serve { config } => run_serve(config.as_deref()),
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
        Command::Template {
            command: TemplateCommand::ImportKayenta { file, source, name },
        } => import_kayenta(&file, source, name),
    }
}

/// `canaryd template import-kayenta`: exit 0 with the YAML, 1 with every problem.
fn import_kayenta(file: &Path, source: Option<String>, name: Option<String>) -> anyhow::Result<u8> {
    use canaryd::template::kayenta::{import_kayenta, ImportOptions};
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match import_kayenta(&text, &ImportOptions { name, source }) {
        Ok(imported) => {
            let mut err = std::io::stderr().lock();
            for w in &imported.warnings {
                writeln!(err, "warning: {}: {w}", file.display())?;
            }
            std::io::stdout()
                .lock()
                .write_all(imported.yaml.as_bytes())?;
            Ok(0)
        }
        Err(e) => {
            let mut err = std::io::stderr().lock();
            for issue in e.issues() {
                writeln!(err, "error: {}: {issue}", file.display())?;
            }
            writeln!(
                err,
                "error: {} cannot be imported: {} problem(s)",
                file.display(),
                e.issues().len()
            )?;
            Ok(1)
        }
    }
}

fn run_serve(config: Option<&Path>) -> anyhow::Result<u8> {
    let settings = Settings::load(config)?;
    canaryd::telemetry::init(&settings.log.level, &settings.log.format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let app = canaryd::startup::Application::build(settings)
            .await
            .context("starting canaryd")?;
        app.run_until_stopped().await.context("serving")
    })?;
    Ok(0)
}

fn run_judge(args: JudgeArgs) -> anyhow::Result<u8> {
    let settings = Settings::load(args.config.as_deref())?;
    canaryd::telemetry::init(&settings.log.level, &settings.log.format);
    let template = load_template(&args.template)?;
    let (report, observations, meta) = match &args.data {
        Some(data_path) => judge_recorded(&template, data_path)?,
        None => judge_live_from_args(&settings, &template, &args)?,
    };
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
        Format::Html => write!(
            out,
            "{}",
            canaryd::html::judgment_page(&report, Some(&observations), &meta)
        )?,
    }
    Ok(report.verdict.exit_code() as u8)
}

/// The live form: fetch both scopes from the template's source, then judge.
fn judge_live_from_args(
    settings: &Settings,
    template: &Template,
    args: &JudgeArgs,
) -> anyhow::Result<Judged> {
    let need = |value: &Option<String>, flag: &str| -> anyhow::Result<String> {
        value.clone().with_context(|| {
            format!("{flag} is required to judge live (or give --data FILE to judge recorded data)")
        })
    };
    let baseline = need(&args.baseline, "--baseline SCOPE")?;
    let canary = need(&args.canary, "--canary SCOPE")?;
    let start = parse_time(&need(&args.start, "--start TIME")?).context("--start")?;
    let end = parse_time(&need(&args.end, "--end TIME")?).context("--end")?;
    let step = args.step_seconds.unwrap_or(template.step_seconds);
    let window = Window::new(start, end, step)?;
    let mut given = BTreeMap::new();
    for kv in &args.arg {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--arg {kv}: expected NAME=VALUE");
        };
        if given.insert(k.trim().to_string(), v.to_string()).is_some() {
            bail!("--arg {k} is given twice");
        }
    }
    let meta = JudgmentMeta {
        baseline: Some(baseline.clone()),
        canary: Some(canary.clone()),
        start: Some(window.start),
        end: Some(window.end),
        step_seconds: Some(window.step_seconds as i64),
        ..JudgmentMeta::default()
    };
    let request = LiveRequest {
        baseline,
        canary,
        window,
        args: given,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let observations = runtime.block_on(fetch_live(settings, template, &request))?;
    Ok((judge(template, &observations), observations, meta))
}

/// A report, the points it judged, and where they came from (for the HTML page).
type Judged = (Report, BTreeMap<String, Observation>, JudgmentMeta);

/// The offline form: judge recorded data.
fn judge_recorded(template: &Template, data_path: &Path) -> anyhow::Result<Judged> {
    let data = RecordedData::load(data_path)?;
    if let Err(why) = canaryd::service::unknown_data_metrics(template, &data) {
        bail!("{}: {why}", data_path.display());
    }
    let observations = data.observations();
    Ok((
        judge(template, &observations),
        observations,
        JudgmentMeta::default(),
    ))
}

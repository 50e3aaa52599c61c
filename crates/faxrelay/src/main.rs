//! `faxrelay`: a relay for Retarus fax status pushes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use faxrelay::{Config, Role};

// glibc's malloc spends a fifth of the CPU of a busy faxrelay in contention between its
// threads; mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "faxrelay",
    version,
    about = "A relay for Retarus fax status pushes"
)]
struct Cli {
    /// A TOML configuration file; environment variables override it.
    #[arg(long, global = true, env = "FAXRELAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and the delivery worker in one process (the embedded default).
    Serve,
    /// Run only the HTTP API.
    Api,
    /// Run only the delivery worker.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document and exit.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!(
            "{}",
            faxrelay_api::openapi()
                .to_pretty_json()
                .expect("the spec serializes")
        );
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("faxrelay: {error}");
            return ExitCode::from(2);
        }
    };
    faxrelay::telemetry::init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => {
                faxrelay::start(&config, Role::Serve, None)
                    .await?
                    .wait()
                    .await
            }
            Command::Api => {
                faxrelay::start(&config, Role::Api, None)
                    .await?
                    .wait()
                    .await
            }
            Command::Worker => {
                faxrelay::start(&config, Role::Worker, None)
                    .await?
                    .wait()
                    .await
            }
            Command::Migrate => faxrelay::open_store(&config)
                .await
                .map(|_| tracing::info!("migrations applied")),
            Command::Openapi => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("faxrelay: {error:#}");
            ExitCode::FAILURE
        }
    }
}

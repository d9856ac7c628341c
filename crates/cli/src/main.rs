//! `flowseg`: the command-line tool. It works on a local data directory:
//! accounts and fields, streamed imports of contacts (CSV, NDJSON) and
//! events (NDJSON), counting, listing and explaining a rule's members, and
//! the demo on a generated sample shop.

mod import;
mod query;
mod rule;
mod sample;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of glibc's allocator: the ingest path allocates and
/// frees many small objects on several threads (parsed JSON, events, redb
/// pages), where glibc spent over a third of the server's time
/// (consolidating and unlinking free chunks) in the profile at 70k events/s.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "flowseg",
    version,
    about = "Dynamic segmentation for email, SMS and push marketing"
)]
struct Cli {
    /// The data directory (created if missing).
    #[arg(
        long,
        global = true,
        env = "FLOWSEG_DATA",
        default_value = "flowseg-data"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or list accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Declare, list or delete custom fields.
    #[command(subcommand)]
    Field(FieldCommand),
    /// Import contacts or events from a file, streamed in durable batches.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Count the members of a rule.
    Count(RuleArgs),
    /// List the members of a rule.
    Members {
        #[command(flatten)]
        rule: RuleArgs,
        /// At most this many members.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Extra fields to show, comma-separated.
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
    },
    /// Explain a rule for one contact: each node's verdict and evidence.
    Explain {
        #[command(flatten)]
        rule: RuleArgs,
        /// The contact id.
        #[arg(long)]
        contact: String,
    },
    /// The rule language: check, format, convert.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Generate a sample shop, import it, count and explain its segments,
    /// then serve the API on it.
    Demo {
        /// Contacts to generate.
        #[arg(long, default_value_t = 10_000)]
        contacts: usize,
        /// Stop after the counts instead of serving.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and print its id.
    Create,
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum FieldCommand {
    /// Declare a custom field: NAME and TYPE (text, number, date, boolean).
    Add {
        #[arg(long)]
        account: String,
        name: String,
        #[arg(value_name = "TYPE")]
        field_type: String,
    },
    /// List the account's fields.
    List {
        #[arg(long)]
        account: String,
    },
    /// Delete a custom field and its values.
    Delete {
        #[arg(long)]
        account: String,
        name: String,
    },
}

#[derive(Subcommand)]
enum RuleCommand {
    /// Check rule text (against an account's schema with --account).
    Check(RuleToolArgs),
    /// Print rule text in its canonical form.
    Fmt(RuleToolArgs),
    /// Rule text to rule JSON.
    ToJson(RuleToolArgs),
    /// Rule JSON to rule text.
    FromJson(RuleToolArgs),
}

#[derive(Args)]
struct RuleToolArgs {
    /// The file holding the rule (`-` for standard input).
    file: PathBuf,
    /// Validate against this account's schema and resolve segment names.
    #[arg(long)]
    account: Option<String>,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Contacts: CSV with a header row of field names, or NDJSON objects.
    Contacts(ImportArgs),
    /// Events: NDJSON, one event object per line.
    Events(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    #[arg(long)]
    account: String,
    /// The file to import (`-` for standard input).
    file: PathBuf,
    /// `csv` or `ndjson`; by default from the file extension.
    #[arg(long)]
    format: Option<String>,
    /// Rows per durable batch.
    #[arg(long, default_value_t = 5000)]
    batch: usize,
    /// Write every row error to this file (the first 20 go to stderr).
    #[arg(long)]
    errors: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The administrator token (else the one stored in the data directory,
    /// or a new one printed once).
    #[arg(long, env = "FLOWSEG_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Requests per second allowed per API key.
    #[arg(long, default_value_t = 100_000.0)]
    rate_limit: f64,
    /// Largest request body in MiB.
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,
}

#[derive(Args)]
struct RuleArgs {
    #[arg(long)]
    account: String,
    /// A file holding the rule as JSON or as rule text.
    #[arg(long, conflicts_with = "rule_json")]
    rule: Option<PathBuf>,
    /// The rule as a JSON string.
    #[arg(long)]
    rule_json: Option<String>,
    /// Evaluate at this RFC 3339 instant instead of now.
    #[arg(long)]
    as_of: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Account(AccountCommand::Create) => query::create_account(&cli.data),
        Command::Account(AccountCommand::List) => query::list_accounts(&cli.data),
        Command::Field(FieldCommand::Add {
            account,
            name,
            field_type,
        }) => query::add_field(&cli.data, &account, &name, &field_type),
        Command::Field(FieldCommand::List { account }) => query::list_fields(&cli.data, &account),
        Command::Field(FieldCommand::Delete { account, name }) => {
            query::delete_field(&cli.data, &account, &name)
        }
        Command::Import(ImportCommand::Contacts(args)) => {
            import::run(&cli.data, &args, import::Kind::Contacts).map(|_| ())
        }
        Command::Import(ImportCommand::Events(args)) => {
            import::run(&cli.data, &args, import::Kind::Events).map(|_| ())
        }
        Command::Count(rule) => query::count(&cli.data, &rule),
        Command::Members {
            rule,
            limit,
            fields,
        } => query::members(&cli.data, &rule, limit, &fields),
        Command::Explain { rule, contact } => query::explain(&cli.data, &rule, &contact),
        Command::Rule(RuleCommand::Check(args)) => rule::check(&cli.data, &args),
        Command::Rule(RuleCommand::Fmt(args)) => rule::fmt(&cli.data, &args),
        Command::Rule(RuleCommand::ToJson(args)) => rule::to_json(&cli.data, &args),
        Command::Rule(RuleCommand::FromJson(args)) => rule::from_json(&cli.data, &args),
        Command::Serve(args) => serve::run(&cli.data, &args, None),
        Command::Demo {
            contacts,
            no_serve,
            serve,
        } => sample::demo(&cli.data, contacts, (!no_serve).then_some(&serve)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Rule diagnostics arrive already rendered (`error: …`).
            if message.starts_with("error:") {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

//! The `fcemu` command: parse the command line, set up logging, hand over to the library.

fn main() -> std::process::ExitCode {
    fcemu::cli::main()
}

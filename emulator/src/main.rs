//! The `fcemu` command: parse the command line, set up logging, hand over to the library.

/// mimalloc instead of the system allocator: wasmtime compiles a module's functions on every
/// core, and glibc malloc's arenas contend under that load (a reload's compile took twice as long).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fcemu::cli::main()
}

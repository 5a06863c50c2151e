fn main() {
    std::process::exit(luota::cli::main());
}

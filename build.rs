// The checks under `queries/` are built into the binary; rebuild when any of them changes.
fn main() {
    println!("cargo:rerun-if-changed=queries");
}

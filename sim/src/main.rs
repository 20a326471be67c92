fn main() {
    eprintln!("rtmfp-sim: not yet implemented");
}

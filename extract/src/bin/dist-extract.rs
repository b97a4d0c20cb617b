fn main() { println!("dist-extract: not yet"); }

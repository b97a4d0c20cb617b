fn main() { println!("dist-train: not yet"); }

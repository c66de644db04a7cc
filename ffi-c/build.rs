// The shared library is installed as libfluidcloud.so (see package.sh): record that name as
// its SONAME, so programs linked against it look for libfluidcloud.so whatever file they
// were linked with.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfluidcloud.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

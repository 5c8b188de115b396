//! The committed C header must be exactly what cbindgen makes of the sources.
//! With STOCKKEEPER_WRITE_HEADER=1 the test writes the header instead.

use std::path::Path;

#[test]
fn committed_header_matches_the_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut config = config;
    let version = env!("CARGO_PKG_VERSION");
    let parts: Vec<&str> = version.split('.').collect();
    config.after_includes = Some(format!(
        "\n#define STOCKKEEPER_VERSION \"{version}\"\n#define STOCKKEEPER_VERSION_MAJOR {}\n\
         #define STOCKKEEPER_VERSION_MINOR {}\n#define STOCKKEEPER_VERSION_PATCH {}",
        parts[0], parts[1], parts[2]
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    let path = root.join("include/stockkeeper.h");
    if std::env::var_os("STOCKKEEPER_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/stockkeeper.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/stockkeeper.h is out of date with src/ffi: run `make header` and commit it"
    );
}

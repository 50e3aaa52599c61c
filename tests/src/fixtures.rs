//! The Retarus payload samples in `tests/fixtures/retarus`.

/// The bytes of a fixture.
pub fn retarus(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/retarus")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// The content type each fixture is pushed with.
pub fn content_type_of(name: &str) -> &'static str {
    if name.ends_with(".xml") {
        "text/xml; charset=UTF-8"
    } else {
        "application/json"
    }
}

/// Every fixture.
pub const ALL: [&str; 6] = [
    "xml-ok-single.xml",
    "xml-mixed-multi.xml",
    "json-faxjobreport.json",
    "json-reports-list.json",
    "json-rest-ok.json",
    "json-rest-failed-properties.json",
];

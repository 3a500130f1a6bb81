//! Replays the fuzzing corpus on the stable toolchain: every file under `fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/` (inputs that once crashed a target) goes through the same
//! function the `cargo fuzz` target calls, with the same assertions.

#[path = "../fuzz/entry.rs"]
mod entry;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for folder in ["corpus", "regressions"] {
        let dir = root.join(folder).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} fails", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= 10, "only {replayed} inputs for {target}");
}

#[test]
fn check_header_corpus() {
    replay("check_header", entry::check_header);
}

#[test]
fn response_corpus() {
    replay("response", entry::response);
}

#[test]
fn timespan_corpus() {
    replay("timespan", entry::timespan);
}

/// Inputs the fuzzer found that once broke a property, each with what it broke.
#[test]
fn crashes_found_by_fuzzing_stay_fixed() {
    // `200000d` was cut short to 292 years (the most nanoseconds an i64 holds) instead of refused.
    assert_eq!(sentinel_kms::duration::parse_kql("200000d"), None);
    // A cloudtrail-freshness group judged quiet had no remedy: the check has no `remedy.quiet`.
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/response/quiet-without-remedy"),
    )
    .unwrap();
    entry::response(&body);
}

use super::*;

const YEAR_10000: u64 = 253_402_300_800;

#[test]
fn sums_saturate_instead_of_panicking() {
    let now = tokio::time::Instant::now();
    let max = Duration::from_secs(u64::MAX);
    assert_eq!(mono_add(now, Duration::from_secs(5)), now + Duration::from_secs(5));
    let far = mono_add(now, max);
    assert!(far >= now + Duration::from_secs(365 * 86_400), "{far:?}");
    assert!(mono_sub(now, max) <= now);
    let wall = SystemTime::now();
    assert_eq!(wall_add(wall, Duration::from_secs(5)), wall + Duration::from_secs(5));
    assert!(wall_add(wall, max) > wall + Duration::from_secs(365 * 86_400));
    assert_eq!(wall_sub(wall, max), UNIX_EPOCH);
    assert_eq!(
        wall_sub(UNIX_EPOCH, Duration::from_secs(1)),
        UNIX_EPOCH - Duration::from_secs(1)
    );
}

#[test]
fn seconds_convert_both_ways_without_panicking() {
    assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(10)), 0);
    assert_eq!(unix_secs(from_unix_secs(1_800_000_000)), 1_800_000_000);
    assert_eq!(unix_secs(from_unix_secs(u64::MAX)), YEAR_10000);
}

#[test]
fn every_time_is_shown_without_panicking() {
    assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_secs(YEAR_10000 - 1), "9999-12-31T23:59:59Z");
    assert_eq!(rfc3339_secs(YEAR_10000), "after 9999-12-31T23:59:59Z");
    assert_eq!(rfc3339_secs(u64::MAX), "after 9999-12-31T23:59:59Z");
    assert!(rfc3339(UNIX_EPOCH - Duration::from_secs(1)).starts_with("before 1970"));
    assert_eq!(rfc3339(from_unix_secs(YEAR_10000)), "after 9999-12-31T23:59:59Z");
    // chrono holds years up to about 262,000: beyond, None, never a panic.
    assert!(to_chrono(from_unix_secs(YEAR_10000)).is_some());
    assert!(to_chrono(wall_add(UNIX_EPOCH, Duration::from_secs(1 << 62))).is_none());
    let before = UNIX_EPOCH - Duration::from_millis(1250);
    let c = to_chrono(before).unwrap();
    assert_eq!((c.timestamp(), c.timestamp_subsec_millis()), (-2, 750));
}

#[test]
fn the_command_line_takes_up_to_a_year() {
    assert_eq!(parse_cli_duration("4h"), Ok(Duration::from_secs(4 * 3600)));
    assert_eq!(parse_cli_duration("1y"), Ok(MAX_DURATION));
    assert_eq!(parse_cli_duration("365d"), Ok(Duration::from_secs(365 * 86_400)));
    let e = parse_cli_duration("1y 1s").unwrap_err();
    assert!(e.contains("at most 1year"), "{e}");
    assert!(parse_cli_duration("18446744073709551615s").is_err());
    assert!(parse_cli_duration("99999999999999999999999s").is_err());
    assert!(parse_cli_duration("soon").unwrap_err().contains("like"));
}

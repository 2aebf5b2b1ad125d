//! `Retry-After` and `retry-after-ms` parsing.

use std::time::{Duration, SystemTime};

use llm_clients::parse_retry_after;
use reqwest::header::HeaderMap;

fn parse(pairs: &[(&'static str, &str)], now: SystemTime) -> Option<Duration> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, value.parse().unwrap());
    }
    parse_retry_after(&headers, now)
}

#[test]
fn delta_seconds() {
    let now = SystemTime::now();
    assert_eq!(
        parse(&[("retry-after", "30")], now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(parse(&[("retry-after", " 0 ")], now), Some(Duration::ZERO));
    assert_eq!(
        parse(&[("Retry-After", "2.5")], now),
        Some(Duration::from_millis(2500))
    );
}

#[test]
fn http_date_is_relative_to_now() {
    let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
    let later = "Wed, 21 Oct 2015 07:28:42 GMT";
    assert_eq!(
        parse(&[("retry-after", later)], now),
        Some(Duration::from_secs(42))
    );
    let earlier = "Wed, 21 Oct 2015 07:27:00 GMT";
    assert_eq!(
        parse(&[("retry-after", earlier)], now),
        Some(Duration::ZERO)
    );
}

#[test]
fn retry_after_ms_wins() {
    let now = SystemTime::now();
    let both = [("retry-after-ms", "1500"), ("retry-after", "2")];
    assert_eq!(parse(&both, now), Some(Duration::from_millis(1500)));
    assert_eq!(
        parse(&[("retry-after-ms", "20.5")], now),
        Some(Duration::from_micros(20_500))
    );
    // Garbage ms falls back to retry-after.
    let bad_ms = [("retry-after-ms", "soon"), ("retry-after", "3")];
    assert_eq!(parse(&bad_ms, now), Some(Duration::from_secs(3)));
}

#[test]
fn garbage_gives_none() {
    let now = SystemTime::now();
    assert_eq!(parse(&[], now), None);
    for value in ["soon", "-5", "NaN", "inf", "1e400", "", "Wed, 99 Foo 2015"] {
        assert_eq!(parse(&[("retry-after", value)], now), None, "{value:?}");
    }
    assert_eq!(parse(&[("retry-after-ms", "-1")], now), None);
}

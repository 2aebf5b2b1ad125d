//! Costs cross the contract in USD (`f64`, what people read and type) and live in
//! the engine as integer nano-USD (what replays and sums exactly). These are the
//! only conversions between the two.

use api::ApiError;
use engine::core::limits::NANOS_PER_USD;

use super::config::invalid_config;

/// `usd` as nano-USD, rounded to the nearest; refused (`invalidConfig`, naming
/// `field`) unless finite, at least 0 and at most `max_nanos`.
pub(crate) fn usd_to_nanos(field: &str, usd: f64, max_nanos: u64) -> Result<u64, ApiError> {
    let max_usd = nanos_to_usd(max_nanos);
    if !usd.is_finite() || !(0.0..=max_usd).contains(&usd) {
        return Err(invalid_config(format!(
            "{field} must be a number of USD from 0 to {max_usd}"
        )));
    }
    // In range, so the rounded product is below `max_nanos` + 1 and fits a u64.
    Ok(((usd * NANOS_PER_USD as f64).round() as u64).min(max_nanos))
}

/// Nano-USD as USD, for views. Exact below 2^53 nano-USD (about 9 million USD).
pub fn nanos_to_usd(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn usd_round_trips_at_nano_precision_and_bounds_are_checked() {
        let max = 1_000_000 * NANOS_PER_USD;
        assert_eq!(usd_to_nanos("f", 0.0, max).unwrap(), 0);
        assert_eq!(usd_to_nanos("f", 0.25, max).unwrap(), 250_000_000);
        assert_eq!(usd_to_nanos("f", 1e-9, max).unwrap(), 1);
        assert_eq!(usd_to_nanos("f", 0.1 + 0.2, max).unwrap(), 300_000_000);
        assert_eq!(usd_to_nanos("f", 1_000_000.0, max).unwrap(), max);
        assert_eq!(nanos_to_usd(250_000_000), 0.25);
        for bad in [-0.01, 1_000_000.01, f64::NAN, f64::INFINITY] {
            let err = usd_to_nanos("limits.maxCostUsd", bad, max).unwrap_err();
            assert_eq!(err.data.reason.as_deref(), Some("invalidConfig"), "{bad}");
            assert!(err.message.contains("limits.maxCostUsd"), "{}", err.message);
        }
    }
}

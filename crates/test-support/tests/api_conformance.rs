//! The API conformance suite against the in-process host: LocalApi behind the
//! gateway, with the fake provider, one fresh stack per case.

test_support::api_conformance_tests!(test_support::api_conformance::local::LocalTarget);

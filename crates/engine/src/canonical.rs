//! Canonical JSON: the one byte encoding used for replay comparison, checkpoints,
//! fingerprints and the on-disk log.
//!
//! Struct fields serialise in declaration order; free-form maps (opaque provider
//! params) are sorted by key here, so the bytes do not depend on whether some crate
//! in the build turned on serde_json's `preserve_order` feature. No floats appear in
//! engine-owned types; opaque values keep serde_json's shortest round-trip form.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid canonical JSON: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

/// Encodes `value` canonically.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut tree = match serde_json::to_value(value) {
        Ok(tree) => tree,
        // Engine types contain only strings, integers, bools, sequences and maps with
        // string keys; failing here is a programming error, not an input error.
        Err(err) => panic!("engine value is not JSON-representable: {err}"),
    };
    sort_keys(&mut tree);
    match serde_json::to_vec(&tree) {
        Ok(bytes) => bytes,
        Err(err) => panic!("serialising a JSON tree cannot fail: {err}"),
    }
}

/// Decodes bytes produced by [`to_vec`] (or any JSON with the same shape).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Puts every object's keys in sorted order, recursively.
pub fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_nested_keys() {
        let value: Value =
            serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":1,"x":2}],"c":null}}"#).unwrap();
        assert_eq!(
            String::from_utf8(to_vec(&value)).unwrap(),
            r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }
}

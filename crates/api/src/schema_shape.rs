//! Reshapes what schemars emits into the forms code generators read best, without
//! changing what validates:
//!
//! - a string enum whose variants carry docs comes out of schemars as a `oneOf` of
//!   `const`s (and `enum`s for the undocumented ones); it becomes one `enum`, the
//!   variants' docs listed in the description, so generators make one type
//!   (`"a" | "b" | "c"`, one Python `Enum`) instead of a union of fragments;
//! - each variant of a tagged union (an object whose required tag property is a
//!   string `const`) gets a `title`, `<Definition><Tag>`, so generators name its
//!   type (`InputItemText`) instead of numbering it (`InputItem1`).

use serde_json::{Map, Value};

/// Applies both reshapings to every definition.
pub(crate) fn reshape(definitions: &mut Map<String, Value>) {
    for (name, schema) in definitions.iter_mut() {
        if let Some(merged) = merged_string_enum(schema) {
            *schema = merged;
        } else {
            title_tagged_variants(name, schema);
        }
    }
}

/// The one-`enum` form of a `oneOf` of string `const`s and `enum`s, if that is what
/// `schema` is.
fn merged_string_enum(schema: &Value) -> Option<Value> {
    let variants = schema.get("oneOf")?.as_array()?;
    let mut values = Vec::new();
    let mut docs = Vec::new();
    for variant in variants {
        if variant.get("type")? != "string" {
            return None;
        }
        let doc = variant.get("description").and_then(Value::as_str);
        match (variant.get("const"), variant.get("enum")) {
            (Some(value), None) => {
                let value = value.as_str()?;
                if let Some(doc) = doc {
                    docs.push(format!("- `{value}`: {}", doc.replace('\n', " ")));
                }
                values.push(Value::from(value));
            }
            (None, Some(Value::Array(listed))) => {
                values.extend(listed.iter().cloned());
            }
            _ => return None,
        }
    }
    let mut merged = Map::new();
    let mut description = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !docs.is_empty() {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&docs.join("\n"));
    }
    if !description.is_empty() {
        merged.insert("description".into(), Value::from(description));
    }
    merged.insert("type".into(), Value::from("string"));
    merged.insert("enum".into(), Value::Array(values));
    Some(Value::Object(merged))
}

/// Titles the variants of a tagged union: `<name><Tag>` for a variant whose required
/// tag property is a string `const` (and that has no title yet).
fn title_tagged_variants(name: &str, schema: &mut Value) {
    let Some(variants) = schema.get_mut("oneOf").and_then(Value::as_array_mut) else {
        return;
    };
    for variant in variants {
        if variant.get("title").is_some() {
            continue;
        }
        let Some(tag) = tag_value(variant) else {
            continue;
        };
        let title = format!("{name}{}", pascal(&tag));
        if let Some(object) = variant.as_object_mut() {
            object.insert("title".into(), Value::from(title));
        }
    }
}

/// The string `const` of the variant's first required property that has one.
fn tag_value(variant: &Value) -> Option<String> {
    let properties = variant.get("properties")?.as_object()?;
    let required = variant.get("required")?.as_array()?;
    required.iter().filter_map(Value::as_str).find_map(|key| {
        let value = properties.get(key)?.get("const")?.as_str()?;
        Some(value.to_owned())
    })
}

/// `toolCall` / `tool_call` / `tool-call` -> `ToolCall`.
fn pascal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut upper = true;
    for c in text.chars() {
        if c == '_' || c == '-' || c == '.' || c == '/' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_string_enums_become_one_enum() {
        let mut definitions = Map::new();
        definitions.insert(
            "Status".into(),
            json!({"description": "How it is.", "oneOf": [
                {"type": "string", "enum": ["a", "b"]},
                {"type": "string", "const": "c", "description": "The third."}
            ]}),
        );
        reshape(&mut definitions);
        assert_eq!(
            definitions["Status"],
            json!({"type": "string", "enum": ["a", "b", "c"],
                   "description": "How it is.\n\n- `c`: The third."})
        );
    }

    #[test]
    fn tagged_variants_are_titled() {
        let mut definitions = Map::new();
        definitions.insert(
            "InputItem".into(),
            json!({"oneOf": [
                {"type": "object", "required": ["type", "text"],
                 "properties": {"type": {"type": "string", "const": "text"}, "text": {"type": "string"}}},
                {"type": "object", "required": ["type"],
                 "properties": {"type": {"type": "string", "const": "textRef"}}}
            ]}),
        );
        reshape(&mut definitions);
        let titles: Vec<_> = definitions["InputItem"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["title"].clone())
            .collect();
        assert_eq!(titles, [json!("InputItemText"), json!("InputItemTextRef")]);
    }
}

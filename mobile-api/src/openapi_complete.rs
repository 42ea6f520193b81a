//! Makes the OpenAPI document say what the server does in the answers every handler shares, so no
//! handler has to repeat them and none can forget: a JSON body of the wrong content type is 415, a
//! malformed path or query parameter is 400, and the constraints the shared parsers enforce (ids are
//! positive, page sizes 1 to 1000, offsets not negative, query texts not empty) are in the
//! parameters' schemas. Checked
//! against the running server by schemathesis (`tests/schemathesis.rs`).

use serde_json::{json, Value};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
}

/// Sets `key` on an integer parameter's schema unless the handler already did.
fn bound(param: &mut Value, key: &str, value: i64) {
    let Some(schema) = param.get_mut("schema") else {
        return;
    };
    let integer = schema["type"] == "integer"
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "integer"));
    if integer && schema.get(key).is_none() {
        schema[key] = json!(value);
    }
}

fn complete_operation(op: &mut Value) {
    let mut has_params = false;
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for param in params.iter_mut() {
            let name = param["name"].as_str().unwrap_or_default().to_owned();
            let place = param["in"].as_str().unwrap_or_default().to_owned();
            has_params |= place == "path" || place == "query";
            match (place.as_str(), name.as_str()) {
                ("path", "id") | ("query", "cdr_id") => {
                    // Ids start at 1 (a u64 path parameter is documented from 0).
                    if let Some(min) = param
                        .get_mut("schema")
                        .and_then(|s| s.get_mut("minimum"))
                        .filter(|m| **m == json!(0))
                    {
                        *min = json!(1);
                    }
                    bound(param, "minimum", 1);
                }
                ("query", "limit") => {
                    bound(param, "minimum", 1);
                    bound(param, "maximum", 1000);
                }
                ("query", "offset") => bound(param, "minimum", 0),
                _ => {}
            }
            // The time and number filters take an empty value (`from=`) as a mistake, not as
            // "not given".
            let text = param["schema"]["type"] == "string"
                || param["schema"]["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "string"));
            let filter = matches!(name.as_str(), "from" | "to" | "number");
            if place == "query" && text && filter {
                if let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut) {
                    schema.entry("minLength").or_insert(json!(1));
                }
            }
        }
    }
    // A server-sent event stream: each event is `event`, `id` and `data`, the data a JSON document
    // of the schema the handler named.
    // (`get_mut`, not indexing: indexing a missing key would insert a null.)
    if let Some(stream) = op
        .get_mut("responses")
        .and_then(|r| r.get_mut("200"))
        .and_then(|r| r.get_mut("content"))
        .and_then(|c| c.get_mut("text/event-stream"))
        .and_then(|c| c.get_mut("schema"))
    {
        let data_schema = stream.take();
        *stream = json!({
            "type": "object",
            "required": ["data"],
            "properties": {
                "event": { "type": "string" },
                "id": { "type": "string" },
                "retry": { "type": "integer" },
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": data_schema
                }
            }
        });
    }
    let json_body = op["requestBody"]["content"]
        .as_object()
        .is_some_and(|c| c.contains_key("application/json"));
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    if json_body && !responses.contains_key("415") {
        responses.insert(
            "415".into(),
            error_response("The body is not `application/json` (`unsupported_media_type`)"),
        );
    }
    if (json_body || has_params) && !responses.contains_key("400") {
        responses.insert(
            "400".into(),
            error_response("A malformed body or parameter (`invalid_input`, named in `field`)"),
        );
    }
}

/// Completes every operation of `doc`. JSON out: utoipa's types do not read back every keyword
/// added here (`contentSchema`).
pub(crate) fn complete(doc: utoipa::openapi::OpenApi) -> Value {
    let mut value = serde_json::to_value(&doc)
        .unwrap_or_else(|e| json!({ "error": "openapi", "message": e.to_string() }));
    if let Some(paths) = value["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method) {
                    complete_operation(op);
                }
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completing_adds_the_shared_answers_and_never_a_null() {
        let mut op = json!({
            "requestBody": { "content": { "application/json": { "schema": {} } } },
            "responses": { "204": { "description": "Done" } }
        });
        complete_operation(&mut op);
        assert!(op["responses"]["415"].is_object());
        assert!(op["responses"]["400"].is_object());
        assert!(op.get("parameters").is_none(), "{op}");
        let mut plain = json!({ "responses": { "200": { "description": "OK" } } });
        complete_operation(&mut plain);
        assert_eq!(
            plain,
            json!({ "responses": { "200": { "description": "OK" } } })
        );
        let mut with_id = json!({
            "parameters": [{ "name": "id", "in": "path", "schema": { "type": "integer", "minimum": 0 } }],
            "responses": {}
        });
        complete_operation(&mut with_id);
        assert_eq!(with_id["parameters"][0]["schema"]["minimum"], 1);
        assert!(with_id["responses"]["400"].is_object());
    }
}

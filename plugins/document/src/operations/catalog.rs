//! The operations the engine offers, each with the JSON Schema of its
//! params (the host validates jobs against it).

use serde_json::{Value, json};
use weft_sdk::Operation;

use super::{AGGREGATION, CHANGES};

fn object(mut properties: Value, required: &[&str], open: bool) -> Value {
    if let Value::Object(p) = &mut properties {
        p.insert("collection".into(), collection());
    }
    let mut required: Vec<&str> = required.to_vec();
    required.push("collection");
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": open})
}

fn collection() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,60}$", "description": "The collection: 1-60 characters of A-Z a-z 0-9 _ -"})
}

fn filter() -> Value {
    json!({"type": "object", "description": "A MongoDB query filter, e.g. {\"age\": {\"$gte\": 21}}"})
}

fn id() -> Value {
    json!({"description": "The document's _id (a path segment: a string, or a number if no string _id matches)"})
}

fn body() -> Value {
    json!({
        "body_blob": {"type": "string", "description": "The blob holding the uploaded body (the route stores it)"},
        "body_type": {"type": "string", "description": "The body's media type"}
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

fn boolean(description: &str) -> Value {
    json!({"type": ["boolean", "string"], "description": description})
}

fn count(description: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "description": description})
}

/// Every operation.
pub(super) fn operations() -> Vec<Operation> {
    let find_params = || {
        json!({
            "filter": filter(),
            "projection": {"type": "object", "description": "Fields to include (1) or exclude (0), $slice, $elemMatch"},
            "sort": {"type": "object", "description": "Fields and directions, e.g. {\"age\": -1, \"name\": 1}"},
            "skip": count("Documents to pass over"),
            "limit": count("Most documents returned (0: all)")
        })
    };
    vec![
        Operation::new("list_collections", "The tenant's document collections.", json!({"type": "object"})),
        Operation::new("collection_info", "A collection's count, indexes and validator.", object(json!({}), &[], false)),
        Operation::new("drop_collection", "Delete a collection with its indexes and change log.", object(json!({}), &[], false)),
        Operation::new(
            "insert",
            "Insert documents (one, or an array); _id generated when absent.",
            object(
                merge(
                    body(),
                    json!({
                        "documents": {"type": "array", "items": {"type": "object"}, "description": "Jobs: the documents"},
                        "document": {"type": "object", "description": "Jobs: one document"},
                        "ordered": boolean("Stop at the first failure (default true)")
                    }),
                ),
                &[],
                false,
            ),
        )
        .emits(&["change_event"])
        .topic(CHANGES),
        Operation::new("get_document", "The document with an _id.", object(json!({"id": id()}), &["id"], false)),
        Operation::new(
            "replace_document",
            "Replace the document with an _id.",
            object(merge(body(), json!({"id": id(), "upsert": boolean("Insert when absent"), "document": {"type": "object"}})), &["id"], false),
        )
        .emits(&["change_event"])
        .topic(CHANGES),
        Operation::new(
            "update_document",
            "Update the document with an _id with operators (given at the top level, or in update).",
            object(json!({"id": id(), "upsert": boolean("Create when absent"), "update": {"type": "object"}}), &["id"], true),
        )
        .emits(&["change_event"])
        .topic(CHANGES),
        Operation::new("delete_document", "Delete the document with an _id.", object(json!({"id": id()}), &["id"], false))
            .emits(&["change_event"])
            .topic(CHANGES),
        Operation::new("find", "Documents matching a filter.", object(find_params(), &[], false)),
        Operation::new("explain", "How a find runs: plan, keys and documents examined.", object(find_params(), &[], false)),
        Operation::new("count", "How many documents match.", object(json!({"filter": filter()}), &[], false)),
        Operation::new(
            "distinct",
            "Distinct values of a field.",
            object(json!({"field": {"type": "string"}, "filter": filter()}), &["field"], false),
        ),
        Operation::new(
            "update",
            "Update matching documents.",
            object(
                json!({"filter": filter(), "update": {"type": "object", "description": "Operators, or a replacement document"}, "upsert": boolean("Insert when nothing matches"), "multi": boolean("Every match, not the first")}),
                &["update"],
                false,
            ),
        )
        .emits(&["change_event"])
        .topic(CHANGES),
        Operation::new(
            "delete",
            "Delete matching documents.",
            object(json!({"filter": filter(), "multi": boolean("Every match, not the first")}), &["filter"], false),
        )
        .emits(&["change_event"])
        .topic(CHANGES),
        Operation::new(
            "bulk",
            "Bulk writes, ordered or not.",
            object(
                json!({"operations": {"type": "array", "items": {"type": "object"}}, "ordered": boolean("Stop at the first failure (default true)")}),
                &["operations"],
                false,
            ),
        )
        .emits(&["change_event"])
        .topic(CHANGES),
        Operation::new(
            "aggregate",
            "Run an aggregation pipeline.",
            object(json!({"pipeline": {"type": "array", "items": {"type": "object"}}}), &["pipeline"], false),
        )
        .emits(&["aggregation_result", "aggregation_complete"])
        .topic(AGGREGATION),
        Operation::new(
            "create_index",
            "Create an index.",
            object(
                json!({
                    "keys": {"type": "object", "description": "Fields with 1, -1 or \"text\", in order"},
                    "name": {"type": "string"},
                    "unique": {"type": "boolean"},
                    "sparse": {"type": "boolean"},
                    "partialFilterExpression": filter(),
                    "expireAfterSeconds": count("TTL: seconds after the key field's date")
                }),
                &["keys"],
                false,
            ),
        ),
        Operation::new("drop_index", "Drop an index.", object(json!({"index": {"type": "string"}}), &["index"], false)),
        Operation::new(
            "set_validator",
            "Set or remove the collection's JSON Schema.",
            object(json!({"schema": {"type": ["object", "boolean", "null"]}}), &["schema"], false),
        ),
        Operation::new(
            "search",
            "Full-text search.",
            object(json!({"query": {"type": "string"}, "filter": filter(), "limit": count("Most results (default 100)")}), &["query"], false),
        ),
        Operation::new(
            "changes",
            "Change records after a resume token.",
            object(
                json!({
                    "resumeAfter": {"description": "A change event's _id (or resumeToken)"},
                    "startAfter": {"description": "As resumeAfter"},
                    "operationTypes": {"type": "array", "items": {"type": "string", "enum": ["insert", "update", "replace", "delete"]}},
                    "fullDocument": {"type": "string", "enum": ["default", "updateLookup", "whenAvailable", "required"]},
                    "limit": count("Most records (default 1000, at most 10000)")
                }),
                &[],
                false,
            ),
        ),
        Operation::new(
            "jsonpath",
            "Values an RFC 9535 JSONPath selects.",
            object(json!({"path": {"type": "string"}, "filter": filter(), "limit": count("Most documents")}), &["path"], false),
        ),
    ]
}

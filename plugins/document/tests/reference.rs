//! The engine, built natively and driven through its operations exactly as
//! the component is, against mongomock (`test_data/document/
//! make_reference.py`): every step of the seeded sequence, once without
//! indexes and once with single-field, multikey, compound, sparse and
//! partial indexes built first, so the planner's answers are shown equal
//! to a collection scan's. The same steps run through the real server in
//! `tests/e2e/document.rs`. What mongomock lacks (text search, change
//! logs, explain, validators, unique indexes' messages) is checked by hand
//! below.

use std::path::PathBuf;

use serde_json::{Value, json};
use weft_document::DocumentEngine;
use weft_sdk::{Engine, EngineError, Params, RecordingHost};

fn reference() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test_data/document/reference.json");
    let text = std::fs::read_to_string(path).expect("reference.json");
    serde_json::from_str(&text).expect("reference JSON")
}

fn call(host: &RecordingHost, op: &str, params: &Value) -> Result<Value, EngineError> {
    DocumentEngine::invoke(op, Params::new(&params.to_string()), host)
}

fn run(host: &RecordingHost, op: &str, params: Value) -> Value {
    call(host, op, &params).unwrap_or_else(|e| panic!("{op} {params}: {e}"))
}

/// Structural equality, numbers by value (mongomock's 3.0 is our 3),
/// object fields in any order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn as_set(values: &Value) -> Vec<String> {
    let mut out: Vec<String> = values
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| x.as_f64().map_or_else(|| x.to_string(), |f| format!("{f}")))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Replays every step; answers how many were compared.
fn replay(host: &RecordingHost) -> usize {
    let reference = reference();
    let steps = reference["steps"].as_array().expect("steps");
    for (i, step) in steps.iter().enumerate() {
        let op = step["op"].as_str().expect("op");
        let got = run(host, op, step["params"].clone());
        let expect = &step["expect"];
        let ok = match op {
            "distinct" => as_set(&got["values"]) == as_set(&expect["values"]),
            "insert" => same(&got["inserted_ids"], &expect["inserted_ids"]),
            _ => same(&got, expect),
        };
        assert!(
            ok,
            "step {i} ({op} {}):\n  weft:      {got}\n  mongomock: {expect}",
            step["params"]
        );
    }
    steps.len()
}

#[test]
fn every_step_agrees_with_mongomock() {
    let host = RecordingHost::new();
    assert!(replay(&host) > 100);
}

#[test]
fn every_step_agrees_with_mongomock_through_indexes() {
    let host = RecordingHost::new();
    for keys in [
        json!({"keys": {"age": 1}}),
        json!({"keys": {"tags": 1}}),
        json!({"keys": {"address.city": 1}, "sparse": true}),
        json!({"keys": {"name": 1, "age": -1}}),
        json!({"keys": {"items.sku": 1}}),
        json!({"keys": {"score": 1}, "partialFilterExpression": {"active": true}}),
    ] {
        let mut params = keys.clone();
        params["collection"] = json!("people");
        run(&host, "create_index", params);
    }
    assert!(replay(&host) > 100);
    // And the indexes were used: an equality on name goes through one.
    let plan = run(
        &host,
        "explain",
        json!({"collection": "people", "filter": {"name": "ada"}}),
    );
    assert_eq!(
        plan["queryPlanner"]["winningPlan"]["inputStage"]["indexName"], "name_1_age_-1",
        "{plan}"
    );
}

fn people(host: &RecordingHost, n: i64) {
    let docs: Vec<Value> = (0..n)
        .map(|i| json!({"_id": i, "age": 20 + i % 50, "email": format!("u{i}@x.org"), "tags": [format!("t{}", i % 3), "all"]}))
        .collect();
    run(
        host,
        "insert",
        json!({"collection": "p", "documents": docs}),
    );
}

#[test]
fn explain_names_the_index_and_what_it_examined() {
    let host = RecordingHost::new();
    people(&host, 500);
    let scan = run(
        &host,
        "explain",
        json!({"collection": "p", "filter": {"age": {"$gte": 60, "$lt": 62}}}),
    );
    assert_eq!(scan["queryPlanner"]["winningPlan"]["stage"], "COLLSCAN");
    assert_eq!(scan["executionStats"]["totalDocsExamined"], 500);
    assert_eq!(scan["executionStats"]["nReturned"], 20);
    run(
        &host,
        "create_index",
        json!({"collection": "p", "keys": {"age": 1}}),
    );
    let indexed = run(
        &host,
        "explain",
        json!({"collection": "p", "filter": {"age": {"$gte": 60, "$lt": 62}}}),
    );
    assert_eq!(
        indexed["queryPlanner"]["winningPlan"]["inputStage"]["indexName"], "age_1",
        "{indexed}"
    );
    assert_eq!(indexed["executionStats"]["nReturned"], 20);
    // The range's upper bound reads the entries at 62 and stops there.
    let examined = indexed["executionStats"]["totalDocsExamined"]
        .as_u64()
        .unwrap_or(0);
    assert!((20..=30).contains(&examined), "{indexed}");
    // Multikey: each tag is an entry; a document is returned once.
    run(
        &host,
        "create_index",
        json!({"collection": "p", "keys": {"tags": 1}}),
    );
    let tagged = run(
        &host,
        "explain",
        json!({"collection": "p", "filter": {"tags": {"$in": ["t1", "all"]}}}),
    );
    assert_eq!(
        tagged["queryPlanner"]["winningPlan"]["inputStage"]["indexName"],
        "tags_1"
    );
    assert_eq!(tagged["executionStats"]["nReturned"], 500);
}

#[test]
fn unique_indexes_refuse_duplicates_and_nothing_is_half_written() {
    let host = RecordingHost::new();
    people(&host, 10);
    run(
        &host,
        "create_index",
        json!({"collection": "p", "keys": {"email": 1}, "unique": true}),
    );
    let dup = call(
        &host,
        "insert",
        &json!({"collection": "p", "documents": [{"_id": 100, "email": "new@x.org"}, {"_id": 101, "email": "u3@x.org"}]}),
    );
    match dup {
        Err(EngineError::Conflict(m)) => {
            assert!(m.contains("email_1") && m.contains("u3@x.org"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // Ordered: the document before the duplicate went in, with its entry.
    let found = run(
        &host,
        "find",
        json!({"collection": "p", "filter": {"email": "new@x.org"}}),
    );
    assert_eq!(found["documents"].as_array().map(Vec::len), Some(1));
    // Changing a value to a taken one is refused too; freeing it allows it.
    let taken = call(
        &host,
        "update",
        &json!({"collection": "p", "filter": {"_id": 1}, "update": {"$set": {"email": "u2@x.org"}}}),
    );
    assert!(matches!(taken, Err(EngineError::Conflict(_))), "{taken:?}");
    run(
        &host,
        "update",
        json!({"collection": "p", "filter": {"_id": 2}, "update": {"$set": {"email": "moved@x.org"}}}),
    );
    run(
        &host,
        "update",
        json!({"collection": "p", "filter": {"_id": 1}, "update": {"$set": {"email": "u2@x.org"}}}),
    );
    let by_index = run(
        &host,
        "find",
        json!({"collection": "p", "filter": {"email": "u2@x.org"}}),
    );
    assert_eq!(by_index["documents"][0]["_id"], 1);
    // Building a unique index over duplicates fails and leaves no index.
    run(
        &host,
        "insert",
        json!({"collection": "q", "documents": [{"k": 1}, {"k": 1}]}),
    );
    let built = call(
        &host,
        "create_index",
        &json!({"collection": "q", "keys": {"k": 1}, "unique": true}),
    );
    assert!(matches!(built, Err(EngineError::Conflict(_))), "{built:?}");
    let info = run(&host, "collection_info", json!({"collection": "q"}));
    assert_eq!(
        info["indexes"].as_array().map(Vec::len),
        Some(1),
        "only _id_: {info}"
    );
}

#[test]
fn validators_refuse_bad_documents_naming_the_path() {
    let host = RecordingHost::new();
    let schema = json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}});
    run(
        &host,
        "set_validator",
        json!({"collection": "v", "schema": schema}),
    );
    run(
        &host,
        "insert",
        json!({"collection": "v", "documents": [{"_id": 1, "name": "ok", "age": 3}]}),
    );
    match call(
        &host,
        "insert",
        &json!({"collection": "v", "documents": [{"_id": 2, "name": "bad", "age": -1}]}),
    ) {
        Err(EngineError::InvalidParam { pointer, message }) => {
            assert_eq!(pointer, "/age");
            assert!(
                message.contains("minimum") || message.contains("-1"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let bad_update = call(
        &host,
        "update",
        &json!({"collection": "v", "filter": {"_id": 1}, "update": {"$unset": {"name": ""}}}),
    );
    assert!(
        matches!(bad_update, Err(EngineError::InvalidParam { .. })),
        "{bad_update:?}"
    );
    let all = run(&host, "find", json!({"collection": "v"}));
    assert_eq!(
        all["documents"],
        json!([{"_id": 1, "name": "ok", "age": 3}]),
        "nothing changed"
    );
    let bad_schema = call(
        &host,
        "set_validator",
        &json!({"collection": "v", "schema": {"type": "strange"}}),
    );
    assert!(
        matches!(bad_schema, Err(EngineError::InvalidParams(_))),
        "{bad_schema:?}"
    );
}

#[test]
fn the_change_log_resumes_after_a_token_in_commit_order() {
    let host = RecordingHost::new();
    run(
        &host,
        "insert",
        json!({"collection": "c", "documents": [{"_id": 1, "n": 0}, {"_id": 2, "n": 0}]}),
    );
    run(
        &host,
        "update",
        json!({"collection": "c", "filter": {"_id": 1}, "update": {"$inc": {"n": 5}, "$unset": {"gone": ""}}}),
    );
    run(
        &host,
        "replace_document",
        json!({"collection": "c", "id": 2, "document": {"x": 1}}),
    );
    run(
        &host,
        "delete_document",
        json!({"collection": "c", "id": 1}),
    );
    let all = run(&host, "changes", json!({"collection": "c"}));
    let kinds: Vec<&str> = all["changes"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|r| r["operationType"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        kinds,
        vec!["insert", "insert", "update", "replace", "delete"]
    );
    let update = &all["changes"][2];
    assert_eq!(
        update["updateDescription"],
        json!({"updatedFields": {"n": 5}, "removedFields": []})
    );
    assert!(
        update.get("fullDocument").is_none(),
        "default fullDocument leaves updates without it"
    );
    let token = all["changes"][1]["_id"].clone();
    let after = run(
        &host,
        "changes",
        json!({"collection": "c", "resumeAfter": token, "fullDocument": "updateLookup"}),
    );
    let seqs: Vec<u64> = after["changes"]
        .as_array()
        .map(|c| c.iter().filter_map(|r| r["clusterTime"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        after["changes"][0]["fullDocument"],
        json!({"_id": 1, "n": 5})
    );
    let deletes = run(
        &host,
        "changes",
        json!({"collection": "c", "operationTypes": ["delete"]}),
    );
    assert_eq!(deletes["changes"].as_array().map(Vec::len), Some(1));
    let bad = call(
        &host,
        "changes",
        &json!({"collection": "c", "resumeAfter": "other:0000000000000001"}),
    );
    assert!(matches!(bad, Err(EngineError::InvalidParams(_))), "{bad:?}");
}

#[test]
fn text_search_ranks_by_bm25_with_phrases_and_exclusions() {
    let host = RecordingHost::new();
    let docs = json!([
        {"_id": 1, "title": "Cold brew coffee at home", "body": "Brewing coffee cold takes time."},
        {"_id": 2, "title": "Espresso", "body": "Coffee under pressure. Coffee, coffee, coffee."},
        {"_id": 3, "title": "Tea", "body": "Green tea, brewed cold."},
        {"_id": 4, "title": "Decaf coffee", "body": "Coffee without caffeine."},
    ]);
    run(
        &host,
        "insert",
        json!({"collection": "t", "documents": docs}),
    );
    run(
        &host,
        "create_index",
        json!({"collection": "t", "keys": {"title": "text", "body": "text"}}),
    );
    let hits = run(
        &host,
        "search",
        json!({"collection": "t", "query": "coffee"}),
    );
    let ids: Vec<i64> = hits["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|h| h["document"]["_id"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids[0], 2, "the most coffee in the shortest text: {hits}");
    assert_eq!(ids.len(), 3);
    let phrase = run(
        &host,
        "search",
        json!({"collection": "t", "query": "\"cold brew\""}),
    );
    assert_eq!(phrase["results"].as_array().map(Vec::len), Some(1));
    let excluded = run(
        &host,
        "search",
        json!({"collection": "t", "query": "coffee -decaf"}),
    );
    assert!(
        excluded["results"]
            .as_array()
            .is_some_and(|r| r.iter().all(|h| h["document"]["_id"] != 4))
    );
    // Updates move the postings: after this, doc 3 is about coffee.
    run(
        &host,
        "update",
        json!({"collection": "t", "filter": {"_id": 3}, "update": {"$set": {"body": "coffee"}}}),
    );
    let again = run(
        &host,
        "search",
        json!({"collection": "t", "query": "coffee", "filter": {"title": "Tea"}}),
    );
    assert_eq!(again["results"][0]["document"]["_id"], 3);
}

#[test]
fn a_text_index_over_many_documents_is_built_in_batches_the_host_takes() {
    let host = RecordingHost::new();
    // About 12 distinct terms each: 2,000 documents are 24,000 postings,
    // more than one host batch holds.
    let docs: Vec<Value> = (0..2000)
        .map(|i| json!({"_id": i, "body": format!("w{i} alpha{} beta{} gamma{} delta{} eps{} zeta{} eta{} theta{} iota{} kappa{} lambda", i % 7, i % 11, i % 13, i % 17, i % 19, i % 23, i % 29, i % 31, i % 37, i % 41)}))
        .collect();
    run(
        &host,
        "insert",
        json!({"collection": "many", "documents": docs}),
    );
    let built = run(
        &host,
        "create_index",
        json!({"collection": "many", "keys": {"body": "text"}}),
    );
    assert_eq!(built["documents_indexed"], 2000, "{built}");
    let hits = run(
        &host,
        "search",
        json!({"collection": "many", "query": "w1234"}),
    );
    assert_eq!(hits["results"][0]["document"]["_id"], 1234);
    let all = run(
        &host,
        "search",
        json!({"collection": "many", "query": "lambda", "limit": 5000}),
    );
    assert_eq!(all["results"].as_array().map(Vec::len), Some(2000));
}

#[test]
fn bad_input_names_the_part_at_fault() {
    let host = RecordingHost::new();
    for (op, params, says) in [
        (
            "find",
            json!({"collection": "x", "filter": {"a": {"$gtt": 1}}}),
            "filter: 'a': unknown operator '$gtt'",
        ),
        (
            "aggregate",
            json!({"collection": "x", "pipeline": [{"$match": {}}, {"$bogus": 1}]}),
            "pipeline: stage 1",
        ),
        (
            "update",
            json!({"collection": "x", "filter": {}, "update": {"$set": {"a..b": 1}}}),
            "empty segment",
        ),
        ("find", json!({"collection": "bad name"}), "collection name"),
        (
            "insert",
            json!({"collection": "x", "documents": [{"$bad": 1}]}),
            "'$bad'",
        ),
        (
            "create_index",
            json!({"collection": "x", "keys": {"a": 2}}),
            "must be 1, -1",
        ),
    ] {
        match call(&host, op, &params) {
            Err(e) => assert!(e.to_string().contains(says), "{op} {params}: {e}"),
            Ok(v) => panic!("{op} {params} should fail, answered {v}"),
        }
    }
}

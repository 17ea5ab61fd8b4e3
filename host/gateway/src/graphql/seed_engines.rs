//! The typed subscriptions of seed 000 §3 whose engines Weft does not ship
//! yet: `mlTrainingProgress`, `mlPredictions`, `mlModelLifecycle`,
//! `analyticsQueryProgress`, `workloadRecommendations`, `documentChanges`
//! and `spatialQueryProgress`. Like `engines.rs` they are typed views of
//! bus events; what they read is the event contract of
//! `test_data/websocket/schemas/engines/` (the seed's message kinds), so
//! any plugin loaded as `ml`, `analytics`, `document` or `spatial` that
//! emits those kinds feeds them. Fields a kind does not carry are null.

use async_graphql::{Context, SimpleObject};
use futures::Stream;
use serde_json::Value;
use weft_bus::Event;

use super::engines::{job_of, text, typed};
use super::types::rfc3339;

/// One epoch (`training_progress`) or the end (`training_complete`) of a
/// model's training.
#[derive(SimpleObject)]
#[graphql(name = "MLTrainingProgress")]
pub(crate) struct MlTrainingProgress {
    model_id: String,
    job_id: Option<String>,
    epoch: u64,
    total_epochs: Option<u64>,
    loss: Option<f64>,
    accuracy: Option<f64>,
    validation_loss: Option<f64>,
    validation_accuracy: Option<f64>,
    estimated_seconds_remaining: Option<f64>,
    /// True for `training_complete`.
    complete: bool,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn training(event: &Event, model: Option<&str>) -> Option<MlTrainingProgress> {
    let complete = match event.kind.as_str() {
        "training_progress" => false,
        "training_complete" => true,
        _ => return None,
    };
    let data = &event.data;
    let model_id = text(data, "model_id")?;
    if model.is_some_and(|m| m != model_id) {
        return None;
    }
    Some(MlTrainingProgress {
        model_id,
        job_id: job_of(event),
        epoch: data["epoch"]
            .as_u64()
            .or_else(|| data["epochs"].as_u64())
            .unwrap_or(0),
        total_epochs: data["total_epochs"]
            .as_u64()
            .or_else(|| data["epochs"].as_u64()),
        loss: data["loss"]
            .as_f64()
            .or_else(|| data["final_loss"].as_f64()),
        accuracy: data["accuracy"]
            .as_f64()
            .or_else(|| data["final_accuracy"].as_f64()),
        validation_loss: data["validation_loss"].as_f64(),
        validation_accuracy: data["validation_accuracy"].as_f64(),
        estimated_seconds_remaining: data["estimated_seconds_remaining"].as_f64(),
        complete,
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// The probability of one class.
#[derive(SimpleObject)]
pub(crate) struct ClassProbability {
    class: String,
    probability: f64,
}

/// One `prediction`.
#[derive(SimpleObject)]
#[graphql(name = "MLPredictionEvent")]
pub(crate) struct MlPredictionEvent {
    prediction_id: String,
    model_id: String,
    /// The prediction when it is a number (regression).
    value: Option<f64>,
    /// The prediction when it is a label (classification).
    label: Option<String>,
    confidence: f64,
    /// Highest first.
    class_probabilities: Vec<ClassProbability>,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn prediction(event: &Event, model: &str) -> Option<MlPredictionEvent> {
    if event.kind != "prediction" {
        return None;
    }
    let data = &event.data;
    let model_id = text(data, "model_id")?;
    if model_id != model {
        return None;
    }
    let mut class_probabilities: Vec<ClassProbability> = data["class_probabilities"]
        .as_object()
        .map(|classes| {
            classes
                .iter()
                .filter_map(|(class, p)| {
                    Some(ClassProbability {
                        class: class.clone(),
                        probability: p.as_f64()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    class_probabilities.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    Some(MlPredictionEvent {
        prediction_id: text(data, "prediction_id").unwrap_or_default(),
        model_id,
        value: data["value"].as_f64(),
        label: data["value"].as_str().map(str::to_owned),
        confidence: data["confidence"].as_f64().unwrap_or(0.0),
        class_probabilities,
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// One `lifecycle_event` of a model.
#[derive(SimpleObject)]
#[graphql(name = "MLModelLifecycleEvent")]
pub(crate) struct MlModelLifecycleEvent {
    /// created, updated, deployed, deprecated or deleted.
    event_type: String,
    model_id: String,
    model_name: Option<String>,
    version: Option<String>,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn lifecycle(event: &Event) -> Option<MlModelLifecycleEvent> {
    if event.kind != "lifecycle_event" {
        return None;
    }
    let data = &event.data;
    Some(MlModelLifecycleEvent {
        event_type: text(data, "event_type")?,
        model_id: text(data, "model_id")?,
        model_name: text(data, "model_name"),
        version: text(data, "version"),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// Progress of one analytics query (OLAP, time series, profiling or
/// workload analysis), from any of their events naming its `query_id`.
#[derive(SimpleObject)]
pub(crate) struct AnalyticsQueryProgress {
    query_id: String,
    /// The event it comes from (`olap_result`, `timeseries_update`, …).
    kind: String,
    progress_pct: f64,
    rows_processed: Option<u64>,
    /// The query's last event (`*_complete`, or an `olap_result`).
    complete: bool,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn query_progress(event: &Event, query: &str) -> Option<AnalyticsQueryProgress> {
    let data = &event.data;
    if text(data, "query_id").as_deref() != Some(query) || event.kind == "cache_event" {
        return None;
    }
    let complete = event.kind.ends_with("_complete") || event.kind == "olap_result";
    Some(AnalyticsQueryProgress {
        query_id: query.to_owned(),
        kind: event.kind.clone(),
        progress_pct: data["progress_pct"]
            .as_f64()
            .unwrap_or(if complete { 100.0 } else { 0.0 }),
        rows_processed: data["rows_processed"]
            .as_u64()
            .or_else(|| data["queries_analyzed"].as_u64()),
        complete,
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// A recommendation of a workload analysis (`workload_update` carrying
/// one).
#[derive(SimpleObject)]
pub(crate) struct WorkloadRecommendation {
    query_id: String,
    /// index, partition, rewrite, materialize or cache.
    recommendation_type: String,
    target: String,
    reason: String,
    improvement_pct: f64,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn recommendation(event: &Event) -> Option<WorkloadRecommendation> {
    if event.kind != "workload_update" {
        return None;
    }
    let data = &event.data;
    let advice = data.get("recommendation")?;
    Some(WorkloadRecommendation {
        query_id: text(data, "query_id").unwrap_or_default(),
        recommendation_type: text(advice, "type")?,
        target: text(advice, "target")?,
        reason: text(advice, "reason").unwrap_or_default(),
        improvement_pct: advice["improvement_pct"].as_f64().unwrap_or(0.0),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// One `change_event` of a document collection.
#[derive(SimpleObject)]
pub(crate) struct DocumentChangeEvent {
    /// insert, update, replace or delete.
    operation_type: String,
    collection: String,
    document_id: String,
    /// Names of the fields an update set.
    updated_fields: Vec<String>,
    removed_fields: Vec<String>,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn change(
    event: &Event,
    collection: &str,
    operations: Option<&[String]>,
) -> Option<DocumentChangeEvent> {
    if event.kind != "change_event" {
        return None;
    }
    let data = &event.data;
    let operation_type = text(data, "operation_type")?;
    if text(data, "collection").as_deref() != Some(collection)
        || operations.is_some_and(|ops| !ops.contains(&operation_type))
    {
        return None;
    }
    let names = |value: &Value| -> Vec<String> {
        match value {
            Value::Object(fields) => fields.keys().cloned().collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    Some(DocumentChangeEvent {
        operation_type,
        collection: collection.to_owned(),
        document_id: text(data, "document_id")?,
        updated_fields: names(&data["updated_fields"]),
        removed_fields: names(&data["removed_fields"]),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// Progress of one spatial query (`spatial_result`).
#[derive(SimpleObject)]
pub(crate) struct SpatialQueryUpdate {
    query_id: String,
    results_found: u64,
    /// Ids of the results in this update, nearest first.
    result_ids: Vec<String>,
    processing_complete: bool,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn spatial(event: &Event, query: &str) -> Option<SpatialQueryUpdate> {
    if event.kind != "spatial_result" {
        return None;
    }
    let data = &event.data;
    if text(data, "query_id").as_deref() != Some(query) {
        return None;
    }
    Some(SpatialQueryUpdate {
        query_id: query.to_owned(),
        results_found: data["results_found"].as_u64().unwrap_or(0),
        result_ids: data["results"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| text(r, "id")).collect())
            .unwrap_or_default(),
        processing_complete: data["processing_complete"].as_bool().unwrap_or(false),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// The seed's subscriptions for the engines to come, merged into the root.
#[derive(Default)]
pub(crate) struct SeedEngineSubscriptions;

#[async_graphql::Subscription]
impl SeedEngineSubscriptions {
    /// Training epochs of one model (`modelId`) or of all; a model's
    /// stream ends with its `complete` item.
    async fn ml_training_progress(
        &self,
        ctx: &Context<'_>,
        model_id: Option<String>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MlTrainingProgress>> + use<>>
    {
        let one_model = model_id.is_some();
        typed(
            ctx,
            vec!["ml.training".to_owned()],
            resume_from,
            move |event| training(event, model_id.as_deref()),
            move |item| one_model && item.complete,
        )
    }

    /// Predictions of one model.
    async fn ml_predictions(
        &self,
        ctx: &Context<'_>,
        model_id: String,
        resume_from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MlPredictionEvent>> + use<>>
    {
        typed(
            ctx,
            vec!["ml.predictions".to_owned()],
            resume_from,
            move |event| prediction(event, &model_id),
            |_| false,
        )
    }

    /// Models created, updated, deployed, deprecated or deleted.
    async fn ml_model_lifecycle(
        &self,
        ctx: &Context<'_>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<MlModelLifecycleEvent>> + use<>,
    > {
        typed(
            ctx,
            vec!["ml.lifecycle".to_owned()],
            resume_from,
            lifecycle,
            |_| false,
        )
    }

    /// Progress of one analytics query; ends with its last event.
    async fn analytics_query_progress(
        &self,
        ctx: &Context<'_>,
        query_id: String,
        resume_from: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<AnalyticsQueryProgress>> + use<>,
    > {
        typed(
            ctx,
            vec!["analytics.>".to_owned()],
            resume_from,
            move |event| query_progress(event, &query_id),
            |item| item.complete,
        )
    }

    /// Recommendations of workload analyses, as they are found.
    async fn workload_recommendations(
        &self,
        ctx: &Context<'_>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<WorkloadRecommendation>> + use<>,
    > {
        typed(
            ctx,
            vec!["analytics.workload".to_owned()],
            resume_from,
            recommendation,
            |_| false,
        )
    }

    /// Changes to the documents of `collection`, optionally only of some
    /// `operationTypes` (insert, update, replace, delete).
    async fn document_changes(
        &self,
        ctx: &Context<'_>,
        collection: String,
        operation_types: Option<Vec<String>>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<DocumentChangeEvent>> + use<>>
    {
        typed(
            ctx,
            vec!["document.changes".to_owned()],
            resume_from,
            move |event| change(event, &collection, operation_types.as_deref()),
            |_| false,
        )
    }

    /// Progress of one spatial query; ends when processing is complete.
    async fn spatial_query_progress(
        &self,
        ctx: &Context<'_>,
        query_id: String,
        resume_from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SpatialQueryUpdate>> + use<>>
    {
        typed(
            ctx,
            vec!["spatial.query".to_owned()],
            resume_from,
            move |event| spatial(event, &query_id),
            |item| item.processing_complete,
        )
    }
}

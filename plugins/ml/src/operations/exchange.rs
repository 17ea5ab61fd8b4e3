//! Models in and out: `export_model` writes a stored version as PMML or
//! ONNX,
//! `import_model` registers a PMML document (text, or an uploaded body) as
//! a new version.

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::Host;

use super::VersionNumber;
use super::serve::resolve;
use super::train::{NewVersion, finish_version, reserve_version};
use crate::{MlError, onnx, pmml, registry};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportParams {
    name: String,
    #[serde(default)]
    version: Option<VersionNumber>,
    #[serde(default)]
    format: Option<String>,
}

pub(crate) fn export(params: ExportParams, host: &dyn Host) -> Result<Value, MlError> {
    let (name, version, model) = resolve(host, &params.name, params.version)?;
    let model_id = format!("{name}:{version}");
    match params.format.as_deref().unwrap_or("pmml") {
        "pmml" => {
            let record = registry::load(host, &name)?;
            let target = record
                .version(version)?
                .target
                .clone()
                .unwrap_or_else(|| "prediction".into());
            Ok(
                json!({"model_id": model_id, "format": "pmml", "pmml": pmml::export(&model, &target)?}),
            )
        }
        "onnx" => {
            use base64::Engine as _;
            let bytes = onnx::export(&model)?;
            Ok(
                json!({"model_id": model_id, "format": "onnx", "bytes": bytes.len(),
                      "onnx_base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
            )
        }
        other => Err(MlError::Invalid(format!(
            "format '{other}' is not offered: use \"pmml\" or \"onnx\""
        ))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportParams {
    name: String,
    #[serde(default)]
    pmml: Option<String>,
    #[serde(default)]
    body_blob: Option<String>,
    #[serde(default)]
    body_type: Option<String>,
}

/// Largest PMML document read (it is parsed whole).
const MAX_PMML: usize = 64 << 20;

pub(crate) fn import(params: ImportParams, host: &dyn Host) -> Result<Value, MlError> {
    // The route passes the body's media type; PMML is read as XML whatever it says.
    let _ = &params.body_type;
    let text = match (&params.pmml, &params.body_blob) {
        (Some(text), None) => text.clone(),
        (None, Some(blob)) => {
            let bytes = weft_sdk::read_whole_blob(host, blob)?;
            if bytes.len() > MAX_PMML {
                return Err(MlError::Invalid(format!(
                    "the PMML document is {} bytes; at most {MAX_PMML} are read",
                    bytes.len()
                )));
            }
            String::from_utf8(bytes)
                .map_err(|_| MlError::Invalid("the PMML document is not UTF-8".into()))?
        }
        _ => {
            return Err(MlError::Invalid(
                "give the PMML document as pmml (text) or as the request body".into(),
            ));
        }
    };
    let model = pmml::import(&text)?;
    let version = reserve_version(
        host,
        &params.name,
        NewVersion {
            algorithm: model.algorithm,
            task: model.task,
            hyperparameters: json!({}),
            dataset: "(imported PMML)",
            target: None,
            features: &model.features,
            classes: &model.classes,
            rows: json!({}),
        },
    )?;
    registry::save_model(host, &params.name, version, &model)?;
    let metrics = json!({"imported": "pmml"});
    finish_version(host, &params.name, version, &metrics)?;
    super::lifecycle_event(
        host,
        "registered",
        &params.name,
        version,
        "registered",
        Some(model.algorithm.name()),
    );
    Ok(json!({
        "model_id": format!("{}:{version}", params.name), "model": params.name, "version": version,
        "algorithm": model.algorithm.name(), "features": model.features, "classes": model.classes,
    }))
}

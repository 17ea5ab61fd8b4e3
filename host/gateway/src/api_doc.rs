//! One place where a route is both registered and documented: every REST
//! and WebSocket route goes through [`Api::route`], so the OpenAPI 3.1
//! document served at `/api/v1/openapi.json` cannot miss one. `/docs`
//! renders that document as a page with no external assets.
//!
//! This module only describes and wires routes; it must not hold handlers.

use std::collections::BTreeMap;

use axum::Router;
use axum::response::Html;
use axum::routing::{MethodRouter, get};
use serde_json::{Map, Value, json};

use crate::AppState;

/// How an operation is documented.
pub(crate) struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: String,
    query: Vec<(&'static str, &'static str)>,
    body: Option<(&'static str, &'static str)>,
    responses: Vec<(u16, &'static str)>,
}

impl Op {
    fn new(
        method: &'static str,
        path: &'static str,
        tag: &'static str,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            method,
            path,
            tag,
            summary: summary.into(),
            query: Vec::new(),
            body: None,
            responses: Vec::new(),
        }
    }

    /// A `GET`.
    pub(crate) fn get(path: &'static str, tag: &'static str, summary: impl Into<String>) -> Self {
        Self::new("get", path, tag, summary)
    }

    /// A `POST`.
    pub(crate) fn post(path: &'static str, tag: &'static str, summary: impl Into<String>) -> Self {
        Self::new("post", path, tag, summary)
    }

    /// A `PUT`.
    pub(crate) fn put(path: &'static str, tag: &'static str, summary: impl Into<String>) -> Self {
        Self::new("put", path, tag, summary)
    }

    /// A `DELETE`.
    pub(crate) fn delete(
        path: &'static str,
        tag: &'static str,
        summary: impl Into<String>,
    ) -> Self {
        Self::new("delete", path, tag, summary)
    }

    /// A WebSocket endpoint (a `GET` that upgrades).
    pub(crate) fn websocket(
        path: &'static str,
        tag: &'static str,
        summary: impl Into<String>,
    ) -> Self {
        Self::new("get", path, tag, summary).responds(101, "switches to the WebSocket protocol")
    }

    /// An optional query parameter.
    pub(crate) fn query(mut self, name: &'static str, description: &'static str) -> Self {
        self.query.push((name, description));
        self
    }

    /// The request body: its media type and what it holds.
    pub(crate) fn body(mut self, media_type: &'static str, description: &'static str) -> Self {
        self.body = Some((media_type, description));
        self
    }

    /// A documented response.
    pub(crate) fn responds(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push((status, description));
        self
    }

    fn to_json(&self) -> Value {
        let mut parameters: Vec<Value> = self
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(self.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
        }));
        let mut responses = Map::new();
        for (status, description) in &self.responses {
            responses.insert(status.to_string(), json!({"description": description}));
        }
        if !responses.keys().any(|k| k.starts_with('2') || k == "101") {
            responses.insert("200".into(), json!({"description": "OK (JSON)"}));
        }
        responses.insert(
            "4XX".into(),
            json!({
                "description": "Bad input or unknown resource",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }),
        );
        let operation_id = format!(
            "{}{}",
            self.method,
            self.path
                .split(['/', '{', '}', '-', '.'])
                .filter(|s| !s.is_empty() && *s != "api" && *s != "v1")
                .map(|s| {
                    let mut c = s.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<String>()
        );
        let mut operation = json!({
            "tags": [self.tag],
            "summary": self.summary,
            "operationId": operation_id,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some((media_type, description)) = self.body {
            operation["requestBody"] = json!({
                "required": true,
                "description": description,
                "content": {media_type: {}},
            });
        }
        operation
    }
}

/// Routes and their documentation, built together.
pub(crate) struct Api {
    handlers: BTreeMap<&'static str, MethodRouter<AppState>>,
    operations: Vec<Op>,
}

impl Api {
    pub(crate) fn new() -> Self {
        Self {
            handlers: BTreeMap::new(),
            operations: Vec::new(),
        }
    }

    /// Registers `handler` (which must serve `op.method`) for `op.path`.
    pub(crate) fn route(mut self, op: Op, handler: MethodRouter<AppState>) -> Self {
        let merged = match self.handlers.remove(op.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        self.handlers.insert(op.path, merged);
        self.operations.push(op);
        self
    }

    /// Documents a route served outside this state (GraphQL).
    pub(crate) fn external(mut self, op: Op) -> Self {
        self.operations.push(op);
        self
    }

    /// What the host serves, for the runtime to keep plugins off it.
    pub(crate) fn surface(&self) -> weft_runtime::manifest::HostSurface {
        let mut surface = weft_runtime::manifest::HostSurface::default();
        for op in &self.operations {
            if op.responses.iter().any(|(status, _)| *status == 101) {
                surface.endpoints.push(op.path.to_owned());
            } else if let Some(method) =
                weft_runtime::manifest::Method::parse(&op.method.to_ascii_uppercase())
            {
                surface.routes.push((method, op.path.to_owned()));
            }
        }
        // Served outside the documented table.
        surface.routes.push((
            weft_runtime::manifest::Method::Get,
            "/api/v1/openapi.json".into(),
        ));
        surface
    }

    /// The router and the OpenAPI document (also served, with `/docs`).
    /// Plugins' routes and endpoints are added to the document when it is
    /// served, so it follows hot loads.
    pub(crate) fn finish(self, version: &str) -> Router<AppState> {
        let api = self
            .route(
                Op::get("/api/v1/openapi.json", "meta", "This OpenAPI 3.1 document"),
                get(|| async {}),
            )
            .route(
                Op::get("/docs", "meta", "The API documentation as a web page")
                    .responds(200, "HTML"),
                get(|| async {}),
            );
        let document = std::sync::Arc::new(Self::document(&api.operations, version));
        let mut router = Router::new();
        for (path, handler) in api.handlers {
            let handler = match path {
                "/api/v1/openapi.json" => {
                    let document = document.clone();
                    get(
                        move |axum::extract::State(state): axum::extract::State<AppState>| async move {
                            let mut document = (*document).clone();
                            crate::plugin_surface::document(&state.runtime, &mut document);
                            (
                                [(axum::http::header::CONTENT_TYPE, "application/json")],
                                document.to_string(),
                            )
                        },
                    )
                }
                "/docs" => get(|| async { Html(DOCS_PAGE) }),
                _ => handler,
            };
            router = router.route(path, handler);
        }
        router
    }

    fn document(operations: &[Op], version: &str) -> Value {
        let mut paths = Map::new();
        for op in operations {
            let entry = paths
                .entry(op.path.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            entry[op.method] = op.to_json();
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Weft",
                "version": version,
                "description": "Plugin-host runtime for data engines: REST for plugins, jobs, events and sessions; WebSocket and GraphQL for live streams. Every error is {\"error\":{\"code\",\"message\"}}. A server started with --api-keys wants `Authorization: Bearer <key>` (or `?access_token=<key>`; GraphQL subscriptions may send it in connection_init) everywhere but health, this document and /docs; without it the server is open.",
            },
            "paths": paths,
            "security": [{"apiKey": []}, {"accessToken": []}, {}],
            "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from --api-keys; it decides the tenant"},
                "accessToken": {"type": "apiKey", "in": "query", "name": "access_token", "description": "the same key, for clients that cannot set headers (browser WebSockets)"},
            },
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }},
            }}},
        })
    }
}

/// A self-contained page listing the operations of `/api/v1/openapi.json`.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Weft API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;margin-top:1.6em}
.op{margin:.5em 0;padding:.4em .6em;border-left:4px solid #888;background:#f8f8f8}
.m{display:inline-block;width:4.5em;font-weight:600;text-transform:uppercase}
.get{border-color:#2a7}.post{border-color:#27c}.delete{border-color:#c33}
code{font-size:14px}.d{color:#555;margin:.2em 0 0 5.2em}.p{color:#777;margin-left:5.2em;font-size:13px}
</style></head><body>
<h1>Weft API</h1><p id="info"></p><div id="ops">Loading <code>/api/v1/openapi.json</code>…</div>
<script>
fetch('/api/v1/openapi.json').then(r=>r.json()).then(doc=>{
  document.getElementById('info').textContent=doc.info.description+' (version '+doc.info.version+')';
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths)) for(const [m,op] of Object.entries(ops))
    (byTag[op.tags[0]]=byTag[op.tags[0]]||[]).push([m,path,op]);
  const out=document.getElementById('ops');out.textContent='';
  for(const tag of Object.keys(byTag).sort()){
    const h=document.createElement('h2');h.textContent=tag;out.appendChild(h);
    for(const [m,path,op] of byTag[tag]){
      const d=document.createElement('div');d.className='op '+m;
      const head=document.createElement('div');
      const mm=document.createElement('span');mm.className='m';mm.textContent=m;
      const c=document.createElement('code');c.textContent=path;head.append(mm,c);d.appendChild(head);
      const s=document.createElement('div');s.className='d';s.textContent=op.summary;d.appendChild(s);
      const q=(op.parameters||[]).filter(p=>p.in==='query').map(p=>p.name+': '+(p.description||''));
      if(op.requestBody) q.unshift('body: '+op.requestBody.description);
      for(const line of q){const p=document.createElement('div');p.className='p';p.textContent=line;d.appendChild(p);}
      out.appendChild(d);
    }
  }
});
</script></body></html>"#;

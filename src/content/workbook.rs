//! The Sentinel workbook: the layout in `workbooks/pipeline-health.json` (title, parameters,
//! charts), with the status of every check generated where the layout says
//! `{"sentinel-kms": "check-status"}`; a catalog too large for one workbook is shared out among
//! several, each the whole layout with its share of the checks. Written as the gallery JSON
//! (`Notebook/1.0`, for the workbook's Advanced Editor) and as an ARM template
//! (`Microsoft.Insights/workbooks`, kind `shared`, in Sentinel's `sentinel` category).

use serde_json::{Value, json};

use super::limits::{self, MAX_WORKBOOK_CHARS, MAX_WORKBOOK_QUERIES, MAX_WORKBOOK_STEPS};
use super::{Problem, arm, kql};
use crate::catalog::Check;
use crate::lint::schema::Table;

const LAYOUT: &str = include_str!("../../workbooks/pipeline-health.json");
const LAYOUT_PATH: &str = "workbooks/pipeline-health.json";
const MARKER: &str = "sentinel-kms";
/// Workbook names are UUID v5 of the workbook's key (the layout's, with `-2`, `-3`, … for the
/// parts after the first) under this namespace.
const WORKBOOK_NAMESPACE: uuid::Uuid = uuid::uuid!("7a9b0427-7c5a-4885-978c-660ec7bf2076");
pub const API_VERSION: &str = "2023-06-01";

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    key: String,
    display_name: String,
    description: String,
    items: Vec<Value>,
}

pub struct Workbook {
    pub key: String,
    /// The gallery JSON.
    pub content: Value,
    /// The gallery JSON as the text the ARM template carries in `serializedData`.
    pub serialized: String,
    /// The ARM template.
    pub template: Value,
    /// Every KQL text of the workbook's Log Analytics queries, with the step it belongs to.
    pub queries: Vec<(String, String)>,
}

/// Where a workbook problem is: the layout file, or the check whose status step it is.
pub struct WorkbookError {
    pub what: String,
    pub problem: Problem,
}

/// The workbooks of the catalog: one, unless its status steps would give it more steps or
/// more Log Analytics queries (run when it opens) than the workbook guidance keeps to, or make
/// it longer than a workbook can be saved. Then the checks are shared out, in catalog order,
/// each workbook taking as many as fit, each the whole layout with its share of the status
/// steps. (A single check too long for a workbook of its own is left to the size check of the
/// build.) The first keeps the layout's key (and so its resource name), so a catalog that
/// grows past one workbook updates the deployed one instead of leaving it.
pub fn build(checks: &[Check], schemas: &[Table]) -> Result<Vec<Workbook>, WorkbookError> {
    let layout: Layout = serde_json::from_str(LAYOUT).map_err(|error| WorkbookError {
        what: LAYOUT_PATH.into(),
        problem: Problem {
            field: "layout".into(),
            message: format!("not a workbook layout: {error}"),
        },
    })?;
    // Each status step is one step and one query of the workbook, on top of the layout's.
    let (layout_steps, layout_queries) = limits::workbook_load(&layout.items);
    let per_part = (MAX_WORKBOOK_QUERIES.saturating_sub(layout_queries))
        .min(MAX_WORKBOOK_STEPS.saturating_sub(layout_steps))
        .max(1);
    let steps = (checks.iter())
        .map(|check| status_step(check, checks, schemas))
        .collect::<Result<Vec<Value>, WorkbookError>>()?;
    // What a workbook holds besides its steps, with room for the longest part's numbering.
    let base = serde_json::to_string(&layout.items).map_or(0, |t| t.chars().count()) + 2_000;
    let mut shares: Vec<std::ops::Range<usize>> = Vec::new();
    let (mut start, mut size) = (0, base);
    for (index, step) in steps.iter().enumerate() {
        let length = serde_json::to_string(step).map_or(0, |t| t.chars().count()) + 1;
        if index > start && (index - start == per_part || size + length > MAX_WORKBOOK_CHARS) {
            shares.push(start..index);
            (start, size) = (index, base);
        }
        size += length;
    }
    shares.push(start..steps.len());
    let parts = shares.len();
    let mut books = Vec::with_capacity(parts);
    for (index, share) in shares.into_iter().enumerate() {
        let part = (parts > 1).then(|| Part {
            number: index + 1,
            of: parts,
            first: share.start + 1,
            last: share.end,
            total: checks.len(),
        });
        books.push(build_part(&layout, &steps[share], part));
    }
    Ok(books)
}

/// Where one workbook of several stands: its number, and the checks of the catalog it shows.
struct Part {
    number: usize,
    of: usize,
    first: usize,
    last: usize,
    total: usize,
}

/// One workbook: the layout, with the status steps of its share of the checks.
fn build_part(layout: &Layout, steps: &[Value], part: Option<Part>) -> Workbook {
    let (key, display_name, description, scope) = match &part {
        None => (
            layout.key.clone(),
            layout.display_name.clone(),
            layout.description.clone(),
            String::new(),
        ),
        Some(part) => (
            if part.number == 1 {
                layout.key.clone()
            } else {
                format!("{}-{}", layout.key, part.number)
            },
            format!("{} ({} of {})", layout.display_name, part.number, part.of),
            format!(
                "{} This part shows checks {} to {} of the catalog's {}.",
                layout.description, part.first, part.last, part.total
            ),
            format!(": checks {} to {} of {}", part.first, part.last, part.total),
        ),
    };
    let mut items = Vec::new();
    for item in &layout.items {
        if item.get(MARKER).and_then(Value::as_str) == Some("check-status") {
            items.push(status_group(steps, &scope));
        } else {
            items.push(item.clone());
        }
    }
    let content = json!({
        "version": "Notebook/1.0",
        "items": items,
        "fallbackResourceIds": [],
        "fromTemplateId": format!("sentinel-kms-{key}"),
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json",
    });
    let mut queries = Vec::new();
    collect_queries(&content, &mut queries);

    let serialized = serde_json::to_string(&content).expect("JSON values serialize");
    let name = uuid::Uuid::new_v5(&WORKBOOK_NAMESPACE, key.as_bytes());
    let mut properties = json!({
        "displayName": display_name,
        "description": description,
        "serializedData": serialized,
        "version": "1.0",
        "category": "sentinel",
    });
    arm::escape_expressions(&mut properties);
    // The one expression of the template: the workspace's resource ID, which makes the
    // workbook show up in that workspace's Sentinel.
    properties["sourceId"] =
        json!("[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspace'))]");
    let resource = json!({
        "name": name.to_string(),
        "type": "Microsoft.Insights/workbooks",
        "location": "[resourceGroup().location]",
        "apiVersion": API_VERSION,
        "kind": "shared",
        "properties": properties,
    });
    let template = arm::template(
        vec![resource],
        "Name of the Log Analytics workspace that Microsoft Sentinel runs on, in this \
         resource group; the workbook shows in its Sentinel",
    );
    Workbook {
        key,
        content,
        serialized,
        template,
        queries,
    }
}

/// The status grid of one check: each group of the check's rows with its status icon.
fn status_step(
    check: &Check,
    catalog: &[Check],
    schemas: &[Table],
) -> Result<Value, WorkbookError> {
    let query = kql::workbook_query(check, catalog, schemas).map_err(|error| WorkbookError {
        what: format!("check `{}` ({})", check.id, check.path.display()),
        problem: Problem {
            field: "workbook query".into(),
            message: error.0,
        },
    })?;
    // The query's own window: its lookback, plus the two days by which Azure Monitor may have
    // moved a late row's TimeGenerated.
    let window = check
        .threshold("lookback")
        .and_then(|v| v.as_span())
        .unwrap_or(chrono::TimeDelta::days(1))
        + chrono::TimeDelta::days(2);
    Ok(json!({
        "type": 3,
        "name": format!("status {}", check.id),
        "content": {
            "version": "KqlItem/1.0",
            "title": format!("{} ({} {})", check.title, check.id, check.version),
            "query": query,
            "size": 0,
            "queryType": 0,
            "resourceType": "microsoft.operationalinsights/workspaces",
            "crossComponentResources": ["{Workspace}"],
            "timeContext": { "durationMs": window.num_milliseconds() },
            "visualization": "table",
            "gridSettings": { "formatters": [status_formatter()] },
            "noDataMessage": "The check returned nothing.",
        },
        "customWidth": "50",
    }))
}

/// The group of status steps, one grid per check.
fn status_group(steps: &[Value], scope: &str) -> Value {
    json!({
        "type": 12,
        "name": "check status",
        "content": {
            "version": "NotebookGroup/1.0",
            "groupType": "editable",
            "title": format!(
                "Check status, per AWS account and region (thresholds as in sentinel-kms \
                 validate){scope}"
            ),
            "items": steps,
        },
    })
}

/// Icons for `Status`: healthy, lag, no data, could not evaluate.
fn status_formatter() -> Value {
    let threshold = |value: Option<&str>, representation: &str| {
        json!({
            "operator": if value.is_some() { "==" } else { "Default" },
            "thresholdValue": value,
            "representation": representation,
            "text": "{0}{1}",
        })
    };
    json!({
        "columnMatch": "Status",
        "formatter": 18,
        "formatOptions": {
            "thresholdsOptions": "icons",
            "thresholdsGrid": [
                threshold(Some("healthy"), "success"),
                threshold(Some("lag"), "warning"),
                threshold(Some("no_data"), "failed"),
                threshold(Some("error"), "Unknown"),
                threshold(None, "Unknown"),
            ],
        },
    })
}

/// Every Log Analytics query of the workbook (query type 0), found at any depth.
fn collect_queries(value: &Value, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_i64) == Some(3)
                && let Some(content) = map.get("content")
                && content
                    .get("queryType")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    == 0
                && let Some(query) = content.get("query").and_then(Value::as_str)
            {
                let name = map.get("name").and_then(Value::as_str).unwrap_or("step");
                found.push((name.to_string(), query.to_string()));
            }
            map.values().for_each(|v| collect_queries(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_queries(v, found)),
        _ => {}
    }
}

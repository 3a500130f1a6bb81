//! Our own evaluation of the few policy questions the doctor asks: may this principal perform
//! this action on this resource, given the key policy (or queue policy, or trust policy), the
//! role's identity policies and the key's grants?
//!
//! The answer is three-valued. [`Decision::Allow`] only when a statement certainly allows and
//! nothing could deny; [`Decision::Deny`] when an explicit deny applies or no statement can
//! allow; [`Decision::CannotDetermine`] whenever the answer hangs on something this evaluator
//! does not know: a condition key whose value the request context lacks, an operator it does not
//! implement, a policy variable, a `NotPrincipal` in an allow. It never guesses "allowed", and
//! every answer cites the statements that decided it.
//!
//! The rules reproduced are AWS's: an explicit deny anywhere wins; a KMS key policy must allow
//! the principal itself or delegate to its account (`arn:aws:iam::ACCOUNT:root`), in which case
//! an identity policy must allow as well; a key in another account needs both sides; a grant
//! allows its operations on its own; for other resources in the principal's own account either
//! the resource policy or an identity policy suffices.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::arn::RoleArn;
use crate::policy::document::{action_matches, statement_label, strings, wildcard_match};

/// The outcome of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
    CannotDetermine,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::CannotDetermine => "cannot_determine",
        }
    }
}

/// Three-valued truth: a statement applies, does not, or may (it depends on what is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Maybe,
}

impl Tri {
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Maybe,
        }
    }

    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Maybe,
        }
    }

    fn from_bool(value: bool) -> Tri {
        if value { Tri::Yes } else { Tri::No }
    }
}

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM role (the connector's), with its unique ID (`AROA…`) where known.
    Role { arn: RoleArn, id: Option<String> },
    /// An AWS service, such as `guardduty.amazonaws.com`.
    Service(String),
    /// A web identity federated through an IAM OIDC provider, by the provider's ARN.
    Federated(String),
}

impl Principal {
    pub fn role(arn: &RoleArn) -> Principal {
        Principal::Role {
            arn: arn.clone(),
            id: None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Principal::Role { arn, .. } => format!("`{arn}`"),
            Principal::Service(name) => format!("the service `{name}`"),
            Principal::Federated(provider) => format!("a web identity of `{provider}`"),
        }
    }
}

/// The condition keys a request carries. A key the map lacks is unknown: a condition on it
/// cannot be decided. A key mapped to `None` is known to be absent from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    keys: BTreeMap<String, Option<Vec<String>>>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// A single-valued key present in the request.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Context {
        self.keys
            .insert(key.to_ascii_lowercase(), Some(vec![value.into()]));
        self
    }

    /// A multi-valued key present in the request.
    pub fn with_values(mut self, key: &str, values: &[&str]) -> Context {
        let values = values.iter().map(|v| v.to_string()).collect();
        self.keys.insert(key.to_ascii_lowercase(), Some(values));
        self
    }

    /// A key known to be absent from the request.
    pub fn without(mut self, key: &str) -> Context {
        self.keys.insert(key.to_ascii_lowercase(), None);
        self
    }

    fn lookup(&self, key: &str) -> Option<&Option<Vec<String>>> {
        self.keys.get(&key.to_ascii_lowercase())
    }

    /// The encryption context pairs the request carries (`kms:EncryptionContext:NAME`).
    fn encryption_context(&self) -> Option<BTreeMap<String, String>> {
        let prefix = "kms:encryptioncontext:";
        let mut pairs = BTreeMap::new();
        for (key, value) in &self.keys {
            if let Some(name) = key.strip_prefix(prefix) {
                let value = value.as_ref()?.first()?.clone();
                pairs.insert(name.to_string(), value);
            }
        }
        Some(pairs)
    }

    /// The request's condition keys as JSON, for evidence.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.keys
                .iter()
                .map(|(key, value)| {
                    (
                        key.clone(),
                        value
                            .as_ref()
                            .map_or(Value::Null, |values| Value::from(values.clone())),
                    )
                })
                .collect(),
        )
    }
}

/// One request to evaluate.
#[derive(Debug, Clone)]
pub struct Request {
    pub principal: Principal,
    pub action: String,
    pub resource: String,
    pub context: Context,
}

/// Where statements come from, for citing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A resource's policy (key, queue, bucket): `Principal` decides who it is about.
    Resource,
    /// A role's trust policy: like a resource policy, about the role itself (no `Resource`).
    Trust,
    /// An identity policy or permissions boundary: about the role it is attached to.
    Identity,
}

/// A statement, a grant or a simulator result that took part in a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Cited {
    /// Where it lives: "key policy", "inline policy `X` of the role".
    pub source: String,
    /// "statement 2 (Sid `X`)", "grant `id`".
    pub label: String,
    /// The statement or grant itself.
    pub body: Value,
    /// What it did here: "allows", "denies", "may allow: …".
    pub effect: String,
}

impl Cited {
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("source".into(), Value::from(self.source.clone()));
        map.insert("statement".into(), Value::from(self.label.clone()));
        map.insert("effect".into(), Value::from(self.effect.clone()));
        map.insert("body".into(), self.body.clone());
        Value::Object(map)
    }

    /// "statement 3 (Sid `X`) of the key policy denies".
    pub fn line(&self) -> String {
        format!("{} {}", self.name(), self.effect)
    }

    /// "statement 3 (Sid `X`) of the key policy".
    pub fn name(&self) -> String {
        format!("{} of the {}", self.label, self.source)
    }
}

/// What one policy says about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyAnswer {
    /// An explicit deny applies.
    pub deny: Tri,
    /// A statement allows the principal itself (or anyone).
    pub direct: Tri,
    /// A statement allows the principal's account, delegating to its IAM policies.
    pub account: Tri,
    pub cited: Vec<Cited>,
}

impl PolicyAnswer {
    fn nothing() -> PolicyAnswer {
        PolicyAnswer {
            deny: Tri::No,
            direct: Tri::No,
            account: Tri::No,
            cited: Vec::new(),
        }
    }

    /// Whether some statement allows, directly or through the account.
    pub fn allows(&self) -> Tri {
        self.direct.or(self.account)
    }
}

/// The statements of a policy, whether `Statement` holds an array or one statement.
pub fn statements(policy: &Value) -> Vec<&Value> {
    match &policy["Statement"] {
        Value::Array(list) => list.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

/// Evaluates every statement of `policy` for `request`.
pub fn evaluate_policy(
    policy: &Value,
    source: &str,
    kind: PolicyKind,
    request: &Request,
) -> PolicyAnswer {
    let mut answer = PolicyAnswer::nothing();
    for (index, statement) in statements(policy).into_iter().enumerate() {
        let deny = statement["Effect"] == "Deny";
        let outcome = statement_applies(statement, kind, request);
        let (applies, reach, why) = match outcome {
            Applies::No => continue,
            Applies::Yes(reach) => (Tri::Yes, reach, None),
            Applies::Maybe(reach, why) => (Tri::Maybe, reach, Some(why)),
        };
        let verb = if deny { "denies" } else { "allows" };
        let effect = match (&why, reach) {
            (None, Reach::Direct) => verb.to_string(),
            (None, Reach::Account) => format!("{verb} the principal's account (IAM decides)"),
            (Some(why), _) => format!("may {}: {why}", verb.trim_end_matches('s')),
        };
        answer.cited.push(Cited {
            source: source.to_string(),
            label: statement_label(statement, index),
            body: statement.clone(),
            effect,
        });
        if deny {
            answer.deny = answer.deny.or(applies);
        } else if reach == Reach::Direct {
            answer.direct = answer.direct.or(applies);
        } else {
            answer.account = answer.account.or(applies);
        }
    }
    answer
}

/// Whom a matching statement reaches: the principal itself, or its account as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Direct,
    Account,
}

enum Applies {
    No,
    Yes(Reach),
    Maybe(Reach, String),
}

fn statement_applies(statement: &Value, kind: PolicyKind, request: &Request) -> Applies {
    let mut doubts = Vec::new();
    let reach = if kind == PolicyKind::Identity {
        Reach::Direct
    } else {
        match principal_matches(statement, request) {
            Match::No => return Applies::No,
            Match::Yes(reach) => reach,
            Match::Maybe(reach, why) => {
                doubts.push(why);
                reach
            }
        }
    };
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), _) => any_pattern(actions, |p| action_matches(p, &request.action)),
        (None, Some(excluded)) => !any_pattern(excluded, |p| action_matches(p, &request.action)),
        (None, None) => false,
    };
    if !action {
        return Applies::No;
    }
    let resource = match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(resources), _) => any_pattern(resources, |p| arn_like(p, &request.resource)),
        (None, Some(excluded)) => !any_pattern(excluded, |p| arn_like(p, &request.resource)),
        // A trust policy has no Resource: it is about the role it belongs to.
        (None, None) => kind == PolicyKind::Trust,
    };
    if !resource {
        return Applies::No;
    }
    match conditions(statement.get("Condition"), &request.context) {
        Tri::No => return Applies::No,
        Tri::Yes => {}
        Tri::Maybe => doubts.push(condition_doubt(
            statement.get("Condition"),
            &request.context,
        )),
    }
    if doubts.is_empty() {
        Applies::Yes(reach)
    } else {
        Applies::Maybe(reach, doubts.join("; "))
    }
}

fn any_pattern(value: &Value, matches: impl Fn(&str) -> bool) -> bool {
    strings(value).is_some_and(|patterns| patterns.into_iter().any(matches))
}

enum Match {
    No,
    Yes(Reach),
    Maybe(Reach, String),
}

fn principal_matches(statement: &Value, request: &Request) -> Match {
    if let Some(excluded) = statement.get("NotPrincipal") {
        if statement["Effect"] != "Deny" {
            return Match::Maybe(
                Reach::Direct,
                "`NotPrincipal` in an Allow statement is not evaluated".into(),
            );
        }
        return match names_principal(excluded, request) {
            Match::No => Match::Yes(Reach::Direct),
            Match::Yes(Reach::Direct) => Match::No,
            Match::Yes(Reach::Account) | Match::Maybe(..) => Match::Maybe(
                Reach::Direct,
                "`NotPrincipal` names the principal's account, whose effect on a role is not \
                 evaluated"
                    .into(),
            ),
        };
    }
    match statement.get("Principal") {
        Some(principal) => names_principal(principal, request),
        None => Match::No,
    }
}

/// Whether a `Principal` value names the request's principal.
fn names_principal(principal: &Value, request: &Request) -> Match {
    if principal == "*" {
        return Match::Yes(Reach::Direct);
    }
    let Some(entries) = principal.as_object() else {
        return Match::No;
    };
    let mut best = Match::No;
    for (kind, value) in entries {
        for name in strings(value).unwrap_or_default() {
            let found = match (kind.as_str(), &request.principal) {
                (_, _) if name == "*" && kind == "AWS" => Match::Yes(Reach::Direct),
                ("AWS", Principal::Role { arn, id }) => role_named(name, arn, id.as_deref()),
                ("Service", Principal::Service(service)) if name == service => {
                    Match::Yes(Reach::Direct)
                }
                ("Federated", Principal::Federated(provider)) if name == provider => {
                    Match::Yes(Reach::Direct)
                }
                _ => Match::No,
            };
            best = match (best, found) {
                (Match::Yes(Reach::Direct), _) | (_, Match::Yes(Reach::Direct)) => {
                    Match::Yes(Reach::Direct)
                }
                (Match::Yes(Reach::Account), _) | (_, Match::Yes(Reach::Account)) => {
                    Match::Yes(Reach::Account)
                }
                (Match::Maybe(reach, why), _) | (_, Match::Maybe(reach, why)) => {
                    Match::Maybe(reach, why)
                }
                (Match::No, Match::No) => Match::No,
            };
        }
    }
    best
}

fn role_named(name: &str, role: &RoleArn, id: Option<&str>) -> Match {
    if name == role.as_str() || id == Some(name) {
        return Match::Yes(Reach::Direct);
    }
    if name == role.account() || name == role.account_root() {
        return Match::Yes(Reach::Account);
    }
    let session_prefix = format!(
        "arn:{}:sts::{}:assumed-role/{}/",
        role.partition(),
        role.account(),
        role.name()
    );
    if name.starts_with(&session_prefix) {
        return Match::Maybe(
            Reach::Direct,
            format!("`{name}` names one session of the role, not the role"),
        );
    }
    Match::No
}

/// `ArnLike` matching: each of the six colon-separated fields is matched on its own, so a
/// wildcard never crosses a colon; `*` alone matches everything.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern_fields: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_fields: Vec<&str> = arn.splitn(6, ':').collect();
    if pattern_fields.len() != 6 || arn_fields.len() != 6 {
        return pattern == arn;
    }
    pattern_fields
        .iter()
        .zip(&arn_fields)
        .all(|(p, a)| wildcard_match(p.as_bytes(), a.as_bytes()))
}

/// A condition operator, split into its parts.
struct Operator<'a> {
    set: Option<SetOperator>,
    base: &'a str,
    if_exists: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    AnyValue,
    AllValues,
}

fn parse_operator(name: &str) -> Operator<'_> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(SetOperator::AnyValue), rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(SetOperator::AllValues), rest)
    } else {
        (None, name)
    };
    match rest.strip_suffix("IfExists") {
        Some(base) => Operator {
            set,
            base,
            if_exists: true,
        },
        None => Operator {
            set,
            base: rest,
            if_exists: false,
        },
    }
}

/// The operators evaluated, and whether each is a negation (true when the key is absent).
const OPERATORS: [(&str, bool); 14] = [
    ("StringEquals", false),
    ("StringNotEquals", true),
    ("StringEqualsIgnoreCase", false),
    ("StringNotEqualsIgnoreCase", true),
    ("StringLike", false),
    ("StringNotLike", true),
    ("ArnEquals", false),
    ("ArnLike", false),
    ("ArnNotEquals", true),
    ("ArnNotLike", true),
    ("Bool", false),
    ("NumericEquals", false),
    ("NumericNotEquals", true),
    ("Null", false),
];

/// All condition blocks together (they are ANDed).
fn conditions(condition: Option<&Value>, context: &Context) -> Tri {
    let Some(blocks) = condition.and_then(Value::as_object) else {
        return Tri::Yes;
    };
    let mut result = Tri::Yes;
    for (operator, keys) in blocks {
        let Some(keys) = keys.as_object() else {
            return Tri::Maybe;
        };
        for (key, values) in keys {
            result = result.and(condition_holds(operator, key, values, context).0);
        }
    }
    result
}

/// Why the conditions could not be decided: each undecided operator and key.
fn condition_doubt(condition: Option<&Value>, context: &Context) -> String {
    let mut why = Vec::new();
    if let Some(blocks) = condition.and_then(Value::as_object) {
        for (operator, keys) in blocks {
            for (key, values) in keys.as_object().into_iter().flatten() {
                if let (Tri::Maybe, Some(reason)) = condition_holds(operator, key, values, context)
                {
                    why.push(reason);
                }
            }
        }
    }
    if why.is_empty() {
        "a condition could not be read".into()
    } else {
        why.join("; ")
    }
}

fn condition_holds(
    operator_name: &str,
    key: &str,
    values: &Value,
    context: &Context,
) -> (Tri, Option<String>) {
    let operator = parse_operator(operator_name);
    let Some(&(_, negated)) = OPERATORS.iter().find(|(name, _)| *name == operator.base) else {
        return (
            Tri::Maybe,
            Some(format!(
                "the operator `{operator_name}` (on `{key}`) is not evaluated"
            )),
        );
    };
    let Some(policy_values) = strings(values).or_else(|| scalar_strings(values)) else {
        return (
            Tri::Maybe,
            Some(format!(
                "`{operator_name}` on `{key}` has values that are not text"
            )),
        );
    };
    let Some(known) = context.lookup(key) else {
        return (
            Tri::Maybe,
            Some(format!(
                "the value of `{key}` in this request is not known (`{operator_name}`)"
            )),
        );
    };
    if operator.base == "Null" {
        let wants_absent = policy_values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return (Tri::from_bool(wants_absent == known.is_none()), None);
    }
    let Some(request_values) = known else {
        // The key is absent: IfExists and negated operators hold, others do not.
        let holds = operator.if_exists || negated || operator.set == Some(SetOperator::AllValues);
        return (Tri::from_bool(holds), None);
    };
    let mut resolved = Vec::new();
    for value in &policy_values {
        match substitute(value, context) {
            Some(value) => resolved.push(value),
            None => {
                return (
                    Tri::Maybe,
                    Some(format!(
                        "the policy variable in `{value}` (`{key}`) is not known"
                    )),
                );
            }
        }
    }
    let one = |request_value: &str| -> Option<bool> {
        let mut any = false;
        for policy_value in &resolved {
            any |= value_matches(operator.base, policy_value, request_value)?;
        }
        Some(if negated { !any } else { any })
    };
    let mut results = Vec::new();
    for value in request_values {
        match one(value) {
            Some(result) => results.push(result),
            None => {
                return (
                    Tri::Maybe,
                    Some(format!(
                        "`{operator_name}` cannot compare `{key}` value `{value}`"
                    )),
                );
            }
        }
    }
    let holds = match operator.set {
        Some(SetOperator::AllValues) => results.iter().all(|r| *r),
        Some(SetOperator::AnyValue) | None => results.iter().any(|r| *r),
    };
    (Tri::from_bool(holds), None)
}

/// Booleans and numbers written without quotes.
fn scalar_strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::Bool(true) => Some(vec!["true"]),
        Value::Bool(false) => Some(vec!["false"]),
        _ => None,
    }
}

/// Replaces `${key}` policy variables with the request's values; `None` when one is unknown.
fn substitute(value: &str, context: &Context) -> Option<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let name = &rest[start + 2..end];
        match name {
            "*" | "?" | "$" => out.push_str(name),
            _ => {
                let values = context.lookup(name)?.as_ref()?;
                let [only] = values.as_slice() else {
                    return None;
                };
                out.push_str(only);
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `None` when the values cannot be compared (a number that is not one).
fn value_matches(base: &str, policy: &str, request: &str) -> Option<bool> {
    Some(match base {
        "StringEquals" | "StringNotEquals" | "ArnEquals" | "ArnNotEquals" => policy == request,
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            policy.eq_ignore_ascii_case(request)
        }
        "StringLike" | "StringNotLike" => wildcard_match(policy.as_bytes(), request.as_bytes()),
        "ArnLike" | "ArnNotLike" => arn_like(policy, request),
        "Bool" => policy.eq_ignore_ascii_case(request),
        "NumericEquals" | "NumericNotEquals" => {
            policy.parse::<f64>().ok()? == request.parse::<f64>().ok()?
        }
        _ => return None,
    })
}

/// A KMS grant, as `ListGrants` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub grantee: String,
    /// Operation names without the `kms:` prefix (`Decrypt`).
    pub operations: Vec<String>,
    pub context_subset: Option<BTreeMap<String, String>>,
    pub context_equals: Option<BTreeMap<String, String>>,
}

impl Grant {
    fn to_json(&self) -> Value {
        serde_json::json!({
            "GrantId": self.id,
            "GranteePrincipal": self.grantee,
            "Operations": self.operations,
            "Constraints": {
                "EncryptionContextSubset": self.context_subset,
                "EncryptionContextEquals": self.context_equals,
            },
        })
    }
}

/// Whether a grant lets the request's principal perform its action.
pub fn evaluate_grants(grants: &[Grant], source: &str, request: &Request) -> PolicyAnswer {
    let mut answer = PolicyAnswer::nothing();
    let Principal::Role { arn, .. } = &request.principal else {
        return answer;
    };
    let operation = request.action.trim_start_matches("kms:");
    for grant in grants {
        if grant.grantee != arn.as_str() || !grant.operations.iter().any(|o| o == operation) {
            continue;
        }
        let applies = match (&grant.context_subset, &grant.context_equals) {
            (None, None) => Tri::Yes,
            (subset, equals) => match request.context.encryption_context() {
                None => Tri::Maybe,
                Some(pairs) => {
                    let subset_ok = subset
                        .as_ref()
                        .is_none_or(|want| want.iter().all(|(k, v)| pairs.get(k) == Some(v)));
                    let equals_ok = equals.as_ref().is_none_or(|want| *want == pairs);
                    Tri::from_bool(subset_ok && equals_ok)
                }
            },
        };
        if applies == Tri::No {
            continue;
        }
        answer.direct = answer.direct.or(applies);
        answer.cited.push(Cited {
            source: source.to_string(),
            label: format!("grant `{}`", grant.id),
            body: grant.to_json(),
            effect: if applies == Tri::Yes {
                "allows".into()
            } else {
                "may allow: its encryption context constraint cannot be checked".into()
            },
        });
    }
    answer
}

/// What `iam:SimulatePrincipalPolicy` said about one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulated {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
    /// `Some(false)` when an SCP keeps the action out.
    pub allowed_by_organizations: Option<bool>,
    /// Condition keys the simulation needed and did not get.
    pub missing_context: Vec<String>,
    /// The statements it matched, as `policy-id` names.
    pub matched: Vec<String>,
}

/// The role's own side: its identity policies and permissions boundary, evaluated here, and the
/// simulator's answer, which also sees SCPs.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySide {
    pub allow: Tri,
    pub deny: Tri,
    pub cited: Vec<Cited>,
}

/// Evaluates the role's identity policies (`(source, document)` pairs), its permissions boundary
/// when it has one, and folds in the simulator's answer when there is one.
pub fn identity_side(
    policies: &[(String, Value)],
    boundary: Option<&(String, Value)>,
    simulated: Option<&Simulated>,
    request: &Request,
) -> IdentitySide {
    let mut allow = Tri::No;
    let mut deny = Tri::No;
    let mut cited = Vec::new();
    for (source, document) in policies {
        let answer = evaluate_policy(document, source, PolicyKind::Identity, request);
        allow = allow.or(answer.direct);
        deny = deny.or(answer.deny);
        cited.extend(answer.cited);
    }
    if let Some((source, document)) = boundary {
        let answer = evaluate_policy(document, source, PolicyKind::Identity, request);
        if answer.direct == Tri::No {
            cited.push(Cited {
                source: source.clone(),
                label: "the permissions boundary".into(),
                body: document.clone(),
                effect: "does not allow the action".into(),
            });
        }
        allow = allow.and(answer.direct);
        deny = deny.or(answer.deny);
        cited.extend(answer.cited);
    }
    let Some(simulated) = simulated else {
        return IdentitySide { allow, deny, cited };
    };
    let (sim_allow, sim_deny) = match simulated.decision.as_str() {
        "allowed" if simulated.missing_context.is_empty() => (Tri::Yes, Tri::No),
        "allowed" => (Tri::Maybe, Tri::No),
        "explicitDeny" => (Tri::No, Tri::Yes),
        _ if simulated.allowed_by_organizations == Some(false) => (Tri::No, Tri::Yes),
        _ => (Tri::No, Tri::No),
    };
    let effect = match (
        simulated.decision.as_str(),
        simulated.allowed_by_organizations,
    ) {
        (_, Some(false)) => "denies: an SCP of the organization keeps the action out".to_string(),
        ("allowed", _) if !simulated.missing_context.is_empty() => format!(
            "allows only if its conditions hold (it lacked {})",
            simulated.missing_context.join(", ")
        ),
        (decision, _) => format!("says `{decision}`"),
    };
    cited.push(Cited {
        source: "IAM policy simulator (identity policies, boundary, SCPs)".into(),
        label: "the answer".into(),
        body: serde_json::json!({
            "EvalDecision": simulated.decision,
            "MatchedStatements": simulated.matched,
            "MissingContextValues": simulated.missing_context,
            "AllowedByOrganizations": simulated.allowed_by_organizations,
        }),
        effect,
    });
    // The simulator sees what this evaluator cannot (SCPs), so its denial stands; where it
    // allows only under conditions it could not check, the local answer may settle it.
    let allow = match sim_allow {
        Tri::Maybe => allow,
        decided => decided,
    };
    IdentitySide {
        allow,
        deny: deny.or(sim_deny),
        cited,
    }
}

/// How the policies combine for the resource at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// A KMS key: the key policy must allow the principal or delegate to its account.
    KmsKey,
    /// A queue or bucket: in the principal's own account, either side suffices.
    Resource,
    /// A trust policy, or a service principal: only the resource's policy counts.
    ResourceOnly,
}

/// The answer to one request, with what decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    pub action: String,
    pub explanation: String,
    /// The statements (and grants, and simulator answers) that decided.
    pub deciding: Vec<Cited>,
}

/// Combines the resource's policy, the grants and the identity side into one decision.
pub fn decide(
    combine: Combine,
    resource_policy: &PolicyAnswer,
    grants: Option<&PolicyAnswer>,
    identity: Option<&IdentitySide>,
    same_account: bool,
    request: &Request,
) -> Evaluation {
    let grant = grants.map_or(Tri::No, |g| g.direct);
    let (id_allow, id_deny) = identity.map_or((Tri::No, Tri::No), |i| (i.allow, i.deny));
    let direct = resource_policy.direct;
    let account = resource_policy.account;
    let path = match combine {
        Combine::ResourceOnly => direct,
        Combine::KmsKey if same_account => direct.or(account.and(id_allow)).or(grant),
        Combine::KmsKey => direct.or(account).and(id_allow).or(grant),
        Combine::Resource if same_account => direct.or(id_allow),
        Combine::Resource => direct.or(account).and(id_allow),
    };
    let deny = resource_policy.deny.or(id_deny);
    let decision = match (deny, path) {
        (Tri::Yes, _) | (_, Tri::No) => Decision::Deny,
        (Tri::No, Tri::Yes) => Decision::Allow,
        _ => Decision::CannotDetermine,
    };

    let mut all: Vec<&Cited> = resource_policy.cited.iter().collect();
    if let Some(grants) = grants {
        all.extend(&grants.cited);
    }
    if let Some(identity) = identity {
        all.extend(&identity.cited);
    }
    let deciding: Vec<Cited> = match decision {
        Decision::Deny if deny == Tri::Yes => all
            .into_iter()
            .filter(|c| c.effect.starts_with("denies"))
            .cloned()
            .collect(),
        Decision::Allow => allowing(combine, resource_policy, grants, identity, same_account),
        _ => all.into_iter().cloned().collect(),
    };
    let who = request.principal.describe();
    let action = &request.action;
    let explanation = match decision {
        Decision::Allow => format!("{who} may `{action}`"),
        Decision::Deny if deny == Tri::Yes => {
            format!("an explicit deny keeps {who} from `{action}`")
        }
        Decision::Deny => denial_explanation(combine, resource_policy, id_allow, same_account)
            .replace("{who}", &who)
            .replace("{action}", action),
        Decision::CannotDetermine => format!(
            "whether {who} may `{action}` depends on what cannot be known from here: {}",
            deciding
                .iter()
                .filter(|c| c.effect.starts_with("may"))
                .map(Cited::line)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    Evaluation {
        decision,
        action: action.clone(),
        explanation,
        deciding,
    }
}

/// The statements that made an allowed request allowed: the principal's own statement where
/// there is one, else a grant, else the account's statement together with the identity side.
fn allowing(
    combine: Combine,
    resource_policy: &PolicyAnswer,
    grants: Option<&PolicyAnswer>,
    identity: Option<&IdentitySide>,
    same_account: bool,
) -> Vec<Cited> {
    let certain = |cited: &[Cited], prefix: &str| -> Vec<Cited> {
        cited
            .iter()
            .filter(|c| c.effect.starts_with(prefix))
            .cloned()
            .collect()
    };
    let direct_statements = |policy: &PolicyAnswer| -> Vec<Cited> {
        policy
            .cited
            .iter()
            .filter(|c| c.effect == "allows")
            .cloned()
            .collect()
    };
    let identity_allows = || -> Vec<Cited> {
        identity.map_or_else(Vec::new, |side| {
            let mut cited = certain(&side.cited, "allows");
            cited.extend(certain(&side.cited, "says `allowed`"));
            cited
        })
    };
    let needs_identity = !same_account || combine == Combine::KmsKey;
    if resource_policy.direct == Tri::Yes && (same_account || combine == Combine::ResourceOnly) {
        return direct_statements(resource_policy);
    }
    if let Some(grants) = grants.filter(|g| g.direct == Tri::Yes) {
        return certain(&grants.cited, "allows");
    }
    let mut cited = if resource_policy.direct == Tri::Yes {
        direct_statements(resource_policy)
    } else if needs_identity {
        certain(&resource_policy.cited, "allows the principal's account")
    } else {
        Vec::new()
    };
    cited.extend(identity_allows());
    cited
}

fn denial_explanation(
    combine: Combine,
    resource_policy: &PolicyAnswer,
    id_allow: Tri,
    same_account: bool,
) -> String {
    let resource = match combine {
        Combine::KmsKey => "the key policy",
        Combine::Resource => "the resource policy",
        Combine::ResourceOnly => "the policy",
    };
    match (
        combine,
        resource_policy.direct,
        resource_policy.account,
        id_allow,
    ) {
        (Combine::ResourceOnly, ..) => {
            format!("no statement of {resource} allows {{who}} `{{action}}`")
        }
        (_, Tri::No, Tri::No, _) if combine == Combine::KmsKey || !same_account => format!(
            "{resource} neither names {{who}} nor delegates to its account, so no IAM policy \
             can let it `{{action}}`"
        ),
        (_, _, _, Tri::No) if !same_account => format!(
            "{resource} allows it, but across accounts the role's own IAM policies must allow \
             `{{action}}` as well, and none does"
        ),
        (Combine::KmsKey, _, _, Tri::No) => format!(
            "{resource} delegates to the role's account, but none of the role's IAM policies \
             allows `{{action}}` on the key"
        ),
        _ => "no statement allows {who} `{action}`".to_string(),
    }
}

/// The role's identity policies as the evaluator needs them.
#[derive(Debug, Clone, Copy)]
pub struct RolePolicies<'a> {
    pub role: &'a RoleArn,
    /// The role's unique ID (`AROA…`), which a key policy may show instead of its ARN.
    pub role_id: Option<&'a str>,
    /// Inline and attached policies, as `(source, document)`.
    pub identity: &'a [(String, Value)],
    pub boundary: Option<&'a (String, Value)>,
}

/// May the role perform `action` on a KMS key, given the key policy, its grants and the role's
/// own policies (and the simulator's answer for this action on this key, when there is one)?
#[allow(clippy::too_many_arguments)]
pub fn role_on_key(
    role: RolePolicies<'_>,
    key_arn: &str,
    key_account: &str,
    key_policy: &Value,
    grants: &[Grant],
    simulated: Option<&Simulated>,
    action: &str,
    context: Context,
) -> Evaluation {
    let request = Request {
        principal: Principal::Role {
            arn: role.role.clone(),
            id: role.role_id.map(str::to_string),
        },
        action: action.to_string(),
        resource: key_arn.to_string(),
        context,
    };
    let policy = evaluate_policy(key_policy, "key policy", PolicyKind::Resource, &request);
    let grants = evaluate_grants(grants, "key's grants", &request);
    let identity = identity_side(role.identity, role.boundary, simulated, &request);
    decide(
        Combine::KmsKey,
        &policy,
        Some(&grants),
        Some(&identity),
        key_account == role.role.account(),
        &request,
    )
}

/// May the role perform `action` on a queue or bucket, given its resource policy (if any) and
/// the role's own policies?
pub fn role_on_resource(
    role: RolePolicies<'_>,
    resource_arn: &str,
    resource_account: Option<&str>,
    resource_policy: Option<(&str, &Value)>,
    simulated: Option<&Simulated>,
    action: &str,
    context: Context,
) -> Evaluation {
    let request = Request {
        principal: Principal::Role {
            arn: role.role.clone(),
            id: role.role_id.map(str::to_string),
        },
        action: action.to_string(),
        resource: resource_arn.to_string(),
        context,
    };
    let policy = match resource_policy {
        Some((source, document)) => {
            evaluate_policy(document, source, PolicyKind::Resource, &request)
        }
        None => PolicyAnswer::nothing(),
    };
    let identity = identity_side(role.identity, role.boundary, simulated, &request);
    let same_account = resource_account.is_none_or(|account| account == role.role.account());
    decide(
        Combine::Resource,
        &policy,
        None,
        Some(&identity),
        same_account,
        &request,
    )
}

/// May a service (or a federated identity, for a trust policy) perform `action` on the
/// resource? Only the resource's own policy counts.
pub fn principal_on_policy(
    principal: Principal,
    policy: &Value,
    source: &str,
    kind: PolicyKind,
    action: &str,
    resource: &str,
    context: Context,
) -> Evaluation {
    let request = Request {
        principal,
        action: action.to_string(),
        resource: resource.to_string(),
        context,
    };
    let answer = evaluate_policy(policy, source, kind, &request);
    decide(Combine::ResourceOnly, &answer, None, None, true, &request)
}

/// The request context when S3 decrypts an object for the role (a forward access session):
/// the S3 endpoint of the bucket's region, the role's account, and the encryption context S3
/// uses, the object's ARN, or the bucket's with an S3 Bucket Key. Keys S3 may or may not add
/// (`aws:SourceAccount`, `aws:SourceIp`, tags, organization) stay unknown.
pub fn s3_decrypt_context(role: &RoleArn, bucket_region: &str, encryption_arn: &str) -> Context {
    Context::new()
        .with(
            "kms:ViaService",
            format!("s3.{bucket_region}.amazonaws.com"),
        )
        .with("kms:CallerAccount", role.account())
        .with("aws:PrincipalArn", role.as_str())
        .with("aws:PrincipalAccount", role.account())
        .with("kms:EncryptionContext:aws:s3:arn", encryption_arn)
        .with_values("kms:EncryptionContextKeys", &["aws:s3:arn"])
}

/// The request context of a call the role makes itself (`kms:DescribeKey`, SQS actions).
pub fn direct_call_context(role: &RoleArn) -> Context {
    Context::new()
        .with("kms:CallerAccount", role.account())
        .with("aws:PrincipalArn", role.as_str())
        .with("aws:PrincipalAccount", role.account())
}

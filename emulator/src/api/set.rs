//! One `VPNFailoverGroup` entity of a `<Set>`: its `GroupDetail` (added or
//! updated by the operation), then its Active or DeActive, validated as a
//! whole before anything changes, answered with one status.

use super::{ActionKind, Context, Group, GroupAction, State, entity_status_of, forced_code, status_text};
use crate::group::{self, Definition};
use crate::xml::Element;

/// A refusal: the status code and why (for the request log).
type Refusal = (u32, String);

/// Handles one entity and returns its status element.
pub(super) fn set(
    operation: Option<&str>,
    entity: &Element,
    ctx: &Context<'_>,
    state: &mut State,
    actions: &mut Vec<GroupAction>,
) -> String {
    let kind = match operation {
        Some("add") => ActionKind::Add,
        None => ActionKind::AddOrUpdate,
        Some(_) => ActionKind::Update,
    };
    let detail = entity.child("GroupDetail");
    let switch = switch(entity);
    let detail_name = detail.and_then(|d| d.child_text("Name"));
    let name = detail_name.or(switch.map(|(_, n)| n)).unwrap_or_default().to_string();
    let existed = state.groups.contains_key(&name);
    let (code, note) = outcome(operation, entity, kind, ctx, state);
    let shown = match (detail, switch) {
        (Some(_), _) if kind == ActionKind::AddOrUpdate && !existed => ActionKind::Add,
        (Some(_), _) | (None, None) => kind,
        (None, Some((action, _))) => action,
    };
    let mut record = |group: &str, action| {
        let (group, code, note) = (group.to_string(), Some(code), note.clone());
        actions.push(GroupAction {
            group,
            action,
            code,
            note,
        });
    };
    if detail.is_some() || switch.is_none() {
        record(&name, kind);
    }
    if let Some((action, group)) = switch {
        record(group, action);
    }
    entity_status_of(
        ctx,
        code,
        &status_text(ctx.texts, code, shown, &name),
        switch.map(|(a, _)| a),
    )
}

/// Applies the entity unless a fault or a refusal stops it; the code and
/// a note for the log.
fn outcome(
    operation: Option<&str>,
    entity: &Element,
    kind: ActionKind,
    ctx: &Context<'_>,
    state: &mut State,
) -> (u32, String) {
    if let Some(code) = forced_code(ctx) {
        return (code, "fault".to_string());
    }
    if let Some(op) = operation.filter(|op| *op != "add" && *op != "update") {
        return (500, format!("operation {op:?}"));
    }
    match validate(entity, kind, ctx, state) {
        Ok(definition) => {
            commit(definition, switch(entity), ctx, state);
            (200, String::new())
        }
        Err(refusal) => refusal,
    }
}

/// The entity's Active or DeActive and the name it carries.
fn switch(entity: &Element) -> Option<(ActionKind, &str)> {
    if let Some(active) = entity.child("Active") {
        return Some((ActionKind::Active, active.child_text("Name").unwrap_or_default()));
    }
    let deactive = entity.child("DeActive")?;
    Some((ActionKind::DeActive, deactive.child_text("Name").unwrap_or_default()))
}

/// Checks the whole entity against the store; returns the definition to
/// write, if the entity has one.
fn validate(
    entity: &Element,
    kind: ActionKind,
    ctx: &Context<'_>,
    state: &State,
) -> Result<Option<Definition>, Refusal> {
    let fields = ["GroupDetail", "Active", "DeActive"];
    if let Some(odd) = entity.children.iter().find(|c| !fields.contains(&c.name.as_str())) {
        return Err((500, format!("unknown element <{}>", odd.name)));
    }
    if entity.child("Active").is_some() && entity.child("DeActive").is_some() {
        return Err((500, "both Active and DeActive".to_string()));
    }
    let definition = match entity.child("GroupDetail") {
        Some(detail) => Some(group::parse(detail, ctx.config.spellings).map_err(|why| (500, why))?),
        None => None,
    };
    if let Some(def) = &definition {
        match (kind, state.groups.contains_key(&def.name)) {
            (ActionKind::Add, true) => return Err((502, "exists".to_string())),
            (ActionKind::Update, false) => return Err((500, "unknown group".to_string())),
            _ => {}
        }
    }
    match switch(entity) {
        None if definition.is_none() => Err((500, "nothing to do".to_string())),
        Some((_, name)) => {
            let defined = definition.as_ref().is_some_and(|d| d.name == name);
            if defined || state.groups.contains_key(name) {
                Ok(definition)
            } else {
                Err((500, format!("unknown group {name:?}")))
            }
        }
        None => Ok(definition),
    }
}

/// Writes a validated entity: the definition (an existing group keeps its
/// flag), then the switch.
fn commit(definition: Option<Definition>, switch: Option<(ActionKind, &str)>, ctx: &Context<'_>, state: &mut State) {
    if let Some(definition) = definition {
        let existing = state.groups.get(&definition.name);
        let active = existing.map_or(ctx.config.added_active, |g| g.active);
        state
            .groups
            .insert(definition.name.clone(), Group { definition, active });
    }
    if let Some((action, name)) = switch
        && let Some(group) = state.groups.get_mut(name)
    {
        group.active = action == ActionKind::Active;
        if let Some(t) = &state.tunnels {
            t.switched(&group.definition.members, group.active);
        }
    }
}

//! Voice menus (`menus`): the routing crate's [`MenuConfig`] JSON, validated by parsing it.
//!
//! The row's id and name are the truth; the stored JSON carries the same `id` and `name`, so call control
//! can use the parsed [`MenuConfig`] as it is. Menu options are checked for shape only (the routing
//! crate's parser): menus may point at each other ("0 for the main menu"), which existence checks on
//! write would make impossible to set up. Deleting something a menu still routes to is refused instead
//! (see [`menu_referrers`]).

use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use switchboard_routing::menu::{format_target, MenuChoice, MenuConfig};

use crate::config::{check_name, TargetKind, MAX_NAME_CHARS};
use crate::{unix_now, Db, SchemaError};

/// A stored menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Menu {
    /// Database id; numbers and other menus refer to it (`menu:ID`).
    pub id: i64,
    /// Unique name (the same as `config.name`).
    pub name: String,
    /// The parsed configuration; its `id` is this row's id.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: MenuConfig,
    /// When it was created, unix seconds.
    pub created_at: i64,
}

fn menu_from_row(row: &AnyRow) -> Result<Menu, sqlx::Error> {
    let json: String = row.try_get("config_json")?;
    let config: MenuConfig = serde_json::from_str(&json).map_err(|e| {
        sqlx::Error::Decode(format!("menu config in the database does not parse: {e}").into())
    })?;
    Ok(Menu {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        config,
        created_at: row.try_get("created_at")?,
    })
}

/// The menu JSON as a map, its name checked. `id` is the menu's id when updating: a body that carries
/// another one is refused.
fn check_body(
    body: &Value,
    id: Option<i64>,
) -> Result<(serde_json::Map<String, Value>, String), SchemaError> {
    let Value::Object(map) = body else {
        return Err(SchemaError::invalid(
            "body",
            "must be a menu configuration (a JSON object)",
        ));
    };
    let name = match map.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(SchemaError::invalid("name", "must be a string")),
        None => return Err(SchemaError::invalid("name", "is required")),
    };
    check_name("name", &name, MAX_NAME_CHARS)?;
    if let (Some(id), Some(given)) = (id, map.get("id")) {
        if given.as_i64() != Some(id) {
            return Err(SchemaError::invalid(
                "id",
                format!("is the menu's id ({id}) and cannot be changed"),
            ));
        }
    }
    Ok((map.clone(), name))
}

/// Parses the configuration as routing does, with `id` set to the row's, and names the field a
/// failure concerns where the message says it.
fn parse_config(mut map: serde_json::Map<String, Value>, id: i64) -> Result<String, SchemaError> {
    map.insert("id".to_owned(), Value::from(id));
    let config: MenuConfig = serde_json::from_value(Value::Object(map)).map_err(|e| {
        let message = e.to_string();
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let field = named.unwrap_or_else(|| {
            if message.contains("is not a key") || message.contains("is not a menu choice") {
                "options".to_owned()
            } else {
                "body".to_owned()
            }
        });
        SchemaError::invalid(field, message)
    })?;
    // Stored as routing writes it, so that every field has its explicit value.
    serde_json::to_string(&config)
        .map_err(|e| SchemaError::invalid("body", format!("cannot be stored: {e}")))
}

fn name_conflict(err: sqlx::Error, name: &str) -> SchemaError {
    if SchemaError::is_unique_violation(&err) {
        SchemaError::Conflict(format!("a menu named {name:?} already exists"))
    } else {
        err.into()
    }
}

/// Menus whose options or failure target route to `(kind, target_ref)`, for error messages.
pub(crate) async fn menu_referrers(
    tx: &mut Transaction<'static, Any>,
    kind: TargetKind,
    target_ref: &str,
) -> Result<Vec<String>, SchemaError> {
    let wanted = format!("{}:{target_ref}", kind.as_str());
    let mut out = Vec::new();
    for menu in menus_in(tx).await? {
        let config = &menu.config;
        let options = config.options.values().filter_map(|choice| match choice {
            MenuChoice::Target(target) => Some(target),
            _ => None,
        });
        if options
            .chain(config.on_failure.as_ref())
            .chain(config.closed.as_ref())
            .any(|target| format_target(target) == wanted)
        {
            out.push(format!("menu {} ({:?})", menu.id, menu.name));
        }
    }
    Ok(out)
}

/// Every menu that parses, read inside `tx`, by id. A row that no longer parses cannot route
/// anywhere, so it must not block deletes either.
pub(crate) async fn menus_in(tx: &mut Transaction<'static, Any>) -> Result<Vec<Menu>, SchemaError> {
    let rows = sqlx::query("SELECT id, name, config_json, created_at FROM menus ORDER BY id")
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.iter().filter_map(|r| menu_from_row(r).ok()).collect())
}

/// A menu's schedule must exist (checked inside the write's transaction).
async fn check_schedule(
    tx: &mut Transaction<'static, Any>,
    menu: &Menu,
) -> Result<(), SchemaError> {
    let Some(id) = menu.config.schedule_id else {
        return Ok(());
    };
    let found = sqlx::query_scalar::<_, i64>("SELECT id FROM schedules WHERE id = $1")
        .bind(i64::try_from(id).unwrap_or(-1))
        .fetch_optional(&mut **tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(SchemaError::invalid(
            "schedule_id",
            format!("there is no schedule {id}"),
        )),
    }
}

impl Db {
    /// All menus, ordered by name.
    pub async fn list_menus(&self) -> Result<Vec<Menu>, SchemaError> {
        let rows = sqlx::query("SELECT id, name, config_json, created_at FROM menus ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(menu_from_row).collect::<Result<_, _>>()?)
    }

    /// The menu, if it exists.
    pub async fn get_menu(&self, id: i64) -> Result<Option<Menu>, SchemaError> {
        let row = sqlx::query("SELECT id, name, config_json, created_at FROM menus WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(menu_from_row).transpose()?)
    }

    /// Creates a menu from its [`MenuConfig`] JSON. `name` is required; an `id` in the body is
    /// replaced by the one the database assigns.
    ///
    /// Fails with [`SchemaError::Invalid`] when routing refuses the configuration (the message is
    /// routing's; `field` is the JSON field when known, else `body`) and [`SchemaError::Conflict`] if
    /// the name is taken.
    pub async fn create_menu(&self, config: &Value) -> Result<Menu, SchemaError> {
        let (map, name) = check_body(config, None)?;
        let mut tx = self.begin_config_write().await?;
        // The id must exist before the configuration can be checked: a menu may not route to itself.
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO menus (name, config_json, created_at) VALUES ($1, '{}', $2) RETURNING id",
        )
        .bind(name.as_str())
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &name))?;
        let json = parse_config(map, id)?;
        let menu = store_config(&mut tx, id, &json).await?;
        check_schedule(&mut tx, &menu).await?;
        tx.commit().await?;
        tracing::info!(id, name = %name, "menu created");
        Ok(menu)
    }

    /// Replaces a menu's configuration (and name). An `id` in the body must be the menu's.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown id and otherwise as [`Db::create_menu`].
    pub async fn update_menu(&self, id: i64, config: &Value) -> Result<Menu, SchemaError> {
        let (map, name) = check_body(config, Some(id))?;
        let json = parse_config(map, id)?;
        let mut tx = self.begin_config_write().await?;
        let updated = sqlx::query("UPDATE menus SET name = $2, config_json = $3 WHERE id = $1")
            .bind(id)
            .bind(name.as_str())
            .bind(json.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|err| name_conflict(err, &name))?
            .rows_affected();
        if updated == 0 {
            return Err(SchemaError::NotFound(format!("menu {id}")));
        }
        let menu = store_config(&mut tx, id, &json).await?;
        check_schedule(&mut tx, &menu).await?;
        tx.commit().await?;
        tracing::info!(id, name = %name, "menu changed");
        Ok(menu)
    }

    /// Deletes a menu. Returns whether it existed.
    ///
    /// Fails with [`SchemaError::InUse`] while a number, a closed target, a no-answer rule, a queue's
    /// overflow or another menu still routes to it.
    pub async fn delete_menu(&self, id: i64) -> Result<bool, SchemaError> {
        self.delete_target("menus", TargetKind::Menu, id, "menu")
            .await
    }
}

/// Writes the configuration JSON and reads the row back inside `tx`.
async fn store_config(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    json: &str,
) -> Result<Menu, SchemaError> {
    sqlx::query("UPDATE menus SET config_json = $2 WHERE id = $1")
        .bind(id)
        .bind(json)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("SELECT id, name, config_json, created_at FROM menus WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(menu_from_row(&row)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: SchemaError) -> String {
        match err {
            SchemaError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn bodies_are_checked_before_the_database() {
        assert_eq!(field_of(check_body(&json!([]), None).unwrap_err()), "body");
        assert_eq!(field_of(check_body(&json!({}), None).unwrap_err()), "name");
        assert_eq!(
            field_of(check_body(&json!({"name": " x"}), None).unwrap_err()),
            "name"
        );
        assert_eq!(
            field_of(check_body(&json!({"name": "x", "id": 3}), Some(4)).unwrap_err()),
            "id"
        );
        assert!(check_body(&json!({"name": "x", "id": 4}), Some(4)).is_ok());
    }

    #[test]
    fn routing_refusals_name_the_field() {
        let map = |v: Value| match v {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let ok = json!({"name": "Hoved", "prompt": "main_menu", "options": {"1": "queue:2"}});
        let stored = parse_config(map(ok), 7).expect("valid");
        assert!(stored.contains("\"id\":7"), "{stored}");
        for (body, field) in [
            (json!({"name": "H", "options": {"1": "queue:2"}}), "prompt"),
            (
                json!({"name": "H", "prompt": "p", "options": {"1": "fax:2"}}),
                "options",
            ),
            (
                json!({"name": "H", "prompt": "p", "options": {"x": "queue:2"}}),
                "options",
            ),
            (
                json!({"name": "H", "prompt": "p", "options": {"1": "menu:7"}}),
                "body",
            ),
            (
                json!({"name": "H", "prompt": "p", "options": {"1": "repeat"}, "colour": 1}),
                "colour",
            ),
        ] {
            assert_eq!(field_of(parse_config(map(body), 7).unwrap_err()), field);
        }
    }
}

//! A file merged over the defaults, then `VEILPOST_*` variables over both.

use anyhow::{Context, Result, bail};

pub(super) fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    // Maps the user fills in (routes) are replaced, sections merged.
                    Some(existing @ toml::Value::Table(_)) if v.is_table() && k != "routes" => {
                        merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Every leaf key of the defaults: (path, default value).
fn leaves(v: &toml::Value, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() && k != "routes" {
                    leaves(v, &path, out);
                } else {
                    out.push((path, v.clone()));
                }
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn env_value(default: &toml::Value, text: &str, name: &str) -> Result<toml::Value> {
    let list = || {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    };
    Ok(match default {
        toml::Value::String(_) => toml::Value::String(text.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(
            text.trim()
                .parse()
                .with_context(|| format!("{name}: {text:?} is not a number"))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            text.trim()
                .parse()
                .with_context(|| format!("{name}: {text:?} is not a number"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match text.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => bail!("{name}: {text:?} is not true or false"),
        }),
        toml::Value::Array(_) => toml::Value::Array(
            list()
                .into_iter()
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        toml::Value::Table(_) => {
            let mut t = toml::map::Map::new();
            for pair in list() {
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("{name}: expected key=value, got {pair:?}"))?;
                t.insert(
                    k.trim().to_string(),
                    toml::Value::String(v.trim().to_string()),
                );
            }
            toml::Value::Table(t)
        }
        other => bail!("{name}: cannot be set from the environment ({other:?})"),
    })
}

pub(super) fn apply_env(
    value: &mut toml::Value,
    defaults: &toml::Value,
    env: &[(String, String)],
) -> Result<()> {
    let mut keys = Vec::new();
    leaves(defaults, "", &mut keys);
    for (path, default) in keys {
        let name = format!("VEILPOST_{}", path.replace('.', "_").to_ascii_uppercase());
        let Some((_, text)) = env.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        let new = env_value(&default, text, &name)?;
        let mut cursor = &mut *value;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            cursor = cursor
                .as_table_mut()
                .and_then(|t| t.get_mut(*part))
                .with_context(|| format!("{name}: no section {part}"))?;
        }
        if let Some(t) = cursor.as_table_mut() {
            t.insert(parts[parts.len() - 1].to_string(), new);
        }
    }
    Ok(())
}

//! Conversions between records and portable column values (TEXT, BIGINT), and a builder for
//! the few queries whose shape depends on their input.
//!
//! Portable columns only: ids are TEXT (hyphenated uuids), times BIGINT microseconds since the
//! epoch, flags BIGINT 0/1, JSON TEXT. That is what lets one SQL text serve SQLite and
//! PostgreSQL through sqlx's `Any` driver.

use crate::error::{Result, StoreError};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, Encode, Row, Type};
use std::fmt::Write as _;
use uuid::Uuid;

pub(crate) fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot serialize: {e}")))
}

/// Reads typed columns from a row, turning every mismatch into [`StoreError::Corrupt`].
pub(crate) struct Cols<'r>(pub &'r AnyRow);

impl Cols<'_> {
    pub fn text(&self, col: &str) -> Result<String> {
        self.0
            .try_get::<String, _>(col)
            .map_err(|e| corrupt(col, e))
    }
    pub fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.0
            .try_get::<Option<String>, _>(col)
            .map_err(|e| corrupt(col, e))
    }
    pub fn int(&self, col: &str) -> Result<i64> {
        self.0.try_get::<i64, _>(col).map_err(|e| corrupt(col, e))
    }
    pub fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.0
            .try_get::<Option<i64>, _>(col)
            .map_err(|e| corrupt(col, e))
    }
    pub fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
    pub fn uuid(&self, col: &str) -> Result<Uuid> {
        parse_uuid(col, &self.text(col)?)
    }
    pub fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        self.opt_text(col)?.map(|s| parse_uuid(col, &s)).transpose()
    }
    pub fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        let us = self.int(col)?;
        from_micros(us).ok_or_else(|| StoreError::Corrupt(format!("{col}: time {us} out of range")))
    }
    pub fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        match self.opt_int(col)? {
            None => Ok(None),
            Some(us) => from_micros(us)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("{col}: time {us} out of range"))),
        }
    }
    pub fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T> {
        from_json(col, &self.text(col)?)
    }
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_uuid(col: &str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("{col}: {text:?} is not a uuid")))
}

fn corrupt(col: &str, err: sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {err}"))
}

/// SQL text with `$n` placeholders numbered as values are bound, for queries assembled from
/// optional filters. (sqlx's `QueryBuilder` writes `?` for `Any`, which PostgreSQL refuses.)
#[derive(Default)]
pub(crate) struct Sql {
    pub text: String,
    pub args: AnyArguments<'static>,
    count: usize,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            ..Default::default()
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub fn bind<T>(&mut self, value: T) -> Result<&mut Self>
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        self.count += 1;
        let _ = write!(self.text, "${}", self.count);
        self.args
            .add(value)
            .map_err(|e| StoreError::Database(sqlx::Error::Encode(e)))?;
        Ok(self)
    }

    /// Appends `(p1, p2, ...)` binding each value.
    pub fn bind_list<T>(&mut self, values: impl IntoIterator<Item = T>) -> Result<&mut Self>
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        self.push("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value)?;
        }
        self.push(")");
        Ok(self)
    }
}

/// Column values of one or more rows, bound in order. An encoding failure (which the portable
/// types used here do not produce in practice) is kept and reported by `into_args`.
#[derive(Default)]
pub(crate) struct Values {
    args: AnyArguments<'static>,
    failure: Option<String>,
}

impl Values {
    pub fn add<T>(&mut self, value: T) -> &mut Self
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        if let Err(err) = self.args.add(value) {
            self.failure.get_or_insert_with(|| err.to_string());
        }
        self
    }

    pub fn into_args(self) -> Result<AnyArguments<'static>> {
        match self.failure {
            None => Ok(self.args),
            Some(err) => Err(StoreError::Corrupt(format!("cannot encode a value: {err}"))),
        }
    }
}

fn column_names(columns: &str) -> impl Iterator<Item = &str> {
    columns.split(',').map(str::trim)
}

/// `INSERT INTO table (columns) VALUES ($1, ..), (..)` for `rows` rows.
pub(crate) fn insert_sql(table: &str, columns: &str, rows: usize) -> String {
    let width = column_names(columns).count();
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..width {
            let _ = write!(
                sql,
                "{}${}",
                if col == 0 { "" } else { ", " },
                row * width + col + 1
            );
        }
        sql.push(')');
    }
    sql
}

/// The versioned update of a row bound like an insert of `columns`, which must start with `id`
/// and end with `version`: every other column is set, the version advanced, and the row is
/// touched only if its version is still the bound one.
pub(crate) fn update_sql(table: &str, columns: &str) -> String {
    let names: Vec<&str> = column_names(columns).collect();
    let sets: Vec<String> = names
        .iter()
        .enumerate()
        .skip(1)
        .take(names.len().saturating_sub(2))
        .map(|(i, name)| format!("{name} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE {table} SET {}, version = version + 1 WHERE id = $1 AND version = ${}",
        sets.join(", "),
        names.len()
    )
}

/// The versioned update of many rows at once, each bound like an insert of `columns` (`id`
/// first, `version` last): the rows arrive as a `VALUES` list (whose columns both databases name
/// `column1`, `column2`, ...), and the ids of the rows actually updated come back.
pub(crate) fn update_many_sql(table: &str, columns: &str, rows: usize) -> String {
    let names: Vec<&str> = column_names(columns).collect();
    let width = names.len();
    let sets: Vec<String> = names
        .iter()
        .enumerate()
        .skip(1)
        .take(width.saturating_sub(2))
        .map(|(i, name)| format!("{name} = v.column{}", i + 1))
        .collect();
    let values = insert_sql("", columns, rows);
    let values = values.split_once(" VALUES ").map_or("", |(_, rows)| rows);
    format!(
        "UPDATE {table} SET {}, version = {table}.version + 1 FROM (VALUES {values}) AS v \
         WHERE {table}.id = v.column1 AND {table}.version = v.column{width} RETURNING id",
        sets.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_statements() {
        assert_eq!(
            update_many_sql("t", "id, a, version", 2),
            "UPDATE t SET a = v.column2, version = t.version + 1 FROM (VALUES ($1, $2, $3), ($4, $5, $6)) AS v \
             WHERE t.id = v.column1 AND t.version = v.column3 RETURNING id"
        );
        assert_eq!(
            insert_sql("t", "id, a, version", 2),
            "INSERT INTO t (id, a, version) VALUES ($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(
            update_sql("t", "id, a, b, version"),
            "UPDATE t SET a = $2, b = $3, version = version + 1 WHERE id = $1 AND version = $4"
        );
    }
}

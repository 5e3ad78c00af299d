//! Prepared statements for the hot path. `query_typed` sends an unnamed statement that Postgres
//! parses and plans on every execution; on the send path planning costs more than executing
//! (0.1–0.3 ms per statement, measured with `EXPLAIN (ANALYZE, SUMMARY)`). A connection that
//! stays with one owner (a commit worker) keeps [`Statements`], and its queries go through
//! [`Prepared`]: parsed and planned once per connection, then only bound and executed.
//!
//! Store functions on that path take any [`Query`]: every `GenericClient` (unprepared, as
//! before: the edge, REST, tests) or a [`Prepared`].

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row, Statement};

/// Typed parameters, as `GenericClient::query_typed` takes them.
pub type Params<'a> = [(&'a (dyn ToSql + Sync), Type)];

/// What a store function needs to run its statements.
pub trait Query {
    /// Runs `sql` with typed parameters; answers its rows.
    fn query_typed<'a>(&'a self, sql: &'a str, params: &'a Params<'a>) -> BoxFuture<'a, Result<Vec<Row>, Error>>;
}

impl<C: GenericClient> Query for C {
    fn query_typed<'a>(&'a self, sql: &'a str, params: &'a Params<'a>) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        GenericClient::query_typed(self, sql, params)
    }
}

/// One connection's prepared statements, by SQL text. Valid only with the connection that
/// prepared them: drop it with the connection.
#[derive(Debug, Default)]
pub struct Statements {
    by_sql: Mutex<HashMap<String, Statement>>,
}

impl Statements {
    /// How many statements are prepared.
    pub fn len(&self) -> usize {
        self.by_sql.lock().expect("statements lock").len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each prepared statement's SQL and parameter types (for tests that look at their plans).
    pub fn prepared(&self) -> Vec<(String, Vec<Type>)> {
        let map = self.by_sql.lock().expect("statements lock");
        map.iter().map(|(sql, st)| (sql.clone(), st.params().to_vec())).collect()
    }
}

/// A client (or transaction) whose queries use, and fill, its connection's [`Statements`].
pub struct Prepared<'a, C> {
    client: &'a C,
    statements: &'a Statements,
}

impl<'a, C: GenericClient + Sync> Prepared<'a, C> {
    /// `statements` must belong to `client`'s connection.
    pub fn new(client: &'a C, statements: &'a Statements) -> Self {
        Prepared { client, statements }
    }
}

impl<C: GenericClient + Sync> Query for Prepared<'_, C> {
    fn query_typed<'a>(&'a self, sql: &'a str, params: &'a Params<'a>) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        Box::pin(self.run(sql, params))
    }
}

impl<C: GenericClient + Sync> Prepared<'_, C> {
    async fn run(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, Error> {
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let statement = self.statements.get_or_prepare(self.client, sql, &types).await?;
        let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
        self.client.query(&statement, &values).await
    }
}

impl Statements {
    /// `sql`'s statement on `client`'s connection, prepared now if this is its first use there.
    pub async fn get_or_prepare<C: GenericClient + Sync>(
        &self,
        client: &C,
        sql: &str,
        types: &[Type],
    ) -> Result<Statement, Error> {
        let known = self.by_sql.lock().expect("statements lock").get(sql).cloned();
        match known {
            Some(s) => Ok(s),
            None => {
                let s = client.prepare_typed(sql, types).await?;
                self.by_sql.lock().expect("statements lock").insert(sql.to_owned(), s.clone());
                Ok(s)
            }
        }
    }
}

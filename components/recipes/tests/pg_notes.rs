//! `pg_notes` (2368) against the real PostgreSQL (`WORKERMAN_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): notes round trip through both processes; a locked
//! table holds up only the insert waiting for it; the server taken away → 503 and a log line;
//! back → the same processes write again.

mod support;

use support::notes::{Db, pg_cli, run_notes_test};

#[test]
fn notes_round_trip_survive_a_locked_table_and_a_lost_server() {
    let Some(url) = support::service(
        "PostgreSQL",
        "WORKERMAN_TEST_PG_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    ) else {
        return;
    };
    run_notes_test(Db {
        what: "PostgreSQL",
        example: "pg_notes",
        port: 2368,
        env: "PG_URL",
        url,
        sql: pg_cli,
        lock: "BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2); COMMIT;",
        locked: "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'notes' AND l.mode = 'AccessExclusiveLock' AND l.granted",
    });
}

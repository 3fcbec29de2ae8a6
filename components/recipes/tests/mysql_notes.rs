//! `mysql_notes` (2361) against the real MariaDB/MySQL (`WORKERMAN_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`): notes round trip through both processes; a locked table
//! holds up only the insert waiting for it; the server taken away → 503 and a log line; back →
//! the same processes write again.

mod support;

use support::notes::{Db, mysql_cli, run_notes_test};

#[test]
fn notes_round_trip_survive_a_locked_table_and_a_lost_server() {
    let Some(url) = support::service("MySQL", "WORKERMAN_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test") else {
        return;
    };
    run_notes_test(Db {
        what: "MySQL",
        example: "mysql_notes",
        port: 2361,
        env: "MYSQL_URL",
        url,
        sql: mysql_cli,
        lock: "LOCK TABLES notes WRITE; SELECT SLEEP(2); UNLOCK TABLES;",
        locked: "SHOW OPEN TABLES WHERE `Table` = 'notes' AND In_use > 0",
    });
}

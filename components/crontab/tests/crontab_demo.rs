//! Process test of the `crontab_demo` example: a second-resolution schedule observed in the log,
//! a job in every process, and the job guarded on worker id 0 running once per due second.

use std::collections::BTreeMap;

use workerman_testkit::{App, wait_for};

/// (seconds of the day, pid) of each log line containing `needle`.
fn runs(log: &str, needle: &str) -> Vec<(u32, u32)> {
    log.lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| {
            // `Y-m-d H:i:s pid:N message`
            let mut parts = l.split(' ');
            let _date = parts.next()?;
            let hms: Vec<u32> = parts.next()?.split(':').filter_map(|x| x.parse().ok()).collect();
            let pid = parts.next()?.strip_prefix("pid:")?.parse().ok()?;
            (hms.len() == 3).then(|| (hms[0] * 3600 + hms[1] * 60 + hms[2], pid))
        })
        .collect()
}

#[test]
fn second_resolution_schedule_runs_in_every_process_and_the_guarded_job_once() {
    let app = App::new("crontab_demo");
    app.start(2);
    let every = wait_for("5 runs of the every-second job in worker 0", || {
        let r = runs(&app.log(), "crontab_demo[0] every second");
        (r.len() >= 5).then_some(r)
    });
    // One run per second, on consecutive seconds.
    let secs: Vec<u32> = every.iter().map(|r| r.0).collect();
    let steps: Vec<u32> = secs.windows(2).map(|w| (w[1] + 86400 - w[0]) % 86400).collect();
    assert!(steps.iter().all(|&s| s == 1), "runs at {secs:?}");

    wait_for("the every-second job in worker 1 too", || {
        (!runs(&app.log(), "crontab_demo[1] every second").is_empty()).then_some(())
    });

    let twos = wait_for("3 runs of the guarded job", || {
        let r = runs(&app.log(), "every 2 seconds, once");
        (r.len() >= 3).then_some(r)
    });
    let pids: BTreeMap<u32, usize> = twos.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.1).or_default() += 1;
        m
    });
    assert_eq!(pids.len(), 1, "the guarded job ran in one process only: {twos:?}");
    assert!(twos.iter().all(|r| r.0 % 2 == 0), "on even seconds: {twos:?}");
    let secs: Vec<u32> = twos.iter().map(|r| r.0).collect();
    assert!(
        secs.windows(2).all(|w| (w[1] + 86400 - w[0]) % 86400 == 2),
        "every 2 s: {secs:?}"
    );
    assert!(app.log().contains("next run Some("), "{}", app.log());
    app.stop();
}

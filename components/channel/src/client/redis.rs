//! The Redis backend: several hosts share one Redis.
//!
//! * Events: `PUBLISH workerman-channel:ev:<name> <serialize(data)>`, received on a pub/sub
//!   connection subscribed to every event this client listens to (re-subscribed on reconnect).
//! * Queues: a Stream per queue (`workerman-channel:q:<name>`, field `d`), read through the
//!   consumer group `workerman-channel`. An item is acknowledged (`XACK`, then `XDEL`) only after
//!   its callback returned; an item whose consumer died unacknowledged is claimed by another
//!   consumer after the claim timeout (`XAUTOCLAIM`).
//! * Publishes and enqueues are pipelined: everything waiting goes in one round trip.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use php_serialize::Value;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use tokio::sync::Notify;

use super::{Backoff, Core, Options, log};
use crate::error::ChannelError;
use crate::wire::{Name, NameKey};

const PREFIX: &str = "workerman-channel:";
const GROUP: &str = "workerman-channel";
/// Commands per pipelined round trip.
const BATCH: usize = 1024;

enum Op {
    Publish(String, Vec<u8>),
    Enqueue(String, Vec<u8>),
}

impl Op {
    fn len(&self) -> usize {
        match self {
            Op::Publish(k, v) | Op::Enqueue(k, v) => k.len() + v.len(),
        }
    }
}

enum SubOp {
    Sub(Vec<String>),
    Unsub(Vec<String>),
}

pub(crate) struct RedisLink {
    client: redis::Client,
    options: Options,
    core: Rc<Core>,
    consumer: String,
    connected: Cell<bool>,
    pending: RefCell<VecDeque<Op>>,
    pending_bytes: Cell<usize>,
    writing: Cell<bool>,
    wake: Notify,
    drained: Notify,
    overflow_logged: Cell<bool>,
    sub_ops: RefCell<Vec<SubOp>>,
    sub_wake: Notify,
    sub_started: Cell<bool>,
    credits: RefCell<BTreeSet<NameKey>>,
    queue_wake: Notify,
    queue_started: Cell<bool>,
}

fn event_key(n: &Name) -> String {
    format!("{PREFIX}ev:{}", n.text())
}

fn queue_key(n: &Name) -> String {
    format!("{PREFIX}q:{}", n.text())
}

/// Splits our `claim_timeout_ms` parameter off the URL handed to the redis crate.
fn split_url(url: &str, options: &mut Options) -> Result<String, ChannelError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_string());
    };
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("claim_timeout_ms", v)) => {
                let ms: u64 = v
                    .parse()
                    .map_err(|_| ChannelError::Url(format!("{url}: bad claim_timeout_ms")))?;
                options.claim_timeout = Duration::from_millis(ms.max(1));
            }
            _ => rest.push(pair),
        }
    }
    Ok(if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    })
}

fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{nanos:x}", host.trim(), std::process::id())
}

impl RedisLink {
    pub(crate) fn start(url: &str, mut options: Options, core: Rc<Core>) -> Result<Rc<RedisLink>, ChannelError> {
        let url = split_url(url, &mut options)?;
        let client = redis::Client::open(url.as_str())?;
        let link = Rc::new(RedisLink {
            client,
            options,
            core,
            consumer: consumer_name(),
            connected: Cell::new(false),
            pending: RefCell::new(VecDeque::new()),
            pending_bytes: Cell::new(0),
            writing: Cell::new(false),
            wake: Notify::new(),
            drained: Notify::new(),
            overflow_logged: Cell::new(false),
            sub_ops: RefCell::new(Vec::new()),
            sub_wake: Notify::new(),
            sub_started: Cell::new(false),
            credits: RefCell::new(BTreeSet::new()),
            queue_wake: Notify::new(),
            queue_started: Cell::new(false),
        });
        workerman::spawn(link.clone().run_writer());
        Ok(link)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.get()
    }

    fn push(&self, op: Op) -> Result<(), ChannelError> {
        if self.core.closed() {
            return Err(ChannelError::Closed);
        }
        let (pending, limit) = (self.pending_bytes.get(), self.options.max_pending_bytes);
        if pending >= limit {
            if !self.overflow_logged.replace(true) {
                log(&format!(
                    "backlog full ({pending} bytes); publishes fail until Redis takes them"
                ));
            }
            return Err(ChannelError::Backlog { pending, limit });
        }
        self.pending_bytes.set(pending + op.len());
        self.pending.borrow_mut().push_back(op);
        self.wake.notify_one();
        Ok(())
    }

    pub(crate) fn publish(&self, names: &[Name], data: &Value) -> Result<(), ChannelError> {
        let payload = php_serialize::serialize(data);
        for n in names {
            self.push(Op::Publish(event_key(n), payload.clone()))?;
        }
        Ok(())
    }

    pub(crate) fn enqueue(&self, name: &Name, data: &Value) -> Result<(), ChannelError> {
        self.push(Op::Enqueue(queue_key(name), php_serialize::serialize(data)))
    }

    pub(crate) fn subscribe(self: &Rc<Self>, names: &[Name]) {
        self.sub_ops
            .borrow_mut()
            .push(SubOp::Sub(names.iter().map(event_key).collect()));
        self.sub_wake.notify_one();
        if !self.sub_started.replace(true) {
            workerman::spawn(self.clone().run_subscriber());
        }
    }

    pub(crate) fn unsubscribe(&self, names: &[Name]) {
        self.sub_ops
            .borrow_mut()
            .push(SubOp::Unsub(names.iter().map(event_key).collect()));
        self.sub_wake.notify_one();
    }

    pub(crate) fn watch(self: &Rc<Self>, name: &Name, auto_reserve: bool) {
        if auto_reserve {
            self.credits.borrow_mut().insert(name.key.clone());
        }
        self.queue_wake.notify_one();
        if !self.queue_started.replace(true) {
            workerman::spawn(self.clone().run_queues());
        }
    }

    pub(crate) fn unwatch(&self, name: &Name) {
        self.credits.borrow_mut().remove(&name.key);
    }

    pub(crate) fn reserve_all(&self) {
        let (names, _) = self.core.watched();
        self.credits.borrow_mut().extend(names.into_iter().map(|n| n.key));
        self.queue_wake.notify_one();
    }

    pub(crate) async fn flush(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.core.closed() || !self.writing.get() && self.pending.borrow().is_empty() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn close(&self) {
        self.wake.notify_one();
        self.sub_wake.notify_one();
        self.queue_wake.notify_one();
        self.drained.notify_waiters();
    }

    async fn connect(
        &self,
        what: &str,
        backoff: &mut Backoff,
        failures: &mut u32,
        config: &AsyncConnectionConfig,
    ) -> Option<MultiplexedConnection> {
        while !self.core.closed() {
            match self.client.get_multiplexed_async_connection_with_config(config).await {
                Ok(c) => {
                    backoff.reset();
                    *failures = 0;
                    return Some(c);
                }
                Err(e) => {
                    *failures += 1;
                    if *failures == 1 {
                        log(&format!("redis {what} connection failed: {e}; retrying with back-off"));
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
        None
    }

    async fn run_writer(self: Rc<Self>) {
        let (mut backoff, mut failures) = (Backoff::default(), 0);
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
        'connect: while let Some(mut conn) = self.connect("publish", &mut backoff, &mut failures, &config).await {
            self.connected.set(true);
            self.overflow_logged.set(false);
            loop {
                if self.pending.borrow().is_empty() {
                    self.drained.notify_waiters();
                    self.wake.notified().await;
                }
                if self.core.closed() {
                    break 'connect;
                }
                let batch: Vec<Op> = {
                    let mut p = self.pending.borrow_mut();
                    let n = p.len().min(BATCH);
                    p.drain(..n).collect()
                };
                if batch.is_empty() {
                    continue;
                }
                let mut pipe = redis::pipe();
                for op in &batch {
                    match op {
                        Op::Publish(k, v) => pipe.cmd("PUBLISH").arg(k).arg(v).ignore(),
                        Op::Enqueue(k, v) => pipe.cmd("XADD").arg(k).arg("*").arg("d").arg(v).ignore(),
                    };
                }
                self.writing.set(true);
                let result: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
                self.writing.set(false);
                match result {
                    Ok(()) => {
                        let sent: usize = batch.iter().map(Op::len).sum();
                        self.pending_bytes.set(self.pending_bytes.get().saturating_sub(sent));
                    }
                    Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                        log(&format!("redis connection lost ({e}); reconnecting"));
                        let mut p = self.pending.borrow_mut();
                        for op in batch.into_iter().rev() {
                            p.push_front(op);
                        }
                        self.connected.set(false);
                        continue 'connect;
                    }
                    Err(e) => {
                        log(&format!("redis refused a batch of {} publishes: {e}", batch.len()));
                        let sent: usize = batch.iter().map(Op::len).sum();
                        self.pending_bytes.set(self.pending_bytes.get().saturating_sub(sent));
                    }
                }
            }
        }
        self.connected.set(false);
        self.drained.notify_waiters();
    }

    async fn run_subscriber(self: Rc<Self>) {
        let (mut backoff, mut failures) = (Backoff::default(), 0u32);
        while !self.core.closed() {
            let pubsub = match self.client.get_async_pubsub().await {
                Ok(p) => p,
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        log(&format!("redis pub/sub connection failed: {e}; retrying with back-off"));
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            backoff.reset();
            failures = 0;
            let (mut sink, mut stream) = pubsub.split();
            // The subscription set is the truth; queued changes are contained in it.
            self.sub_ops.borrow_mut().clear();
            let keys: Vec<String> = self.core.subscribed().iter().map(event_key).collect();
            if !keys.is_empty() && sink.subscribe(&keys).await.is_err() {
                continue;
            }
            loop {
                tokio::select! {
                    msg = stream.next() => match msg {
                        Some(msg) => {
                            self.deliver_event(&msg);
                            // Everything already received, without a trip through select!
                            // (and its wake-up futures) per message.
                            while let Some(Some(msg)) = stream.next().now_or_never() {
                                self.deliver_event(&msg);
                            }
                        }
                        None => break,
                    },
                    _ = self.sub_wake.notified() => {
                        if self.core.closed() {
                            return;
                        }
                        let ops = std::mem::take(&mut *self.sub_ops.borrow_mut());
                        let mut ok = true;
                        for op in ops {
                            let r = match op {
                                SubOp::Sub(k) => sink.subscribe(&k).await,
                                SubOp::Unsub(k) => sink.unsubscribe(&k).await,
                            };
                            ok &= r.is_ok();
                        }
                        if !ok {
                            break;
                        }
                    }
                }
            }
            log("redis pub/sub connection lost; reconnecting");
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    fn deliver_event(&self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        let Some(name) = channel.strip_prefix(PREFIX).and_then(|c| c.strip_prefix("ev:")) else {
            return;
        };
        match php_serialize::unserialize(msg.get_payload_bytes()) {
            Ok(data) => self.core.deliver_event(&Name::new(name), data),
            Err(e) => log(&format!(
                "event:{name}: payload is not a serialized value ({e}); dropped"
            )),
        }
    }

    async fn run_queues(self: Rc<Self>) {
        let (mut backoff, mut failures) = (Backoff::default(), 0);
        // Blocking reads need a connection of their own and no response timeout.
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        let mut groups: HashSet<String> = HashSet::new();
        let mut last_claim: HashMap<String, Instant> = HashMap::new();
        let claim_every = (self.options.claim_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        'connect: while let Some(mut conn) = self.connect("queue", &mut backoff, &mut failures, &config).await {
            groups.clear();
            loop {
                if self.core.closed() {
                    return;
                }
                let ready: Vec<Name> = {
                    let credits = self.credits.borrow();
                    let (watched, _) = self.core.watched();
                    watched.into_iter().filter(|n| credits.contains(&n.key)).collect()
                };
                if ready.is_empty() {
                    self.queue_wake.notified().await;
                    continue;
                }
                let keys: Vec<String> = ready.iter().map(queue_key).collect();
                let step = self
                    .queue_step(&mut conn, &keys, &mut groups, &mut last_claim, claim_every)
                    .await;
                if let Err(e) = step {
                    if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                        log(&format!("redis queue connection lost ({e}); reconnecting"));
                        continue 'connect;
                    }
                    log(&format!("redis queue read failed: {e}"));
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    async fn queue_step(
        &self,
        conn: &mut MultiplexedConnection,
        keys: &[String],
        groups: &mut HashSet<String>,
        last_claim: &mut HashMap<String, Instant>,
        claim_every: Duration,
    ) -> redis::RedisResult<()> {
        for key in keys {
            if groups.contains(key) {
                continue;
            }
            // From id 0: items enqueued before the first watcher are delivered too.
            let r: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(key)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(conn)
                .await;
            match r {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e),
            }
            groups.insert(key.clone());
        }
        // Items whose consumer died before acknowledging them.
        let now = Instant::now();
        for key in keys {
            if last_claim
                .get(key)
                .is_some_and(|t| now.duration_since(*t) < claim_every)
            {
                continue;
            }
            last_claim.insert(key.clone(), now);
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(key)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(self.options.claim_timeout.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(1)
                .query_async(conn)
                .await?;
            if let Some(entry) = reply.claimed.into_iter().next() {
                return self.handle_item(conn, key, entry).await;
            }
        }
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(500)
            .arg("STREAMS")
            .arg(keys);
        for _ in keys {
            cmd.arg(">");
        }
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        for stream in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in stream.ids {
                self.handle_item(conn, &stream.key, entry).await?;
            }
        }
        Ok(())
    }

    async fn handle_item(
        &self,
        conn: &mut MultiplexedConnection,
        key: &str,
        entry: StreamId,
    ) -> redis::RedisResult<()> {
        let Some(name) = key.strip_prefix(PREFIX).and_then(|k| k.strip_prefix("q:")) else {
            return Ok(());
        };
        let name = Name::new(name);
        let payload: Option<Vec<u8>> = entry.get("d");
        let data = match payload.as_deref().map(php_serialize::unserialize) {
            Some(Ok(v)) => v,
            _ => {
                log(&format!(
                    "queue:{}: item {} is not a serialized value; dropped",
                    name.text(),
                    entry.id
                ));
                Value::Null
            }
        };
        self.credits.borrow_mut().remove(&name.key);
        let Some(auto) = self.core.deliver_queue(&name, data) else {
            // Unwatched meanwhile: left unacknowledged for another consumer to claim.
            return Ok(());
        };
        let _: () = redis::pipe()
            .cmd("XACK")
            .arg(key)
            .arg(GROUP)
            .arg(&entry.id)
            .ignore()
            .cmd("XDEL")
            .arg(key)
            .arg(&entry.id)
            .ignore()
            .query_async(conn)
            .await?;
        if auto && self.core.is_watched(&name.key).is_some() {
            self.credits.borrow_mut().insert(name.key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_url_parameters_are_split_off() {
        let mut o = Options::default();
        assert_eq!(split_url("redis://h:1/0", &mut o).unwrap(), "redis://h:1/0");
        assert_eq!(
            split_url("redis://h:1/0?claim_timeout_ms=250&protocol=resp3", &mut o).unwrap(),
            "redis://h:1/0?protocol=resp3"
        );
        assert_eq!(o.claim_timeout, Duration::from_millis(250));
        assert!(split_url("redis://h/0?claim_timeout_ms=x", &mut o).is_err());
    }
}

//! The Channel server's state machine, without I/O: channels with their subscribers, queues
//! with their items, watchers and ready consumers, and the per-connection output gathered for
//! the next write. Semantics follow PHP's `Channel\Server` (COMPONENTS-WIRE.md §2.2–2.4).

use std::collections::{HashMap, HashSet, VecDeque};

use php_serialize::Value;

use crate::wire::{self, Command, Name, NameKey};

/// A connection, by its id.
pub type ConnId = u64;

#[derive(Default)]
struct Channel {
    /// Subscribers in subscription order.
    subs: Vec<ConnId>,
    /// PHP's internal array pointer, the `publishLoop` cursor.
    cursor: usize,
}

impl Channel {
    fn remove(&mut self, id: ConnId) {
        if let Some(i) = self.subs.iter().position(|&c| c == id) {
            self.subs.remove(i);
            // Unsetting the element under PHP's pointer moves it to the next element.
            if i < self.cursor {
                self.cursor -= 1;
            }
        }
    }

    /// `next()`, then `reset()` when it runs off the end.
    fn next_round_robin(&mut self) -> Option<ConnId> {
        if self.subs.is_empty() {
            return None;
        }
        self.cursor += 1;
        if self.cursor >= self.subs.len() {
            self.cursor = 0;
        }
        Some(self.subs[self.cursor])
    }
}

struct Queue {
    /// The name as given by whoever created the queue.
    name: Value,
    /// Items, already serialised (`data`).
    items: VecDeque<Value>,
    watchers: Vec<ConnId>,
    /// Ready consumers, longest-waiting first.
    ready: VecDeque<ConnId>,
}

#[derive(Default)]
struct Conn {
    channels: HashSet<NameKey>,
    queues: HashSet<NameKey>,
    authed: bool,
}

/// Counters shown by tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// `event` messages queued for subscribers.
    pub events: u64,
    /// `queue` messages handed to consumers.
    pub queue_items: u64,
}

/// The whole server state of one process.
#[derive(Default)]
pub struct State {
    channels: HashMap<NameKey, Channel>,
    queues: HashMap<NameKey, Queue>,
    conns: HashMap<ConnId, Conn>,
    /// Bytes to write per connection, and the order connections got dirty in.
    out: HashMap<ConnId, Vec<u8>>,
    dirty: Vec<ConnId>,
    secret: Option<Vec<u8>>,
    counters: Counters,
}

/// What the caller must do after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Carry on.
    Ok,
    /// Close this connection, logging the reason.
    Close(String),
}

impl State {
    /// A state that requires `auth` with this secret first (our extension), or none.
    pub fn new(secret: Option<Vec<u8>>) -> State {
        State {
            secret,
            ..State::default()
        }
    }

    /// Registers a new connection.
    pub fn open(&mut self, id: ConnId) {
        let authed = self.secret.is_none();
        self.conns.insert(
            id,
            Conn {
                authed,
                ..Conn::default()
            },
        );
    }

    /// Forgets a closed connection: out of every channel and queue (PHP's deletion rules).
    pub fn close(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else { return };
        for key in conn.channels {
            self.unsubscribe_one(id, &key);
        }
        for key in conn.queues {
            self.unwatch_one(id, &key);
        }
        self.out.remove(&id);
    }

    /// Applies one command from connection `id`.
    pub fn handle(&mut self, id: ConnId, cmd: Command) -> Outcome {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Outcome::Ok;
        };
        if !conn.authed {
            return match cmd {
                Command::Ping => Outcome::Ok,
                Command::Auth(secret) if self.secret.as_deref().is_some_and(|s| ct_eq(s, &secret)) => {
                    conn.authed = true;
                    Outcome::Ok
                }
                Command::Auth(_) => Outcome::Close("wrong secret".into()),
                _ => Outcome::Close("a command before `auth` (this server requires a secret)".into()),
            };
        }
        match cmd {
            Command::Ping | Command::Unknown(_) | Command::Auth(_) => {}
            Command::Subscribe(names) => {
                for n in names {
                    let ch = self.channels.entry(n.key.clone()).or_default();
                    if conn.channels.insert(n.key) {
                        ch.subs.push(id);
                    }
                }
            }
            Command::Unsubscribe(names) => {
                let left: Vec<Name> = names.into_iter().filter(|n| conn.channels.remove(&n.key)).collect();
                for n in left {
                    self.unsubscribe_one(id, &n.key);
                }
            }
            Command::Publish {
                channels,
                data,
                round_robin,
            } => self.publish(&channels, &data, round_robin),
            Command::Watch(names) => {
                for n in names {
                    let q = self.queues.entry(n.key.clone()).or_insert_with(|| new_queue(&n));
                    if conn.queues.insert(n.key) {
                        q.watchers.push(id);
                    }
                }
            }
            Command::Unwatch(names) => {
                let left: Vec<Name> = names.into_iter().filter(|n| conn.queues.remove(&n.key)).collect();
                for n in left {
                    self.unwatch_one(id, &n.key);
                }
            }
            Command::Enqueue { channels, data } => {
                for n in channels {
                    self.queues
                        .entry(n.key.clone())
                        .or_insert_with(|| new_queue(&n))
                        .items
                        .push_back(data.clone());
                    self.dispatch(&n.key);
                }
            }
            Command::Reserve => {
                let keys: Vec<NameKey> = conn.queues.iter().cloned().collect();
                for key in keys {
                    if let Some(q) = self.queues.get_mut(&key)
                        && !q.ready.contains(&id)
                    {
                        q.ready.push_back(id);
                    }
                    self.dispatch(&key);
                }
            }
        }
        Outcome::Ok
    }

    fn publish(&mut self, channels: &[Name], data: &Value, round_robin: bool) {
        for n in channels {
            let Some(ch) = self.channels.get_mut(&n.key) else {
                continue;
            };
            if ch.subs.is_empty() {
                continue;
            }
            // Built once per channel, copied into each subscriber's pending output.
            let frame = wire::delivery_frame("event", &n.value, data);
            if round_robin {
                if let Some(to) = ch.next_round_robin() {
                    push_out(&mut self.out, &mut self.dirty, to, &frame);
                    self.counters.events += 1;
                }
            } else {
                for &to in &ch.subs {
                    push_out(&mut self.out, &mut self.dirty, to, &frame);
                }
                self.counters.events += ch.subs.len() as u64;
            }
        }
    }

    fn dispatch(&mut self, key: &NameKey) {
        let Some(q) = self.queues.get_mut(key) else { return };
        while !q.items.is_empty() {
            let Some(to) = q.ready.pop_front() else { break };
            let item = q.items.pop_front().expect("not empty");
            let frame = wire::delivery_frame("queue", &q.name, &item);
            push_out(&mut self.out, &mut self.dirty, to, &frame);
            self.counters.queue_items += 1;
        }
    }

    fn unsubscribe_one(&mut self, id: ConnId, key: &NameKey) {
        if let Some(ch) = self.channels.get_mut(key) {
            ch.remove(id);
            if ch.subs.is_empty() {
                self.channels.remove(key);
            }
        }
    }

    fn unwatch_one(&mut self, id: ConnId, key: &NameKey) {
        if let Some(q) = self.queues.get_mut(key) {
            q.watchers.retain(|&c| c != id);
            q.ready.retain(|&c| c != id);
            if q.watchers.is_empty() && q.items.is_empty() {
                self.queues.remove(key);
            }
        }
    }

    /// Takes the output gathered since the last call: one buffer per connection, in the order
    /// the connections first got output.
    pub fn take_output(&mut self) -> Vec<(ConnId, Vec<u8>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|id| self.out.remove(&id).map(|b| (id, b)))
            .collect()
    }

    /// Whether output is waiting for [`take_output`](Self::take_output).
    pub fn has_output(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Delivery counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Number of channels with subscribers, and of queues.
    pub fn sizes(&self) -> (usize, usize) {
        (self.channels.len(), self.queues.len())
    }

    /// Items waiting in a queue (tests).
    pub fn queue_len(&self, name: &str) -> usize {
        self.queues
            .get(&wire::normalize(name.as_bytes()))
            .map_or(0, |q| q.items.len())
    }
}

fn new_queue(n: &Name) -> Queue {
    Queue {
        name: n.value.clone(),
        items: VecDeque::new(),
        watchers: Vec::new(),
        ready: VecDeque::new(),
    }
}

fn push_out(out: &mut HashMap<ConnId, Vec<u8>>, dirty: &mut Vec<ConnId>, to: ConnId, frame: &[u8]) {
    let buf = out.entry(to).or_default();
    if buf.is_empty() {
        dirty.push(to);
    }
    buf.extend_from_slice(frame);
}

/// Constant-time comparison of the secret.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Delivery;

    fn names(list: &[&str]) -> Vec<Name> {
        list.iter().map(|n| Name::new(n)).collect()
    }

    fn deliveries(st: &mut State) -> Vec<(ConnId, String, Value)> {
        let mut v = Vec::new();
        for (id, buf) in st.take_output() {
            let mut rest = &buf[..];
            while !rest.is_empty() {
                let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                let d = Delivery::parse(&rest[4..len]).unwrap().unwrap();
                v.push((id, d.channel.text(), d.data));
                rest = &rest[len..];
            }
        }
        v
    }

    fn publish(st: &mut State, from: ConnId, ch: &str, data: i64, rr: bool) {
        let cmd = Command::Publish {
            channels: names(&[ch]),
            data: Value::Int(data),
            round_robin: rr,
        };
        assert_eq!(st.handle(from, cmd), Outcome::Ok);
    }

    #[test]
    fn publish_reaches_every_subscriber_including_the_publisher() {
        let mut st = State::new(None);
        for id in 1..=3 {
            st.open(id);
        }
        st.handle(1, Command::Subscribe(names(&["news"])));
        st.handle(2, Command::Subscribe(names(&["news", "news"])));
        publish(&mut st, 1, "news", 7, false);
        publish(&mut st, 3, "none", 8, false);
        let got = deliveries(&mut st);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (1, "news".into(), Value::Int(7)));
        assert_eq!(got[1].0, 2);
        st.handle(2, Command::Unsubscribe(names(&["news"])));
        st.close(1);
        publish(&mut st, 3, "news", 9, false);
        assert!(deliveries(&mut st).is_empty());
        assert_eq!(st.sizes(), (0, 0));
    }

    #[test]
    fn publish_loop_follows_phps_array_pointer() {
        let mut st = State::new(None);
        for id in [10, 11, 12] {
            st.open(id);
            st.handle(id, Command::Subscribe(names(&["c"])));
        }
        for i in 0..5 {
            publish(&mut st, 10, "c", i, true);
        }
        let order: Vec<ConnId> = deliveries(&mut st).iter().map(|d| d.0).collect();
        // Delivery is grouped per connection by take_output; count per connection instead.
        assert_eq!(order.len(), 5);
        let mut st = State::new(None);
        for id in [10, 11, 12] {
            st.open(id);
            st.handle(id, Command::Subscribe(names(&["c"])));
        }
        let mut seq = Vec::new();
        for i in 0..5 {
            publish(&mut st, 10, "c", i, true);
            seq.push(deliveries(&mut st)[0].0);
        }
        assert_eq!(seq, vec![11, 12, 10, 11, 12]);
    }

    #[test]
    fn queues_give_each_item_to_one_ready_consumer() {
        let mut st = State::new(None);
        st.open(1);
        st.open(2);
        // Enqueued before any watcher: kept.
        st.handle(
            1,
            Command::Enqueue {
                channels: names(&["jobs"]),
                data: Value::Int(0),
            },
        );
        st.handle(1, Command::Watch(names(&["jobs", "other"])));
        st.handle(2, Command::Watch(names(&["jobs"])));
        assert!(deliveries(&mut st).is_empty());
        st.handle(2, Command::Reserve);
        st.handle(1, Command::Reserve);
        st.handle(1, Command::Reserve); // at most once per queue
        assert_eq!(deliveries(&mut st), vec![(2, "jobs".into(), Value::Int(0))]);
        for i in 1..=3 {
            st.handle(
                2,
                Command::Enqueue {
                    channels: names(&["jobs"]),
                    data: Value::Int(i),
                },
            );
        }
        assert_eq!(deliveries(&mut st), vec![(1, "jobs".into(), Value::Int(1))]);
        assert_eq!(st.queue_len("jobs"), 2);
        st.close(1);
        st.close(2);
        // No watchers but items: the queue stays.
        assert_eq!(st.queue_len("jobs"), 2);
    }

    #[test]
    fn a_secret_gates_every_command() {
        let mut st = State::new(Some(b"s3cret".to_vec()));
        st.open(1);
        st.open(2);
        assert_eq!(st.handle(1, Command::Ping), Outcome::Ok);
        assert!(matches!(st.handle(1, Command::Reserve), Outcome::Close(_)));
        assert!(matches!(
            st.handle(2, Command::Auth(b"nope".to_vec())),
            Outcome::Close(_)
        ));
        st.open(3);
        assert_eq!(st.handle(3, Command::Auth(b"s3cret".to_vec())), Outcome::Ok);
        assert_eq!(st.handle(3, Command::Subscribe(names(&["a"]))), Outcome::Ok);
        assert_eq!(st.sizes().0, 1);
    }
}

//! A gateway process's tables: clients by connection id, uids, groups, sessions, and the
//! business workers connected to it with the clients bound to each.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::Bytes;
use workerman::TcpConnection;

use crate::frame::{GatewayProtocol, Packet};
use crate::index::Delta;

/// One client of this gateway process.
pub(crate) struct Client<P: workerman::protocol::Protocol> {
    pub conn: TcpConnection<P>,
    pub client_ip: u32,
    pub client_port: u16,
    pub uid: Option<String>,
    pub groups: BTreeSet<String>,
    pub session: Bytes,
    /// The worker key this client's events go to (sticky).
    pub worker: Option<String>,
    /// Heartbeat counter: -1 after each message, +1 per tick.
    pub ping: i64,
}

/// A business worker connected to this gateway's inner port.
pub(crate) struct WorkerLink {
    pub conn: TcpConnection<GatewayProtocol>,
    /// Clients bound to it (least-connections routing).
    pub bound: usize,
    /// Announced it is leaving (reload): nothing more is routed to it.
    pub leaving: bool,
    /// Asked for this gateway's routing index ([`crate::frame::cmd::INDEX`] packets).
    pub index: bool,
    /// While leaving: events it handed back unhandled, in order.
    pub returned: Vec<Packet>,
    /// While leaving: events of its clients that arrived since, in order.
    pub held: VecDeque<(u32, Packet)>,
}

impl WorkerLink {
    /// A newly connected worker.
    pub fn new(conn: TcpConnection<GatewayProtocol>, index: bool) -> WorkerLink {
        WorkerLink {
            conn,
            bound: 0,
            leaving: false,
            index,
            returned: Vec::new(),
            held: VecDeque::new(),
        }
    }
}

/// Where an event goes.
pub(crate) enum Target {
    /// To this worker.
    Worker(TcpConnection<GatewayProtocol>),
    /// The client's worker (this key) is leaving: hold the event until it has handed back what
    /// it did not handle, so the client's events stay in order.
    Wait(String),
    /// No business worker is connected.
    Nobody,
}

/// Everything a gateway process keeps.
pub(crate) struct State<P: workerman::protocol::Protocol> {
    pub next_id: u32,
    pub clients: HashMap<u32, Client<P>>,
    pub uids: HashMap<String, BTreeSet<u32>>,
    pub groups: HashMap<String, BTreeSet<u32>>,
    pub workers: BTreeMap<String, WorkerLink>,
    /// Events accepted while no business worker is connected, in order.
    pub pending: VecDeque<(u32, Packet)>,
    /// Uids and groups that appeared or vanished here since the last index update.
    pub delta: Delta,
}

impl<P: workerman::protocol::Protocol> Default for State<P> {
    fn default() -> Self {
        State {
            next_id: 0,
            clients: HashMap::new(),
            uids: HashMap::new(),
            groups: HashMap::new(),
            workers: BTreeMap::new(),
            pending: VecDeque::new(),
            delta: Delta::default(),
        }
    }
}

impl<P: workerman::protocol::Protocol> State<P> {
    /// The next free connection id: `++n`, skipping ids in use, 4294967295 wraps to 1.
    pub fn alloc_id(&mut self) -> u32 {
        loop {
            self.next_id = if self.next_id == u32::MAX { 1 } else { self.next_id + 1 };
            if !self.clients.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }

    /// Chooses where `id`'s next event goes: its bound worker if still there (or, while that one
    /// is leaving, wait for it), else the one with the fewest bound clients (and binds it). An
    /// event of a client already gone (a handed-back close) goes to any worker.
    /// With a custom `router`, it chooses among the available workers for every event (the
    /// wait for a leaving worker still applies).
    pub fn route(&mut self, id: u32, router: Option<(&super::Router, super::RouteRequest<'_>)>) -> Target {
        let mut current = self.clients.get(&id).and_then(|c| c.worker.clone());
        if let Some(key) = current.clone() {
            match self.workers.get(&key) {
                Some(w) if !w.leaving && router.is_none() => return Target::Worker(w.conn.clone()),
                Some(w) if w.leaving => return Target::Wait(key),
                Some(_) => {}
                None => current = None,
            }
        }
        let chosen = match router {
            Some((router, mut req)) => {
                let keys: Vec<&str> = self
                    .workers
                    .iter()
                    .filter(|(_, w)| !w.leaving)
                    .map(|(k, _)| k.as_str())
                    .collect();
                if keys.is_empty() {
                    return Target::Nobody;
                }
                req.current = current.as_deref();
                req.workers = &keys;
                let i = router(&req);
                keys[i % keys.len()].to_owned()
            }
            None => match self
                .workers
                .iter()
                .filter(|(_, w)| !w.leaving)
                .min_by_key(|(_, w)| w.bound)
                .map(|(k, _)| k.clone())
            {
                Some(k) => k,
                None => return Target::Nobody,
            },
        };
        if current.as_deref() == Some(chosen.as_str()) {
            return match self.workers.get(&chosen) {
                Some(w) => Target::Worker(w.conn.clone()),
                None => Target::Nobody,
            };
        }
        if let Some(old) = current.as_ref().and_then(|k| self.workers.get_mut(k)) {
            old.bound = old.bound.saturating_sub(1);
        }
        let key = chosen;
        let Some(w) = self.workers.get_mut(&key) else {
            return Target::Nobody;
        };
        let conn = w.conn.clone();
        if let Some(c) = self.clients.get_mut(&id) {
            w.bound += 1;
            c.worker = Some(key);
        }
        Target::Worker(conn)
    }

    /// Binds `uid`, replacing any previous one.
    pub fn bind_uid(&mut self, id: u32, uid: String) {
        self.unbind_uid(id);
        if let Some(c) = self.clients.get_mut(&id) {
            c.uid = Some(uid.clone());
            let set = self.uids.entry(uid.clone()).or_default();
            if set.is_empty() {
                self.delta.uid_added(&uid);
            }
            set.insert(id);
        }
    }

    /// Unbinds whatever uid `id` has.
    pub fn unbind_uid(&mut self, id: u32) {
        let Some(uid) = self.clients.get_mut(&id).and_then(|c| c.uid.take()) else {
            return;
        };
        if let Some(set) = self.uids.get_mut(&uid) {
            set.remove(&id);
            if set.is_empty() {
                self.uids.remove(&uid);
                self.delta.uid_removed(&uid);
            }
        }
    }

    /// Adds `id` to `group`.
    pub fn join_group(&mut self, id: u32, group: String) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.groups.insert(group.clone());
            let set = self.groups.entry(group.clone()).or_default();
            if set.is_empty() {
                self.delta.group_added(&group);
            }
            set.insert(id);
        }
    }

    /// Removes `id` from `group`; an empty group is deleted.
    pub fn leave_group(&mut self, id: u32, group: &str) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.groups.remove(group);
        }
        if let Some(set) = self.groups.get_mut(group) {
            set.remove(&id);
            if set.is_empty() {
                self.groups.remove(group);
                self.delta.group_removed(group);
            }
        }
    }

    /// Dissolves `group`.
    pub fn ungroup(&mut self, group: &str) {
        if let Some(set) = self.groups.remove(group) {
            self.delta.group_removed(group);
            for id in set {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.groups.remove(group);
                }
            }
        }
    }

    /// Forgets a closed client; returns it.
    pub fn remove_client(&mut self, id: u32) -> Option<Client<P>> {
        self.unbind_uid(id);
        let groups: Vec<String> = self.clients.get(&id)?.groups.iter().cloned().collect();
        for g in groups {
            self.leave_group(id, &g);
        }
        let c = self.clients.remove(&id)?;
        if let Some(w) = c.worker.as_ref().and_then(|k| self.workers.get_mut(k)) {
            w.bound = w.bound.saturating_sub(1);
        }
        Some(c)
    }
}

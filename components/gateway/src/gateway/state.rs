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

    /// Chooses the worker for `id`'s next event: its bound worker if still there and not
    /// leaving, else the one with the fewest bound clients (and binds it).
    pub fn route(&mut self, id: u32) -> Option<TcpConnection<GatewayProtocol>> {
        let current = self.clients.get(&id)?.worker.clone();
        if let Some(key) = current {
            if let Some(w) = self.workers.get(&key).filter(|w| !w.leaving) {
                return Some(w.conn.clone());
            }
            if let Some(w) = self.workers.get_mut(&key) {
                w.bound = w.bound.saturating_sub(1);
            }
        }
        let key = self
            .workers
            .iter()
            .filter(|(_, w)| !w.leaving)
            .min_by_key(|(_, w)| w.bound)
            .map(|(k, _)| k.clone())?;
        let w = self.workers.get_mut(&key)?;
        w.bound += 1;
        let conn = w.conn.clone();
        if let Some(c) = self.clients.get_mut(&id) {
            c.worker = Some(key);
        }
        Some(conn)
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

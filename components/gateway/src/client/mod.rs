//! The Gateway API (PHP's `Lib\Gateway` and `GatewayClient`): any process — a business
//! worker, another worker, a plain tokio program — sends to clients, uids and groups, manages
//! bindings and sessions, and queries the gateways.
//!
//! ```text
//!  GatewayClient ──{"event":"worker_connect",...}──► Register ──► ["10.0.0.1:2300", ...] (cached 1 s)
//!        │
//!        └── one persistent, authorised connection per gateway ──► [packet] → gateway
//!                                                                 ◄── u32be len + serialize(result)  (queries)
//! ```
//! Calls to one client go to the gateway named in its client_id; calls about uids, groups or
//! everyone go to every gateway.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use php_serialize::{Array, Value};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::auth::AuthMode;
use crate::client_id::ClientId;
use crate::error::{Error, Result};
use crate::frame::{Packet, cmd};
use crate::index::{Kind, RouteIndex};
use crate::php;

mod conn;
mod register;

use conn::Dial;

/// How long the Register's gateway list is reused: 1 s.
pub const ADDRESS_CACHE_TTL: Duration = Duration::from_secs(1);
/// Connect timeout toward Registers and gateways: 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Overall limit of one query: 5 s.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

type Slot = Arc<tokio::sync::Mutex<Option<TcpStream>>>;

enum Source {
    /// Ask these Registers (first reachable wins), caching the answer.
    Register(Vec<String>),
    /// A list kept up to date by the owner (a business worker's Register link).
    Shared(Arc<RwLock<Vec<String>>>),
}

struct Inner {
    source: Source,
    /// Business workers: which gateways hold which uids and groups.
    index: Option<Arc<RwLock<RouteIndex>>>,
    dial: Dial,
    cache: Mutex<Option<(Instant, Vec<String>)>>,
    conns: Mutex<HashMap<String, Slot>>,
}

/// A handle on the gateway cluster; cheap to clone, `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> workerman_gateway::Result<()> {
/// use workerman_gateway::GatewayClient;
/// let gw = GatewayClient::new(["127.0.0.1:1236"]);
/// gw.send_to_all("hello everyone", None, &[]).await?;
/// gw.send_to_uid(&["42"], "hello 42").await?;
/// println!("{} online", gw.get_all_client_id_count().await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GatewayClient {
    inner: Arc<Inner>,
    /// Sends skip the client protocol's encoding ([`GatewayClient::raw`]).
    raw: bool,
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient").finish_non_exhaustive()
    }
}

impl GatewayClient {
    /// A client of the cluster whose Registers are at `registers` (`host:port`, several for
    /// failover, tried in order; a `redis://...` entry reads the gateways' leases in Redis),
    /// with no secret key.
    pub fn new<S: Into<String>>(registers: impl IntoIterator<Item = S>) -> GatewayClient {
        Self::build(
            Source::Register(registers.into_iter().map(Into::into).collect()),
            None,
            String::new(),
            AuthMode::default(),
        )
    }

    /// A client whose gateway list is maintained by its owner (business workers use this).
    pub(crate) fn shared(
        list: Arc<RwLock<Vec<String>>>,
        index: Arc<RwLock<RouteIndex>>,
        secret_key: String,
        mode: AuthMode,
    ) -> GatewayClient {
        Self::build(Source::Shared(list), Some(index), secret_key, mode)
    }

    fn build(
        source: Source,
        index: Option<Arc<RwLock<RouteIndex>>>,
        secret_key: String,
        auth_mode: AuthMode,
    ) -> GatewayClient {
        GatewayClient {
            raw: false,
            inner: Arc::new(Inner {
                source,
                index,
                dial: Dial {
                    secret_key,
                    auth_mode,
                    connect_timeout: CONNECT_TIMEOUT,
                    timeout: QUERY_TIMEOUT,
                },
                cache: Mutex::new(None),
                conns: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same client with a secret key and the way to prove it.
    pub fn with_secret_key(self, key: impl Into<String>, mode: AuthMode) -> GatewayClient {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|a| Inner {
            source: match &a.source {
                Source::Register(r) => Source::Register(r.clone()),
                Source::Shared(s) => Source::Shared(s.clone()),
            },
            index: a.index.clone(),
            dial: a.dial.clone(),
            cache: Mutex::new(None),
            conns: Mutex::new(HashMap::new()),
        });
        let mut inner = inner;
        inner.dial.secret_key = key.into();
        inner.dial.auth_mode = mode;
        inner.conns = Mutex::new(HashMap::new());
        GatewayClient {
            inner: Arc::new(inner),
            raw: self.raw,
        }
    }

    /// The same handle, whose sends go to clients as they are, without the client protocol's
    /// encoding (GatewayWorker's `$raw = true`: no WebSocket frame, no `\n` of `text://`...);
    /// for bytes already encoded, e.g. a WebSocket frame built once for many sends.
    ///
    /// ```no_run
    /// # async fn f(gw: workerman_gateway::GatewayClient) -> workerman_gateway::Result<()> {
    /// gw.raw().send_to_all(b"\x81\x02hi", None, &[]).await?; // a ready-made text frame
    /// # Ok(()) }
    /// ```
    pub fn raw(&self) -> GatewayClient {
        GatewayClient {
            inner: self.inner.clone(),
            raw: true,
        }
    }

    /// A send command with this handle's flags.
    fn send_cmd(&self, cmd: u8) -> Packet {
        let mut p = Packet::new(cmd);
        if self.raw {
            p.flag |= crate::frame::FLAG_NOT_CALL_ENCODE;
        }
        p
    }

    /// Every gateway's inner address, as the Register(s) announce them.
    pub async fn gateway_addresses(&self) -> Result<Vec<String>> {
        match &self.inner.source {
            Source::Shared(list) => Ok(list.read().map(|l| l.clone()).unwrap_or_default()),
            Source::Register(regs) => {
                if let Some((at, list)) = self.inner.cache.lock().ok().and_then(|c| c.clone())
                    && at.elapsed() < ADDRESS_CACHE_TTL
                {
                    return Ok(list);
                }
                let list = register::fetch(regs, &self.inner.dial).await?;
                if let Ok(mut c) = self.inner.cache.lock() {
                    *c = Some((Instant::now(), list.clone()));
                }
                Ok(list)
            }
        }
    }

    fn slot(&self, address: &str) -> Slot {
        let mut conns = self.inner.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.entry(address.to_owned()).or_default().clone()
    }

    /// Writes `packet` to the gateway at `address` (fire and forget).
    pub(crate) async fn send_packet(&self, address: &str, packet: &Packet) -> Result<()> {
        let bytes = packet.to_bytes();
        let slot = self.slot(address);
        let mut guard = slot.lock().await;
        for attempt in 0..2 {
            if guard.as_ref().is_none_or(conn::is_closed) {
                *guard = Some(conn::open(&self.inner.dial, address).await?);
            }
            let stream = guard.as_mut().expect("just opened");
            match stream.write_all(&bytes).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt == 1 => {
                    *guard = None;
                    return Err(Error::Io {
                        what: "write to gateway",
                        address: address.into(),
                        source: e,
                    });
                }
                Err(_) => *guard = None,
            }
        }
        Ok(())
    }

    /// Sends a query to the gateway at `address` and returns the reply payload.
    pub(crate) async fn query_packet(&self, address: &str, packet: &Packet) -> Result<Bytes> {
        let bytes = packet.to_bytes();
        let slot = self.slot(address);
        let mut guard = slot.lock().await;
        let run = async {
            if guard.as_ref().is_none_or(conn::is_closed) {
                *guard = Some(conn::open(&self.inner.dial, address).await?);
            }
            let stream = guard.as_mut().expect("just opened");
            stream.write_all(&bytes).await.map_err(|source| Error::Io {
                what: "write to gateway",
                address: address.into(),
                source,
            })?;
            conn::read_reply(stream, address).await
        };
        let out = match tokio::time::timeout(self.inner.dial.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(format!("reply from gateway {address}"))),
        };
        if out.is_err() {
            // The connection may be mid-reply: never reuse it.
            *guard = None;
        }
        out
    }

    /// Sends `packet` to every gateway; unreachable ones are skipped (as GatewayClient does),
    /// the first error is returned only if no gateway took it.
    async fn send_all(&self, packet: &Packet) -> Result<()> {
        let mut last = None;
        let mut any = false;
        for a in self.gateway_addresses().await? {
            match self.send_packet(&a, packet).await {
                Ok(()) => any = true,
                Err(e) => last = Some(e),
            }
        }
        match (any, last) {
            (false, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Runs a query on every gateway, in parallel; gateways that fail contribute nothing.
    async fn query_all(&self, packet: &Packet) -> Result<Vec<(String, Value)>> {
        let mut set = tokio::task::JoinSet::new();
        for a in self.gateway_addresses().await? {
            let (me, p) = (self.clone(), packet.clone());
            set.spawn(async move {
                let r = me.query_packet(&a, &p).await;
                (a, r)
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok((a, Ok(bytes))) = joined
                && let Ok(v) = php_serialize::unserialize(&bytes)
            {
                out.push((a, v));
            }
        }
        out.sort_by(|x, y| x.0.cmp(&y.0));
        Ok(out)
    }

    async fn query_one(&self, id: &ClientId, packet: Packet) -> Result<Value> {
        let a = id.gateway_address();
        let bytes = self.query_packet(&a, &packet.with_id(id.connection_id)).await?;
        php_serialize::unserialize(&bytes).map_err(|e| Error::BadReply {
            address: a,
            reason: e.to_string(),
        })
    }

    async fn to_owner(&self, client_id: &str, packet: Packet) -> Result<()> {
        let id: ClientId = client_id.parse()?;
        self.send_packet(&id.gateway_address(), &packet.with_id(id.connection_id))
            .await
    }

    // ---- sends ----------------------------------------------------------------------------

    /// Sends `message` to one client.
    pub async fn send_to_client(&self, client_id: &str, message: impl AsRef<[u8]>) -> Result<()> {
        let p = self
            .send_cmd(cmd::SEND_TO_ONE)
            .with_body(Bytes::copy_from_slice(message.as_ref()));
        self.to_owner(client_id, p).await
    }

    /// Sends `message` to every client, or only to `client_ids`, minus `exclude`.
    pub async fn send_to_all(
        &self,
        message: impl AsRef<[u8]>,
        client_ids: Option<&[&str]>,
        exclude: &[&str],
    ) -> Result<()> {
        let body = Bytes::copy_from_slice(message.as_ref());
        let excluded: Vec<ClientId> = exclude.iter().map(|c| c.parse()).collect::<Result<_>>()?;
        if let Some(list) = client_ids {
            let mut by_gw: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
            for c in list {
                let id: ClientId = c.parse()?;
                if excluded.contains(&id) {
                    continue;
                }
                by_gw
                    .entry(id.gateway_address())
                    .or_default()
                    .insert(id.connection_id.to_string(), id.connection_id.into());
            }
            for (gw, ids) in by_gw {
                let ext = json!({ "connections": ids }).to_string();
                self.send_packet(
                    &gw,
                    &self.send_cmd(cmd::SEND_TO_ALL).with_ext(ext).with_body(body.clone()),
                )
                .await?;
            }
            return Ok(());
        }
        let mut ex_by_gw: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
        for id in &excluded {
            ex_by_gw
                .entry(id.gateway_address())
                .or_default()
                .insert(id.connection_id.to_string(), id.connection_id.into());
        }
        if ex_by_gw.is_empty() {
            return self.send_all(&self.send_cmd(cmd::SEND_TO_ALL).with_body(body)).await;
        }
        for gw in self.gateway_addresses().await? {
            let ext = match ex_by_gw.get(&gw) {
                Some(ids) => json!({ "exclude": ids }).to_string(),
                None => String::new(),
            };
            let _ = self
                .send_packet(
                    &gw,
                    &self.send_cmd(cmd::SEND_TO_ALL).with_ext(ext).with_body(body.clone()),
                )
                .await;
        }
        Ok(())
    }

    /// Sends `message` to every connection of every uid in `uids`.
    pub async fn send_to_uid(&self, uids: &[&str], message: impl AsRef<[u8]>) -> Result<()> {
        let ext = serde_json::to_string(uids).unwrap_or_default();
        let p = self
            .send_cmd(cmd::SEND_TO_UID)
            .with_ext(ext)
            .with_body(Bytes::copy_from_slice(message.as_ref()));
        let mut last = None;
        let mut any = false;
        for gw in self.targets(Kind::Uid, uids).await? {
            match self.send_packet(&gw, &p).await {
                Ok(()) => any = true,
                Err(e) => last = Some(e),
            }
        }
        match (any, last) {
            (false, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// The gateways a send to `names` must reach: those the routing index names (business
    /// workers), else every gateway.
    async fn targets(&self, kind: Kind, names: &[&str]) -> Result<Vec<String>> {
        if let Some(idx) = &self.inner.index
            && let Some(set) = idx.read().ok().and_then(|i| i.gateways(kind, names))
        {
            return Ok(set.into_iter().collect());
        }
        self.gateway_addresses().await
    }

    fn note_local(&self, kind: Kind, name: &str, client_id: &str) {
        if let (Some(idx), Ok(id)) = (&self.inner.index, client_id.parse::<ClientId>())
            && let Ok(mut i) = idx.write()
        {
            i.add_local(kind, name, &id.gateway_address());
        }
    }

    /// Sends `message` to the members of `groups`, minus `exclude`.
    pub async fn send_to_group(&self, groups: &[&str], message: impl AsRef<[u8]>, exclude: &[&str]) -> Result<()> {
        if groups.is_empty() || groups.iter().all(|g| php::is_empty_key(g)) {
            return Err(Error::InvalidArgument("send_to_group needs a group".into()));
        }
        let body = Bytes::copy_from_slice(message.as_ref());
        let mut ex_by_gw: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
        for c in exclude {
            let id: ClientId = c.parse()?;
            ex_by_gw
                .entry(id.gateway_address())
                .or_default()
                .insert(id.connection_id.to_string(), id.connection_id.into());
        }
        let mut last = None;
        for gw in self.targets(Kind::Group, groups).await? {
            let ext = json!({ "group": groups, "exclude": ex_by_gw.get(&gw) }).to_string();
            let p = self.send_cmd(cmd::SEND_TO_GROUP).with_ext(ext).with_body(body.clone());
            if let Err(e) = self.send_packet(&gw, &p).await {
                last = Some(e);
            }
        }
        match last {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Closes a client after `message` (if any) is sent.
    pub async fn close_client(&self, client_id: &str, message: Option<&[u8]>) -> Result<()> {
        let p = match message {
            Some(m) => self.send_cmd(cmd::KICK).with_body(Bytes::copy_from_slice(m)),
            None => Packet {
                flag: 0,
                ..Packet::new(cmd::KICK).with_body(&b"N;"[..])
            },
        };
        self.to_owner(client_id, p).await
    }

    /// Closes a client at once, dropping what is queued for it.
    pub async fn destroy_client(&self, client_id: &str) -> Result<()> {
        self.to_owner(client_id, Packet::new(cmd::DESTROY)).await
    }

    // ---- bindings -------------------------------------------------------------------------

    /// Binds `uid` to a client (replacing its previous uid).
    pub async fn bind_uid(&self, client_id: &str, uid: &str) -> Result<()> {
        self.to_owner(client_id, Packet::new(cmd::BIND_UID).with_ext(uid.to_owned()))
            .await?;
        self.note_local(Kind::Uid, uid, client_id);
        Ok(())
    }

    /// Unbinds a client's uid.
    pub async fn unbind_uid(&self, client_id: &str, uid: &str) -> Result<()> {
        self.to_owner(client_id, Packet::new(cmd::UNBIND_UID).with_ext(uid.to_owned()))
            .await
    }

    /// Adds a client to `group`.
    pub async fn join_group(&self, client_id: &str, group: &str) -> Result<()> {
        self.to_owner(client_id, Packet::new(cmd::JOIN_GROUP).with_ext(group.to_owned()))
            .await?;
        self.note_local(Kind::Group, group, client_id);
        Ok(())
    }

    /// Removes a client from `group`.
    pub async fn leave_group(&self, client_id: &str, group: &str) -> Result<()> {
        self.to_owner(client_id, Packet::new(cmd::LEAVE_GROUP).with_ext(group.to_owned()))
            .await
    }

    /// Dissolves `group` on every gateway.
    pub async fn ungroup(&self, group: &str) -> Result<()> {
        if php::is_empty_key(group) {
            return Err(Error::InvalidArgument("ungroup needs a group".into()));
        }
        self.send_all(&Packet::new(cmd::UNGROUP).with_ext(group.to_owned()))
            .await
    }

    // ---- sessions -------------------------------------------------------------------------

    /// Replaces a client's session.
    pub async fn set_session(&self, client_id: &str, session: &Array) -> Result<()> {
        let ext = php_serialize::serialize(&Value::Array(session.clone()));
        self.to_owner(client_id, Packet::new(cmd::SET_SESSION).with_ext(ext))
            .await
    }

    /// Merges `partial` into a client's session (`array_replace_recursive`).
    pub async fn update_session(&self, client_id: &str, partial: &Array) -> Result<()> {
        let ext = php_serialize::serialize(&Value::Array(partial.clone()));
        self.to_owner(client_id, Packet::new(cmd::UPDATE_SESSION).with_ext(ext))
            .await
    }

    /// A client's session; `None` if it is offline.
    pub async fn get_session(&self, client_id: &str) -> Result<Option<Array>> {
        let id: ClientId = client_id.parse()?;
        Ok(
            match self.query_one(&id, Packet::new(cmd::GET_SESSION_BY_CLIENT_ID)).await? {
                Value::Array(a) => Some(a),
                _ => None,
            },
        )
    }

    // ---- queries --------------------------------------------------------------------------

    /// Whether a client is connected.
    pub async fn is_online(&self, client_id: &str) -> Result<bool> {
        let id: ClientId = client_id.parse()?;
        match self.query_one(&id, Packet::new(cmd::IS_ONLINE)).await {
            Ok(v) => Ok(v.as_int() == Some(1)),
            Err(Error::Io { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The client_ids bound to `uid`.
    pub async fn get_client_id_by_uid(&self, uid: &str) -> Result<Vec<String>> {
        let p = Packet::new(cmd::GET_CLIENT_ID_BY_UID).with_ext(uid.to_owned());
        let mut out = Vec::new();
        for (gw, v) in self.query_all(&p).await? {
            out.extend(ids_of(&gw, &v));
        }
        Ok(out)
    }

    /// Whether any client is bound to `uid`.
    pub async fn is_uid_online(&self, uid: &str) -> Result<bool> {
        Ok(!self.get_client_id_by_uid(uid).await?.is_empty())
    }

    /// The uid bound to a client, if any.
    pub async fn get_uid_by_client_id(&self, client_id: &str) -> Result<Option<String>> {
        let id: ClientId = client_id.parse()?;
        let q =
            json!({"fields": ["uid"], "where": {"connection_id": {id.connection_id.to_string(): id.connection_id}}});
        let v = self
            .query_one(&id, Packet::new(cmd::SELECT).with_ext(q.to_string()))
            .await?;
        let uid = v
            .as_array()
            .and_then(|a| a.iter().next())
            .and_then(|(_, row)| row.as_array()?.get_str("uid").cloned());
        Ok(uid
            .and_then(|u| php::scalar_bytes(&u))
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// How many clients are connected.
    pub async fn get_all_client_id_count(&self) -> Result<usize> {
        self.count(Packet::new(cmd::GET_CLIENT_COUNT_BY_GROUP)).await
    }

    /// Every connected client_id.
    pub async fn get_all_client_id_list(&self) -> Result<Vec<String>> {
        let q = json!({"fields": ["uid"], "where": []});
        let mut out = Vec::new();
        for (gw, v) in self
            .query_all(&Packet::new(cmd::SELECT).with_ext(q.to_string()))
            .await?
        {
            out.extend(keys_of(&gw, &v));
        }
        Ok(out)
    }

    /// How many clients are in `group`.
    pub async fn get_client_count_by_group(&self, group: &str) -> Result<usize> {
        if php::is_empty_key(group) {
            return Ok(0);
        }
        self.count(Packet::new(cmd::GET_CLIENT_COUNT_BY_GROUP).with_ext(group.to_owned()))
            .await
    }

    async fn count(&self, p: Packet) -> Result<usize> {
        let mut n = 0;
        for (_, v) in self.query_all(&p).await? {
            n += v.as_int().unwrap_or(0).max(0) as usize;
        }
        Ok(n)
    }

    /// The members of `group` with their sessions (an empty array for none).
    pub async fn get_client_sessions_by_group(&self, group: &str) -> Result<BTreeMap<String, Array>> {
        let p = Packet::new(cmd::GET_CLIENT_SESSIONS_BY_GROUP).with_ext(group.to_owned());
        self.sessions(p).await
    }

    /// Every client with its session.
    pub async fn get_all_client_sessions(&self) -> Result<BTreeMap<String, Array>> {
        self.sessions(Packet::new(cmd::GET_ALL_CLIENT_SESSIONS)).await
    }

    async fn sessions(&self, p: Packet) -> Result<BTreeMap<String, Array>> {
        let mut out = BTreeMap::new();
        for (gw, v) in self.query_all(&p).await? {
            let Some(a) = v.as_array() else { continue };
            for (k, s) in a.iter() {
                let Some(cid) = client_id_of(&gw, k) else { continue };
                let session = s
                    .as_bytes()
                    .filter(|b| !b.is_empty())
                    .and_then(|b| php_serialize::unserialize(b).ok())
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                out.insert(cid, session);
            }
        }
        Ok(out)
    }

    /// Every group id on every gateway.
    pub async fn get_all_group_id_list(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for (_, v) in self.query_all(&Packet::new(cmd::GET_GROUP_ID_LIST)).await? {
            for g in v.as_array().into_iter().flat_map(|a| a.values()) {
                if let Some(b) = php::scalar_bytes(g) {
                    let g = String::from_utf8_lossy(&b).into_owned();
                    if !out.contains(&g) {
                        out.push(g);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The client_ids in `group`.
    pub async fn get_client_id_list_by_group(&self, group: &str) -> Result<Vec<String>> {
        let q = json!({"fields": ["uid"], "where": {"groups": [group]}});
        let mut out = Vec::new();
        for (gw, v) in self
            .query_all(&Packet::new(cmd::SELECT).with_ext(q.to_string()))
            .await?
        {
            out.extend(keys_of(&gw, &v));
        }
        Ok(out)
    }

    /// The distinct uids bound to members of `group`.
    pub async fn get_uid_list_by_group(&self, group: &str) -> Result<Vec<String>> {
        self.distinct_uids(json!({"groups": [group]})).await
    }

    /// Every uid bound on any gateway (GatewayWorker's `getAllUidList`), each once.
    pub async fn get_all_uid_list(&self) -> Result<Vec<String>> {
        self.distinct_uids(json!([])).await
    }

    /// The uids of the clients a `SELECT` with `where_` finds on every gateway, each once, in
    /// the order first seen.
    async fn distinct_uids(&self, where_: serde_json::Value) -> Result<Vec<String>> {
        let q = json!({"fields": ["uid"], "where": where_});
        let mut out: Vec<String> = Vec::new();
        // A set beside the list: every uid of a big deployment goes through here.
        let mut seen = std::collections::HashSet::new();
        for (_, v) in self
            .query_all(&Packet::new(cmd::SELECT).with_ext(q.to_string()))
            .await?
        {
            for (_, row) in v.as_array().into_iter().flat_map(|a| a.iter()) {
                let uid = row
                    .as_array()
                    .and_then(|r| r.get_str("uid"))
                    .and_then(php::scalar_bytes);
                if let Some(u) = uid.map(|b| String::from_utf8_lossy(&b).into_owned())
                    && seen.insert(u.clone())
                {
                    out.push(u);
                }
            }
        }
        Ok(out)
    }

    /// How many distinct uids are bound (GatewayWorker's `getAllUidCount`).
    pub async fn get_all_uid_count(&self) -> Result<usize> {
        Ok(self.get_all_uid_list().await?.len())
    }

    /// The member count of each of `groups`, summed over the gateways (GatewayWorker's
    /// `batchGetClientIdCountByGroup`); a group nobody is in counts 0.
    pub async fn batch_get_client_count_by_group(&self, groups: &[&str]) -> Result<BTreeMap<String, usize>> {
        let ext = serde_json::to_string(groups).unwrap_or_default();
        let mut out: BTreeMap<String, usize> = groups.iter().map(|g| ((*g).to_owned(), 0)).collect();
        for (_, v) in self
            .query_all(&Packet::new(cmd::BATCH_GET_CLIENT_COUNT_BY_GROUP).with_ext(ext))
            .await?
        {
            for (k, n) in v.as_array().into_iter().flat_map(|a| a.iter()) {
                let g = key_string(k);
                *out.entry(g).or_default() += n.as_int().unwrap_or(0).max(0) as usize;
            }
        }
        Ok(out)
    }

    /// The client_ids bound to each of `uids` (GatewayWorker's `batchGetClientIdByUid`).
    pub async fn batch_get_client_id_by_uid(&self, uids: &[&str]) -> Result<BTreeMap<String, Vec<String>>> {
        let ext = serde_json::to_string(uids).unwrap_or_default();
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (gw, v) in self
            .query_all(&Packet::new(cmd::BATCH_GET_CLIENT_ID_BY_UID).with_ext(ext))
            .await?
        {
            for (k, ids) in v.as_array().into_iter().flat_map(|a| a.iter()) {
                let uid = key_string(k);
                out.entry(uid).or_default().extend(ids_of(&gw, ids));
            }
        }
        Ok(out)
    }

    /// How many distinct uids are bound to members of `group`.
    pub async fn get_uid_count_by_group(&self, group: &str) -> Result<usize> {
        Ok(self.get_uid_list_by_group(group).await?.len())
    }
}

/// An array key as the string PHP would give it (`(string)$k`).
fn key_string(k: &php_serialize::Key) -> String {
    String::from_utf8_lossy(&k.to_bytes()).into_owned()
}

/// The client_id for connection-id key `k` of gateway `gw`.
fn client_id_of(gw: &str, k: &php_serialize::Key) -> Option<String> {
    let (ip, port) = gw.rsplit_once(':')?;
    let id = match k {
        php_serialize::Key::Int(i) => u32::try_from(*i).ok()?,
        php_serialize::Key::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok()?,
    };
    Some(ClientId::new(ip.parse().ok()?, port.parse().ok()?, id).to_string())
}

fn keys_of(gw: &str, v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|(k, _)| client_id_of(gw, k))
        .collect()
}

fn ids_of(gw: &str, v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flat_map(|a| a.values())
        .filter_map(|id| client_id_of(gw, &php_serialize::Key::Int(id.as_int()?)))
        .collect()
}

//! The Redis backend: each GlobalData key is a Redis string holding the PHP-serialized value
//! (so `cas` compares serialized bytes exactly as the built-in server compares their md5), and
//! `add`, `cas` and `increment` run as Lua scripts, atomic on the Redis server.
//!
//! `increment` of an int by an int (the counter case) runs entirely in Lua while both fit in 15
//! digits; anything else (floats, numeric strings, huge ints) is computed here with PHP's `+`
//! and written back with the `cas` script, retried until no other writer got in between.

use std::time::Duration;

use php_serialize::{Key, Value, serialize, unserialize};
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use crate::error::{Error, Result};

const ADD: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= 'N;' then return 0 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else redis.call('SET', KEYS[1], ARGV[1]) end
return 1
";

const CAS: &str = r"
local cur = redis.call('GET', KEYS[1]) or 'N;'
if cur ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
elseif ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
";

const INCREMENT: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur or cur == 'N;' then return {'absent'} end
if ARGV[1] ~= '' then
  local n = string.match(cur, '^i:(%-?%d+);$')
  if n and #n <= 15 and #ARGV[1] <= 15 then
    local out = 'i:' .. string.format('%d', tonumber(n) + tonumber(ARGV[1])) .. ';'
    redis.call('SET', KEYS[1], out, 'KEEPTTL')
    return {'done', out}
  end
end
return {'slow', cur}
";

/// How many times the slow `increment` path retries when other writers keep winning.
const MAX_CAS_RETRIES: usize = 1000;

pub(crate) struct RedisBackend {
    url: String,
    client: redis::Client,
    prefix: Vec<u8>,
    conn: OnceCell<ConnectionManager>,
}

impl RedisBackend {
    pub(crate) fn new(url: &str, prefix: &str) -> Result<RedisBackend> {
        let client = redis::Client::open(url).map_err(|e| Error::Address {
            address: url.into(),
            reason: e.to_string(),
        })?;
        Ok(RedisBackend {
            url: url.into(),
            client,
            prefix: prefix.as_bytes().to_vec(),
            conn: OnceCell::new(),
        })
    }

    pub(crate) fn with_prefix(&self, prefix: &str) -> RedisBackend {
        RedisBackend {
            url: self.url.clone(),
            client: self.client.clone(),
            prefix: prefix.as_bytes().to_vec(),
            conn: OnceCell::new(),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The shared connection (reconnects by itself after Redis restarts).
    async fn conn(&self) -> Result<ConnectionManager> {
        let c = self
            .conn
            .get_or_try_init(|| self.client.get_connection_manager())
            .await?;
        Ok(c.clone())
    }

    fn key(&self, key: &Key) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.extend_from_slice(&key.to_bytes());
        k
    }

    pub(crate) async fn get(&self, key: &Key) -> Result<Vec<u8>> {
        let mut c = self.conn().await?;
        let v: Option<Vec<u8>> = redis::cmd("GET").arg(self.key(key)).query_async(&mut c).await?;
        Ok(v.unwrap_or_else(|| b"N;".to_vec()))
    }

    pub(crate) async fn set(&self, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let mut c = self.conn().await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_ms(ttl));
        }
        cmd.query_async::<()>(&mut c).await?;
        Ok(())
    }

    pub(crate) async fn add(&self, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<bool> {
        let mut c = self.conn().await?;
        let done: i64 = redis::Script::new(ADD)
            .key(self.key(key))
            .arg(value)
            .arg(ttl.map(|t| ttl_ms(t).to_string()).unwrap_or_default())
            .invoke_async(&mut c)
            .await?;
        Ok(done == 1)
    }

    pub(crate) async fn cas(
        &self,
        key: &Key,
        old: &[u8],
        new: &[u8],
        ttl: Option<Duration>,
        keep_ttl: bool,
    ) -> Result<bool> {
        let mut c = self.conn().await?;
        let done: i64 = redis::Script::new(CAS)
            .key(self.key(key))
            .arg(old)
            .arg(new)
            .arg(ttl.map(|t| ttl_ms(t).to_string()).unwrap_or_default())
            .arg(if keep_ttl { "1" } else { "0" })
            .invoke_async(&mut c)
            .await?;
        Ok(done == 1)
    }

    /// Returns the reply the built-in server would give: `b:0;` or the serialized new value.
    pub(crate) async fn increment(&self, key: &Key, step: &Value) -> Result<Vec<u8>> {
        if crate::arith::operand(step).is_err() {
            return Err(Error::Refused(format!(
                "unsupported step type {} (PHP throws a TypeError)",
                step.type_name()
            )));
        }
        let int_step = match step {
            Value::Int(n) => n.to_string(),
            _ => String::new(),
        };
        let script = redis::Script::new(INCREMENT);
        let mut c = self.conn().await?;
        for _ in 0..MAX_CAS_RETRIES {
            let reply: Vec<Vec<u8>> = script.key(self.key(key)).arg(&int_step).invoke_async(&mut c).await?;
            match (reply.first().map(Vec::as_slice), reply.get(1)) {
                (Some(b"absent"), _) => return Ok(b"b:0;".to_vec()),
                (Some(b"done"), Some(out)) => return Ok(out.clone()),
                (Some(b"slow"), Some(cur)) => {
                    let current = unserialize(cur)?;
                    let new = crate::arith::increment(&current, step)
                        .map_err(|_| Error::Refused("unsupported step".into()))?;
                    let bytes = serialize(&new);
                    if self.cas(key, cur, &bytes, None, true).await? {
                        return Ok(bytes);
                    }
                }
                _ => {
                    return Err(Error::Decode(php_serialize::Error::message(
                        "unexpected reply from the increment script",
                    )));
                }
            }
        }
        Err(Error::Refused(format!(
            "increment gave up after {MAX_CAS_RETRIES} conflicting writes"
        )))
    }

    pub(crate) async fn delete(&self, key: &Key) -> Result<()> {
        let mut c = self.conn().await?;
        redis::cmd("DEL").arg(self.key(key)).query_async::<()>(&mut c).await?;
        Ok(())
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

//! Typed per-connection user data (what PHP code does with `$connection->uid = ...`), and the
//! protocol's per-connection state.

use std::any::{Any, TypeId};

use super::TcpConnection;
use crate::protocol::Protocol;

/// A tiny type-keyed map; connections usually hold zero to two entries, so a vector beats hashing.
#[derive(Default)]
pub(crate) struct Extensions {
    items: Vec<(TypeId, Box<dyn Any>)>,
}

impl Extensions {
    pub fn insert<T: 'static>(&mut self, value: T) -> Option<T> {
        let id = TypeId::of::<T>();
        for (k, v) in &mut self.items {
            if *k == id {
                let old = std::mem::replace(v, Box::new(value));
                return old.downcast::<T>().ok().map(|b| *b);
            }
        }
        self.items.push((id, Box::new(value)));
        None
    }

    pub fn get<T: 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.items
            .iter()
            .find(|(k, _)| *k == id)
            .and_then(|(_, v)| v.downcast_ref::<T>())
    }

    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let id = TypeId::of::<T>();
        let pos = self.items.iter().position(|(k, _)| *k == id)?;
        self.items.swap_remove(pos).1.downcast::<T>().ok().map(|b| *b)
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// Runs `f` on this connection's protocol state ([`Protocol::State`]): for protocol
    /// extensions (a WebSocket connection's message type, events left by `decode`). Don't send
    /// on this connection inside `f`.
    pub fn with_protocol_state<R>(&self, f: impl FnOnce(&mut P::State) -> R) -> R {
        f(&mut self.inner.st.borrow_mut().proto)
    }

    /// Stores a value of type `T` on the connection (one per type), returning the previous one.
    ///
    /// ```no_run
    /// # use workerman::{TcpConnection, protocol::Text};
    /// struct Uid(u64);
    /// fn on_connect(conn: &TcpConnection<Text>) {
    ///     conn.set_data(Uid(42));
    ///     assert_eq!(conn.with_data(|uid: &mut Uid| uid.0), Some(42));
    /// }
    /// ```
    pub fn set_data<T: 'static>(&self, value: T) -> Option<T> {
        self.inner.st.borrow_mut().data.insert(value)
    }

    /// A clone of the stored `T`.
    pub fn data<T: Clone + 'static>(&self) -> Option<T> {
        self.inner.st.borrow().data.get::<T>().cloned()
    }

    /// Runs `f` on the stored `T`. `f` may use the connection; while it runs, the `T` is taken out
    /// (`data::<T>()` inside `f` sees `None`, and a `set_data::<T>` inside `f` wins).
    pub fn with_data<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        // Taken out while `f` runs, so `f` may use this connection (send, close, other data).
        let mut value = self.inner.st.borrow_mut().data.remove::<T>()?;
        let r = f(&mut value);
        let mut st = self.inner.st.borrow_mut();
        if st.data.get::<T>().is_none() {
            st.data.insert(value);
        }
        Some(r)
    }

    /// Removes and returns the stored `T`.
    pub fn remove_data<T: 'static>(&self) -> Option<T> {
        self.inner.st.borrow_mut().data.remove::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_slots() {
        let mut e = Extensions::default();
        assert_eq!(e.insert(5u32), None);
        assert_eq!(e.insert("x".to_string()), None);
        assert_eq!(e.insert(7u32), Some(5));
        let v = e.remove::<u32>().unwrap();
        e.insert(v + 1);
        assert_eq!(e.get::<u32>(), Some(&8));
        assert_eq!(e.remove::<String>().as_deref(), Some("x"));
        assert_eq!(e.get::<String>(), None);
    }
}

//! Per-connection callbacks (copied from the worker at accept time, replaceable per connection)
//! and flow control: pausing reads, and `pipe` which wires both together.

use std::rc::Rc;

use super::{ConnectionError, TcpConnection};
use crate::panic::guard;
use crate::protocol::Protocol;

pub(crate) type ConnFn<P> = Rc<dyn Fn(&TcpConnection<P>)>;
pub(crate) type MessageFn<P> = Rc<dyn Fn(&TcpConnection<P>, <P as Protocol>::Message)>;
pub(crate) type ErrorFn<P> = Rc<dyn Fn(&TcpConnection<P>, &ConnectionError)>;

/// The callbacks of one connection, copied from its worker at accept time.
pub(crate) struct Callbacks<P: Protocol> {
    pub on_connect: Option<ConnFn<P>>,
    pub on_message: Option<MessageFn<P>>,
    pub on_close: Option<ConnFn<P>>,
    pub on_error: Option<ErrorFn<P>>,
    pub on_buffer_full: Option<ConnFn<P>>,
    pub on_buffer_drain: Option<ConnFn<P>>,
    /// The protocol's connection-side service (hooks, handshake replies, file streaming).
    pub service: Option<super::service::ServiceRef<P>>,
}

impl<P: Protocol> Default for Callbacks<P> {
    fn default() -> Self {
        Callbacks {
            on_connect: None,
            on_message: None,
            on_close: None,
            on_error: None,
            on_buffer_full: None,
            on_buffer_drain: None,
            service: None,
        }
    }
}

impl<P: Protocol> Clone for Callbacks<P> {
    fn clone(&self) -> Self {
        Callbacks {
            on_connect: self.on_connect.clone(),
            on_message: self.on_message.clone(),
            on_close: self.on_close.clone(),
            on_error: self.on_error.clone(),
            on_buffer_full: self.on_buffer_full.clone(),
            on_buffer_drain: self.on_buffer_drain.clone(),
            service: self.service.clone(),
        }
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// Hands an event a protocol call raised to the protocol's service.
    pub(crate) fn service_event(&self) {
        let service = self.inner.st.borrow().cb.service.clone();
        if let Some(s) = service {
            guard(|| s.event(self));
        }
    }

    /// The protocol's connection-side service.
    pub(crate) fn service(&self) -> Option<super::service::ServiceRef<P>> {
        self.inner.st.borrow().cb.service.clone()
    }

    pub(crate) fn emit_error(&self, err: &ConnectionError) {
        let cb = self.inner.st.borrow().cb.on_error.clone();
        if let Some(cb) = cb {
            guard(|| cb(self, err));
        }
    }

    /// Stops reading: no more `on_message` until [`resume_recv`](Self::resume_recv).
    pub fn pause_recv(&self) {
        self.inner.st.borrow_mut().paused = true;
    }

    /// Reads again, first delivering any packet already buffered.
    pub fn resume_recv(&self) {
        let mut st = self.inner.st.borrow_mut();
        if !st.paused {
            return;
        }
        st.paused = false;
        let buffered = !st.recv.is_empty();
        drop(st);
        if buffered {
            self.dispatch();
        }
        self.inner.wake();
    }

    /// Whether reading is paused.
    pub fn is_paused(&self) -> bool {
        self.inner.st.borrow().paused
    }

    /// Forwards everything received here to `dest`, with backpressure: when `dest`'s send buffer
    /// fills, reading here pauses until it drains; when either side closes, so does `dest`.
    /// `a.pipe(&b); b.pipe(&a);` is a TCP proxy.
    pub fn pipe<Q>(&self, dest: &TcpConnection<Q>)
    where
        Q: Protocol,
        P::Message: for<'a> Into<Q::Outgoing<'a>>,
    {
        let to = dest.clone();
        self.on_message(move |_, msg| {
            to.send(msg);
        });
        let to = dest.clone();
        self.on_close(move |_| to.close());
        let me = self.clone();
        dest.on_buffer_full(move |_| me.pause_recv());
        let me = self.clone();
        dest.on_buffer_drain(move |_| me.resume_recv());
    }

    /// Replaces this connection's `on_message` (it starts as the worker's).
    pub fn on_message(&self, f: impl Fn(&TcpConnection<P>, P::Message) + 'static) {
        self.inner.st.borrow_mut().cb.on_message = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_close`.
    pub fn on_close(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.inner.st.borrow_mut().cb.on_close = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_error`.
    pub fn on_error(&self, f: impl Fn(&TcpConnection<P>, &ConnectionError) + 'static) {
        self.inner.st.borrow_mut().cb.on_error = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_buffer_full`.
    pub fn on_buffer_full(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.inner.st.borrow_mut().cb.on_buffer_full = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_buffer_drain`.
    pub fn on_buffer_drain(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.inner.st.borrow_mut().cb.on_buffer_drain = Some(Rc::new(f));
    }
}

//! Client heartbeats, GatewayWorker's algorithm: each client has a counter set to -1 by every
//! message; each tick adds 1, sends `ping_data` (when set) and drops a client whose counter
//! reached twice `ping_not_response_limit` (when set). The tick is `ping_interval`, or half of
//! it with a limit.

use std::rc::Rc;

use workerman::Timer;

use super::Core;
use crate::client_protocol::ClientProtocol;

pub(crate) fn start<P: ClientProtocol>(core: &Rc<Core<P>>) {
    let s = core.settings.borrow().clone();
    if s.ping_interval.is_zero() {
        return;
    }
    let limit = i64::from(s.ping_not_response_limit);
    let tick = if limit > 0 {
        s.ping_interval / 2
    } else {
        s.ping_interval
    };
    let core = Rc::downgrade(core);
    Timer::repeat(tick, move || {
        let Some(core) = core.upgrade() else { return };
        let mut drop_list = Vec::new();
        let mut ping_list = Vec::new();
        for c in core.state.borrow_mut().clients.values_mut() {
            if limit > 0 && c.ping >= 2 * limit {
                drop_list.push(c.conn.clone());
                continue;
            }
            c.ping += 1;
            if !s.ping_data.is_empty() && c.ping != 0 && !(limit > 0 && c.ping % 2 == 1) {
                ping_list.push(c.conn.clone());
            }
        }
        for conn in ping_list {
            P::send_body(&conn, &s.ping_data);
        }
        for conn in drop_list {
            conn.destroy();
        }
    });
}

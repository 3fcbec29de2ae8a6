//! Typed per-connection user data (what PHP code does with `$connection->uid = ...`).

use std::any::{Any, TypeId};

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

//! The pool of RTP port pairs. A FIFO, not a stack: a port released by a call is reused last, so stray
//! packets of a finished call are unlikely to land in a new one.

use std::collections::VecDeque;

pub(crate) struct PortPool {
    free: VecDeque<u16>,
    capacity: usize,
}

impl PortPool {
    /// Even RTP ports in `min..=max` whose RTCP port (odd, above) is also in range.
    pub(crate) fn new(min: u16, max: u16) -> PortPool {
        let first = min + (min % 2);
        let free: VecDeque<u16> = (first..max).step_by(2).collect();
        PortPool {
            capacity: free.len(),
            free,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn take(&mut self) -> Option<u16> {
        self.free.pop_front()
    }

    pub(crate) fn give_back(&mut self, port: u16) {
        self.free.push_back(port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_and_stay_in_range() {
        let mut p = PortPool::new(20001, 20010);
        let all: Vec<u16> = std::iter::from_fn(|| p.take()).collect();
        assert_eq!(all, vec![20002, 20004, 20006, 20008]);
        assert_eq!(p.capacity(), 4);
    }

    #[test]
    fn released_ports_are_reused_last() {
        let mut p = PortPool::new(30000, 30007);
        let a = p.take().expect("port");
        p.give_back(a);
        assert_eq!(p.take(), Some(30002));
        assert_eq!(p.take(), Some(30004));
        assert_eq!(p.take(), Some(30006));
        assert_eq!(p.take(), Some(30000));
    }
}

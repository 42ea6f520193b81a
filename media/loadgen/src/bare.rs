//! The bare relay: the same socket layout and system calls as Switchboard's media thread (a socket per
//! leg, epoll, recvmmsg, sendmmsg) with no RTP logic at all — no parsing, latching or counters. What it
//! costs per packet is the floor for this design on this machine.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use switchboard_media_rt::sys::{self, Batch, Epoll};

pub struct BareRelay {
    /// Per call: (leg A's address, leg B's address).
    pub targets: Vec<(SocketAddr, SocketAddr)>,
    pub tid: i32,
    stop: Arc<AtomicBool>,
}

impl BareRelay {
    pub fn start(calls: usize, far_end: SocketAddr, cpu: usize) -> std::io::Result<BareRelay> {
        let mut sockets = Vec::with_capacity(calls * 2);
        let mut targets = Vec::with_capacity(calls);
        for _ in 0..calls {
            let a = UdpSocket::bind("127.0.0.1:0")?;
            let b = UdpSocket::bind("127.0.0.1:0")?;
            a.set_nonblocking(true)?;
            b.set_nonblocking(true)?;
            targets.push((a.local_addr()?, b.local_addr()?));
            sockets.push(a);
            sockets.push(b);
        }
        let epoll = Epoll::new()?;
        for (i, s) in sockets.iter().enumerate() {
            epoll.add(s.as_raw_fd(), i as u64)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stop_thread = stop.clone();
        let (tid_tx, tid_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("bare-relay".into())
            .spawn(move || {
                let _ = sys::pin_to_cpu(cpu);
                let _ = tid_tx.send(sys::gettid());
                relay_loop(&epoll, &sockets, far_end, &stop_thread);
            })?;
        let tid = tid_rx
            .recv()
            .map_err(|_| std::io::Error::other("bare relay thread died"))?;
        Ok(BareRelay { targets, tid, stop })
    }
}

impl Drop for BareRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn relay_loop(epoll: &Epoll, sockets: &[UdpSocket], far_end: SocketAddr, stop: &AtomicBool) {
    let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut recv = Batch::new(32);
    let mut send = Batch::new(32);
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = epoll.wait(&mut ready, 100) else {
            return;
        };
        for ev in ready.iter().take(n) {
            let i = ev.u64 as usize;
            let (Some(from), Some(to)) = (sockets.get(i), sockets.get(i ^ 1)) else {
                continue;
            };
            loop {
                let got = recv.recv(from.as_raw_fd()).unwrap_or(0);
                for k in 0..got {
                    let len = recv.lens[k];
                    send.bufs[k][..len].copy_from_slice(&recv.bufs[k][..len]);
                    send.prepare_send(k, len, far_end);
                }
                if got > 0 {
                    send.send(to.as_raw_fd(), 0, got);
                }
                if got < recv.capacity() {
                    break;
                }
            }
        }
    }
}

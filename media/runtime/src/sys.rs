//! The Linux system calls the media threads batch: epoll, eventfd, recvmmsg and sendmmsg. Everything
//! unsafe in the media path is here, each call with the invariant it relies on.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; a valid fd it returns is owned by us alone.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd is a fresh, open descriptor nobody else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    pub fn delete(&self, fd: RawFd) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as above; a failure (fd already gone) leaves nothing to clean up.
        unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }

    /// Waits up to `timeout_ms` and returns how many entries of `events` were filled.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        let max = events.len().min(i32::MAX as usize) as i32;
        // SAFETY: the kernel writes at most `max` entries into `events`, which has that many.
        let rc =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        match cvt(rc) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// A counter the control side bumps to wake a media thread out of `epoll_wait`.
pub struct EventFd(OwnedFd);

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: no pointers; the returned fd is ours alone.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: fresh descriptor.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN) already means "wake up".
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }

    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

pub fn to_sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

pub fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Preallocated buffers and headers for one `recvmmsg` or `sendmmsg` batch. The iovecs and msghdrs
/// point into the struct's own boxed arrays, which never move after construction.
pub struct Batch {
    pub bufs: Box<[[u8; MAX_PACKET]]>,
    pub lens: Vec<usize>,
    pub addrs: Box<[libc::sockaddr_storage]>,
    /// Kernel receive times (ns since the Unix epoch) when built with [`Batch::with_rx_timestamps`].
    pub rx_time_ns: Vec<u64>,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
    control: Option<Box<[[u64; CONTROL_WORDS]]>>,
}

/// Room for one SCM_TIMESTAMPNS control message (a timespec), in u64 words for alignment.
const CONTROL_WORDS: usize = 8;

// SAFETY: the raw pointers inside the msghdrs point only into this Batch's own heap arrays, which move
// with it; nothing else aliases them, so handing the whole Batch to another thread is sound.
unsafe impl Send for Batch {}

/// Bigger than any RTP packet a voice call carries; larger datagrams are truncated and dropped.
pub const MAX_PACKET: usize = 1536;

impl Batch {
    pub fn new(n: usize) -> Batch {
        let mut bufs = vec![[0u8; MAX_PACKET]; n].into_boxed_slice();
        // SAFETY: plain data, zero is valid.
        let mut addrs = vec![unsafe { zeroed::<libc::sockaddr_storage>() }; n].into_boxed_slice();
        let mut iovs: Box<[libc::iovec]> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: MAX_PACKET,
            })
            .collect();
        let hdrs: Box<[libc::mmsghdr]> = iovs
            .iter_mut()
            .zip(addrs.iter_mut())
            .map(|(iov, addr)| {
                // SAFETY: plain data, zero is valid; the pointers set below stay valid because the
                // boxed slices they point into live as long as the Batch and never reallocate.
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        Batch {
            bufs,
            lens: vec![0; n],
            addrs,
            rx_time_ns: vec![0; n],
            iovs,
            hdrs,
            control: None,
        }
    }

    /// A receive batch that also reads each datagram's kernel arrival time; the socket needs
    /// [`enable_rx_timestamps`]. Load tools use it so their own scheduling delays do not count as
    /// latency of the system under test.
    pub fn with_rx_timestamps(n: usize) -> Batch {
        let mut b = Batch::new(n);
        let mut control = vec![[0u64; CONTROL_WORDS]; n].into_boxed_slice();
        for (h, c) in b.hdrs.iter_mut().zip(control.iter_mut()) {
            h.msg_hdr.msg_control = c.as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = CONTROL_WORDS * 8;
        }
        b.control = Some(control);
        b
    }

    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Receives up to `capacity` datagrams without blocking; returns how many arrived.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let has_control = self.control.is_some();
        for (h, iov) in self.hdrs.iter_mut().zip(self.iovs.iter_mut()) {
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_flags = 0;
            if has_control {
                h.msg_hdr.msg_controllen = CONTROL_WORDS * 8;
            }
            iov.iov_len = MAX_PACKET;
        }
        let n = self.hdrs.len() as libc::c_uint;
        // SAFETY: every msghdr points at a live buffer and address slot of this Batch.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        match cvt(rc) {
            Ok(n) => {
                let n = n as usize;
                for i in 0..n {
                    let h = &self.hdrs[i];
                    // A truncated datagram is not a packet we can relay: mark it empty.
                    self.lens[i] = if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                        0
                    } else {
                        h.msg_len as usize
                    };
                    if has_control {
                        self.rx_time_ns[i] = rx_timestamp(&h.msg_hdr).unwrap_or(0);
                    }
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Fills slot `i` for sending `len` bytes of `bufs[i]` to `dst`.
    pub fn prepare_send(&mut self, i: usize, len: usize, dst: SocketAddr) {
        let (storage, slen) = to_sockaddr(dst);
        if let (Some(a), Some(h), Some(iov)) = (
            self.addrs.get_mut(i),
            self.hdrs.get_mut(i),
            self.iovs.get_mut(i),
        ) {
            *a = storage;
            h.msg_hdr.msg_namelen = slen;
            iov.iov_len = len.min(MAX_PACKET);
        }
    }

    /// Sends slots `from..to` (prepared with [`Batch::prepare_send`]) from `fd`. Returns how many went;
    /// a full socket buffer drops the rest, as a congested network would.
    pub fn send(&mut self, fd: RawFd, from: usize, to: usize) -> usize {
        let mut sent = from;
        while sent < to {
            let n = (to - sent) as libc::c_uint;
            // SAFETY: slots from..to point at live buffers/addresses of this Batch.
            let rc = unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr().add(sent), n, 0) };
            if rc <= 0 {
                break;
            }
            sent += rc as usize;
        }
        sent - from
    }
}

/// Asks the kernel to stamp each received datagram with its arrival time (SO_TIMESTAMPNS).
pub fn enable_rx_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int from a live local.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn rx_timestamp(hdr: &libc::msghdr) -> Option<u64> {
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    None
}

pub fn gettid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::gettid() }
}

/// Pins the calling thread to one CPU (benchmarks compare relays on the same core).
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        libc::CPU_SET(cpu, &mut set);
        cvt(libc::sched_setaffinity(
            0,
            size_of::<libc::cpu_set_t>(),
            &set,
        ))?;
    }
    Ok(())
}

/// CPU time (user + system) a thread of this process has used, from /proc, in clock ticks.
pub fn thread_cpu_ticks(tid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    process_stat_ticks(&stat)
}

/// utime + stime from a /proc/…/stat line (fields 14 and 15, counted after the command's ')').
pub fn process_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

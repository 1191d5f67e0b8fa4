//! Announcing an address on the link: gratuitous ARP (IPv4) and unsolicited
//! neighbour advertisement (IPv6), built here byte by byte and sent through
//! an AF_PACKET socket, so no `arping` or `ndsend` is needed on the host.
//!
//! Input: the interface index and MAC, the address. Output: frames on the
//! wire. The socket is opened on the calling thread, so it belongs to that
//! thread's network namespace.
//!
//! Why it matters: `ip addr add` itself announces nothing; neighbours keep
//! sending to the old holder's MAC until their cache entry expires. Linux
//! updates an existing neighbour entry on a gratuitous ARP request whose
//! sender and target IP are the address (also with arp_accept=0), and on an
//! unsolicited NA with the override flag.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::addr::{SocketAddrArg, SocketAddrLen, SocketAddrOpaque};
use rustix::net::{AddressFamily, SendFlags, SocketType};

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const AF_PACKET: u16 = 17;
const ARPHRD_ETHER: u16 = 1;

/// `struct sockaddr_ll` from <linux/if_packet.h>.
#[repr(C)]
struct SockaddrLl {
    family: u16,
    protocol: u16, // network byte order
    ifindex: i32,
    hatype: u16,
    pkttype: u8,
    halen: u8,
    addr: [u8; 8],
}

// SAFETY: `with_sockaddr` passes a pointer to a live, fully initialised
// `sockaddr_ll` and exactly its size, as the kernel expects for AF_PACKET.
unsafe impl SocketAddrArg for SockaddrLl {
    unsafe fn with_sockaddr<R>(
        &self,
        f: impl FnOnce(*const SocketAddrOpaque, SocketAddrLen) -> R,
    ) -> R {
        f(
            (self as *const SockaddrLl).cast::<SocketAddrOpaque>(),
            size_of::<SockaddrLl>() as SocketAddrLen,
        )
    }
}

/// A packet socket able to send frames out of one interface.
pub(crate) struct Announcer {
    fd: OwnedFd,
    ifindex: u32,
    mac: [u8; 6],
}

impl Announcer {
    /// Open an AF_PACKET socket (needs CAP_NET_RAW) for sending on `ifindex`.
    pub fn open(ifindex: u32, mac: [u8; 6]) -> Result<Announcer, String> {
        // Protocol 0: this socket only sends and never receives a frame.
        let fd =
            rustix::net::socket(AddressFamily::PACKET, SocketType::RAW, None).map_err(|e| {
                format!(
                    "cannot open a packet socket to announce the address: {e} (needs CAP_NET_RAW)"
                )
            })?;
        Ok(Announcer { fd, ifindex, mac })
    }

    fn send(&self, frame: &[u8], dst: [u8; 6], ethertype: u16) -> Result<(), String> {
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(&dst);
        let to = SockaddrLl {
            family: AF_PACKET,
            protocol: ethertype.to_be(),
            ifindex: self.ifindex as i32,
            hatype: ARPHRD_ETHER,
            pkttype: 0,
            halen: 6,
            addr,
        };
        rustix::net::sendto(self.fd.as_fd(), frame, SendFlags::empty(), &to)
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "sending an announcement on ifindex {} failed: {e}",
                    self.ifindex
                )
            })
    }

    /// Send one gratuitous ARP request for `ip`.
    pub fn garp(&self, ip: Ipv4Addr) -> Result<(), String> {
        self.send(&garp_frame(self.mac, ip), [0xff; 6], ETH_P_ARP)
    }

    /// Send one unsolicited neighbour advertisement for `ip` to all nodes.
    pub fn unsolicited_na(&self, ip: Ipv6Addr) -> Result<(), String> {
        self.send(&na_frame(self.mac, ip), ALL_NODES_MAC, ETH_P_IPV6)
    }
}

const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An Ethernet frame holding an ARP request with sender IP = target IP = `ip`
/// (RFC 5227 "ARP announcement"), broadcast.
pub(crate) fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f.push(6);
    f.push(4);
    f.extend_from_slice(&1u16.to_be_bytes()); // request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip.octets());
    f
}

/// An Ethernet frame holding an ICMPv6 neighbour advertisement for `ip`
/// from `ip` to ff02::1, override flag set, with the target link-layer
/// address option (RFC 4861 section 7.2.6).
pub(crate) fn na_frame(mac: [u8; 6], ip: Ipv6Addr) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(32);
    icmp.push(136); // neighbour advertisement
    icmp.push(0);
    icmp.extend_from_slice(&[0, 0]); // checksum, filled below
    icmp.extend_from_slice(&[0x20, 0, 0, 0]); // R=0 S=0 O=1
    icmp.extend_from_slice(&ip.octets());
    icmp.push(2); // option: target link-layer address
    icmp.push(1); // length in units of 8 bytes
    icmp.extend_from_slice(&mac);
    let sum = icmpv6_checksum(ip, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&ALL_NODES_MAC);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no traffic class or flow
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.push(58); // next header: ICMPv6
    f.push(255); // hop limit: receivers drop ND with any other value
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&ALL_NODES.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The ICMPv6 checksum over the IPv6 pseudo-header and `message`.
pub(crate) fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(message.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

    // Goal: the ARP announcement has the layout receivers parse: broadcast,
    // ethertype ARP, op request, sender and target IP both the VIP.
    #[test]
    fn garp_layout() {
        let f = garp_frame(MAC, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1]);
        assert_eq!(&f[22..28], &MAC);
        assert_eq!(&f[28..32], &[10, 0, 0, 9]);
        assert_eq!(&f[38..42], &[10, 0, 0, 9]);
    }

    // Goal: the NA verifies: summing the pseudo-header and the message with
    // its checksum in place gives 0xffff (one's complement zero), as a
    // receiver computes it; and the fields sit where RFC 4861 puts them.
    #[test]
    fn na_checksum_verifies_and_layout() {
        let ip: Ipv6Addr = "fd00::9".parse().expect("literal");
        let f = na_frame(MAC, ip);
        assert_eq!(f.len(), 14 + 40 + 32);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[14 + 7], 255);
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4], 0x20);
        assert_eq!(&icmp[8..24], &ip.octets());
        assert_eq!(&icmp[26..32], &MAC);
        // Recomputing over the message with the checksum filled in yields 0.
        assert_eq!(icmpv6_checksum(ip, ALL_NODES, icmp), 0);
        // A flipped bit breaks it.
        let mut bad = icmp.to_vec();
        bad[10] ^= 1;
        assert_ne!(icmpv6_checksum(ip, ALL_NODES, &bad), 0);
    }
}

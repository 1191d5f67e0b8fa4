//! Heartbeat sockets: one set per `[[heartbeat.link]]`.
//!
//! `udpu`: one socket bound to this node's address on the link; datagrams for
//! `Dest::All` go to every other node's address on that link in turn.
//! `udp`: the same unicast socket (used to send, with IP_MULTICAST_IF set to
//! the link's local address, because appliances and lab namespaces may have
//! no default route and the kernel then cannot pick an interface for a
//! group), plus a socket bound to the group that joins it on that interface.
//! Multicast loopback is off: a node does not need to hear itself.
//!
//! The local address of a link is the one inside the link's `network`
//! (corosync's bindnetaddr), found with rtnetlink, else this node's
//! configured address for the link.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use smol::Async;

use crate::config::{Config, NodeId, Transport};
use crate::node::Dest;

/// A local address and the interface that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalAddr {
    pub addr: IpAddr,
    pub ifindex: u32,
}

/// The sockets of one heartbeat link.
pub struct LinkSockets {
    /// Bound to the local address: sends everything, receives unicast.
    pub unicast: Arc<Async<UdpSocket>>,
    /// Bound to the group (`udp` only): receives multicast.
    pub multicast: Option<Arc<Async<UdpSocket>>>,
    pub local: LocalAddr,
}

/// Lists this host's addresses with their interface index (rtnetlink, so it
/// works in a chroot without /proc).
pub async fn local_addresses() -> io::Result<Vec<LocalAddr>> {
    use rtnetlink::packet_route::address::AddressAttribute;
    use smol::stream::StreamExt;

    let (connection, handle, _) =
        rtnetlink::new_connection_with_socket::<rtnetlink::sys::SmolSocket>()?;
    let task = smol::spawn(connection);
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(handle.address().get().execute());
    while let Some(message) = stream.next().await {
        let message = message.map_err(|e| io::Error::other(format!("rtnetlink: {e}")))?;
        for attribute in &message.attributes {
            // IFA_LOCAL is the interface's own address on point-to-point
            // links; IFA_ADDRESS elsewhere. Either identifies the interface.
            if let AddressAttribute::Address(addr) | AddressAttribute::Local(addr) = attribute {
                let entry = LocalAddr {
                    addr: *addr,
                    ifindex: message.header.index,
                };
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
    }
    drop(task.cancel());
    Ok(out)
}

/// Chooses the local address of link `link`: inside the link's `network` if
/// one is set (preferring this node's configured address), else the node's
/// configured address. The address must exist on this host.
pub fn choose_local(
    config: &Config,
    local: NodeId,
    link: usize,
    host: &[LocalAddr],
) -> Result<LocalAddr, String> {
    let node = config
        .node_by_id(local)
        .ok_or("the local node is not in the config")?;
    let configured = node.addrs.get(link).copied();
    let spec = &config.heartbeat.links[link];
    if let Some(network) = spec.network {
        if let Some(found) = configured
            .filter(|a| network.contains(*a))
            .and_then(|a| host.iter().find(|h| h.addr == a))
            .or_else(|| host.iter().find(|h| network.contains(h.addr)))
        {
            return Ok(*found);
        }
        return Err(format!(
            "link {link}: no local address inside network {network} (this host has {})",
            list(host)
        ));
    }
    let addr = configured.ok_or_else(|| {
        format!(
            "link {link}: node {} has no address for this link",
            node.name
        )
    })?;
    host.iter()
        .find(|h| h.addr == addr)
        .copied()
        .ok_or_else(|| {
            format!(
                "link {link}: address {addr} of node {} is not on this host (this host has {})",
                node.name,
                list(host)
            )
        })
}

fn list(host: &[LocalAddr]) -> String {
    if host.is_empty() {
        return "no addresses".to_string();
    }
    host.iter()
        .map(|h| h.addr.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opens the sockets of link `link` on `local`.
pub fn open_link(config: &Config, link: usize, local: LocalAddr) -> io::Result<LinkSockets> {
    let spec = &config.heartbeat.links[link];
    let context =
        |what: &str, e: io::Error| io::Error::new(e.kind(), format!("link {link}: {what}: {e}"));
    let unicast = UdpSocket::bind(SocketAddr::new(local.addr, spec.port)).map_err(|e| {
        context(
            &format!("bind {}", SocketAddr::new(local.addr, spec.port)),
            e,
        )
    })?;
    let mut multicast = None;
    if config.heartbeat.transport == Transport::Udp {
        let group = spec.mcast_group;
        let ttl = config.heartbeat.ttl;
        let receiver = UdpSocket::bind(SocketAddr::new(group, spec.port))
            .map_err(|e| context(&format!("bind {}", SocketAddr::new(group, spec.port)), e))?;
        match (group, local.addr) {
            (IpAddr::V4(group), IpAddr::V4(addr)) => {
                use rustix::net::sockopt;
                sockopt::set_ip_add_membership_with_ifindex(
                    &receiver,
                    &group,
                    &addr,
                    local.ifindex,
                )
                .map_err(|e| context(&format!("join {group}"), e.into()))?;
                sockopt::set_ip_multicast_if(&unicast, &addr)
                    .map_err(|e| context("IP_MULTICAST_IF", e.into()))?;
                sockopt::set_ip_multicast_ttl(&unicast, ttl)
                    .map_err(|e| context("IP_MULTICAST_TTL", e.into()))?;
                sockopt::set_ip_multicast_loop(&unicast, false)
                    .map_err(|e| context("IP_MULTICAST_LOOP", e.into()))?;
            }
            (IpAddr::V6(group), IpAddr::V6(_)) => {
                use rustix::net::sockopt;
                sockopt::set_ipv6_add_membership(&receiver, &group, local.ifindex)
                    .map_err(|e| context(&format!("join {group}"), e.into()))?;
                sockopt::set_ipv6_multicast_if(&unicast, local.ifindex)
                    .map_err(|e| context("IPV6_MULTICAST_IF", e.into()))?;
                sockopt::set_ipv6_multicast_hops(&unicast, ttl)
                    .map_err(|e| context("IPV6_MULTICAST_HOPS", e.into()))?;
                sockopt::set_ipv6_multicast_loop(&unicast, false)
                    .map_err(|e| context("IPV6_MULTICAST_LOOP", e.into()))?;
            }
            (group, addr) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "link {link}: group {group} and local address {addr} are of different IP versions"
                    ),
                ));
            }
        }
        multicast = Some(Arc::new(Async::new(receiver)?));
    }
    Ok(LinkSockets {
        unicast: Arc::new(Async::new(unicast)?),
        multicast,
        local,
    })
}

/// The socket addresses a transmit goes to.
pub fn destinations(config: &Config, local: NodeId, link: usize, dest: Dest) -> Vec<SocketAddr> {
    let Some(spec) = config.heartbeat.links.get(link) else {
        return Vec::new();
    };
    let on_link = |id: NodeId| {
        config
            .node_by_id(id)
            .and_then(|n| n.addrs.get(link))
            .map(|a| SocketAddr::new(*a, spec.port))
    };
    match dest {
        Dest::Node(id) => on_link(id).into_iter().collect(),
        Dest::All => match config.heartbeat.transport {
            Transport::Udp => vec![SocketAddr::new(spec.mcast_group, spec.port)],
            Transport::Udpu => config
                .nodes
                .iter()
                .filter(|n| n.id != local)
                .filter_map(|n| on_link(n.id))
                .collect(),
        },
    }
}

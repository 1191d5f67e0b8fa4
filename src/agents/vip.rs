//! The `vip` agent (ocf:heartbeat:IPaddr2): a virtual IPv4 or IPv6 address.
//!
//! Input: the resource's params (`ip`, `cidr_netmask`, `nic`, ...). Output:
//! the address added to or removed from an interface through rtnetlink, and
//! gratuitous ARP / unsolicited NA frames (see `packet.rs`).
//!
//! Every operation opens its own netlink connection on the calling thread
//! and drives it with `smol::block_on`: the socket then lives in the
//! caller's network namespace, and no executor is shared with the daemon.
//! The agent never decides where the address should be; it only adds,
//! removes, checks and announces.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtnetlink::Handle;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteType};
use smol::stream::StreamExt;

use super::packet::Announcer;
use super::params::Params;
use super::{Agent, AgentError, ParamInfo, failed, rc};
use crate::config::Resource;
use crate::node::Outcome;

/// The vip agent's parameters, as `ha agents vip` shows them.
pub(crate) const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "ip",
        required: true,
        default: "",
        meaning: "the IPv4 or IPv6 address to hold, without prefix",
    },
    ParamInfo {
        name: "cidr_netmask",
        required: false,
        default: "from the route",
        meaning: "prefix length; default: that of the connected route (or address) containing ip, else 32 / 128",
    },
    ParamInfo {
        name: "nic",
        required: false,
        default: "from the route",
        meaning: "interface to add the address to; default: the one whose connected route contains ip",
    },
    ParamInfo {
        name: "iflabel",
        required: false,
        default: "",
        meaning: "IPv4 only: address label, shown as NIC:LABEL (at most 15 characters in all)",
    },
    ParamInfo {
        name: "arp_count",
        required: false,
        default: "5",
        meaning: "gratuitous ARPs / unsolicited NAs sent after adding the address (0: none)",
    },
    ParamInfo {
        name: "arp_interval",
        required: false,
        default: "200",
        meaning: "milliseconds between those announcements",
    },
    ParamInfo {
        name: "arp_bg",
        required: false,
        default: "true",
        meaning: "send all announcements but the first in the background, so start returns at once",
    },
    ParamInfo {
        name: "arp_count_refresh",
        required: false,
        default: "1",
        meaning: "announcements sent by a monitor while the address is held (IPaddr2's default is 0; ha re-announces by default)",
    },
    ParamInfo {
        name: "arp_refresh_interval",
        required: false,
        default: "10s",
        meaning: "ha extension: re-announce from a monitor only when the last announcement is at least this old (\"0s\": at every monitor)",
    },
    ParamInfo {
        name: "nodad",
        required: false,
        default: "false",
        meaning: "IPv6 only: skip duplicate address detection (faster failover, no protection against a duplicate)",
    },
];

/// How long start waits for IPv6 duplicate address detection. The kernel
/// default (one probe, 1 s retransmit timer) finishes in about 1-2 s.
const DAD_WAIT: Duration = Duration::from_secs(5);

/// The `vip` agent for one resource.
pub struct Vip {
    id: String,
    ip: IpAddr,
    prefix: Option<u8>,
    nic: Option<String>,
    iflabel: Option<String>,
    arp_count: u32,
    arp_interval: Duration,
    arp_bg: bool,
    arp_count_refresh: u32,
    arp_refresh_interval: Duration,
    nodad: bool,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// When the address was last announced (start or monitor refresh).
    last_announce: Option<std::time::Instant>,
    /// Bumped by stop, so background announcers of an earlier start end.
    generation: u64,
}

/// An interface as netlink reports it.
#[derive(Clone, Debug)]
struct Link {
    index: u32,
    name: String,
    flags: LinkFlags,
    mac: Option<[u8; 6]>,
}

/// An address as netlink reports it.
#[derive(Clone, Debug)]
struct Address {
    index: u32,
    ip: IpAddr,
    prefix: u8,
    flags: AddressFlags,
    message: AddressMessage,
}

impl Vip {
    /// Check the parameters of `resource`.
    pub fn new(resource: &Resource) -> Result<Vip, AgentError> {
        let p = Params::new(&resource.id, "vip", &resource.params, PARAMS)?;
        let ip_text = p.required_string("ip")?;
        let ip: IpAddr = ip_text.trim().parse().map_err(|_| {
            let hint = if ip_text.contains('/') {
                "give the prefix length in cidr_netmask, not in ip"
            } else {
                "write an IPv4 address like \"10.1.48.1\" or an IPv6 address like \"fd00::1\""
            };
            p.error("ip", format!("\"{ip_text}\" is not an IP address"), hint)
        })?;
        if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
            return Err(p.error(
                "ip",
                format!("{ip} cannot be a virtual address"),
                "use a unicast address of the service network",
            ));
        }
        let max_prefix = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match p.string("cidr_netmask")? {
            None => None,
            Some(text) => Some(parse_prefix(&text, ip).ok_or_else(|| {
                p.error(
                    "cidr_netmask",
                    format!("\"{text}\" is not a prefix length for {ip}"),
                    format!("write a number from 1 to {max_prefix} (IPv4 may also use a dotted mask like 255.255.255.0)"),
                )
            })?),
        };
        let nic = p.string("nic")?.map(|s| s.trim().to_string());
        if let Some(nic) = &nic
            && (nic.is_empty() || nic.len() > 15 || nic.contains(['/', ' ', ':']))
        {
            return Err(p.error(
                    "nic",
                    format!("\"{nic}\" is not an interface name"),
                    "interface names are 1 to 15 characters without '/', ':' or spaces; omit nic to find it from the routes",
                ));
        }
        let iflabel = p.string("iflabel")?;
        if let Some(label) = &iflabel {
            if ip.is_ipv6() {
                return Err(p.error(
                    "iflabel",
                    "labels exist for IPv4 addresses only",
                    "remove iflabel for an IPv6 address",
                ));
            }
            let nic_len = nic.as_ref().map_or(0, |n| n.len());
            if label.is_empty() || nic_len + 1 + label.len() > 15 {
                return Err(p.error(
                    "iflabel",
                    format!("\"{label}\" makes the label NIC:{label} longer than the kernel's 15 characters"),
                    "use a shorter label",
                ));
            }
        }
        let arp_count = p.integer("arp_count", 0, 1000)?.unwrap_or(5) as u32;
        let arp_interval =
            Duration::from_millis(p.integer("arp_interval", 1, 60_000)?.unwrap_or(200));
        let arp_bg = p.boolean("arp_bg")?.unwrap_or(true);
        let arp_count_refresh = p.integer("arp_count_refresh", 0, 100)?.unwrap_or(1) as u32;
        let arp_refresh_interval = p
            .duration("arp_refresh_interval")?
            .unwrap_or(Duration::from_secs(10));
        let nodad = p.boolean("nodad")?.unwrap_or(false);
        if nodad && ip.is_ipv4() {
            return Err(p.error(
                "nodad",
                "duplicate address detection exists for IPv6 only",
                "remove nodad",
            ));
        }
        Ok(Vip {
            id: resource.id.clone(),
            ip,
            prefix,
            nic,
            iflabel,
            arp_count,
            arp_interval,
            arp_bg,
            arp_count_refresh,
            arp_refresh_interval,
            nodad,
            state: Arc::new(Mutex::new(State::default())),
        })
    }

    fn family(&self) -> AddressFamily {
        if self.ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        }
    }

    /// The interface and prefix a start uses.
    async fn target(&self, h: &Handle, links: &[Link]) -> Result<(Link, u8), Outcome> {
        let full = if self.ip.is_ipv4() { 32 } else { 128 };
        if let Some(nic) = &self.nic {
            let link = links
                .iter()
                .find(|l| &l.name == nic)
                .cloned()
                .ok_or_else(|| {
                    failed(
                        rc::ERR_INSTALLED,
                        format!("vip {}: no interface named \"{nic}\" on this node", self.id),
                    )
                })?;
            let prefix = match self.prefix {
                Some(p) => p,
                None => self
                    .discover(h, Some(link.index))
                    .await?
                    .map_or(full, |(_, p)| p),
            };
            return Ok((link, prefix));
        }
        match self.discover(h, None).await? {
            Some((index, prefix)) => {
                let link = links
                    .iter()
                    .find(|l| l.index == index)
                    .cloned()
                    .ok_or_else(|| {
                        failed(
                            rc::ERR_GENERIC,
                            format!("vip {}: interface {index} vanished", self.id),
                        )
                    })?;
                Ok((link, self.prefix.unwrap_or(prefix)))
            }
            None => Err(failed(
                rc::ERR_CONFIGURED,
                format!(
                    "vip {}: no interface has a connected route or address containing {}; set nic (and cidr_netmask)",
                    self.id, self.ip
                ),
            )),
        }
    }

    /// The interface and prefix of the connected route containing ip
    /// (longest prefix wins; default and gateway routes never count, as in
    /// IPaddr2's findif), else of an address whose network contains ip.
    async fn discover(&self, h: &Handle, only: Option<u32>) -> Result<Option<(u32, u8)>, Outcome> {
        let routes = routes(h, self.family())
            .await
            .map_err(|e| self.net_failed("listing routes", e))?;
        let from_route = routes
            .into_iter()
            .filter(|(dest, prefix, oif)| {
                *prefix > 0 && only.is_none_or(|i| i == *oif) && contains(*dest, *prefix, self.ip)
            })
            .max_by_key(|(_, prefix, _)| *prefix)
            .map(|(_, prefix, oif)| (oif, prefix));
        if from_route.is_some() {
            return Ok(from_route);
        }
        let full = if self.ip.is_ipv4() { 32 } else { 128 };
        let addrs = addresses(h, self.family())
            .await
            .map_err(|e| self.net_failed("listing addresses", e))?;
        Ok(addrs
            .into_iter()
            .filter(|a| {
                a.prefix < full
                    && only.is_none_or(|i| i == a.index)
                    && contains(a.ip, a.prefix, self.ip)
            })
            .max_by_key(|a| a.prefix)
            .map(|a| (a.index, a.prefix)))
    }

    fn net_failed(&self, what: &str, e: String) -> Outcome {
        failed(rc::ERR_GENERIC, format!("vip {}: {what}: {e}", self.id))
    }

    /// Where the address is now: on `nic` when given, else on any interface.
    fn held<'a>(&self, addrs: &'a [Address], links: &[Link]) -> Vec<&'a Address> {
        let only = self
            .nic
            .as_ref()
            .map(|n| links.iter().find(|l| &l.name == n).map(|l| l.index));
        addrs
            .iter()
            .filter(|a| a.ip == self.ip)
            .filter(|a| match only {
                None => true,
                Some(Some(index)) => a.index == index,
                Some(None) => false,
            })
            .collect()
    }

    async fn start_async(&self, h: &Handle) -> Outcome {
        let links = match links(h).await {
            Ok(l) => l,
            Err(e) => return self.net_failed("listing interfaces", e),
        };
        let (link, prefix) = match self.target(h, &links).await {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        // IPaddr2 brings the interface up when adding; so do we, since an
        // address on a down interface serves nobody.
        if !link.flags.contains(LinkFlags::Up) {
            let msg = rtnetlink::LinkUnspec::new_with_index(link.index)
                .up()
                .build();
            if let Err(e) = h.link().set(msg).execute().await {
                return self.net_failed(&format!("bringing {} up", link.name), e.to_string());
            }
        }
        let addrs = match addresses(h, self.family()).await {
            Ok(a) => a,
            Err(e) => return self.net_failed("listing addresses", e),
        };
        let present = addrs
            .iter()
            .any(|a| a.ip == self.ip && a.index == link.index);
        if !present {
            let mut req = h.address().add(link.index, self.ip, prefix);
            if let Some(label) = &self.iflabel {
                req.message_mut()
                    .attributes
                    .push(AddressAttribute::Label(format!("{}:{label}", link.name)));
            }
            if self.nodad {
                req.message_mut()
                    .attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            match req.execute().await {
                Ok(()) => log::info!(
                    "vip added: resource={} ip={}/{prefix} nic={}",
                    self.id,
                    self.ip,
                    link.name
                ),
                // Someone added it between our dump and our request: it is there.
                Err(e) if netlink_errno(&e) == Some(libc_eexist()) => {}
                Err(e) => {
                    return self.net_failed(
                        &format!("adding {}/{prefix} to {}", self.ip, link.name),
                        e.to_string(),
                    );
                }
            }
        }
        if self.ip.is_ipv6()
            && let Err(outcome) = self.wait_for_dad(h, link.index).await
        {
            return outcome;
        }
        self.announce_after_start(&link);
        Outcome::Ok
    }

    /// Wait until the IPv6 address is no longer tentative: announcing it
    /// before duplicate address detection finishes would defeat DAD, and
    /// the kernel does not use a tentative address anyway.
    async fn wait_for_dad(&self, h: &Handle, index: u32) -> Result<(), Outcome> {
        let begin = std::time::Instant::now();
        loop {
            let addrs = addresses(h, self.family())
                .await
                .map_err(|e| self.net_failed("listing addresses", e))?;
            let Some(addr) = addrs.iter().find(|a| a.ip == self.ip && a.index == index) else {
                return Err(failed(
                    rc::ERR_GENERIC,
                    format!(
                        "vip {}: {} vanished during duplicate address detection",
                        self.id, self.ip
                    ),
                ));
            };
            if addr.flags.contains(AddressFlags::Dadfailed) {
                let _ = h.address().del(addr.message.clone()).execute().await;
                return Err(failed(
                    rc::ERR_GENERIC,
                    format!(
                        "vip {}: duplicate address detection failed: another host on the link holds {}",
                        self.id, self.ip
                    ),
                ));
            }
            if !addr.flags.contains(AddressFlags::Tentative) {
                return Ok(());
            }
            if begin.elapsed() > DAD_WAIT {
                return Err(failed(
                    rc::ERR_GENERIC,
                    format!(
                        "vip {}: {} still tentative after {} s of duplicate address detection (no carrier?); set nodad = true to skip DAD",
                        self.id,
                        self.ip,
                        DAD_WAIT.as_secs()
                    ),
                ));
            }
            smol::Timer::after(Duration::from_millis(50)).await;
        }
    }

    /// The link can carry announcements: it has an Ethernet address and ARP.
    fn announcer_for(&self, link: &Link) -> Option<Announcer> {
        if link.flags.contains(LinkFlags::Noarp) {
            log::debug!(
                "vip announce skipped: resource={} nic={} reason=noarp",
                self.id,
                link.name
            );
            return None;
        }
        let mac = link.mac?;
        match Announcer::open(link.index, mac) {
            Ok(a) => Some(a),
            Err(e) => {
                log::warn!(
                    "vip announce failed: resource={} nic={} reason=\"{e}\"",
                    self.id,
                    link.name
                );
                None
            }
        }
    }

    fn announce_once(&self, announcer: &Announcer) -> Result<(), String> {
        match self.ip {
            IpAddr::V4(ip) => announcer.garp(ip),
            IpAddr::V6(ip) => announcer.unsolicited_na(ip),
        }
    }

    /// `arp_count` announcements `arp_interval` apart; all but the first in
    /// a background thread when `arp_bg` (as IPaddr2 does), ended early by
    /// a stop.
    fn announce_after_start(&self, link: &Link) {
        if self.arp_count == 0 {
            return;
        }
        let Some(announcer) = self.announcer_for(link) else {
            return;
        };
        if let Err(e) = self.announce_once(&announcer) {
            log::warn!("vip announce failed: resource={} reason=\"{e}\"", self.id);
        }
        let generation = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.last_announce = Some(std::time::Instant::now());
            state.generation
        };
        let rest = self.arp_count - 1;
        if rest == 0 {
            return;
        }
        let (ip, id, interval, state) = (
            self.ip,
            self.id.clone(),
            self.arp_interval,
            self.state.clone(),
        );
        let run = move || {
            for _ in 0..rest {
                std::thread::sleep(interval);
                let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
                if guard.generation != generation {
                    return;
                }
                let sent = match ip {
                    IpAddr::V4(v4) => announcer.garp(v4),
                    IpAddr::V6(v6) => announcer.unsolicited_na(v6),
                };
                if let Err(e) = sent {
                    log::warn!("vip announce failed: resource={id} reason=\"{e}\"");
                    return;
                }
                guard.last_announce = Some(std::time::Instant::now());
            }
        };
        if self.arp_bg {
            let spawned = std::thread::Builder::new()
                .name(format!("vip-arp-{}", self.id))
                .spawn(run);
            if let Err(e) = spawned {
                log::warn!(
                    "vip announce thread failed: resource={} reason=\"{e}\"",
                    self.id
                );
            }
        } else {
            run();
        }
    }

    async fn monitor_async(&self, h: &Handle) -> Outcome {
        let links = match links(h).await {
            Ok(l) => l,
            Err(e) => return self.net_failed("listing interfaces", e),
        };
        let addrs = match addresses(h, self.family()).await {
            Ok(a) => a,
            Err(e) => return self.net_failed("listing addresses", e),
        };
        let held = self.held(&addrs, &links);
        let Some(addr) = held.first() else {
            return Outcome::NotRunning;
        };
        let Some(link) = links.iter().find(|l| l.index == addr.index) else {
            return Outcome::NotRunning;
        };
        if addr.flags.contains(AddressFlags::Dadfailed) {
            return failed(
                rc::ERR_GENERIC,
                format!(
                    "vip {}: {} failed duplicate address detection on {}",
                    self.id, self.ip, link.name
                ),
            );
        }
        if !link.flags.contains(LinkFlags::Up) {
            return failed(
                rc::ERR_GENERIC,
                format!(
                    "vip {}: interface {} is administratively down",
                    self.id, link.name
                ),
            );
        }
        if !link.flags.contains(LinkFlags::LowerUp) {
            return failed(
                rc::ERR_GENERIC,
                format!("vip {}: interface {} has no carrier", self.id, link.name),
            );
        }
        self.refresh(link);
        Outcome::Ok
    }

    /// Re-announce while held, since neighbours that missed the start's
    /// announcements (or flushed their cache) would otherwise keep a stale
    /// entry: the most common complaint of keepalived users.
    fn refresh(&self, link: &Link) {
        if self.arp_count_refresh == 0 {
            return;
        }
        let due = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            // A tenth of slack, so a monitor interval equal to the refresh
            // interval re-announces at every monitor, not every other one.
            state.last_announce.is_none_or(|t| {
                t.elapsed() + self.arp_refresh_interval / 10 >= self.arp_refresh_interval
            })
        };
        if !due {
            return;
        }
        let Some(announcer) = self.announcer_for(link) else {
            return;
        };
        for i in 0..self.arp_count_refresh {
            if i > 0 {
                std::thread::sleep(self.arp_interval);
            }
            if let Err(e) = self.announce_once(&announcer) {
                log::warn!("vip refresh failed: resource={} reason=\"{e}\"", self.id);
                return;
            }
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last_announce = Some(std::time::Instant::now());
    }

    async fn stop_async(&self, h: &Handle) -> Outcome {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.generation += 1;
            state.last_announce = None;
        }
        let links = match links(h).await {
            Ok(l) => l,
            Err(e) => return self.net_failed("listing interfaces", e),
        };
        let addrs = match addresses(h, self.family()).await {
            Ok(a) => a,
            Err(e) => return self.net_failed("listing addresses", e),
        };
        for addr in self.held(&addrs, &links) {
            match h.address().del(addr.message.clone()).execute().await {
                Ok(()) => log::info!(
                    "vip removed: resource={} ip={}/{} ifindex={}",
                    self.id,
                    self.ip,
                    addr.prefix,
                    addr.index
                ),
                // Already gone (removed by hand, or the interface went away).
                Err(e)
                    if netlink_errno(&e) == Some(libc_eaddrnotavail())
                        || netlink_errno(&e) == Some(libc_enodev()) => {}
                Err(e) => return self.net_failed(&format!("removing {}", self.ip), e.to_string()),
            }
        }
        // Check: stop must leave no address behind.
        match addresses(h, self.family()).await {
            Ok(after) if self.held(&after, &links).is_empty() => Outcome::Ok,
            Ok(_) => failed(
                rc::ERR_GENERIC,
                format!(
                    "vip {}: {} is still present after removal",
                    self.id, self.ip
                ),
            ),
            Err(e) => self.net_failed("listing addresses", e),
        }
    }

    async fn validate_async(&self, h: &Handle) -> Outcome {
        let links = match links(h).await {
            Ok(l) => l,
            Err(e) => return self.net_failed("listing interfaces", e),
        };
        match self.target(h, &links).await {
            Ok(_) => Outcome::Ok,
            Err(outcome) => outcome,
        }
    }
}

impl Agent for Vip {
    fn start(&self) -> Outcome {
        with_netlink(&self.id, async |h| self.start_async(&h).await)
    }
    fn stop(&self) -> Outcome {
        with_netlink(&self.id, async |h| self.stop_async(&h).await)
    }
    fn monitor(&self, _depth: u32) -> Outcome {
        with_netlink(&self.id, async |h| self.monitor_async(&h).await)
    }
    fn validate(&self) -> Outcome {
        with_netlink(&self.id, async |h| self.validate_async(&h).await)
    }
}

/// Open a netlink connection on this thread and run `work` with it.
fn with_netlink(id: &str, work: impl AsyncFnOnce(Handle) -> Outcome) -> Outcome {
    let (connection, handle, _) =
        match rtnetlink::new_connection_with_socket::<rtnetlink::sys::SmolSocket>() {
            Ok(c) => c,
            Err(e) => {
                return failed(
                    rc::ERR_GENERIC,
                    format!("vip {id}: cannot open a netlink socket: {e}"),
                );
            }
        };
    smol::block_on(smol::future::or(
        async move {
            connection.await;
            failed(
                rc::ERR_GENERIC,
                format!("vip {id}: the netlink connection closed"),
            )
        },
        work(handle),
    ))
}

fn netlink_errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn libc_eexist() -> i32 {
    rustix::io::Errno::EXIST.raw_os_error()
}
fn libc_eaddrnotavail() -> i32 {
    rustix::io::Errno::ADDRNOTAVAIL.raw_os_error()
}
fn libc_enodev() -> i32 {
    rustix::io::Errno::NODEV.raw_os_error()
}

async fn links(h: &Handle) -> Result<Vec<Link>, String> {
    let mut stream = std::pin::pin!(h.link().get().execute());
    let mut out = Vec::new();
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|e| e.to_string())?;
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            flags: msg.header.flags,
            mac: None,
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(name) => link.name = name.clone(),
                LinkAttribute::Address(bytes)
                    if bytes.len() == 6 && bytes.iter().any(|b| *b != 0) =>
                {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(bytes);
                    link.mac = Some(mac);
                }
                _ => {}
            }
        }
        out.push(link);
    }
    Ok(out)
}

async fn addresses(h: &Handle, family: AddressFamily) -> Result<Vec<Address>, String> {
    let mut req = h.address().get();
    req.message_mut().header.family = family;
    let mut stream = std::pin::pin!(req.execute());
    let mut out = Vec::new();
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|e| e.to_string())?;
        if msg.header.family != family {
            continue;
        }
        // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer
        // on point-to-point links); fall back to IFA_ADDRESS.
        let local = msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let address = msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        let Some(ip) = local.or(address) else {
            continue;
        };
        // IFA_FLAGS carries all 32 bits; the header only the low 8.
        let flags = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                AddressAttribute::Flags(f) => Some(*f),
                _ => None,
            })
            .unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits())));
        out.push(Address {
            index: msg.header.index,
            ip,
            prefix: msg.header.prefix_len,
            flags,
            message: msg,
        });
    }
    Ok(out)
}

/// Connected unicast routes of the main table: (destination, prefix, oif).
async fn routes(h: &Handle, family: AddressFamily) -> Result<Vec<(IpAddr, u8, u32)>, String> {
    let mut message = rtnetlink::packet_route::route::RouteMessage::default();
    message.header.address_family = family;
    let mut stream = std::pin::pin!(h.route().get(message).execute());
    let mut out = Vec::new();
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|e| e.to_string())?;
        let table = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(msg.header.table));
        if table != 254 || msg.header.kind != RouteType::Unicast {
            continue;
        }
        let mut dest = None;
        let mut oif = None;
        let mut gateway = false;
        for attr in &msg.attributes {
            match attr {
                RouteAttribute::Destination(RouteAddress::Inet(a)) => dest = Some(IpAddr::V4(*a)),
                RouteAttribute::Destination(RouteAddress::Inet6(a)) => dest = Some(IpAddr::V6(*a)),
                RouteAttribute::Oif(i) => oif = Some(*i),
                RouteAttribute::Gateway(_)
                | RouteAttribute::Via(_)
                | RouteAttribute::MultiPath(_) => gateway = true,
                _ => {}
            }
        }
        if let (Some(dest), Some(oif), false) = (dest, oif, gateway) {
            out.push((dest, msg.header.destination_prefix_length, oif));
        }
    }
    Ok(out)
}

/// Does `network/prefix` contain `ip`?
fn contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// A prefix length ("24") or, for IPv4, a dotted netmask ("255.255.255.0").
fn parse_prefix(text: &str, ip: IpAddr) -> Option<u8> {
    let text = text.trim();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if let Ok(n) = text.parse::<u8>() {
        return (1..=max).contains(&n).then_some(n);
    }
    if ip.is_ipv4() {
        let mask: std::net::Ipv4Addr = text.parse().ok()?;
        let bits = u32::from(mask);
        let ones = bits.leading_ones();
        // A netmask is contiguous ones then zeros.
        if bits.checked_shl(ones).unwrap_or(0) == 0 && ones > 0 {
            return Some(ones as u8);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Agent as Kind, Meta};

    fn resource(params: &[(&str, toml::Value)]) -> Resource {
        Resource {
            id: "webip".to_string(),
            agent: Kind::Vip,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ops: Vec::new(),
            meta: Meta::default(),
        }
    }

    // Goal: the parameter checks name the parameter and say what is wrong.
    #[test]
    fn bad_params_are_named() {
        let cases: &[(&[(&str, toml::Value)], &str, &str)] = &[
            (
                &[("ip", "10.0.0.300".into())],
                "\"ip\"",
                "not an IP address",
            ),
            (&[("ip", "10.0.0.1/24".into())], "\"ip\"", "cidr_netmask"),
            (
                &[("ip", "10.0.0.1".into()), ("cidr_netmask", 33.into())],
                "\"cidr_netmask\"",
                "from 1 to 32",
            ),
            (
                &[
                    ("ip", "10.0.0.1".into()),
                    ("cidr_netmask", "255.0.255.0".into()),
                ],
                "\"cidr_netmask\"",
                "not a prefix",
            ),
            (
                &[("ip", "fd00::1".into()), ("iflabel", "x".into())],
                "\"iflabel\"",
                "IPv4",
            ),
            (
                &[
                    ("ip", "10.0.0.1".into()),
                    ("nic", "eth0".into()),
                    ("iflabel", "averyverylonglabel".into()),
                ],
                "\"iflabel\"",
                "15",
            ),
            (
                &[("ip", "10.0.0.1".into()), ("arp_count", (-1).into())],
                "\"arp_count\"",
                "whole number",
            ),
            (
                &[
                    ("ip", "10.0.0.1".into()),
                    ("arp_refresh_interval", "10".into()),
                ],
                "\"arp_refresh_interval\"",
                "unit",
            ),
            (
                &[("ip", "10.0.0.1".into()), ("nic", "eth0/1".into())],
                "\"nic\"",
                "interface name",
            ),
            (
                &[("ip", "224.0.0.1".into())],
                "\"ip\"",
                "cannot be a virtual address",
            ),
        ];
        for (params, param, words) in cases {
            let err = Vip::new(&resource(params))
                .err()
                .unwrap_or_else(|| panic!("{params:?} must be rejected"));
            let text = err.to_string();
            assert!(text.contains("resource \"webip\""), "{text}");
            assert!(text.contains(param), "{params:?}: {text}");
            assert!(text.contains(words), "{params:?}: {text}");
        }
    }

    // Goal: defaults are IPaddr2's (5 at 200 ms) and the netmask forms parse.
    #[test]
    fn defaults_and_netmask_forms() {
        let vip = Vip::new(&resource(&[("ip", "10.0.0.1".into())])).expect("valid");
        assert_eq!(
            (vip.arp_count, vip.arp_interval),
            (5, Duration::from_millis(200))
        );
        assert_eq!(vip.prefix, None);
        let ip4: IpAddr = "10.0.0.1".parse().expect("literal");
        let ip6: IpAddr = "fd00::1".parse().expect("literal");
        assert_eq!(parse_prefix("255.255.255.0", ip4), Some(24));
        assert_eq!(parse_prefix("24", ip4), Some(24));
        assert_eq!(parse_prefix("64", ip6), Some(64));
        assert_eq!(parse_prefix("255.255.255.0", ip6), None);
        assert!(contains("10.0.0.0".parse().expect("literal"), 24, ip4));
        assert!(!contains("10.0.1.0".parse().expect("literal"), 24, ip4));
        assert!(contains("fd00::".parse().expect("literal"), 64, ip6));
    }
}

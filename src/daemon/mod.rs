//! The daemon (`ha run`): the smol runtime around one [`Node`].
//!
//! It owns every piece of I/O the pure core must not touch: the heartbeat
//! sockets ([`net`]), the control socket ([`control`]), signals, the
//! monotonic clock, the files in `state_dir` ([`store`]), logging
//! ([`logger`]), the watchdog device, and the actions the node asks for
//! ([`actions`]). The loop waits for a datagram, a control request, a
//! signal, an action result or the node's next deadline; hands it to the
//! matching `Node::handle_*`; then drains `poll_persist` (written before
//! anything that depends on it leaves the host), `poll_event`,
//! `poll_transmit` and `poll_action`, and sleeps again.
//!
//! SIGTERM/SIGINT: graceful leave (`handle_shutdown`, keep running until
//! the node says it is done or a bound passes). SIGHUP or `ha reload`:
//! re-read and validate the config; one that fails validation is refused and
//! the old one keeps running.

pub mod actions;
pub mod control;
pub mod logger;
pub mod net;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argh::FromArgs;
use smol::Async;
use smol::channel::{Receiver, Sender, unbounded};

use crate::config::{self, Config, NodeId};
use crate::ctl::proto::{Request, Response};
use crate::node::{ActionId, Node, Outcome};
use crate::time::{Duration, Instant};
use actions::ActionRunner;

/// Run the cluster daemon in the foreground (corosync + pacemakerd in one).
/// Logs to stderr, syslog or a file per the config.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// config file (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
    /// this node's name (default: the host name, `uname -n`)
    #[argh(option)]
    pub node: Option<String>,
}

/// Everything that wakes the daemon loop.
pub enum Input {
    Datagram {
        link: usize,
        bytes: Vec<u8>,
    },
    Control {
        request: Request,
        reply: Sender<Response>,
    },
    Signal(async_signal::Signal),
    ActionDone(ActionId, Outcome),
}

/// Exit code for a config, key or local-node problem (SPEC section 1).
const EXIT_CONFIG: i32 = 2;
/// Exit code for a run-time failure (a socket that cannot be bound, ...).
const EXIT_FAILED: i32 = 1;

/// Runs the daemon until it is told to stop; returns the exit code.
pub fn run(args: RunArgs) -> i32 {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(text) => {
            eprintln!("{text}");
            eprintln!("ha run: not starting: the config has errors");
            return EXIT_CONFIG;
        }
    };
    let node_name = match &args.node {
        Some(name) => name.clone(),
        None => rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
    };
    let Some(local) = config.node(&node_name).map(|n| n.id) else {
        let known: Vec<String> = config
            .nodes
            .iter()
            .map(|n| format!("\"{}\"", n.name))
            .collect();
        eprintln!(
            "error: {}: this host's node name \"{node_name}\" is not a [[node]] of the config",
            args.config
        );
        eprintln!(
            "  hint: known nodes are {}; pass --node NAME or set the host name",
            known.join(", ")
        );
        return EXIT_CONFIG;
    };
    if let Some(warning) = logger::init(&config.cluster.log, config.cluster.log_level, &node_name) {
        log::warn!("{warning}");
    }
    // The key must be exactly 32 bytes and private (mode 0600 or stricter):
    // anyone holding it can forge membership messages.
    let key = match config::check_key_file(&config, &args.config) {
        Ok(key) => key,
        Err(diagnostic) => {
            log::error!("not starting: {}", diagnostic.message);
            eprintln!("{diagnostic}");
            return EXIT_CONFIG;
        }
    };
    match smol::block_on(daemon(args.config.clone(), config, local, key)) {
        Ok(()) => 0,
        Err(message) => {
            log::error!("ha run: {message}");
            EXIT_FAILED
        }
    }
}

/// Reads and validates the config file; on failure returns every
/// diagnostic as printable text. Warnings go to stderr.
fn load_config(path: &str) -> Result<Config, String> {
    match config::load_file(Path::new(path)) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            Ok(loaded.config)
        }
        Err(diagnostics) => Err(diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// Maps the OS monotonic clock onto `time::Instant`.
struct Clock {
    origin: std::time::Instant,
    last: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
            last: Instant::ZERO,
        }
    }

    fn now(&mut self) -> Instant {
        let now = Instant::from_millis(self.origin.elapsed().as_millis() as u64);
        // The core's timers assume monotonic time; std's Instant is
        // CLOCK_MONOTONIC, so going back would be a kernel bug.
        assert!(
            now >= self.last,
            "monotonic clock went back: {:?} -> {:?}",
            self.last,
            now
        );
        self.last = now;
        now
    }

    fn to_std(&self, at: Instant) -> std::time::Instant {
        self.origin + std::time::Duration::from_millis(at.as_millis())
    }
}

/// The running daemon: what the loop needs besides the node.
struct Daemon {
    config_path: String,
    config: Config,
    local: NodeId,
    links: Vec<net::LinkSockets>,
    runner: Box<dyn ActionRunner>,
    done: Sender<(ActionId, Outcome)>,
    watchdog: Option<Watchdog>,
    /// Send errors per link, logged once per burst so a dead link does not
    /// flood the log at the heartbeat rate.
    send_errors: Vec<u64>,
}

async fn daemon(
    config_path: String,
    config: Config,
    local: NodeId,
    key: [u8; 32],
) -> Result<(), String> {
    let mut clock = Clock::new();
    let state_dir = config.cluster.state_dir.clone();
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| format!("state_dir {}: {e}", state_dir.display()))?;
    let wall_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    let (incarnation, previous) = store::next_incarnation(&state_dir, wall_secs).map_err(|e| {
        format!(
            "state_dir {}: cannot write the incarnation: {e}",
            state_dir.display()
        )
    })?;
    match previous {
        store::Loaded::Missing => {
            log::info!("incarnation: first start here, incarnation={incarnation}")
        }
        store::Loaded::Ok(old) => log::info!("incarnation: {old} -> {incarnation}"),
        store::Loaded::Corrupt { reason, set_aside } => log::error!(
            "incarnation: the counter file was damaged ({reason}); set aside as {}; using incarnation={incarnation}",
            display_opt(&set_aside)
        ),
    }
    let persisted = match store::read_state(&state_dir) {
        Ok(store::Loaded::Ok(bytes)) => Some(bytes),
        Ok(store::Loaded::Missing) => None,
        Ok(store::Loaded::Corrupt { reason, set_aside }) => {
            log::error!(
                "state: the persisted cluster state was damaged ({reason}); set aside as {}; starting without it, peers will resend it",
                display_opt(&set_aside)
            );
            None
        }
        Err(e) => {
            log::error!(
                "state: cannot read {}: {e}; starting without it",
                state_dir.join("state").display()
            );
            None
        }
    };

    let host = net::local_addresses()
        .await
        .map_err(|e| format!("cannot list local addresses: {e}"))?;
    let mut links = Vec::new();
    for link in 0..config.heartbeat.links.len() {
        let local_addr = net::choose_local(&config, local, link, &host)?;
        let sockets = net::open_link(&config, link, local_addr).map_err(|e| e.to_string())?;
        log::info!(
            "link {link}: bound {} transport={:?}{}",
            std::net::SocketAddr::new(local_addr.addr, config.heartbeat.links[link].port),
            config.heartbeat.transport,
            match sockets.multicast {
                Some(_) => format!(" group={}", config.heartbeat.links[link].mcast_group),
                None => String::new(),
            }
        );
        links.push(sockets);
    }

    let socket_path = config.cluster.socket.clone();
    let listener = control::bind(&socket_path)
        .map_err(|e| format!("control socket {}: {e}", socket_path.display()))?;

    let (inputs, input_rx) = unbounded::<Input>();
    for (index, link) in links.iter().enumerate() {
        smol::spawn(receive(index, link.unicast.clone(), inputs.clone())).detach();
        if let Some(group) = &link.multicast {
            smol::spawn(receive(index, group.clone(), inputs.clone())).detach();
        }
    }
    smol::spawn(control::serve(listener, inputs.clone())).detach();
    let signals = async_signal::Signals::new([
        async_signal::Signal::Term,
        async_signal::Signal::Int,
        async_signal::Signal::Hup,
    ])
    .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    smol::spawn(forward_signals(signals, inputs.clone())).detach();
    let (done, done_rx) = unbounded::<(ActionId, Outcome)>();
    smol::spawn(forward_done(done_rx, inputs.clone())).detach();

    let watchdog = match &config.watchdog {
        Some(w) => Some(Watchdog::open(&w.device, w.timeout)?),
        None => None,
    };
    // rustix calls getrandom(2) directly: the getrandom crate in a static
    // glibc binary falls back to /dev/urandom, absent in a minimal root.
    let mut seed_bytes = [0u8; 8];
    rustix::rand::getrandom(&mut seed_bytes, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| format!("cannot read the OS random source: {e}"))?;
    let seed = u64::from_le_bytes(seed_bytes);
    let now = clock.now();
    let node_name = config
        .node_by_id(local)
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let mut node = Node::new(
        config.clone(),
        local,
        incarnation,
        &key,
        persisted.as_deref(),
        seed,
        now,
    );
    log::info!(
        "node up: node={node_name} id={local} incarnation={incarnation} cluster={} socket={}",
        config.cluster.name,
        socket_path.display()
    );
    let runner: Box<dyn ActionRunner> = Box::new(actions::AgentRunner::new(&config, &node_name));
    let mut daemon = Daemon {
        config_path,
        send_errors: vec![0; links.len()],
        config,
        local,
        links,
        runner,
        done,
        watchdog,
    };
    daemon.drain(&mut node, now, &state_dir);
    let result = daemon
        .run_loop(&mut node, &mut clock, &input_rx, &state_dir)
        .await;
    let _ = std::fs::remove_file(&socket_path);
    if let Some(watchdog) = daemon.watchdog.take() {
        watchdog.close();
    }
    log::info!("node down: node={node_name} reason=shutdown");
    result
}

impl Daemon {
    async fn run_loop(
        &mut self,
        node: &mut Node,
        clock: &mut Clock,
        inputs: &Receiver<Input>,
        state_dir: &Path,
    ) -> Result<(), String> {
        let mut shutdown_deadline: Option<Instant> = None;
        loop {
            let now = clock.now();
            if let Some(deadline) = shutdown_deadline {
                if node.is_shut_down() {
                    log::info!("shutdown: done, resources stopped and peers told");
                    return Ok(());
                }
                if now >= deadline {
                    log::warn!(
                        "shutdown: gave up waiting after {} ms; exiting",
                        self.shutdown_bound().as_millis()
                    );
                    return Ok(());
                }
            }
            let mut wake = node.poll_timeout();
            for extra in [
                shutdown_deadline,
                self.watchdog.as_ref().map(|w| w.next_feed),
            ]
            .into_iter()
            .flatten()
            {
                wake = Some(wake.map_or(extra, |w| w.min(extra)));
            }
            let input = match wake {
                Some(at) if at <= now => inputs.try_recv().ok(),
                Some(at) => {
                    let at = clock.to_std(at);
                    smol::future::or(async { inputs.recv().await.ok() }, async {
                        smol::Timer::at(at).await;
                        None
                    })
                    .await
                }
                None => inputs.recv().await.ok(),
            };
            let now = clock.now();
            // A control answer goes out after `drain`: an operator told
            // "done" finds the change already on disk.
            let mut answer = None;
            match input {
                Some(Input::Datagram { link, bytes }) => node.handle_datagram(now, link, &bytes),
                Some(Input::ActionDone(id, outcome)) => node.handle_action_done(now, id, outcome),
                Some(Input::Control {
                    request: Request::Reload,
                    reply,
                }) => {
                    let response = match self.reload(node, now) {
                        Ok(message) => Response::Ok { message },
                        Err(message) => Response::Error { message },
                    };
                    answer = Some((reply, response));
                }
                Some(Input::Control { request, reply }) => {
                    answer = Some((reply, node.handle_request(now, request)));
                }
                Some(Input::Signal(async_signal::Signal::Hup)) => {
                    log::info!("signal: SIGHUP, reloading {}", self.config_path);
                    let _ = self.reload(node, now);
                }
                Some(Input::Signal(signal)) => {
                    let name = if signal == async_signal::Signal::Int {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    if shutdown_deadline.is_some() {
                        log::warn!("signal: {name} again during shutdown; exiting now");
                        return Ok(());
                    }
                    log::info!("signal: {name}, leaving the cluster gracefully");
                    node.handle_shutdown(now);
                    shutdown_deadline = Some(now + self.shutdown_bound());
                }
                None => {}
            }
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
            self.drain(node, now, state_dir);
            if let Some((reply, response)) = answer {
                let _ = reply.try_send(response);
            }
            if let Some(watchdog) = &mut self.watchdog {
                watchdog.tick(now, node.watchdog_may_feed(now));
            }
        }
    }

    /// How long a graceful leave may take: every resource's stop timeout in
    /// turn, plus two heartbeat timeouts to tell the peers.
    fn shutdown_bound(&self) -> Duration {
        let stops = self
            .config
            .defaults
            .op_timeout
            .saturating_mul(self.config.resources.len() as u64);
        stops + self.config.heartbeat.timeout.saturating_mul(2) + Duration::from_secs(1)
    }

    /// Carries out everything the node asked for, until it asks for nothing.
    fn drain(&mut self, node: &mut Node, now: Instant, state_dir: &Path) {
        loop {
            let mut idle = true;
            while let Some(bytes) = node.poll_persist() {
                idle = false;
                if let Err(e) = store::write_state(state_dir, &bytes) {
                    log::error!("state: cannot persist to {}: {e}", state_dir.display());
                }
            }
            while let Some(event) = node.poll_event() {
                idle = false;
                log::log!(event.level, "{}", event.message);
            }
            while let Some(transmit) = node.poll_transmit(now) {
                idle = false;
                self.send(&transmit);
            }
            while let Some(action) = node.poll_action() {
                idle = false;
                self.runner.run(action, self.done.clone());
            }
            if idle {
                return;
            }
        }
    }

    fn send(&mut self, transmit: &crate::node::Transmit) {
        let Some(link) = self.links.get(transmit.link) else {
            log::error!(
                "transmit: node asked for link {} but only {} exist",
                transmit.link,
                self.links.len()
            );
            return;
        };
        for dest in net::destinations(&self.config, self.local, transmit.link, transmit.dest) {
            match link.unicast.get_ref().send_to(&transmit.bytes, dest) {
                Ok(_) => {
                    if self.send_errors[transmit.link] > 0 {
                        log::info!(
                            "link {}: sending works again after {} errors",
                            transmit.link,
                            self.send_errors[transmit.link]
                        );
                        self.send_errors[transmit.link] = 0;
                    }
                }
                Err(e) => {
                    if self.send_errors[transmit.link] == 0 {
                        log::warn!("link {}: send to {dest} failed: {e}", transmit.link);
                    } else {
                        log::debug!("link {}: send to {dest} failed: {e}", transmit.link);
                    }
                    self.send_errors[transmit.link] += 1;
                }
            }
        }
    }

    /// Re-reads the config; applies it only if it validates and still names
    /// this node with the same id.
    fn reload(&mut self, node: &mut Node, now: Instant) -> Result<String, String> {
        let config = match load_config(&self.config_path) {
            Ok(config) => config,
            Err(text) => {
                log::error!(
                    "reload: refused, keeping the running config: {}",
                    text.replace('\n', " | ")
                );
                return Err(format!("reload refused, the running config stays:\n{text}"));
            }
        };
        let name = self
            .config
            .node_by_id(self.local)
            .map(|n| n.name.clone())
            .unwrap_or_default();
        if config.node(&name).map(|n| n.id) != Some(self.local) {
            let message = format!(
                "reload refused: the new config has no node \"{name}\" with id {}",
                self.local
            );
            log::error!("{message}");
            return Err(message);
        }
        if config.heartbeat != self.config.heartbeat
            || config.cluster.socket != self.config.cluster.socket
        {
            log::warn!("reload: heartbeat and socket changes take effect at the next restart");
        }
        let hash: String = config
            .hash
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.config = config.clone();
        self.runner.reload(&config);
        node.handle_reload(now, config);
        log::info!("reload: applied {} config_hash={hash}...", self.config_path);
        Ok(format!("reloaded {} on {name}", self.config_path))
    }
}

fn display_opt(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or("(could not rename)".to_string(), |p| {
        p.display().to_string()
    })
}

/// Reads datagrams from one socket into the loop.
async fn receive(link: usize, socket: Arc<Async<std::net::UdpSocket>>, inputs: Sender<Input>) {
    // The largest UDP payload; the node rejects anything it cannot open.
    let mut buffer = vec![0u8; 65_536];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((n, _from)) => {
                if inputs
                    .send(Input::Datagram {
                        link,
                        bytes: buffer[..n].to_vec(),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                log::debug!("link {link}: receive failed: {e}");
                smol::Timer::after(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn forward_signals(mut signals: async_signal::Signals, inputs: Sender<Input>) {
    use smol::stream::StreamExt;
    while let Some(signal) = signals.next().await {
        if let Ok(signal) = signal
            && inputs.send(Input::Signal(signal)).await.is_err()
        {
            return;
        }
    }
}

async fn forward_done(done: Receiver<(ActionId, Outcome)>, inputs: Sender<Input>) {
    while let Ok((id, outcome)) = done.recv().await {
        if inputs.send(Input::ActionDone(id, outcome)).await.is_err() {
            return;
        }
    }
}

/// The hardware or softdog watchdog: fed while the node allows it, so a
/// node that lost quorum and could not stop its resources gets reset.
struct Watchdog {
    file: std::fs::File,
    period: Duration,
    next_feed: Instant,
    fed: bool,
}

impl Watchdog {
    fn open(device: &Path, timeout: Duration) -> Result<Watchdog, String> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(device)
            .map_err(|e| {
                format!(
                    "watchdog {}: {e}; without it self-fencing is not safe",
                    device.display()
                )
            })?;
        log::info!("watchdog: opened {} timeout={timeout}", device.display());
        // Feed three times per timeout so one late wake-up does not reset the host.
        let period = Duration::from_millis((timeout.as_millis() / 3).max(1));
        Ok(Watchdog {
            file,
            period,
            next_feed: Instant::ZERO,
            fed: true,
        })
    }

    fn tick(&mut self, now: Instant, may_feed: bool) {
        use std::io::Write;
        if now < self.next_feed {
            return;
        }
        if may_feed {
            if let Err(e) = self.file.write_all(b"\0") {
                log::error!("watchdog: feeding failed: {e}");
            }
            if !self.fed {
                log::info!("watchdog: feeding again");
            }
        } else if self.fed {
            log::error!(
                "watchdog: no longer fed: lost quorum with resources that could not be stopped in time"
            );
        }
        self.fed = may_feed;
        self.next_feed = now + self.period;
    }

    /// Disarms the watchdog on a clean exit (the magic close character).
    fn close(mut self) {
        use std::io::Write;
        let _ = self.file.write_all(b"V");
    }
}

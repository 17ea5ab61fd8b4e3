//! The WASI surface a plugin gets, linked interface by interface so that
//! nothing is granted by accident: stdout and stderr (captured into the
//! job's error), stdin and the environment (empty), `exit`, the monotonic
//! clock, randomness seeded per job (reproducible from the job's id;
//! engines that promise reproducible results take a `seed` param too), and
//! a *frozen* wall clock: it reads the time the instance started, the same
//! on every call, so a job can stamp what it writes (`$currentDate`, ids)
//! without a clock that ticks (no timing channel, and a job's output
//! depends on its start time, which its record keeps).
//!
//! `wasi:filesystem` and `wasi:sockets` are linked but grant nothing: no
//! directory is preopened (so no path can be opened), TCP and UDP sockets
//! cannot be created and names cannot be looked up (every address check
//! refuses too). Runtimes such as CPython (componentize-py) import them
//! whether or not a plugin uses them; linking them lets such a component
//! load while it still reaches no file and no network. Any other WASI
//! interface (HTTP, …) is not linked: a component importing it fails to
//! load, saying which import is missing (`wit/engine/engine.wit`).
//!
//! The monotonic clock is ours rather than wasmtime-wasi's: a sleep (a
//! `subscribe-duration` polled) blocks the host thread outside wasm, where
//! epoch interruption cannot reach it, so a plugin could sleep past its
//! deadline. Here every sleep ends at the call's deadline, the guest
//! resumes, and the deadline stops it.

use std::convert::Infallible;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::p2::bindings::sync as wasi;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiView};

/// `HasData` for the io interfaces, which live in the resource table.
struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds the granted WASI interfaces to `linker`.
pub(crate) fn link(linker: &mut Linker<crate::host::HostState>) -> wasmtime::Result<()> {
    type T = crate::host::HostState;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, Io>(linker, |t| t.ctx().table)?;
    wasi::io::poll::add_to_linker::<T, Io>(linker, |t| t.ctx().table)?;
    wasi::io::streams::add_to_linker::<T, Io>(linker, |t| t.ctx().table)?;
    wasi::clocks::monotonic_clock::add_to_linker::<T, Clock>(linker, T::clock)?;
    wasi::clocks::wall_clock::add_to_linker::<T, Frozen>(linker, T::wall_clock)?;
    wasi::random::random::add_to_linker::<T, WasiRandom>(linker, T::random)?;
    wasi::random::insecure::add_to_linker::<T, WasiRandom>(linker, T::random)?;
    wasi::random::insecure_seed::add_to_linker::<T, WasiRandom>(linker, T::random)?;
    wasi::cli::exit::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::environment::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::stdin::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::stdout::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::stderr::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::terminal_input::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::terminal_output::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::terminal_stdin::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::terminal_stdout::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    wasi::cli::terminal_stderr::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    link_ungranted(linker)
}

/// The filesystem and sockets, bound to a context that grants neither
/// (see `context`): the calls exist and fail.
fn link_ungranted(linker: &mut Linker<crate::host::HostState>) -> wasmtime::Result<()> {
    type T = crate::host::HostState;
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings as nonblocking;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

    wasi::filesystem::types::add_to_linker::<T, WasiFilesystem>(linker, T::filesystem)?;
    nonblocking::filesystem::preopens::add_to_linker::<T, WasiFilesystem>(linker, T::filesystem)?;
    wasi::sockets::tcp::add_to_linker::<T, WasiSockets>(linker, T::sockets)?;
    wasi::sockets::udp::add_to_linker::<T, WasiSockets>(linker, T::sockets)?;
    wasi::sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(linker, T::sockets)?;
    nonblocking::sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(linker, T::sockets)?;
    nonblocking::sockets::instance_network::add_to_linker::<T, WasiSockets>(linker, T::sockets)?;
    nonblocking::sockets::network::add_to_linker::<T, WasiSockets>(
        linker,
        &nonblocking::sockets::network::LinkOptions::default(),
        T::sockets,
    )?;
    nonblocking::sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(linker, T::sockets)?;
    Ok(())
}

/// `HasData` for our monotonic clock.
struct Clock;

impl HasData for Clock {
    type Data<'a> = DeadlineClock<'a>;
}

/// `wasi:clocks/monotonic-clock` for one call: sleeps end at `deadline`.
pub(crate) struct DeadlineClock<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) deadline: std::time::Instant,
}

/// Where the guest's monotonic time starts (any fixed instant will do).
fn epoch() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

/// A sleep the guest polls.
enum Sleep {
    /// Ready at once; yields to tokio once first, as wasmtime-wasi's own
    /// clock does, so a guest polling in a loop does not starve the reactor.
    Now {
        yielded: bool,
    },
    Until(tokio::time::Instant),
}

#[async_trait::async_trait]
impl wasmtime_wasi_io::poll::Pollable for Sleep {
    async fn ready(&mut self) {
        match self {
            Sleep::Now { yielded: true } => {}
            Sleep::Now { yielded } => {
                *yielded = true;
                tokio::task::yield_now().await;
            }
            Sleep::Until(at) => tokio::time::sleep_until(*at).await,
        }
    }
}

impl DeadlineClock<'_> {
    fn sleep(
        &mut self,
        asked: std::time::Duration,
    ) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi_io::poll::DynPollable>> {
        // A little past the deadline, so that the guest is running again
        // when the epoch ticker finds the deadline passed.
        let left = self
            .deadline
            .saturating_duration_since(std::time::Instant::now())
            + std::time::Duration::from_millis(5);
        let duration = asked.min(left);
        let sleep = if duration.is_zero() {
            Sleep::Now { yielded: false }
        } else {
            Sleep::Until(tokio::time::Instant::now() + duration)
        };
        let sleep = self.table.push(sleep)?;
        wasmtime_wasi_io::poll::subscribe(self.table, sleep)
    }
}

impl wasi::clocks::monotonic_clock::Host for DeadlineClock<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(
        &mut self,
        when: u64,
    ) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi_io::poll::DynPollable>> {
        let now = self.now()?;
        self.sleep(std::time::Duration::from_nanos(when.saturating_sub(now)))
    }

    fn subscribe_duration(
        &mut self,
        duration: u64,
    ) -> wasmtime::Result<wasmtime::component::Resource<wasmtime_wasi_io::poll::DynPollable>> {
        self.sleep(std::time::Duration::from_nanos(duration))
    }
}

/// `HasData` for the frozen wall clock.
struct Frozen;

impl HasData for Frozen {
    type Data<'a> = FrozenClock;
}

/// `wasi:clocks/wall-clock` of one instance: always its start time.
pub(crate) struct FrozenClock {
    pub(crate) at: std::time::SystemTime,
}

impl wasi::clocks::wall_clock::Host for FrozenClock {
    fn now(&mut self) -> wasmtime::Result<wasi::clocks::wall_clock::Datetime> {
        let since = self
            .at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(wasi::clocks::wall_clock::Datetime {
            seconds: since.as_secs(),
            nanoseconds: since.subsec_nanos(),
        })
    }

    fn resolution(&mut self) -> wasmtime::Result<wasi::clocks::wall_clock::Datetime> {
        Ok(wasi::clocks::wall_clock::Datetime {
            seconds: 0,
            nanoseconds: 1_000,
        })
    }
}

/// The context of one instance: output into `output`, randomness from
/// `seed`. No preopens, no environment, no arguments.
pub(crate) fn context(output: MemoryOutputPipe, seed: u64) -> WasiCtx {
    WasiCtx::builder()
        .stderr(output.clone())
        .stdout(output)
        .secure_random(SplitMix64(seed))
        .insecure_random(SplitMix64(seed ^ 0x9E37_79B9_7F4A_7C15))
        .insecure_random_seed(u128::from(seed) << 64 | u128::from(!seed))
        // Nothing preopened; no sockets, no name lookups (and the default
        // address check refuses every address besides).
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// The seed of an instance named `name` (a job id, a session's topic).
pub(crate) fn seed_of(name: &str) -> u64 {
    // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64: small, fast and well distributed; not for secrets, which no
/// plugin should make (it has nowhere to keep them).
struct SplitMix64(u64);

impl rand_core::TryRng for SplitMix64 {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|x| (x >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand_core::TryRng;

    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_names_give_distinct_seeds() {
        let (mut a, mut b) = (SplitMix64(seed_of("job-1")), SplitMix64(seed_of("job-1")));
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        let _ = a.try_fill_bytes(&mut x);
        let _ = b.try_fill_bytes(&mut y);
        assert_eq!(x, y);
        assert_ne!(seed_of("job-1"), seed_of("job-2"));
    }
}

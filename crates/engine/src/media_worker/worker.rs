//! One media worker: an OS thread that ticks all its calls every 20 ms on one drift-free clock.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ivory_rtp::FRAME_DURATION;
use tracing::error;

use super::handle::{MediaCommand, SlotKey};
use super::slot::{MediaSlot, NewSlot, Scratch, SlotState};

/// The worker's clock: tick `n` is due at `start + n · 20 ms`, computed from `n` (no drift).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TickGrid {
    start: Instant,
    tick: u32,
}

impl TickGrid {
    pub(crate) fn new(start: Instant) -> Self {
        Self { start, tick: 0 }
    }

    /// When the current tick is due.
    pub(crate) fn due(&self) -> Instant {
        self.start + FRAME_DURATION * self.tick
    }

    /// Moves to the next tick after the one just run, finished at `now`. A worker that fell more
    /// than a tick behind (the thread was not scheduled) jumps to the latest due tick instead of
    /// running the missed ones back to back: each session sends at most a short burst and skips
    /// the rest (see `ivory_rtp::MAX_BURST`). Returns when it is due.
    pub(crate) fn advance(&mut self, now: Instant) -> Instant {
        self.tick = self.tick.saturating_add(1);
        if now > self.due() + FRAME_DURATION {
            let elapsed = now.saturating_duration_since(self.start);
            let latest = elapsed.as_nanos() / FRAME_DURATION.as_nanos();
            self.tick = u32::try_from(latest).unwrap_or(u32::MAX);
        }
        if self.tick == u32::MAX {
            // About 2.7 years of ticks: restart the grid rather than overflow.
            *self = Self::new(now);
        }
        self.due()
    }
}

/// The worker's loop; returns when its pool is gone and its last call closed.
///
/// Commands for all its slots arrive on one queue, tagged with the slot's key, and are drained
/// once per tick: polling a channel per call cost 3.5 % of the media CPU at 1,000 calls, almost all
/// of it cache misses on 1,000 idle channels.
pub(crate) fn run(
    control: Receiver<NewSlot>,
    commands: Receiver<(SlotKey, MediaCommand)>,
    load: Arc<AtomicUsize>,
) {
    // Boxed: a slot is several kilobytes (jitter buffer, detector, held packets), and a vector of
    // them inline would reserve up to twice that per call as it grows, and move them all when it
    // does. `keys[i]` is `slots[i].key()`, kept beside them so finding a command's slot scans a
    // few kilobytes of keys rather than every slot.
    let mut slots: Vec<Box<MediaSlot>> = Vec::new();
    let mut keys: Vec<SlotKey> = Vec::new();
    let mut pending: Vec<(SlotKey, MediaCommand)> = Vec::new();
    let mut scratch = Scratch::default();
    let mut grid = TickGrid::new(Instant::now());
    let mut pool_gone = false;
    loop {
        if slots.is_empty() {
            if pool_gone {
                return;
            }
            // Idle: block until a call arrives, then start a fresh grid (no wake-ups without calls).
            let Ok(new) = control.recv() else {
                return;
            };
            grid = TickGrid::new(Instant::now());
            keys.push(new.key);
            slots.push(Box::new(MediaSlot::new(new, grid.due())));
        }
        // First every call's packets of the last tick, back to back, so each call's send time
        // does not depend on how long the calls before it take to process.
        for slot in &mut slots {
            slot.send_held();
        }
        // Commands before new slots: a command is sent only after its slot was, so every command
        // taken here finds its slot once the new slots are in (or none, when it has closed).
        pending.extend(commands.try_iter());
        loop {
            match control.try_recv() {
                Ok(new) => {
                    keys.push(new.key);
                    slots.push(Box::new(MediaSlot::new(new, grid.due())));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    pool_gone = true;
                    break;
                }
            }
        }
        for (key, command) in pending.drain(..) {
            if let Some(index) = keys.iter().position(|candidate| *candidate == key) {
                slots[index].command(command);
            }
        }
        let now = Instant::now();
        let before = slots.len();
        slots.retain_mut(|slot| tick_isolated(slot, now, &mut scratch) == SlotState::Open);
        let closed = before - slots.len();
        if closed > 0 {
            load.fetch_sub(closed, Ordering::Relaxed);
            keys.clear();
            keys.extend(slots.iter().map(|slot| slot.key()));
        }
        let next = grid.advance(Instant::now());
        sleep_until(next);
    }
}

/// Ticks one slot; a panic in one call's media closes that call, not the worker's other calls.
fn tick_isolated(slot: &mut MediaSlot, now: Instant, scratch: &mut Scratch) -> SlotState {
    match catch_unwind(AssertUnwindSafe(|| slot.tick(now, scratch))) {
        Ok(state) => state,
        Err(_) => {
            error!("media slot panicked; the call loses its media");
            SlotState::Closed
        }
    }
}

fn sleep_until(deadline: Instant) {
    let wait = deadline.saturating_duration_since(Instant::now());
    if wait > Duration::ZERO {
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_grid_whatever_the_wake_up_delay() {
        let start = Instant::now();
        let mut grid = TickGrid::new(start);
        assert_eq!(grid.due(), start);
        for tick in 1..=1000u32 {
            // Finish 7 ms into each tick: the next is still due on the grid.
            let finished = grid.due() + Duration::from_millis(7);
            assert_eq!(grid.advance(finished), start + FRAME_DURATION * tick);
        }
    }

    #[test]
    fn a_tick_that_overran_is_followed_at_once() {
        let start = Instant::now();
        let mut grid = TickGrid::new(start);
        // The tick took 25 ms: the next one (due at 20 ms) runs right away.
        assert_eq!(
            grid.advance(start + Duration::from_millis(25)),
            start + FRAME_DURATION
        );
    }

    #[test]
    fn a_worker_far_behind_jumps_to_the_latest_due_tick() {
        let start = Instant::now();
        let mut grid = TickGrid::new(start);
        // Not scheduled for 130 ms: ticks 1..=5 are skipped, tick 6 (120 ms) runs now.
        let next = grid.advance(start + Duration::from_millis(130));
        assert_eq!(next, start + Duration::from_millis(120));
        assert_eq!(
            grid.advance(start + Duration::from_millis(131)),
            start + Duration::from_millis(140)
        );
    }
}
